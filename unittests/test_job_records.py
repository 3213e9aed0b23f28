"""GET /api/jobs/<job_id>: what a job was asked, when, and how it ended, on both stores; and the
file store's record of it across restarts, compactions, kills, expiry and version 1 snapshots.

Expectations are written from the requests the tests send and from the tests' own clock,
not from what the store keeps.
"""
import array
import json
import pathlib
import re
import time
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.stores import redis_keys as keys
from app.stores import snapshot as snapshots
from app.stores.base import JobExpired, JobStatus
from app.stores.file_store import JOURNAL_NAME, SNAPSHOT_NAME, FileStore
from app.stores.journal import Journal
from app.stores.status_table import DONE, ERROR, GONE, NO_SPEC, RUNNING, StatusTable, spec_text
from unittests.conftest import HIGH, LOW, NINE_REQUESTS, STORES, hold_jobs, wait_for
from unittests.dataset_support import BUNDLED_CSV, OBESITY, csv_text, own_rows, upload

ISO_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")
NO_JOB = {"status": "error", "reason": "Invalid job_id"}
SPEC = {"statistic": "global_mean", "question": LOW}
STATE_SPEC = {"statistic": "state_mean", "question": LOW, "state": "Utah"}
OTHER_SPEC = {"statistic": "best5", "question": HIGH}
ANSWER = b'{"global_mean": 25.0}'


def _service(app):
    return app.extensions["le_stats_sportif"]


def _submit(client, endpoint="global_mean", body=None):
    response = client.post(f"/api/{endpoint}", json=body or {"question": LOW})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["job_id"]


def _record(client, job_id):
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _seconds(text):
    """The time an answer gives, checked to be ISO 8601 in UTC to the millisecond."""
    assert ISO_UTC_MS.fullmatch(text), text
    return datetime.fromisoformat(text).timestamp()


def _within(text, earliest, latest):
    """The answer's time lies between two readings of the test's clock (it is cut to the millisecond)."""
    seconds = _seconds(text)
    assert earliest - 0.001 <= seconds <= latest, (text, earliest, latest)
    return seconds


def _request(statistic, body, dataset="default"):
    return {"statistic": statistic, "question": body["question"], "state": body.get("state"),
            "dataset": dataset}


# -- both stores, over HTTP -------------------------------------------------------


def test_a_job_running_then_done(app, client):
    release = hold_jobs(app)
    body = {"question": LOW, "state": "Texas"}
    before = time.time()
    job_id = _submit(client, "state_mean", body)
    after_submit = time.time()
    running = _record(client, job_id)
    assert running == {"status": "running", "request": _request("state_mean", body),
                       "submitted_at": running["submitted_at"], "finished_at": None}
    submitted = _within(running["submitted_at"], before, after_submit)
    release.set()
    wait_for(client, job_id)
    after_done = time.time()
    done = _record(client, job_id)
    assert done == {**running, "status": "done", "finished_at": done["finished_at"]}
    assert submitted <= _within(done["finished_at"], before, after_done)


def test_a_failed_job_tells_the_reason_get_results_gives(app, client):
    _service(app).catalog.get().best5 = lambda question: 1 / 0
    before = time.time()
    job_id = _submit(client, "best5")
    failed = wait_for(client, job_id)
    after = time.time()
    record = _record(client, job_id)
    assert record == {"status": "error", "request": _request("best5", {"question": LOW}),
                      "submitted_at": record["submitted_at"], "finished_at": record["finished_at"],
                      "reason": failed["reason"]}
    assert "ZeroDivisionError" in record["reason"]
    assert _within(record["submitted_at"], before, after) <= _within(record["finished_at"], before, after)


@pytest.mark.parametrize("job_id", ["job_id_2", "2", "0", "-1", "job_id_", "abc", "job_id_1x",
                                    "99999999999999999999999", "..%2F..%2Fetc%2Fpasswd", "a/b"])
