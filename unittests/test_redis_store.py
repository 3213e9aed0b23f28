"""The Redis store in one test process: apps sharing one real redis-server as processes of a cluster would.

Each app here stands for a server process: it has a process id of its own,
its own pool and its own heartbeat thread, and shares the job space with
the other apps of the test through Redis. unittests/test_cluster.py does the
same with real server processes, kill -9 included.
"""
import io
import signal
import threading
import time

import pytest

from app.config import ConfigError, load_config
from app.stores import redis_keys as keys
from unittests.conftest import HIGH, LOW, hold_jobs, run_job, wait_for
from unittests.redis_server import RedisServer


def _service(app):
    return app.extensions["le_stats_sportif"]


def _submit(client, question=LOW):
    response = client.post("/api/global_mean", json={"question": question})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["job_id"]


def test_a_job_submitted_to_one_app_is_answered_by_another(make_app):
    first, second = make_app(store="redis").test_client(), make_app(store="redis").test_client()
    job_id = _submit(first)
    assert wait_for(second, job_id) == {"status": "done", "data": {"global_mean": 25.0}}
    assert second.get("/api/jobs").get_json()["data"] == [{job_id: "done"}]


def test_ids_are_unique_and_gap_free_across_apps_and_threads(make_app):
    clients = [make_app(store="redis").test_client() for _ in range(3)]
    ids, lock = [], threading.Lock()

    def submit_many(client):
        for _ in range(25):
            job_id = _submit(client)
            with lock:
                ids.append(job_id)

    threads = [threading.Thread(target=submit_many, args=(client,)) for client in clients for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids, key=lambda name: int(name.rsplit("_", 1)[1])) == [f"job_id_{n}" for n in range(1, 301)]
    for job_id in ids:
        wait_for(clients[0], job_id)
    assert clients[1].get("/api/num_jobs").get_json() == {"num_jobs": 0}


def test_an_answer_is_stored_once_however_many_jobs_get_it(make_app, redis_url, redis_server):
    client = make_app(store="redis").test_client()
    for _ in range(10):
        run_job(client, "global_mean", {"question": LOW})
    run_job(client, "global_mean", {"question": HIGH})
    kept = redis_server.client()
    assert len(kept.keys(f"{keys.ANSWER}*")) == 2
    digests = {kept.hget(keys.job(job_id), "answer") for job_id in range(1, 11)}
    assert len(digests) == 1
    assert kept.get(keys.ANSWER + digests.pop().decode()) == b'{"global_mean": 25.0}'
    assert redis_url


def test_submit_finish_and_a_poll_that_finds_it_done_cost_two_round_trips(make_app):
    """The first poll that finds a job done, in the process that ran it, is answered from its memory."""
    app = make_app(store="redis")
    service = _service(app)
    # The heartbeat's and the sweep's own calls are not part of a job's path.
    service._monitor.stop()  # pylint: disable=protected-access
    service._housekeeper.stop()  # pylint: disable=protected-access
    client = app.test_client()
    calls = []
    store = service.store
    execute = store.client.execute_command

    def counted(*args, **options):
        calls.append(args[0])
        return execute(*args, **options)

    # A first job loads the scripts into this Redis if need be (SCRIPT LOAD): not part of a job's path.
    wait_for(client, _submit(client))
    store.client.execute_command = counted
    jobs = 20
    for _ in range(jobs):
        job_id = _submit(client)
        deadline = time.monotonic() + 10
        # Recorded, and its outcome handed back to the pool: the poll comes after.
        while service.pool.pending and time.monotonic() < deadline:
            time.sleep(0.001)
        assert client.get(f"/api/get_results/{job_id}").get_json()["status"] == "done"
    assert len(calls) == 2 * jobs, calls
    # Once: a second poll of the same job reads Redis.
    assert client.get(f"/api/get_results/{job_id}").get_json()["status"] == "done"
    assert len(calls) == 2 * jobs + 1, calls


