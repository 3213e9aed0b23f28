"""The promises of a cluster: real server processes sharing one real redis-server.

Each test starts its servers as separate processes (unittests/stress/servers.py)
with LSS_REDIS_URL naming the same Redis, each over a folder of its own, so that
whatever one process learns of another's jobs or uploads came through Redis.
Answers are checked against checker/reference.py, never against a server.
The test that kills Redis runs a redis-server of its own.
"""
import os
import random
import signal
import threading
import time

import pytest
import requests

from checker.reference import Reference, compare
from unittests.conftest import BUNDLED_QUESTION as QUESTION
from unittests.conftest import LOW
from unittests.conftest import NINE_REQUESTS as REQUESTS
from unittests.redis_server import RedisServer
from unittests.stress.load import CSV_PATH, Expectations, strict_json
from unittests.stress.servers import ServerProcess

# Small, so that a dead process's jobs are claimed within seconds.
TAKEOVER_S = 2
# The margin given to every promise that has a bound, beyond the bound itself.
MARGIN_S = 5
SHUTTING_DOWN = {"status": "error", "reason": "shutting down"}


@pytest.fixture(name="expectations", scope="module")
def fixture_expectations():
    """The reference's answers on the bundled data."""
    return Expectations(CSV_PATH)


@pytest.fixture(name="start_server")
def fixture_start_server(tmp_path):
    """Start a server of the cluster on the Redis at a URL; every one is killed at the end.

    start(name, redis_url, **options) runs it over tmp_path/name; the options
    are ServerProcess's (launcher="gated", gate=..., threads=...), and
    environment_extra adds settings.
    """
    started = []

    def start(name, redis_url, environment_extra=None, **options):
        workdir = tmp_path / name
        workdir.mkdir()
        environment = {"LSS_REDIS_URL": redis_url, "LSS_TAKEOVER_S": TAKEOVER_S, **(environment_extra or {})}
        server = ServerProcess(workdir, environment=environment, **options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


@pytest.fixture(name="own_redis")
def fixture_own_redis(tmp_path):
    """A redis-server of this test's own, which it may kill and start again."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def post(server, endpoint, body, timeout=30):
    """POST a statistics request; the response."""
    return requests.post(f"{server.url}/api/{endpoint}", json=body, timeout=timeout)


def submit(server, endpoint, body):
    """POST a statistics request that must be accepted; its job id."""
    response = post(server, endpoint, body)
    assert response.status_code == 200, response.text
    return strict_json(response.text)["job_id"]


def get(server, path, timeout=30):
    """GET a path; the response."""
    return requests.get(f"{server.url}{path}", timeout=timeout)


def wait_for(server, job_id, deadline):
    """The final get_results JSON of a job, polled until the monotonic `deadline`."""
    while True:
        answer = strict_json(get(server, f"/api/get_results/{job_id}").text)
        if answer["status"] != "running":
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{job_id} still running on {server.url}")
        time.sleep(0.02)


def assert_right(answer, expected):
    """A finished job's JSON is done and its data agrees with the reference."""
    assert answer["status"] == "done", answer
    assert compare(expected, answer["data"]) is None, compare(expected, answer["data"])


def metric(server, name):
    """The value of an unlabelled metric in the server's /metrics."""
    for line in get(server, "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics of {server.url}")


def listed_jobs(server):
    """The ids GET /api/jobs lists, as numbers, and the statuses it gives them."""
    listing = strict_json(get(server, "/api/jobs").text)["data"]
    return [(int(job_id[len("job_id_"):]), status) for entry in listing for job_id, status in entry.items()]


def soon(seconds):
    """The monotonic deadline `seconds` from now."""
    return time.monotonic() + seconds


# -- one job space -------------------------------------------------------------


def test_a_job_submitted_to_one_process_is_answered_by_another(start_server, redis_url, expectations):
    """Each of the nine statistics POSTed to A is read, done and right, from B."""
    first = start_server("a", redis_url)
    second = start_server("b", redis_url)

    submitted = {submit(first, endpoint, body): (endpoint, body) for endpoint, body in REQUESTS}

    for job_id, (endpoint, body) in submitted.items():
        assert_right(wait_for(second, job_id, soon(30)), expectations.expected(endpoint, body))


def test_ids_are_unique_and_gap_free_with_four_processes_and_eight_clients_each(start_server, redis_url,
                                                                                  expectations):
    """32 clients submitting at once to 4 processes get ids 1..N, each once; every job is listed and right."""
    servers = [start_server(name, redis_url) for name in "abcd"]
    clients_per_server, jobs_per_client = 8, 12
    starting_line = threading.Barrier(len(servers) * clients_per_server)
    accepted, refused = [], []

    def client(server, seed):
        chooser = random.Random(seed)
        with requests.Session() as session:
            starting_line.wait()
            for _ in range(jobs_per_client):
                endpoint, body = chooser.choice(expectations.requests)
                try:
                    response = session.post(f"{server.url}/api/{endpoint}", json=body, timeout=30)
                except requests.RequestException as error:
                    refused.append(str(error))
                    continue
                if response.status_code == 200:
                    accepted.append((strict_json(response.text)["job_id"], endpoint, body))
                else:
                    refused.append(response.text)

    threads = [threading.Thread(target=client, args=(server, index * clients_per_server + number))
               for index, server in enumerate(servers) for number in range(clients_per_server)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    total = len(threads) * jobs_per_client
    assert not refused
    assert sorted(int(job_id[len("job_id_"):]) for job_id, _, _ in accepted) == list(range(1, total + 1))
    for index, (job_id, endpoint, body) in enumerate(accepted):
        # Read from any process, not only the one that took the job.
        answer = wait_for(servers[index % len(servers)], job_id, soon(30))
        assert_right(answer, expectations.expected(endpoint, body))
    assert listed_jobs(servers[0]) == [(number, "done") for number in range(1, total + 1)]


def test_an_upload_to_one_process_serves_on_another(start_server, redis_url, small_csv):
    """A CSV uploaded to A is listed by B and answers a job submitted to B, right."""
    first = start_server("a", redis_url)
    second = start_server("b", redis_url)

    with open(small_csv, "rb") as upload:
        response = requests.post(f"{first.url}/api/datasets", files={"file": ("small.csv", upload)},
                                 timeout=30)
    assert response.status_code == 201, response.text
    dataset_id = strict_json(response.text)["data"]["id"]
    # B's own folder never saw the file: what it serves came through Redis.
    assert not os.path.exists(os.path.join(second.workdir, "datasets", f"{dataset_id}.csv"))

    listed = strict_json(get(second, "/api/datasets").text)["data"]
    assert dataset_id in [dataset["id"] for dataset in listed]
    job_id = submit(second, "states_mean", {"question": LOW, "dataset": dataset_id})
    assert_right(wait_for(second, job_id, soon(30)), Reference(small_csv).states_mean(LOW))


# -- a process that dies, one that is stopped, a cluster asked to stop ---------


def test_the_jobs_of_a_process_killed_under_load_are_run_by_another_within_the_takeover_time(
        start_server, redis_url, tmp_path, expectations):
    """kill -9 of A while clients submit to A and B: every job A accepted ends done and right,
    read from B, within the takeover time and a margin, and B's /metrics counts the takeovers."""
    # A's jobs all wait at a gate that never opens, so A dies owing every one.
    doomed = start_server("a", redis_url, launcher="gated", gate=str(tmp_path / "never"), threads=1)
    survivor = start_server("b", redis_url)
    accepted = {doomed: {}, survivor: {}}
    problems = []
    stop = threading.Event()

    def client(server, seed):
        chooser = random.Random(seed)
        with requests.Session() as session:
            while not stop.is_set():
                endpoint, body = chooser.choice(expectations.requests)
                try:
                    response = session.post(f"{server.url}/api/{endpoint}", json=body, timeout=30)
                except requests.RequestException:
                    if server is survivor:
                        problems.append("the survivor dropped a connection")
                    return
                if response.status_code != 200:
                    problems.append(response.text)
                else:
                    accepted[server][strict_json(response.text)["job_id"]] = (endpoint, body)
                time.sleep(0.01)

    doomed_clients = [threading.Thread(target=client, args=(doomed, seed), daemon=True) for seed in (0, 1)]
    survivor_clients = [threading.Thread(target=client, args=(survivor, seed), daemon=True) for seed in (2, 3)]
    for thread in doomed_clients + survivor_clients:
        thread.start()
    try:
        time.sleep(1)
        doomed.kill()
        killed_at = time.monotonic()
        for thread in doomed_clients:
            thread.join()
        assert accepted[doomed]
        # B stays under load while it claims and runs A's jobs.
        for job_id, (endpoint, body) in accepted[doomed].items():
            answer = wait_for(survivor, job_id, killed_at + TAKEOVER_S + MARGIN_S)
            assert_right(answer, expectations.expected(endpoint, body))
    finally:
        stop.set()
        for thread in survivor_clients:
            thread.join()

    assert not problems, problems[:3]
    for job_id, (endpoint, body) in accepted[survivor].items():
        assert_right(wait_for(survivor, job_id, soon(30)), expectations.expected(endpoint, body))
    assert strict_json(get(survivor, "/api/num_jobs").text) == {"num_jobs": 0}
    assert metric(survivor, "lss_takeover_jobs_total") >= len(accepted[doomed])


def test_graceful_shutdown_asked_of_one_process_stops_intake_in_the_whole_cluster(
        start_server, redis_url, tmp_path, expectations):
    """GET /api/graceful_shutdown on A: within 1 s B refuses statistics POSTs with 503
    "shutting down", B's reads keep working and its /readyz says 503; a process started
    afterwards serves; the answer is "done" only once no job of the cluster is unfinished."""
    gate = tmp_path / "gate"
    asked = start_server("a", redis_url)
    other = start_server("b", redis_url, launcher="gated", gate=str(gate), threads=2)
    finished_id = submit(asked, *REQUESTS[0])
    assert_right(wait_for(other, finished_id, soon(30)), expectations.expected(*REQUESTS[0]))
    waiting = {submit(other, endpoint, body): (endpoint, body) for endpoint, body in REQUESTS[1:4]}

    # A has no job left, but B has: the cluster is not drained.
    assert strict_json(get(asked, "/api/graceful_shutdown").text) == {"status": "running"}
    asked_at = time.monotonic()
    while True:
        response = post(other, *REQUESTS[4])
        elapsed = time.monotonic() - asked_at
        if response.status_code != 200 or elapsed > 1:
            break
        # A POST accepted meanwhile is one more job to drain.
        waiting[strict_json(response.text)["job_id"]] = REQUESTS[4]
    assert (response.status_code, strict_json(response.text)) == (503, SHUTTING_DOWN)
    assert elapsed <= 1
    response = post(asked, *REQUESTS[4])
    assert (response.status_code, strict_json(response.text)) == (503, SHUTTING_DOWN)

    assert_right(wait_for(other, finished_id, soon(30)), expectations.expected(*REQUESTS[0]))
    for job_id in waiting:
        assert strict_json(get(other, f"/api/get_results/{job_id}").text) == {"status": "running"}
    assert len(listed_jobs(other)) == 1 + len(waiting)
    assert strict_json(get(other, "/api/num_jobs").text) == {"num_jobs": len(waiting)}
    readiness = get(other, "/readyz")
    assert (readiness.status_code, readiness.json()) == (503, SHUTTING_DOWN)

    newcomer = start_server("c", redis_url)
    # Asking the stopped process again must not stop the one started since.
    assert strict_json(get(asked, "/api/graceful_shutdown").text) == {"status": "running"}
    fresh_id = submit(newcomer, *REQUESTS[5])
    assert_right(wait_for(newcomer, fresh_id, soon(30)), expectations.expected(*REQUESTS[5]))
    assert get(newcomer, "/readyz").status_code == 200

    gate.touch()
    deadline = soon(30)
    while strict_json(get(asked, "/api/graceful_shutdown").text) != {"status": "done"}:
        assert time.monotonic() < deadline, "graceful_shutdown never answered done"
        time.sleep(0.05)
    for job_id, (endpoint, body) in waiting.items():
        assert_right(wait_for(asked, job_id, soon(1)), expectations.expected(endpoint, body))
    assert strict_json(get(newcomer, "/api/num_jobs").text) == {"num_jobs": 0}


def test_sigterm_drains_that_process_only_while_the_others_keep_serving(start_server, redis_url, tmp_path,
                                                                        expectations):
    """SIGTERM to A: A finishes its own jobs and exits 0; B accepts and answers all along."""
    gate = tmp_path / "gate"
    stopped = start_server("a", redis_url, launcher="gated", gate=str(gate), threads=1)
    serving = start_server("b", redis_url)
    owed = {submit(stopped, endpoint, body): (endpoint, body) for endpoint, body in REQUESTS[:3]}

    stopped.send(signal.SIGTERM)
    # A drains: it waits for its jobs, held at the gate, before it exits.
    assert stopped.wait(0.5) is None
    for endpoint, body in REQUESTS[3:6]:
        job_id = submit(serving, endpoint, body)
        assert_right(wait_for(serving, job_id, soon(30)), expectations.expected(endpoint, body))
    assert get(serving, "/readyz").status_code == 200

    gate.touch()
    assert stopped.wait(30) == 0
    for job_id, (endpoint, body) in owed.items():
        assert_right(wait_for(serving, job_id, soon(1)), expectations.expected(endpoint, body))
    # A ran them itself: nothing was left for B to take over.
    assert metric(serving, "lss_takeover_jobs_total") == 0
    job_id = submit(serving, *REQUESTS[6])
    assert_right(wait_for(serving, job_id, soon(30)), expectations.expected(*REQUESTS[6]))
    assert get(serving, "/readyz").status_code == 200


# -- Redis itself killed and started again -------------------------------------


def assert_refused_without_redis(server, done_id, running_id):
    """Every request that needs Redis gets, within 5 s, a 503 whose JSON reason names it; /livez a 200."""
    for method, path in [("POST", "/api/global_mean"), ("GET", f"/api/get_results/{done_id}"),
                         ("GET", f"/api/get_results/{running_id}"), ("GET", f"/api/status/{done_id}"),
                         ("GET", "/api/jobs"), ("GET", "/api/num_jobs"), ("GET", "/api/datasets"),
                         ("GET", "/readyz")]:
        started = time.monotonic()
        # A hang fails too: the client gives up after 5 s.
        response = requests.request(method, f"{server.url}{path}", timeout=5,
                                    json={"question": QUESTION} if method == "POST" else None)
        assert time.monotonic() - started < 5
        assert response.status_code == 503, (method, path, response.status_code, response.text)
        body = strict_json(response.text)
        assert body["status"] == "error" and "Redis" in body["reason"], (method, path, body)
    assert get(server, "/livez", timeout=5).status_code == 200


def test_redis_killed_answers_503_then_restarted_loses_nothing_and_serves_again(start_server, own_redis,
                                                                                tmp_path, expectations):
    """kill -9 of redis-server: every request that needs it gets a 503 with a reason within
    5 s, /livez stays 200; restarted on the same port and folder, every accepted job ends done
    and right, every finished answer reads the same, and new jobs are accepted, all without
    restarting the servers."""
    gate = tmp_path / "gate"
    held = start_server("a", own_redis.url, launcher="gated", gate=str(gate), threads=1)
    free = start_server("b", own_redis.url)
    finished = {}
    for endpoint, body in REQUESTS[:4]:
        job_id = submit(free, endpoint, body)
        finished[job_id] = wait_for(free, job_id, soon(30))
        assert_right(finished[job_id], expectations.expected(endpoint, body))
    unfinished = {submit(held, endpoint, body): (endpoint, body) for endpoint, body in REQUESTS[4:]}
    running_id, done_id = next(iter(unfinished)), next(iter(finished))

    own_redis.kill()
    for server in (held, free):
        assert_refused_without_redis(server, done_id, running_id)
    # A's jobs now finish while their outcomes cannot be recorded, and the
    # outage outlasts every heartbeat: after the restart each process finds
    # the other's heartbeat gone and may claim its jobs while it still runs.
    gate.touch()
    time.sleep(TAKEOVER_S)

    own_redis.start()
    deadline = soon(TAKEOVER_S + MARGIN_S)
    # Back by itself: each process's next heartbeat finds Redis again.
    for server in (held, free):
        while get(server, "/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service did not come back by itself"
            time.sleep(0.05)
    for job_id, answer in finished.items():
        assert strict_json(get(free, f"/api/get_results/{job_id}").text) == answer
        assert strict_json(get(held, f"/api/get_results/{job_id}").text) == answer
    for job_id, (endpoint, body) in unfinished.items():
        assert_right(wait_for(held, job_id, deadline), expectations.expected(endpoint, body))
    accepted_before = len(finished) + len(unfinished)
    for server in (held, free):
        job_id = submit(server, *REQUESTS[0])
        # The counter went on from where it was: no id is handed out twice.
        assert int(job_id[len("job_id_"):]) > accepted_before
        assert_right(wait_for(server, job_id, soon(30)), expectations.expected(*REQUESTS[0]))
    assert listed_jobs(free) == [(number, "done") for number in range(1, accepted_before + 3)]
    assert get(held, "/readyz").status_code == 200


def test_a_hung_redis_costs_each_of_many_waiting_requests_a_503_within_the_bound(start_server, own_redis):
    """Two request threads, 24 polls at once, Redis stopped (SIGSTOP): each poll gets its 503 within 5 s.

    Waiting out the Redis timeout one request after another would take the
    last poll 12 s; once a call found Redis out of reach the others fail at once.
    """
    server = start_server("a", own_redis.url, launcher="production",
                          environment_extra={"LSS_WSGI_WORKERS": 1, "LSS_WSGI_THREADS": 2,
                                             "LSS_REDIS_TIMEOUT_S": 1})
    job_id = post(server, "global_mean", {"question": QUESTION}).json()["job_id"]
    # Its first poll that finds it done is answered from the process's memory,
    # once; a second reads Redis, and so do the polls below.
    assert wait_for(server, job_id, soon(MARGIN_S))["status"] == "done"
    assert strict_json(get(server, f"/api/get_results/{job_id}").text)["status"] == "done"
    own_redis.process.send_signal(signal.SIGSTOP)
    try:
        answers = [None] * 24

        def poll(index):
            started = time.monotonic()
            response = requests.get(f"{server.url}/api/get_results/{job_id}", timeout=30)
            answers[index] = (response.status_code, response.json(), time.monotonic() - started)

        threads = [threading.Thread(target=poll, args=(index,)) for index in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    for status, body, seconds in answers:
        assert status == 503 and "Redis" in body["reason"] and seconds < 5, (status, body, seconds)
