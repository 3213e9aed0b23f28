"""Bounded history, on both stores: jobs expire after the retention time, the journal is
compacted, ids work up to 2**63 - 1, the job list comes in pages, and a removed answer
answers the same everywhere.

Retention is tried with a TTL of a fraction of a second and real time on both stores
(the Redis store expires in Redis); the file store's tests of memory and compaction
drive a FileStore directly, on a clock of their own, and look at what it keeps on disk
and in memory rather than at how long anything takes.
"""
import json
import os
import time

import pytest
import requests

from app.job_listing import JobListing
from app.stores import redis_keys as keys
from app.stores import snapshot as snapshots
from app.stores.base import MAX_JOB_ID, JobExpired, JobStatus
from app.stores.file_store import JOURNAL_NAME, SNAPSHOT_NAME, FileStore
from app.stores.journal import Journal
from app.stores.status_table import DONE, ERROR, GONE, RUNNING, StatusTable, spec_text
from checker.reference import compare
from unittests.conftest import LOW, STORES, hold_jobs, run_job, wait_for
from unittests.stress.load import CSV_PATH, Expectations
from unittests.stress.servers import ServerProcess

EXPIRED = {"status": "error", "reason": "expired"}
SPEC = {"statistic": "global_mean", "question": LOW}
ROUTES = ("get_results", "results", "status")


def _service(app):
    return app.extensions["le_stats_sportif"]


def _answers(client, job_id):
    """[(HTTP status, JSON)] of get_results, results and status for a job."""
    return [(response.status_code, response.get_json())
            for response in (client.get(f"/api/{route}/{job_id}") for route in ROUTES)]


def _submit(client, endpoint="global_mean", body=None):
    response = client.post(f"/api/{endpoint}", json=body or {"question": LOW})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["job_id"]