def test_no_such_job_is_404_as_get_results_says(client, job_id):
    wait_for(client, _submit(client))
    response = client.get(f"/api/jobs/{job_id}")
    assert (response.status_code, response.get_json()) == (404, NO_JOB)
    assert client.get(f"/api/get_results/{job_id}").get_json() == NO_JOB


def test_the_record_route_leaves_the_job_list_alone(client):
    job_id = _submit(client)
    wait_for(client, job_id)
    assert client.get("/api/jobs").get_json() == {"status": "done", "data": [{job_id: "done"}]}
    assert client.get("/api/jobs?limit=1").get_json() == {"status": "done", "data": [{job_id: "done"}],
                                                          "total": 1}
    assert _record(client, job_id)["status"] == "done"
    assert _record(client, "1") == _record(client, job_id)
    assert client.get("/api/jobs/").status_code == 404
    assert client.post(f"/api/jobs/{job_id}").status_code == 405


@pytest.mark.parametrize("store", STORES)
def test_an_expired_job_is_410_as_get_results_says(make_app, store):
    client = make_app(store=store, RESULT_TTL_S=0.4).test_client()
    job_id = _submit(client)
    assert _record(client, job_id)["request"] == _request("global_mean", {"question": LOW})
    wait_for(client, job_id)
    deadline = time.monotonic() + 30
    while client.get(f"/api/get_results/{job_id}").status_code != 410:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    response = client.get(f"/api/jobs/{job_id}")
    assert (response.status_code, response.get_json()) == (410, {"status": "error", "reason": "expired"})
    assert client.get("/api/jobs/job_id_2").status_code == 404


@pytest.mark.parametrize("store", STORES)
def test_the_request_of_each_of_the_nine_statistics(make_app, store):
    client = make_app(store=store, CSV_PATH=BUNDLED_CSV).test_client()
    before = time.time()
    submitted = [(_submit(client, statistic, body), statistic, body) for statistic, body in NINE_REQUESTS]
    started = _submit(client, "start", {"task": "state_mean", "question": OBESITY, "state": "Ohio"})
    for job_id, _, _ in submitted:
        wait_for(client, job_id)
    wait_for(client, started)
    after = time.time()
    times = []
    for job_id, statistic, body in submitted:
        record = _record(client, job_id)
        assert record["status"] == "done" and record["request"] == _request(statistic, body)
        times.append(_within(record["submitted_at"], before, after))
        assert times[-1] <= _within(record["finished_at"], before, after)
    # Submitted one after the other.
    assert times == sorted(times)
    assert _record(client, started)["request"] == _request("state_mean", {"question": OBESITY, "state": "Ohio"})


def test_a_job_on_an_uploaded_data_set_names_it(client):
    stored = upload(client, csv_text(own_rows()))
    assert stored.status_code == 201
    dataset = stored.get_json()["data"]["id"]
    on_upload = _submit(client, "state_mean", {"question": OBESITY, "state": "Guam", "dataset": dataset})
    named_default = _submit(client, "global_mean", {"question": LOW, "dataset": "default"})
    for job_id in (on_upload, named_default):
        assert wait_for(client, job_id)["status"] == "done"
    assert _record(client, on_upload)["request"] == {"statistic": "state_mean", "question": OBESITY,
                                                     "state": "Guam", "dataset": dataset}
    assert _record(client, named_default)["request"] == _request("global_mean", {"question": LOW})
    assert client.delete(f"/api/datasets/{dataset}").status_code == 200
    # The record outlives the data set it was asked of.
    assert _record(client, on_upload)["request"]["dataset"] == dataset


def test_a_redis_job_recorded_before_times_were_kept_answers_them_null(make_app, redis_server):
    client = make_app(store="redis").test_client()
    job_id = _submit(client)
    wait_for(client, job_id)
    redis_server.client().hdel(keys.job(1), "submitted_at", "finished_at")
    assert _record(client, job_id) == {"status": "done", "request": _request("global_mean", {"question": LOW}),
                                       "submitted_at": None, "finished_at": None}


