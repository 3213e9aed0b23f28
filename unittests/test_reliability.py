"""The promises kept under faults: crashes, signals, a vanishing, broken or full
results folder, overload, and many clients at once.

The tests that need a real process (kill -9, signals, a full disk, HTTP
clients) start one with unittests/stress/servers.py; the others use a fresh
app and Flask's test client. The longer versions of these runs are in
`make stress` (unittests/stress/run.py).
"""
import errno
import functools
import json
import os
import resource
import shutil
import signal
import threading
import time

import pytest
import requests

from app.stores.file_store import FileStore as JobStore
from app.task_runner import WorkItem
from checker.reference import compare
from unittests.conftest import BUNDLED_QUESTION as QUESTION
from unittests.conftest import NINE_REQUESTS as REQUESTS
from unittests.conftest import wait_for
from unittests.stress.load import CSV_PATH, Expectations, Tally, jobs_listing, run_clients, strict_json
from unittests.stress.servers import ServerProcess



@pytest.fixture(scope="module")
def expectations():
    """The reference's answers."""
    return Expectations(CSV_PATH)


@pytest.fixture(name="make_app")
def fixture_make_app(make_app):
    """conftest's make_app, on the bundled data."""
    return functools.partial(make_app, CSV_PATH=CSV_PATH)


@pytest.fixture
def servers(tmp_path):
    """Start real servers over tmp_path/results; kill any still running at the end."""
    started = []

    def start(**options):
        server = ServerProcess(tmp_path, **options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


def hold_workers(app, count=1):
    """Queue `count` items that block a worker each until the returned Event is set."""
    gate = threading.Event()
    for _ in range(count):
        app.extensions["le_stats_sportif"].pool.submit(
            lambda: WorkItem(gate.wait, lambda value, error: None), bounded=False)
    return gate


def http_wait_for(url, job_id, seconds=60):
    """Poll a job over HTTP until it is no longer running; its JSON answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = strict_json(requests.get(f"{url}/api/get_results/{job_id}", timeout=30).text)
        if answer["status"] != "running":
            return answer
        time.sleep(0.01)
    raise AssertionError(f"{job_id} still running after {seconds} s")


def post(url, endpoint, body):
    """POST a job over HTTP; the response."""
    return requests.post(f"{url}/api/{endpoint}", json=body, timeout=30)


def wait_for_log(server, text, seconds=60, count=1):
    """Wait until the server's log has `count` lines containing `text`.

    The log is written in batches (LSS_LOG_FLUSH_MS): a line can reach the
    file a moment after what it tells of has happened.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.log_lines(text) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"no log line with {text!r} within {seconds} s")


def read_result_files(results_dir):
    """{job id: parsed answer} of every result file; fails on a partial one."""
    found = {}
    for name in os.listdir(results_dir):
        if name.startswith("job_id_") and name.endswith(".json"):
            with open(os.path.join(results_dir, name), encoding="utf-8") as file:
                found[name[:-len(".json")]] = strict_json(file.read())
    return found


# -- kill -9 and restart -------------------------------------------------------


@pytest.mark.parametrize("gated", ["script", "production"])
def test_kill_9_then_restart_keeps_answers_reruns_unfinished_and_continues_ids(servers, tmp_path,
                                                                                expectations, gated):
    gate = str(tmp_path / "gate")
    open(gate, "w", encoding="ascii").close()
    server = servers(launcher="gated", gate=gate, threads=1,
                     environment={"LSS_GATED_SERVER": "production" if gated == "production" else ""})
    done_before = {}
    for endpoint, body in REQUESTS[:5]:
        job_id = post(server.url, endpoint, body).json()["job_id"]
        done_before[job_id] = http_wait_for(server.url, job_id)
        assert done_before[job_id]["status"] == "done"
    os.remove(gate)
    pending = {post(server.url, endpoint, body).json()["job_id"]: (endpoint, body)
               for endpoint, body in REQUESTS * 2}
    assert strict_json(requests.get(f"{server.url}/api/num_jobs", timeout=30).text)["num_jobs"] == 18
    server.kill()

    on_disk = read_result_files(server.results_dir)
    assert sorted(on_disk) == sorted(done_before)
    # What a kill in the middle of writing an answer leaves behind.
    with open(os.path.join(server.results_dir, ".job_id_9.tmp"), "w", encoding="ascii") as torn:
        torn.write('{"Ohio": 3')

    server = servers()
    for job_id, answer in done_before.items():
        assert http_wait_for(server.url, job_id) == answer
    for job_id, (endpoint, body) in pending.items():
        answer = http_wait_for(server.url, job_id)
        assert answer["status"] == "done", answer
        assert compare(expectations.expected(endpoint, body), answer["data"]) is None
    wait_for_log(server, "unfinished at the last stop", count=18)
    assert server.log_lines("unfinished at the last stop") == 18
    assert not [name for name in os.listdir(server.results_dir) if name.endswith(".tmp")]
    assert post(server.url, "global_mean", {"question": QUESTION}).json() == {"job_id": "job_id_24"}
    listing, _ = jobs_listing(server.url)
    assert [job_id for job_id, _ in listing] == [f"job_id_{n}" for n in range(1, 25)]