def _eventually(condition, seconds=30):
    """Wait until condition() is true; fails the test if it never is."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.02)


def _listed(client, query=""):
    return client.get(f"/api/jobs{query}").get_json()


def _log_lines(app, text):
    with open(app.config["LOG_FILE"], encoding="utf-8") as log:
        return [line for line in log if text in line]


# -- retention -------------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_a_job_settled_longer_ago_than_the_ttl_answers_410_expired_and_its_id_stays_used(make_app, store):
    app = make_app(store=store, RESULT_TTL_S=0.4)
    client = app.test_client()
    done = _submit(client)
    assert wait_for(client, done)["status"] == "done"
    _service(app).catalog.get().best5 = lambda question: 1 / 0
    failed = _submit(client, "best5")
    assert wait_for(client, failed)["status"] == "error"

    _eventually(lambda: client.get(f"/api/get_results/{failed}").status_code == 410)
    for job_id in (done, failed):
        assert _answers(client, job_id) == [(410, EXPIRED)] * 3
    # Swept out of the list (and, for the file store, its answer file removed).
    _eventually(lambda: _listed(client)["data"] == [])
    assert _listed(client, "?limit=10") == {"status": "done", "data": [], "total": 0}
    if store == "file":
        assert not [name for name in os.listdir(app.config["RESULTS_DIR"]) if name.startswith("job_id_")]

    again = make_app(store=store, RESULT_TTL_S=0.4).test_client()
    assert _answers(again, done) == [(410, EXPIRED)] * 3
    assert _submit(again) == "job_id_3"
    assert _answers(again, "job_id_4") == [(404, {"status": "error", "reason": "Invalid job_id"})] * 3


@pytest.mark.parametrize("store", STORES)
def test_a_running_job_never_expires(make_app, store):
    app = make_app(store=store, RESULT_TTL_S=0.2, NUM_THREADS=1)
    client = app.test_client()
    release = hold_jobs(app)
    held = _submit(client)
    time.sleep(0.6)
    _service(app).store.maintain()
    assert _answers(client, held) == [(200, {"status": "running"})] * 3
    assert _listed(client)["data"] == [{held: "running"}]
    release.set()
    assert wait_for(client, held) == {"status": "done", "data": {"global_mean": 25.0}}
    _eventually(lambda: client.get(f"/api/status/{held}").status_code == 410)


def test_expired_jobs_leave_memory_and_disk_and_a_restart_keeps_only_their_count(tmp_path):
    now = [1_000_000.0]
    store = FileStore(tmp_path, ttl_s=60, compact_bytes=4096, clock=lambda: now[0])
    for _ in range(5000):
        job_id = store.create(SPEC)
        if job_id % 7:
            store.finish(job_id, b'{"global_mean": 25.0}')
        else:
            store.fail(job_id, "it broke")
        if job_id % 500 == 0:
            store.maintain()
    running = store.create(SPEC)
    now[0] += 61
    store.maintain()

    # One job still runs: it is all the table holds, however many ids were handed out.
    assert store.id_bounds() == (running, running) and store.kept_count() == 1
    assert sorted(os.listdir(tmp_path)) == [JOURNAL_NAME, SNAPSHOT_NAME]
    # The snapshot is written again once it mostly holds expired jobs: a start reads the kept ones.
    assert os.path.getsize(tmp_path / SNAPSHOT_NAME) < 200
    with pytest.raises(JobExpired):
        store.status(1)
    store.finish(running, b"{}")
    store.maintain()
    now[0] += 61

    # Expired while the store was stopped: forgotten from the start, its file removed by maintain().
    again = FileStore(tmp_path, ttl_s=60, clock=lambda: now[0])
    assert again.id_bounds() == (running + 1, running) and again.kept_count() == 0
    with pytest.raises(JobExpired):
        again.lookup(running)
    assert os.path.exists(tmp_path / f"job_id_{running}.json")
    again.maintain()
    assert not os.path.exists(tmp_path / f"job_id_{running}.json")
    assert again.status(running + 1) is None
    assert again.create(SPEC) == running + 1


def test_the_oldest_expire_first_running_jobs_are_passed_over_and_the_table_starts_at_the_oldest_kept():
    table = StatusTable()
    for _ in range(6):
        table.add(spec_text(SPEC), 50.0)
    for job_id, code, at in ((1, DONE, 100.0), (2, ERROR, 100.0), (4, DONE, 300.0), (5, DONE, 100.0)):
        table.settle(job_id, code, at, reason="it broke" if code == ERROR else None)
    # Job 3 runs, job 4 settled last, job 5 before it, job 6 runs.
    assert table.expire(now=250.0, ttl_s=100).tolist() == [1]
    assert (table.base, table.code(2), table.code(3), table.code(5)) == (3, GONE, RUNNING, DONE)
    assert table.reasons == {} and table.kept_count() == 4
    assert table.expire(now=450.0, ttl_s=100).tolist() == [4, 5]
    assert (table.base, table.last, table.kept_count()) == (3, 6, 2)
    table.settle(3, DONE, 460.0)
    table.settle(6, DONE, 460.0)
    assert table.expire(now=600.0, ttl_s=100).tolist() == [3, 6]
    assert (table.base, table.last, len(table.codes), len(table.times)) == (7, 6, 0, 0)


# -- compaction ------------------------------------------------------------------


def test_a_start_reads_a_snapshot_and_a_short_journal_and_never_lists_the_folder(tmp_path, monkeypatch):
    store = FileStore(tmp_path, compact_bytes=4096)
    for _ in range(3000):
        job_id = store.create(SPEC)
        store.finish(job_id, b'{"global_mean": 25.0}')
        if job_id % 100 == 0:
            store.maintain()
    unfinished = store.create({"statistic": "best5", "question": LOW})
    store.maintain()

    journal = (tmp_path / JOURNAL_NAME).read_bytes()
    # The journal holds what came since the last compaction, not 3,001 jobs.
    assert len(journal) < 4096 + 1024 and len(journal.splitlines()) < 60
    assert (tmp_path / SNAPSHOT_NAME).exists()

    def no_listing(*_):
        raise AssertionError("the results folder was listed")

    monkeypatch.setattr(os, "listdir", no_listing)
    monkeypatch.setattr(os, "scandir", no_listing)
    again = FileStore(tmp_path)
    assert again.last_id == 3001 and again.kept_count() == 3001
    assert again.status(1) is JobStatus.DONE and again.status(3000) is JobStatus.DONE
    assert again.take_unfinished() == {unfinished: {"statistic": "best5", "question": LOW}}
    assert again.create(SPEC) == 3002


def test_the_service_compacts_as_it_goes_and_a_restart_knows_every_job(make_app):
    app = make_app(JOURNAL_COMPACT_BYTES=1500)
    client = app.test_client()
    job_ids = [_submit(client) for _ in range(40)]
    for job_id in job_ids:
        wait_for(client, job_id)
    results = app.config["RESULTS_DIR"]
    _eventually(lambda: os.path.exists(os.path.join(results, SNAPSHOT_NAME))
                and os.path.getsize(os.path.join(results, JOURNAL_NAME)) < 1500)
    again = make_app(JOURNAL_COMPACT_BYTES=1500).test_client()
    assert _listed(again)["data"] == [{job_id: "done"} for job_id in job_ids]
    assert _submit(again) == "job_id_41"


def _journaled_store(folder):
    """A store with done, failed and unfinished jobs, compacted once, with more jobs since."""
    store = FileStore(folder, compact_bytes=10**9)
    for _ in range(30):
        store.finish(store.create(SPEC), b'{"global_mean": 25.0}')
    store.fail(store.create(SPEC), "it broke")
    store.create({"statistic": "best5", "question": LOW})
    store.maintain()
    assert store.compact()
    for _ in range(5):
        store.finish(store.create(SPEC), b'{"global_mean": 25.0}')
    store.create({"statistic": "worst5", "question": LOW})
    store.maintain()
    return store


def _picture(store):
    """What a restarted store knows: every status, the reasons, the unfinished jobs, the next id."""
    statuses = {job_id: store.status(job_id) for job_id in range(1, store.last_id + 1)}
    return statuses, store.reason(31), store.take_unfinished(), store.create(SPEC)


def test_a_kill_between_the_snapshot_and_the_new_journal_loses_and_doubles_nothing(tmp_path, monkeypatch):
    _journaled_store(tmp_path / "whole")
    expected = _picture(FileStore(tmp_path / "whole"))
    store = _journaled_store(tmp_path / "killed")
    store.create({"statistic": "states_mean", "question": LOW})

    def killed(*_):
        raise OSError("killed")

    monkeypatch.setattr(Journal, "restart", killed)
    assert not store.compact()
    monkeypatch.undo()
    # The new snapshot is in place and the journal still holds everything it covers.
    journal = [json.loads(line) for line in (tmp_path / "killed" / JOURNAL_NAME).read_text().splitlines()]
    assert journal[0] == {"last": 32} and len(journal) > 6
    statuses, reason, unfinished, next_id = _picture(FileStore(tmp_path / "killed"))
    assert statuses == {**expected[0], 39: JobStatus.RUNNING} and reason == expected[1] == "it broke"
    assert unfinished == {**expected[2], 39: {"statistic": "states_mean", "question": LOW}}
    assert next_id == 40


def test_a_kill_while_writing_the_snapshot_or_the_journal_leaves_the_old_ones_in_force(tmp_path):
    _journaled_store(tmp_path / "whole")
    expected = _picture(FileStore(tmp_path / "whole"))
    folder = tmp_path / "killed"
    _journaled_store(folder)
    # What a kill in the middle of each write leaves: half a temporary file.
    (folder / (SNAPSHOT_NAME + ".tmp")).write_bytes(snapshots.MAGIC + b'{"base":1,"cou')
    (folder / (JOURNAL_NAME + ".tmp")).write_bytes(b'{"last":38}\n{"id":3')
    assert _picture(FileStore(folder)) == expected
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_a_snapshot_cut_short_stops_the_start_rather_than_handing_out_ids_again(tmp_path):
    _journaled_store(tmp_path)
    data = (tmp_path / SNAPSHOT_NAME).read_bytes()
    (tmp_path / SNAPSHOT_NAME).write_bytes(data[:-3])
    with pytest.raises(snapshots.BrokenSnapshot, match="damaged"):
        FileStore(tmp_path)


@pytest.mark.parametrize("job_id", [3, 10**7 + 3, 10**9 + 3])
def test_a_done_job_whose_record_is_not_yet_journaled_is_found_done_after_a_kill(tmp_path, job_id):
    # Killed before the batch of done jobs was written: the journal has the
    # job's spec, the folder its answer file.
    (tmp_path / JOURNAL_NAME).write_text(json.dumps({"id": job_id, "spec": SPEC}) + "\n")
    (tmp_path / f"job_id_{job_id}.json").write_text('{"global_mean": 25.0}')
    store = FileStore(tmp_path)
    assert store.status(job_id) is JobStatus.DONE and store.take_unfinished() == {}
    assert store.create(SPEC) == job_id + 1


# -- ids up to 2**63 - 1 ---------------------------------------------------------


def _start_ids_at(app, store, first):
    """Make `first` the next id the store hands out."""
    if store == "file":
        _service(app).shutdown(wait=True, timeout=10)
        with open(os.path.join(app.config["RESULTS_DIR"], JOURNAL_NAME), "w", encoding="ascii") as journal:
            journal.write(json.dumps({"last": first - 1}) + "\n")
    else:
        _service(app).store.client.set(keys.NEXT_ID, first - 1)


@pytest.mark.parametrize("first", [10**7 - 1, 10**9 - 1, 10**5 - 1])
@pytest.mark.parametrize("store", STORES)
def test_ids_near_ten_million_and_a_billion_work_across_restarts(make_app, store, first):
    _start_ids_at(make_app(store=store), store, first)
    app = make_app(store=store)
    client = app.test_client()
    job_ids = [_submit(client) for _ in range(3)]
    assert job_ids == [f"job_id_{first + offset}" for offset in range(3)]
    for job_id in job_ids:
        assert wait_for(client, job_id) == {"status": "done", "data": {"global_mean": 25.0}}
    _service(app).shutdown(wait=True, timeout=10)

    again = make_app(store=store)
    client = again.test_client()
    for job_id in job_ids:
        assert client.get(f"/api/get_results/{job_id}").get_json()["status"] == "done"
        assert client.get(f"/api/status/{job_id.rsplit('_', 1)[1]}").get_json() == {"status": "done"}
    assert _listed(client)["data"] == [{job_id: "done"} for job_id in job_ids]
    assert _listed(client, "?limit=2") == {"status": "done", "total": 3, "next": job_ids[1],
                                           "data": [{job_id: "done"} for job_id in job_ids[1:]]}
    assert _submit(client) == f"job_id_{first + 3}"
    # Nothing below the first id is kept or listed: no byte for each of the ids never seen here.
    assert _service(again).store.id_bounds()[0] >= (first // 10**5) * 10**5
    if store == "file":
        assert not _log_lines(again, "unfinished")
        assert _service(again).store.id_bounds() == (first, first + 3)


@pytest.mark.parametrize("store", STORES)
def test_the_last_ids_before_two_to_the_63_are_handed_out_and_then_none(make_app, store):
    _start_ids_at(make_app(store=store), store, MAX_JOB_ID - 1)
    client = make_app(store=store).test_client()
    assert [_submit(client) for _ in range(2)] == [f"job_id_{MAX_JOB_ID - 1}", f"job_id_{MAX_JOB_ID}"]
    refused = client.post("/api/global_mean", json={"question": LOW})
    assert refused.status_code == 503 and "no job id is left" in refused.get_json()["reason"]
    assert wait_for(client, str(MAX_JOB_ID))["status"] == "done"
    assert client.get(f"/api/status/{MAX_JOB_ID + 1}").status_code == 404
    assert _listed(client)["data"] == [{f"job_id_{MAX_JOB_ID - 1}": "done"}, {f"job_id_{MAX_JOB_ID}": "done"}]


# -- pages of the job list ------------------------------------------------------------


def test_pages_of_the_job_list(client):
    job_ids = [_submit(client) for _ in range(5)]
    for job_id in job_ids:
        wait_for(client, job_id)
    entries = [{job_id: "done"} for job_id in job_ids]
    assert _listed(client) == {"status": "done", "data": entries}
    assert _listed(client, "?since=job_id_3") == {"status": "done", "data": entries[3:], "total": 5}
    assert _listed(client, "?since=0") == {"status": "done", "data": entries, "total": 5}
    assert _listed(client, "?limit=2") == {"status": "done", "data": entries[3:], "total": 5,
                                           "next": "job_id_4"}
    assert _listed(client, "?limit=2&before=job_id_4") == {"status": "done", "data": entries[1:3], "total": 5,
                                                           "next": "job_id_2"}
    assert _listed(client, "?limit=2&before=2") == {"status": "done", "data": entries[:1], "total": 5}
    assert _listed(client, "?since=3&limit=1") == {"status": "done", "data": entries[4:], "total": 5,
                                                   "next": "job_id_5"}
    assert _listed(client, "?since=job_id_9") == {"status": "done", "data": [], "total": 5}
    for query in ("since=abc", "since=-1", "before=0", "before=job_id_", "limit=0", "limit=1001", "limit=x",
                  "limit=", f"since={MAX_JOB_ID + 1}"):
        refused = client.get(f"/api/jobs?{query}")
        assert refused.status_code == 400, query
        assert refused.get_json()["status"] == "error" and refused.get_json()["reason"]


class _Table:
    """A store's listing side over a bytes table from id 1, for the listing alone."""

    def __init__(self, codes):
        self.codes = codes

    def id_bounds(self):
        return 1, len(self.codes)

    def status_range(self, start, stop):
        return [(start, self.codes[start - 1:stop - 1])] if stop > start else []


