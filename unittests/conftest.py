"""Fixtures: small CSVs written by the tests, a real redis-server, and a fresh app and client for each test.

The `app` and `client` fixtures run each test that uses them once on every
job store: the file store and the Redis store, whose Redis is emptied first.
"""
import threading
import time

import pytest

from app import create_app
from unittests.redis_server import RedisServer

STORES = ("file", "redis")

# One request of each statistic on the bundled data, for tests of real servers.
BUNDLED_QUESTION = "Percent of adults aged 18 years and older who have obesity"
NINE_REQUESTS = [
    ("states_mean", {"question": BUNDLED_QUESTION}),
    ("state_mean", {"question": BUNDLED_QUESTION, "state": "Ohio"}),
    ("best5", {"question": BUNDLED_QUESTION}),
    ("worst5", {"question": BUNDLED_QUESTION}),
    ("global_mean", {"question": BUNDLED_QUESTION}),
    ("diff_from_mean", {"question": BUNDLED_QUESTION}),
    ("state_diff_from_mean", {"question": BUNDLED_QUESTION, "state": "Guam"}),
    ("mean_by_category", {"question": BUNDLED_QUESTION}),
    ("state_mean_by_category", {"question": BUNDLED_QUESTION, "state": "Virgin Islands"}),
]

LOW = "Percent of adults aged 18 years and older who have obesity"
HIGH = "Percent of adults who engage in muscle-strengthening activities on 2 or more days a week"

# Worked by hand in the tests: Texas's empty value never counts, Utah's row
# has no category, Texas has no rows for HIGH.
SMALL_CSV = f""",LocationDesc,Question,Data_Value,StratificationCategory1,Stratification1
0,Ohio,{LOW},10,Age (years),18 - 24
1,Ohio,{LOW},20,Gender,Male
2,Texas,{LOW},30,Age (years),18 - 24
3,Texas,{LOW},,Gender,Male
4,Utah,{LOW},40,,
5,Ohio,{HIGH},50,Gender,Female
6,Guam,{HIGH},70,Gender,Female
7,Texas,{HIGH},,Gender,Female
"""


@pytest.fixture(name="csv_file")
def fixture_csv_file(tmp_path):
    """Write a CSV text into the test's folder; returns its path."""

    def write(text, name="small.csv"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(name="small_csv")
def fixture_small_csv(csv_file):
    """The path of SMALL_CSV on disk."""
    return csv_file(SMALL_CSV)


@pytest.fixture(name="redis_server", scope="session")
def fixture_redis_server(tmp_path_factory):
    """One redis-server for the whole test session, stopped at its end."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(name="redis_url")
def fixture_redis_url(redis_server):
    """The URL of the session's Redis, emptied for this test."""
    if redis_server.process.poll() is not None:
        # A test killed it (and did not start it again).
        redis_server.start()
    redis_server.client().flushall()
    return redis_server.url


@pytest.fixture(name="make_app")
def fixture_make_app(tmp_path, small_csv, request):
    """Build apps on the test's own folders; every app's workers are stopped at the end.

    make(store="redis") builds an app on the session's Redis (emptied once
    per test, so that the apps of one test share their jobs).
    """
    apps = []

    def make(store="file", **overrides):
        config = {"CSV_PATH": str(small_csv), "RESULTS_DIR": str(tmp_path / "results"),
                  "LOG_FILE": str(tmp_path / "webserver.log"), "DATASETS_DIR": str(tmp_path / "datasets"),
                  # Tests read the log right after a request: each line is written as logged
                  # (test_speed.py tests the batches of the default).
                  "NUM_THREADS": 2, "LOG_FLUSH_MS": 0}
        if store == "redis":
            config["REDIS_URL"] = request.getfixturevalue("redis_url")
        config.update(overrides)
        app = create_app(config)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["le_stats_sportif"].shutdown(wait=True, timeout=10)


@pytest.fixture(name="app", params=STORES)
def fixture_app(make_app, request):
    """An app on the small CSV, on each job store in turn."""
    return make_app(store=request.param)


@pytest.fixture(name="client")
def fixture_client(app):
    """A test client of `app`."""
    return app.test_client()


def wait_for(client, job_id, seconds=30):
    """The final get_results JSON of a job (fails the test if it never finishes)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = client.get(f"/api/get_results/{job_id}").get_json()
        if answer["status"] != "running":
            return answer
        time.sleep(0.005)
    raise AssertionError(f"{job_id} still running after {seconds} s")


def run_job(client, endpoint, body):
    """Submit a job and return its final get_results JSON."""
    response = client.post(f"/api/{endpoint}", json=body)
    assert response.status_code == 200, response.get_json()
    return wait_for(client, response.get_json()["job_id"])


def hold_jobs(app):
    """Make the app's jobs on its bundled data wait, before computing, until the returned event is set."""
    release = threading.Event()
    ingestor = app.extensions["le_stats_sportif"].catalog.get()
    encoded = ingestor.encoded

    def held(*arguments):
        release.wait(30)
        return encoded(*arguments)

    ingestor.encoded = held
    return release