def test_a_line_cut_short_by_a_crash_does_not_swallow_the_next_job(tmp_path):
    store = JobStore(tmp_path)
    first = store.create({"statistic": "global_mean", "question": QUESTION})
    with open(tmp_path / ".journal", "ab") as journal:
        journal.write(b'{"id":2,"spec":{"statis')

    store = JobStore(tmp_path)
    second = store.create({"statistic": "best5", "question": QUESTION})

    store = JobStore(tmp_path)
    assert (first, second) == (1, 2)
    assert store.take_unfinished() == {1: {"statistic": "global_mean", "question": QUESTION},
                                       2: {"statistic": "best5", "question": QUESTION}}


def test_a_journal_entry_the_disk_took_only_part_of_is_rolled_back(tmp_path, monkeypatch):
    store = JobStore(tmp_path)
    real_write = os.write

    def write_half_then_fail(descriptor, data):
        real_write(descriptor, bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("app.stores.file_store.os.write", write_half_then_fail)
    with pytest.raises(OSError):
        store.create({"statistic": "worst5", "question": QUESTION})
    monkeypatch.setattr("app.stores.file_store.os.write", real_write)
    job_id = store.create({"statistic": "best5", "question": QUESTION})

    assert job_id == 1
    assert JobStore(tmp_path).take_unfinished() == {1: {"statistic": "best5", "question": QUESTION}}


# -- SIGTERM and SIGINT ----------------------------------------------------------


@pytest.mark.parametrize("launcher, signum", [("flask", signal.SIGTERM), ("script", signal.SIGINT),
                                              ("flask", signal.SIGINT), ("script", signal.SIGTERM),
                                              ("production", signal.SIGTERM), ("production", signal.SIGINT)])
def test_a_signal_stops_intake_drains_every_job_and_exits_0(servers, tmp_path, expectations, launcher,
                                                             signum):
    gate = str(tmp_path / "gate")
    # The gated server is the script, or `make serve` for the production cases.
    server = servers(launcher="gated", gate=gate, threads=2,
                     environment={"LSS_GATED_SERVER": "production" if launcher == "production" else ""})
    if launcher == "flask":
        # The gated server is the script; check that `flask run` installs the same handlers.
        plain = ServerProcess(tmp_path / "plain", launcher="flask")
        os.makedirs(plain.workdir)
        plain.start()
        post(plain.url, "global_mean", {"question": QUESTION})
        plain.send(signum)
        assert plain.wait(60) == 0
        assert list(read_result_files(plain.results_dir)) == ["job_id_1"]
    accepted = {post(server.url, endpoint, body).json()["job_id"]: (endpoint, body)
                for endpoint, body in REQUESTS * 2}

    server.send(signum)
    wait_for_log(server, "draining 18 jobs")
    late = {}
    latecomer = threading.Thread(target=lambda: late.update(attempt_post(server.url)), daemon=True)
    latecomer.start()
    open(gate, "w", encoding="ascii").close()
    assert server.wait(60) == 0
    latecomer.join(60)

    assert late.get("status") != 200
    answers = read_result_files(server.results_dir)
    assert sorted(answers) == sorted(accepted)
    for job_id, (endpoint, body) in accepted.items():
        assert compare(expectations.expected(endpoint, body), answers[job_id]) is None
    server = servers()
    # Logged after the jobs left over are rerun: once it is in the file, so would they be.
    wait_for_log(server, "started:")
    assert server.log_lines("unfinished at the last stop") == 0
    assert post(server.url, "global_mean", {"question": QUESTION}).json() == {"job_id": "job_id_19"}


def attempt_post(url):
    """POST a job to a server that may be going away: {"status": HTTP status} or {"error": ...}."""
    try:
        return {"status": post(url, "global_mean", {"question": QUESTION}).status_code}
    except requests.RequestException as error:
        return {"error": repr(error)}


# -- the results folder emptied, removed, broken or full ----------------------


@pytest.mark.parametrize("how", ["removed", "emptied"])
def test_results_folder_removed_while_running(make_app, how):
    app = make_app()
    client = app.test_client()
    results_dir = app.config["RESULTS_DIR"]
    first = client.post("/api/global_mean", json={"question": QUESTION}).get_json()["job_id"]
    assert wait_for(client, first)["status"] == "done"
    gate = hold_workers(app, 2)
    queued = client.post("/api/best5", json={"question": QUESTION}).get_json()["job_id"]

    if how == "removed":
        shutil.rmtree(results_dir)
    else:
        for name in os.listdir(results_dir):
            os.remove(os.path.join(results_dir, name))
    gate.set()

    assert wait_for(client, queued)["status"] == "done"
    later = client.post("/api/worst5", json={"question": QUESTION}).get_json()["job_id"]
    assert (first, queued, later) == ("job_id_1", "job_id_2", "job_id_3")
    assert wait_for(client, later)["status"] == "done"
    response = client.get(f"/api/get_results/{first}")
    assert response.status_code == 410 and response.get_json()["status"] == "error"
    assert client.get("/api/jobs").get_json()["data"] == [
        {"job_id_1": "done"}, {"job_id_2": "done"}, {"job_id_3": "done"}]
    assert sorted(os.listdir(results_dir)) == [".journal", "job_id_2.json", "job_id_3.json"]


def test_a_folder_removed_again_while_being_made_again_is_made_again(tmp_path, monkeypatch):
    store = JobStore(tmp_path / "results")
    job_id = store.create({"statistic": "global_mean", "question": QUESTION})
    shutil.rmtree(tmp_path / "results")
    real_makedirs = os.makedirs
    calls = []

    def made_and_removed_by_someone_else(path, exist_ok=False):
        # What makedirs raises when another thread made the folder and a
        # third removed it before makedirs could check it was a folder.
        calls.append(path)
        if len(calls) == 1:
            raise FileExistsError(errno.EEXIST, "File exists", path)
        real_makedirs(path, exist_ok=exist_ok)

    monkeypatch.setattr("app.stores.file_store.os.makedirs", made_and_removed_by_someone_else)
    store.finish(job_id, b'{"global_mean": 1.0}')

    assert len(calls) == 2
    assert store.result(job_id) == b'{"global_mean": 1.0}'


def test_unwritable_results_folder_fails_jobs_with_a_reason_and_recovers(make_app):
    app = make_app(NUM_THREADS=1)
    client = app.test_client()
    results_dir = app.config["RESULTS_DIR"]
    gate = hold_workers(app)
    accepted = client.post("/api/states_mean", json={"question": QUESTION}).get_json()["job_id"]

    # A file where the folder was: every write fails, for root too.
    shutil.rmtree(results_dir)
    with open(results_dir, "w", encoding="ascii") as blocker:
        blocker.write("not a folder")
    gate.set()
    failed = wait_for(client, accepted)
    refused = client.post("/api/best5", json={"question": QUESTION})

    assert failed["status"] == "error" and "could not write the result" in failed["reason"]
    assert refused.status_code == 503 and "could not be recorded" in refused.get_json()["reason"]
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 0}
    assert len(client.get("/api/jobs").get_json()["data"]) == 1
    unreadable = client.get(f"/api/get_results/{accepted}")
    assert unreadable.status_code == 200 and unreadable.get_json()["status"] == "error"

    os.remove(results_dir)
    os.makedirs(results_dir)
    recovered = client.post("/api/best5", json={"question": QUESTION}).get_json()["job_id"]
    assert recovered == "job_id_2"
    assert wait_for(client, recovered)["status"] == "done"
    pool = app.extensions["le_stats_sportif"].pool
    assert all(thread.is_alive() for thread in pool._threads)  # pylint: disable=protected-access