def test_a_page_reaches_across_a_long_run_of_expired_jobs():
    codes = b"\x02\x03" + bytes(200_000) + b"\x01\x02"
    listing = JobListing(_Table(codes))
    array, older = listing.page(limit=3)
    assert json.loads(array) == [{"job_id_2": "error"}, {"job_id_200003": "running"},
                                 {"job_id_200004": "done"}]
    assert older == 2
    array, older = listing.page(limit=3, before=2)
    assert json.loads(array) == [{"job_id_1": "done"}] and older is None
    assert json.loads(listing.encode()) == [{"job_id_1": "done"}, {"job_id_2": "error"},
                                            {"job_id_200003": "running"}, {"job_id_200004": "done"}]


# -- a removed answer --------------------------------------------------------------


def test_a_removed_result_file_answers_410_on_every_route_and_stays_gone_after_a_restart(make_app):
    app = make_app()
    client = app.test_client()
    job_id = _submit(client)
    wait_for(client, job_id)
    _service(app).store.maintain()
    path = os.path.join(app.config["RESULTS_DIR"], f"{job_id}.json")
    os.remove(path)
    answers = _answers(client, job_id)
    assert answers[0][0] == 410 and "removed" in answers[0][1]["reason"]
    assert answers == [answers[0]] * 3

    again = make_app()
    client = again.test_client()
    assert _answers(client, job_id) == answers
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 0}
    _service(again).shutdown(wait=True, timeout=10)
    assert not os.path.exists(path) and not _log_lines(again, "unfinished")