def test_a_graceful_shutdown_of_one_app_stops_intake_on_every_app(make_app):
    first, second = make_app(store="redis"), make_app(store="redis")
    job_id = _submit(second.test_client())
    assert first.test_client().get("/api/graceful_shutdown").status_code == 200
    # At once through Redis, whether or not the second app has heard yet.
    refused = second.test_client().post("/api/global_mean", json={"question": LOW})
    assert (refused.status_code, refused.get_json()) == (503, {"status": "error", "reason": "shutting down"})
    deadline = time.monotonic() + 1
    while not _service(second).pool.is_shutting_down and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _service(second).pool.is_shutting_down
    assert second.test_client().get("/readyz").status_code == 503
    assert wait_for(second.test_client(), job_id)["status"] == "done"
    assert first.test_client().get("/api/graceful_shutdown").get_json() == {"status": "done"}
    # An app started after the shutdown serves, and asking the stopped one
    # again does not stop it.
    later = make_app(store="redis").test_client()
    assert first.test_client().get("/api/graceful_shutdown").status_code == 200
    assert wait_for(later, _submit(later))["status"] == "done"


def test_the_jobs_of_an_app_that_stops_beating_are_claimed_and_run_by_another(make_app, redis_server):
    dead = make_app(store="redis", TAKEOVER_S=1.0, REDIS_TIMEOUT_S=0.2)
    release = hold_jobs(dead)
    held = [_submit(dead.test_client()) for _ in range(3)]
    # The app "dies": it beats no more and its jobs stay unfinished.
    _service(dead)._monitor.stop()  # pylint: disable=protected-access
    survivor = make_app(store="redis", TAKEOVER_S=1.0, REDIS_TIMEOUT_S=0.2).test_client()
    for job_id in held:
        assert wait_for(survivor, job_id, seconds=5) == {"status": "done", "data": {"global_mean": 25.0}}
    assert "lss_takeover_jobs_total 3.0" in survivor.get("/metrics").get_data(as_text=True)
    assert redis_server.client().smembers(keys.PROCESSES) == {_service(survivor.application).store
                                                              .process_id.encode()}
    # The "dead" app comes back and finishes the same jobs: the first outcome
    # stands and nothing is counted twice.
    release.set()
    _service(dead).shutdown(wait=True, timeout=10)
    assert survivor.get("/api/num_jobs").get_json() == {"num_jobs": 0}
    assert survivor.get("/api/jobs").get_json()["data"] == [{job_id: "done"} for job_id in held]


def test_an_upload_to_one_app_serves_jobs_on_another(make_app, tmp_path, csv_file):
    first = make_app(store="redis", DATASETS_DIR=str(tmp_path / "first")).test_client()
    second = make_app(store="redis", DATASETS_DIR=str(tmp_path / "second")).test_client()
    text = csv_file(f",LocationDesc,Question,Data_Value,StratificationCategory1,Stratification1\n"
                    f"0,Ohio,{LOW},3,,\n1,Utah,{LOW},5,,\n", "mine.csv").read_bytes()
    stored = first.post("/api/datasets", data={"file": (io.BytesIO(text), "mine.csv")})
    assert stored.status_code == 201
    dataset = stored.get_json()["data"]
    listed = second.get("/api/datasets").get_json()["data"]
    assert [entry["id"] for entry in listed] == ["default", dataset["id"]]
    assert listed[1] == dataset
    answer = run_job(second, "global_mean", {"question": LOW, "dataset": dataset["id"]})
    assert answer == {"status": "done", "data": {"global_mean": 4.0}}
    assert (tmp_path / "second" / f"{dataset['id']}.csv").read_bytes() == text


def test_a_redis_out_of_reach_gets_503_with_a_reason_and_no_500(make_app):
    app = make_app(store="redis", REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT_S=0.5)
    client = app.test_client()
    started = time.monotonic()
    answers = [client.post("/api/global_mean", json={"question": LOW}),
               client.get("/api/get_results/job_id_1"), client.get("/api/status/1"),
               client.get("/api/jobs"), client.get("/api/num_jobs"), client.get("/readyz"),
               client.get("/api/graceful_shutdown")]
    assert time.monotonic() - started < 5 * len(answers)
    for answer in answers:
        assert answer.status_code == 503, answer.request.path
        assert "Redis" in answer.get_json()["reason"]
    assert client.get("/livez").get_json() == {"status": "alive"}