def test_a_result_that_cannot_be_read_is_a_503_not_a_500(make_app):
    app = make_app()
    client = app.test_client()
    job_id = client.post("/api/global_mean", json={"question": QUESTION}).get_json()["job_id"]
    wait_for(client, job_id)
    # A folder in place of the answer's file. (Not a file in place of the
    # results folder: the job's last journal entry, written just after it
    # shows done, may make the folder again first.)
    answer = os.path.join(app.config["RESULTS_DIR"], f"{job_id}.json")
    os.remove(answer)
    os.mkdir(answer)

    response = client.get(f"/api/get_results/{job_id}")

    assert response.status_code == 503 and response.get_json()["status"] == "error"


def test_full_disk_fails_jobs_with_a_reason_and_recovers(servers):
    server = servers(threads=1)
    small = post(server.url, "global_mean", {"question": QUESTION}).json()["job_id"]
    assert http_wait_for(server.url, small)["status"] == "done"
    journal = os.path.join(server.results_dir, ".journal")
    # The kernel refuses to grow any file of the server past the limit
    # (EFBIG), as a full disk would (ENOSPC): room for a few journal
    # entries and small answers, not for a large answer.
    limit = os.path.getsize(journal) + 1500
    resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    large = post(server.url, "mean_by_category", {"question": QUESTION}).json()["job_id"]
    failed = http_wait_for(server.url, large)
    fits = post(server.url, "global_mean", {"question": QUESTION}).json()["job_id"]
    fitted = http_wait_for(server.url, fits)
    refusals = []
    for _ in range(30):
        response = post(server.url, "global_mean", {"question": QUESTION})
        if response.status_code == 503:
            refusals.append(response.json()["reason"])
            break
        http_wait_for(server.url, response.json()["job_id"])

    assert failed["status"] == "error" and "File too large" in failed["reason"]
    assert fitted["status"] == "done"
    assert refusals and "could not be recorded" in refusals[0]

    resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    recovered = post(server.url, "mean_by_category", {"question": QUESTION}).json()["job_id"]
    assert http_wait_for(server.url, recovered)["status"] == "done"
    listing, running = jobs_listing(server.url)
    assert server.stop() == 0

    server = servers()
    assert jobs_listing(server.url) == (listing, running)
    assert running == 0