def test_an_answer_gone_from_redis_answers_410_on_every_route(make_app, redis_server):
    client = make_app(store="redis").test_client()
    job_id = _submit(client)
    wait_for(client, job_id)
    kept = redis_server.client()
    kept.delete(keys.ANSWER + kept.hget(keys.job(1), "answer").decode())
    answers = _answers(client, job_id)
    assert answers[0][0] == 410 and answers == [answers[0]] * 3


def test_redis_keeps_nothing_of_expired_jobs_but_the_id_counter(make_app, redis_server):
    app = make_app(store="redis", RESULT_TTL_S=0.3)
    client = app.test_client()
    for _ in range(20):
        run_job(client, "global_mean", {"question": LOW})
    kept = redis_server.client()
    assert kept.keys(keys.STATUS_CHUNK + "*") and kept.llen(keys.SETTLED) == 20
    _eventually(lambda: not kept.keys(keys.STATUS_CHUNK + "*"))
    assert not kept.keys(keys.JOB + "*") and not kept.keys(keys.ANSWER + "*")
    assert not kept.exists(keys.SETTLED) and not kept.exists(keys.LIVE_CHUNKS)
    assert int(kept.get(keys.NEXT_ID)) == 20
    assert _answers(client, "job_id_20") == [(410, EXPIRED)] * 3