def test_a_done_job_whose_answer_was_removed_still_tells_its_record(make_app):
    app = make_app()
    client = app.test_client()
    job_id = _submit(client)
    wait_for(client, job_id)
    (pathlib.Path(app.config["RESULTS_DIR"]) / f"{job_id}.json").unlink()
    assert client.get(f"/api/get_results/{job_id}").status_code == 410
    record = _record(client, job_id)
    assert record["status"] == "done" and record["request"] == _request("global_mean", {"question": LOW})


# -- the file store: restarts, compactions, kills ----------------------------------


class Clock:
    """A clock the test moves."""

    def __init__(self, now=1_700_000_000.25):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def _three_jobs(store, clock):
    """A done, a failed and a running job, a moment apart; their ids."""
    done = store.create(SPEC)
    clock.advance(0.5)
    failed = store.create(STATE_SPEC)
    clock.advance(0.25)
    running = store.create(OTHER_SPEC)
    clock.advance(1)
    store.finish(done, ANSWER)
    store.fail(failed, "it broke")
    return done, failed, running


def _records(store, job_ids):
    return {job_id: store.record(job_id) for job_id in job_ids}


def _fields(records):
    """(status, spec, submitted_at, finished_at, reason) of each record, in order."""
    return [(record.status, record.spec, record.submitted_at, record.finished_at, record.reason)
            for record in records.values()]


def test_records_as_created(tmp_path):
    clock = Clock()
    store = FileStore(tmp_path, clock=clock)
    done, failed, running = _three_jobs(store, clock)
    start = 1_700_000_000.25
    assert _fields(_records(store, (done, failed, running))) == [
        (JobStatus.DONE, SPEC, start, start + 1.75, None),
        (JobStatus.ERROR, STATE_SPEC, start + 0.5, start + 1.75, "it broke"),
        (JobStatus.RUNNING, OTHER_SPEC, start + 0.75, None, None)]
    assert store.record(running + 1) is None and store.record(0) is None


def test_a_record_survives_a_restart(tmp_path):
    clock = Clock()
    store = FileStore(tmp_path, clock=clock)
    job_ids = _three_jobs(store, clock)
    before = _records(store, job_ids)
    # Done jobs are journaled in batches: after a restart, a done job finished when its batch was written.
    clock.advance(0.5)
    store.maintain()
    store.close()
    again = FileStore(tmp_path, clock=clock)
    after = _records(again, job_ids)
    done = job_ids[0]
    assert after[done].finished_at == before[done].finished_at + 0.5
    assert {**after, done: before[done]} == before
    assert again.take_unfinished() == {job_ids[2]: OTHER_SPEC}


def test_a_record_survives_a_compaction_and_a_restart_exactly(tmp_path):
    clock = Clock()
    store = FileStore(tmp_path, clock=clock)
    job_ids = _three_jobs(store, clock)
    before = _records(store, job_ids)
    clock.advance(0.5)
    assert store.compact()
    assert (tmp_path / SNAPSHOT_NAME).read_bytes().startswith(snapshots.MAGIC)
    again = FileStore(tmp_path, clock=clock)
    assert _records(again, job_ids) == before
    # A spec asked again is the same spec, and a new job's record is whole.
    later = again.create(STATE_SPEC)
    assert again.record(later).spec == STATE_SPEC and again.record(later).submitted_at == clock.now


