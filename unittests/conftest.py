"""Fixtures: small CSVs written by the tests, and a fresh app and client for each test."""
import time

import pytest

from app import create_app

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


@pytest.fixture(name="make_app")
def fixture_make_app(tmp_path, small_csv):
    """Build apps on the test's own folders; every app's workers are stopped at the end."""
    apps = []

    def make(**overrides):
        config = {"CSV_PATH": str(small_csv), "RESULTS_DIR": str(tmp_path / "results"),
                  "LOG_FILE": str(tmp_path / "webserver.log"), "DATASETS_DIR": str(tmp_path / "datasets"),
                  "NUM_THREADS": 2}
        config.update(overrides)
        app = create_app(config)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["le_stats_sportif"].shutdown(wait=True, timeout=10)


@pytest.fixture(name="app")
def fixture_app(make_app):
    """An app on the small CSV."""
    return make_app()


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