# -- a real process killed while it compacts ------------------------------------------


def test_kill_9_of_a_server_compacting_all_the_time_loses_nothing_done_or_accepted(tmp_path):
    """A journal compacted every second (at 300 bytes), the server killed at once three times over."""
    expectations = Expectations(CSV_PATH)
    requests_sent = expectations.requests[:60]
    accepted, answers_seen = {}, {}
    server = None
    try:
        for _ in range(3):
            server = ServerProcess(tmp_path, environment={"LSS_JOURNAL_COMPACT_BYTES": 300}).start()
            snapshot = os.path.join(server.results_dir, SNAPSHOT_NAME)
            compacted = os.stat(snapshot).st_mtime_ns if os.path.exists(snapshot) else None
            for endpoint, body in requests_sent:
                response = requests.post(f"{server.url}/api/{endpoint}", json=body, timeout=30)
                assert response.status_code == 200
                accepted[response.json()["job_id"]] = (endpoint, body)
            for job_id in list(accepted)[-len(requests_sent):][::3]:
                answers_seen[job_id] = requests.get(f"{server.url}/api/get_results/{job_id}",
                                                    timeout=30).json()
            # Killed once it has compacted at least once since it started.
            _eventually(lambda path=snapshot, before=compacted: os.path.exists(path)
                        and os.stat(path).st_mtime_ns != before)
            server.kill()
        server = ServerProcess(tmp_path).start()
        for job_id, (endpoint, body) in accepted.items():
            answer = _poll(server.url, job_id)
            assert answer["status"] == "done", (job_id, answer)
            assert compare(expectations.expected(endpoint, body), answer["data"]) is None
            if answers_seen.get(job_id, {}).get("status") == "done":
                assert answer == answers_seen[job_id]
        ids = sorted(int(job_id.rsplit("_", 1)[1]) for job_id in accepted)
        assert ids == list(range(1, len(accepted) + 1))
        listing = requests.get(f"{server.url}/api/jobs", timeout=30).json()["data"]
        assert listing == [{f"job_id_{number}": "done"} for number in ids]
        assert requests.post(f"{server.url}/api/global_mean", json={"question": LOW}, timeout=30).json() == {
            "job_id": f"job_id_{len(accepted) + 1}"}
    finally:
        if server is not None:
            server.kill()


def _poll(url, job_id, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = requests.get(f"{url}/api/get_results/{job_id}", timeout=30).json()
        if answer["status"] != "running":
            return answer
        time.sleep(0.01)
    raise AssertionError(f"{job_id} still running after {seconds} s")
