"""Ids, durable statuses and result files, across restarts and mishaps."""
import json
import os
import shutil

import pytest

from app.stores.base import JobStatus, StorageError
from app.stores.file_store import FileStore as JobStore
from unittests.conftest import LOW, run_job, wait_for


def test_ids_go_on_after_a_restart_and_old_results_stay_readable(make_app):
    client = make_app().test_client()
    run_job(client, "global_mean", {"question": LOW})
    run_job(client, "best5", {"question": LOW})
    client = make_app().test_client()
    assert client.get("/api/get_results/job_id_1").get_json() == {
        "status": "done", "data": {"global_mean": 25.0}}
    assert client.get("/api/jobs").get_json()["data"] == [{"job_id_1": "done"}, {"job_id_2": "done"}]
    assert client.post("/api/global_mean", json={"question": LOW}).get_json() == {"job_id": "job_id_3"}


def test_a_failed_job_stays_failed_after_a_restart(make_app):
    app = make_app(NUM_THREADS=1)
    app.extensions["le_stats_sportif"].catalog.get().best5 = lambda question: 1 / 0
    assert run_job(app.test_client(), "best5", {"question": LOW})["status"] == "error"
    answer = make_app().test_client().get("/api/get_results/1").get_json()
    assert answer["status"] == "error" and "ZeroDivisionError" in answer["reason"]


def test_a_job_accepted_but_never_finished_runs_after_a_restart(tmp_path, make_app):
    results = tmp_path / "results"
    results.mkdir()
    spec = {"statistic": "state_mean", "question": LOW, "state": "Utah"}
    (results / ".journal").write_text(json.dumps({"id": 1, "spec": spec}) + "\n" + '{"id": 2, "sp')
    client = make_app().test_client()
    assert wait_for(client, "job_id_1") == {"status": "done", "data": {"Utah": 40.0}}
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 0}
    assert client.post("/api/global_mean", json={"question": LOW}).get_json() == {"job_id": "job_id_2"}


def test_results_deleted_while_running(make_app, tmp_path):
    client = make_app().test_client()
    run_job(client, "global_mean", {"question": LOW})
    shutil.rmtree(tmp_path / "results")
    assert run_job(client, "global_mean", {"question": LOW}) == {"status": "done", "data": {"global_mean": 25.0}}
    assert client.post("/api/global_mean", json={"question": LOW}).get_json() == {"job_id": "job_id_3"}
    gone = client.get("/api/get_results/job_id_1")
    assert gone.status_code == 410 and "removed" in gone.get_json()["reason"]


def test_ids_are_not_reused_when_result_files_outlive_the_journal(tmp_path):
    (tmp_path / "job_id_7.json").write_text("{}")
    store = JobStore(tmp_path)
    assert store.status(7) is JobStatus.DONE
    assert store.create({"statistic": "global_mean", "question": LOW}) == 8


def test_a_result_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    store = JobStore(tmp_path)
    job_id = store.create({})

    def failing_replace(source, target):
        raise OSError(28, "No space left on device", target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError, match="No space left"):
        store.finish(job_id, b'{"a": 1}')
    assert sorted(os.listdir(tmp_path)) == [".journal"]
    assert store.status(job_id) is JobStatus.RUNNING


def test_a_result_that_cannot_be_written_fails_the_job(make_app, monkeypatch):
    client = make_app().test_client()

    def failing_replace(source, target):
        raise OSError(28, "No space left on device", target)

    monkeypatch.setattr(os, "replace", failing_replace)
    failed = run_job(client, "global_mean", {"question": LOW})
    assert failed["status"] == "error" and "No space left on device" in failed["reason"]
    monkeypatch.undo()
    assert run_job(client, "global_mean", {"question": LOW})["status"] == "done"


def test_a_job_that_cannot_be_recorded_is_refused(make_app, tmp_path):
    client = make_app().test_client()
    shutil.rmtree(tmp_path / "results")
    (tmp_path / "results").write_text("a file where the folder was")
    response = client.post("/api/global_mean", json={"question": LOW})
    assert response.status_code == 503 and "could not be recorded" in response.get_json()["reason"]
    assert client.get("/api/jobs").get_json()["data"] == []
