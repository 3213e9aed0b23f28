"""The log: a line at each route's entry and answer, timestamps in UTC whatever TZ says."""
import re
import time
from datetime import datetime, timezone

import pytest

from unittests.conftest import LOW, run_job


@pytest.fixture(name="far_time_zone")
def fixture_far_time_zone(monkeypatch):
    # Twelve hours from UTC, so local time can never be mistaken for UTC.
    monkeypatch.setenv("TZ", "Etc/GMT-12")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_route_entry_and_answer_are_logged_in_utc(far_time_zone, make_app, tmp_path):
    assert time.localtime().tm_hour != time.gmtime().tm_hour
    client = make_app().test_client()
    run_job(client, "state_mean", {"question": LOW, "state": "Ohio"})
    client.post("/api/state_mean", json={"question": LOW, "state": "Atlantis"})
    lines = (tmp_path / "webserver.log").read_text().splitlines()
    assert any("enter POST /api/state_mean" in line and '"state": "Ohio"' in line for line in lines)
    assert any("answer POST /api/state_mean 200" in line for line in lines)
    assert any("answer POST /api/state_mean 400" in line for line in lines)
    stamp = re.match(r"(\S+)Z ", lines[-1]).group(1)
    logged = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - logged).total_seconds()) < 300


def test_failures_are_logged_as_errors(make_app, tmp_path):
    app = make_app(NUM_THREADS=1)
    app.extensions["le_stats_sportif"].catalog.get().best5 = lambda question: 1 / 0
    run_job(app.test_client(), "best5", {"question": LOW})
    log = (tmp_path / "webserver.log").read_text()
    assert re.search(r" ERROR .*job_id_1 failed", log)
