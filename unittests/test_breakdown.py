"""The benchmark's switches: our server with a duty switched off still answers right."""
import os

from app import create_app
from bench.breakdown import PARTS, switch_off
from unittests.test_speed import CSV, LOW


def test_with_every_part_switched_off_the_answers_stay_right(tmp_path):
    (tmp_path / "small.csv").write_text(CSV)
    config = {"CSV_PATH": str(tmp_path / "small.csv"), "RESULTS_DIR": str(tmp_path / "results"),
              "LOG_FILE": str(tmp_path / "webserver.log"), "NUM_THREADS": 1}
    app = switch_off(create_app(config), PARTS)
    client = app.test_client()
    try:
        job_id = client.post("/api/state_mean", json={"question": LOW, "state": "Ohio"}).get_json()["job_id"]
        # The job ran in the request's thread, so it is done already.
        assert client.get(f"/api/get_results/{job_id}").get_json() == {"status": "done", "data": {"Ohio": 15.25}}
        assert client.get("/api/jobs").get_json()["data"] == [{job_id: "done"}]
    finally:
        app.extensions["le_stats_sportif"].shutdown(wait=True, timeout=10)
    assert os.listdir(tmp_path / "results") == []
    assert not (tmp_path / "webserver.log").exists() or "enter" not in (tmp_path / "webserver.log").read_text()