def test_a_record_survives_a_kill_with_only_the_journal(tmp_path):
    before_clock = time.time()
    store = FileStore(tmp_path)
    done, failed, running = store.create(SPEC), store.create(STATE_SPEC), store.create(OTHER_SPEC)
    store.finish(done, ANSWER)
    store.fail(failed, "it broke")
    before = _records(store, (done, failed, running))
    # Killed: no maintain(), no close(); the done job is known by its answer file alone.
    again = FileStore(tmp_path)
    after = _records(again, (done, failed, running))
    assert not (tmp_path / SNAPSHOT_NAME).exists()
    assert after[failed] == before[failed] and after[running] == before[running]
    assert (after[done].status, after[done].spec, after[done].submitted_at) == (
        JobStatus.DONE, SPEC, before[done].submitted_at)
    assert before_clock <= after[done].submitted_at <= after[done].finished_at <= time.time()
    assert again.take_unfinished() == {running: OTHER_SPEC}


def test_a_kill_between_the_snapshot_and_the_new_journal_keeps_every_record(tmp_path, monkeypatch):
    clock = Clock()
    store = FileStore(tmp_path, clock=clock)
    job_ids = _three_jobs(store, clock)
    store.maintain()
    before = _records(store, job_ids)

    def killed(*_):
        raise OSError("killed")

    monkeypatch.setattr(Journal, "restart", killed)
    assert not store.compact()
    monkeypatch.undo()
    # The journal still holds the lines the snapshot covers: replayed, they change nothing.
    assert (tmp_path / JOURNAL_NAME).read_text().count('"spec"') == 3
    assert _records(FileStore(tmp_path, clock=clock), job_ids) == before


def test_a_snapshot_whose_spec_numbers_name_no_spec_stops_the_start(tmp_path):
    clock = Clock()
    store = FileStore(tmp_path, clock=clock)
    _three_jobs(store, clock)
    assert store.compact()
    data = (tmp_path / SNAPSHOT_NAME).read_bytes()
    end = data.index(b"\n", len(snapshots.MAGIC))
    header = json.loads(data[len(snapshots.MAGIC):end])
    (tmp_path / SNAPSHOT_NAME).write_bytes(snapshots.MAGIC + json.dumps({**header, "specs": header["specs"][:1]})
                                           .encode() + data[end:])
    with pytest.raises(snapshots.BrokenSnapshot, match="beyond the specs"):
        FileStore(tmp_path)


def _version_1_snapshot(folder, base, codes, times, reasons, specs):
    """A snapshot as version 1 wrote it: header, status bytes, settle times."""
    header = json.dumps({"base": base, "count": len(codes),
                         "reasons": {str(job_id): reason for job_id, reason in reasons.items()},
                         "specs": {str(job_id): spec for job_id, spec in specs.items()}})
    (folder / SNAPSHOT_NAME).write_bytes(b"LSS snapshot 1\n" + header.encode() + b"\n" + bytes(codes)
                                         + array.array("d", times).tobytes())