def test_an_outcome_reached_while_redis_is_down_is_recorded_when_it_is_back(make_app, tmp_path):
    redis = RedisServer(tmp_path / "redis").start()
    try:
        app = make_app(store="redis", REDIS_URL=redis.url, REDIS_TIMEOUT_S=0.5)
        release = hold_jobs(app)
        job_id = _submit(app.test_client())
        redis.kill()
        release.set()
        # The job ends while Redis is gone: the answer waits in the process.
        deadline = time.monotonic() + 10
        while _service(app).pool.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        assert app.test_client().get(f"/api/get_results/{job_id}").status_code == 503
        redis.start()
        # Back by itself: the next heartbeat finds Redis again.
        deadline = time.monotonic() + 10
        while app.test_client().get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert wait_for(app.test_client(), job_id, seconds=10) == {"status": "done",
                                                                    "data": {"global_mean": 25.0}}
        assert _submit(app.test_client()) == "job_id_2"
    finally:
        redis.stop()


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis:/x"])
def test_a_redis_url_of_another_scheme_stops_the_start(url):
    with pytest.raises(ConfigError, match="LSS_REDIS_URL"):
        load_config(environ={"LSS_REDIS_URL": url})


@pytest.mark.parametrize("value", ["0.1", "nan", "inf", "ten"])
def test_a_takeover_time_it_cannot_use_stops_the_start(value):
    with pytest.raises(ConfigError, match="LSS_TAKEOVER_S"):
        load_config(environ={"LSS_TAKEOVER_S": value})


def _takeovers(app):
    text = app.test_client().get("/metrics").get_data(as_text=True)
    (line,) = [line for line in text.splitlines() if line.startswith("lss_takeover_jobs_total ")]
    return float(line.split()[1])


def test_after_an_outage_longer_than_the_heartbeats_nobody_takes_a_live_process_for_dead(make_app, tmp_path):
    redis = RedisServer(tmp_path / "redis").start()
    try:
        # Heartbeats live 1.2 s; a Redis call gives up after 0.5 s, twice.
        apps = [make_app(store="redis", REDIS_URL=redis.url, TAKEOVER_S=2.0, REDIS_TIMEOUT_S=0.5)
                for _ in range(2)]
        releases = [hold_jobs(app) for app in apps]
        held = [_submit(app.test_client()) for app in apps for _ in range(2)]
        # The second app's next beat will come late, as after a call that hung
        # for two timeouts while Redis came back.
        store = _service(apps[1]).store
        beat, late = store.beat, threading.Event()
        store.beat = lambda claim: late.wait(10) and beat(claim)
        redis.kill()
        # Longer than a heartbeat lives: every heartbeat in Redis has expired.
        time.sleep(1.5)
        redis.start()
        time.sleep(1.0)
        late.set()
        time.sleep(1.5)
        assert [_takeovers(app) for app in apps] == [0.0, 0.0]
        for release in releases:
            release.set()
        for job_id in held:
            assert wait_for(apps[0].test_client(), job_id)["status"] == "done"
    finally:
        redis.stop()


def test_a_job_recorded_in_redis_but_never_queued_is_run_all_the_same(make_app):
    app = make_app(store="redis", TAKEOVER_S=1.0)
    store = _service(app).store
    # What a submission whose call timed out leaves when Redis ran it anyway:
    # a job this process owns and never queued.
    job_id = store.create({"statistic": "global_mean", "question": LOW})
    client = app.test_client()
    assert wait_for(client, f"job_id_{job_id}", seconds=15) == {"status": "done",
                                                                "data": {"global_mean": 25.0}}
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 0}


def test_a_submission_to_a_stalled_redis_is_refused_in_time_and_never_sent_twice(make_app, tmp_path):
    redis = RedisServer(tmp_path / "redis").start()
    try:
        app = make_app(store="redis", REDIS_URL=redis.url, TAKEOVER_S=1.0, REDIS_TIMEOUT_S=0.3)
        client = app.test_client()
        assert wait_for(client, _submit(client))["status"] == "done"
        redis.process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        refused = client.post("/api/global_mean", json={"question": LOW})
        took = time.monotonic() - started
        redis.process.send_signal(signal.SIGCONT)
        assert refused.status_code == 503 and "Redis" in refused.get_json()["reason"]
        # Two timeouts at most (a connection, then the call), not a retry of the call.
        assert took < 5
        # Whether or not Redis ran the script once it resumed, nothing stays running.
        deadline = time.monotonic() + 15
        while client.get("/api/num_jobs").get_json() != {"num_jobs": 0} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/api/num_jobs").get_json() == {"num_jobs": 0}
        assert len(client.get("/api/jobs").get_json()["data"]) in (1, 2)
    finally:
        redis.process.send_signal(signal.SIGCONT)
        redis.stop()