# -- overload -------------------------------------------------------------------


def test_beyond_the_bound_a_post_gets_503_retry_after_and_no_job(make_app, expectations):
    app = make_app(NUM_THREADS=1, MAX_PENDING_JOBS=4)
    client = app.test_client()
    gate = hold_workers(app)
    accepted, refused = [], []
    for endpoint, body in REQUESTS:
        response = client.post(f"/api/{endpoint}", json=body)
        if response.status_code == 200:
            accepted.append((response.get_json()["job_id"], endpoint, body))
        else:
            refused.append(response)
    pool = app.extensions["le_stats_sportif"].pool

    assert len(accepted) == 3 and len(refused) == 6
    assert pool.queue.qsize() <= 4
    for response in refused:
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.get_json()["status"] == "error"
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 3}
    assert len(client.get("/api/jobs").get_json()["data"]) == 3
    with open(os.path.join(app.config["RESULTS_DIR"], ".journal"), encoding="utf-8") as journal:
        assert len(journal.readlines()) == 3

    gate.set()
    for job_id, endpoint, body in accepted:
        answer = wait_for(client, job_id)
        assert compare(expectations.expected(endpoint, body), answer["data"]) is None
    assert client.post("/api/best5", json={"question": QUESTION}).status_code == 200


# -- many clients at once ---------------------------------------------------------


def test_concurrent_clients_get_unique_ids_and_right_answers(servers, expectations):
    server = servers(threads=4)
    tally = Tally()
    clients = run_clients(server.url, expectations, tally, clients=8, jobs=40, window=8)
    for client in clients:
        client.join(120)

    accepted = [job_id for client in clients for job_id in client.accepted]
    assert tally.faults() == {}, tally.problems
    assert len(accepted) == len(set(accepted)) == 320
    assert tally.counts["checked"] == 320
    listing, running = jobs_listing(server.url)
    assert running == 0
    assert [job_id for job_id, _ in listing] == [f"job_id_{n}" for n in range(1, 321)]
    assert {status for _, status in listing} == {"done"}
    assert sorted(accepted) == sorted(job_id for job_id, _ in listing)
    assert server.stop() == 0


def test_jobs_and_num_jobs_agree_while_jobs_come_and_go(make_app):
    app = make_app(NUM_THREADS=1)
    client = app.test_client()
    gate = hold_workers(app)
    for endpoint, body in REQUESTS:
        client.post(f"/api/{endpoint}", json=body)

    def running_in_listing():
        return sum(status == "running" for entry in client.get("/api/jobs").get_json()["data"]
                   for status in entry.values())

    assert running_in_listing() == client.get("/api/num_jobs").get_json()["num_jobs"] == 9
    gate.set()
    for number in range(1, 10):
        wait_for(client, f"job_id_{number}")
    assert running_in_listing() == client.get("/api/num_jobs").get_json()["num_jobs"] == 0
    assert json.loads(client.get("/api/graceful_shutdown").data) == {"status": "done"}