def test_a_version_1_snapshot_and_journal_are_still_read(make_app, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    settled = time.time() - 60
    _version_1_snapshot(results, 1, [DONE, ERROR, RUNNING], [settled, settled + 1, 0.0], {2: "it broke"},
                        {3: SPEC})
    # The journal since, as version 1 wrote it: a job without a submit time.
    (results / JOURNAL_NAME).write_text('{"last":3}\n' + json.dumps({"id": 4, "spec": STATE_SPEC}) + "\n")
    (results / "job_id_1.json").write_bytes(ANSWER)

    store = FileStore(results)
    assert _fields(_records(store, (1, 2, 3, 4))) == [
        (JobStatus.DONE, None, None, settled, None),
        (JobStatus.ERROR, None, None, settled + 1, "it broke"),
        (JobStatus.RUNNING, SPEC, None, None, None),
        (JobStatus.RUNNING, STATE_SPEC, None, None, None)]
    assert store.take_unfinished() == {3: SPEC, 4: STATE_SPEC}
    store.close()

    # The service reruns the two unfinished jobs, and tells what it knows of each.
    client = make_app().test_client()
    done = _record(client, "job_id_1")
    assert done == {"status": "done", "request": None, "submitted_at": None, "finished_at": done["finished_at"]}
    assert settled - 0.001 <= _seconds(done["finished_at"]) <= settled
    assert _record(client, "job_id_2")["reason"] == "it broke"
    assert wait_for(client, "job_id_3") == {"status": "done", "data": {"global_mean": 25.0}}
    assert wait_for(client, "job_id_4") == {"status": "done", "data": {"Utah": 40.0}}
    rerun = _record(client, "job_id_4")
    assert (rerun["request"], rerun["submitted_at"]) == (_request("state_mean", STATE_SPEC), None)
    _service(client.application).shutdown(wait=True, timeout=10)

    # Compacted into a version 2 snapshot, the same.
    store = FileStore(results)
    expected = _records(store, (1, 2, 3, 4))
    assert store.compact()
    assert _records(FileStore(results), (1, 2, 3, 4)) == expected
    assert expected[3].spec == SPEC and expected[1].spec is None


def test_the_specs_no_kept_job_has_are_dropped_at_compaction(tmp_path):
    clock = Clock()
    store = FileStore(tmp_path, ttl_s=60, clock=clock)
    # The running first job keeps the table from starting after the second, which expires.
    running = store.create(SPEC)
    expiring = store.create(OTHER_SPEC)
    store.finish(expiring, ANSWER)
    kept = store.create(STATE_SPEC)
    clock.advance(61)
    store.maintain()
    assert store.compact()
    data = (tmp_path / SNAPSHOT_NAME).read_bytes()
    header = json.loads(data[len(snapshots.MAGIC):data.index(b"\n", len(snapshots.MAGIC))])
    assert header["specs"] == [spec_text(SPEC), spec_text(STATE_SPEC)]
    with pytest.raises(JobExpired):
        store.record(expiring)
    for current in (store, FileStore(tmp_path, ttl_s=60, clock=clock)):
        assert (current.record(running).spec, current.record(kept).spec) == (SPEC, STATE_SPEC)
        # Asked again, the dropped spec is kept anew.
        assert current.record(current.create(OTHER_SPEC)).spec == OTHER_SPEC


# -- the status table: every column in step, whatever happens --------------------------

SPECS = [spec_text(spec) for spec in (SPEC, STATE_SPEC, OTHER_SPEC, {"statistic": "worst5", "question": HIGH})]
steps = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(0, len(SPECS) - 1)),
    st.tuples(st.just("settle"), st.integers(0, 50), st.sampled_from([DONE, ERROR])),
    st.tuples(st.just("expire"), st.integers(1, 30)),
    st.tuples(st.just("drop")),
), max_size=80)


@settings(max_examples=200, deadline=None)
@given(steps=steps)
def test_expiry_and_compaction_keep_every_column_of_the_table_in_step(steps):
    table = StatusTable(base=7)
    # The model: id -> (spec text, submit time) of every job the table should still know.
    model = {}
    clock = 0.0
    for step in steps:
        clock += 1.0
        if step[0] == "add":
            model[table.add(SPECS[step[1]], clock)] = (SPECS[step[1]], clock)
        elif step[0] == "settle" and table.running_ids():
            running = table.running_ids()
            table.settle(running[step[1] % len(running)], step[2], clock, reason="it broke")
        elif step[0] == "expire":
            table.expire(clock, step[1])
        elif step[0] == "drop":
            table.drop_unused_specs()
        assert len(table.codes) == len(table.times) == len(table.spec_numbers) == len(table.submitted)
        kept = [job_id for job_id in range(table.base, table.last + 1) if table.code(job_id) != GONE]
        model = {job_id: model[job_id] for job_id in kept}
        assert {job_id: table.request(job_id) for job_id in kept} == model
        assert all(table.code(job_id) in (RUNNING, DONE, ERROR) for job_id in kept)
    table.drop_unused_specs()
    assert sorted(table.spec_texts) == sorted({text for text, _ in model.values()})
    # What a snapshot of it must hold to be read again: every number names a spec, or none.
    assert all(number < len(table.spec_texts) or number == NO_SPEC for number in table.spec_numbers)
