"""Uploading CSV files as data sets, listing them and running statistics on them."""
import json
import os
import threading

import pytest

from app.task_runner import WorkItem
from checker.reference import ENDPOINTS, STATE_ENDPOINTS, Reference, compare
from unittests.conftest import wait_for
from unittests.dataset_support import (BUNDLED_CSV, HEADER, OBESITY, csv_text, make_app, own_rows, stop, upload,
                                       write_csv)


@pytest.fixture(name="app")
def fixture_app(tmp_path):
    app = make_app(str(tmp_path))
    yield app
    stop(app)


@pytest.fixture(name="client")
def fixture_client(app):
    return app.test_client()


def _folder_listing(app):
    return sorted(os.listdir(app.config["DATASETS_DIR"]))


def _listing(client):
    return client.get("/api/datasets").get_json()["data"]


def _job(client, endpoint, body):
    response = client.post(f"/api/{endpoint}", json=body)
    assert response.status_code == 200, response.get_json()
    return wait_for(client, response.get_json()["job_id"])


def test_listing_starts_with_the_bundled_data_set(client, app):
    body = client.get("/api/datasets").get_json()
    assert body["status"] == "done"
    assert body["max_upload_bytes"] == app.config["MAX_UPLOAD_BYTES"]
    (bundled,) = body["data"]
    assert bundled["id"] == "default"
    assert bundled["name"] == os.path.basename(BUNDLED_CSV)
    assert bundled["rows"] == 18650
    assert sorted(bundled["questions"]) == Reference(BUNDLED_CSV).questions()


def test_an_upload_is_stored_listed_and_described(client, app, tmp_path):
    text = csv_text(own_rows())
    response = upload(client, text, filename="../../etc/my survey.csv")
    assert response.status_code == 201
    stored = response.get_json()["data"]
    reference = Reference(write_csv(tmp_path / "mine.csv", text))
    assert stored["name"] == "my survey.csv"
    assert stored["rows"] == len(own_rows())
    assert sorted(stored["questions"]) == reference.questions()
    assert len(stored["id"]) == 12
    assert _listing(client)[1] == stored
    assert _folder_listing(app) == [f"{stored['id']}.csv", f"{stored['id']}.json"]
    with open(os.path.join(app.config["DATASETS_DIR"], f"{stored['id']}.csv"), encoding="utf-8") as file:
        assert file.read() == text


def test_the_same_file_twice_is_one_data_set(client, app):
    first = upload(client, csv_text(own_rows()), filename="a.csv")
    again = upload(client, csv_text(own_rows()), filename="b.csv")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["data"] == first.get_json()["data"]
    assert len(_listing(client)) == 2
    assert len(_folder_listing(app)) == 2


def test_questions_and_states_of_an_upload(client, tmp_path):
    text = csv_text(own_rows())
    dataset = upload(client, text).get_json()["data"]["id"]
    reference = Reference(write_csv(tmp_path / "mine.csv", text))
    questions = client.get(f"/api/questions?dataset={dataset}").get_json()["data"]
    assert sorted(item["question"] for item in questions) == reference.questions()
    assert {item["question"]: item["lower_is_better"] for item in questions}[OBESITY] is True
    states = client.get(f"/api/states?dataset={dataset}").get_json()["data"]
    assert states == ["Guam", "Ohio", "Utah", "Vermont"]
    bundled = client.get("/api/states").get_json()["data"]
    assert len(bundled) == 55


@pytest.mark.parametrize("route", ["/api/questions", "/api/states"])
def test_an_unknown_data_set_in_a_query_is_refused(client, route):
    response = client.get(f"{route}?dataset=nope")
    assert response.status_code == 400
    assert response.get_json() == {"status": "error",
                                   "reason": 'unknown data set "nope"; GET /api/datasets lists them'}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_statistic_on_an_upload_matches_the_reference(client, tmp_path, endpoint):
    text = csv_text(own_rows())
    dataset = upload(client, text).get_json()["data"]["id"]
    reference = Reference(write_csv(tmp_path / "mine.csv", text))
    for question in reference.questions():
        body = {"question": question, "dataset": dataset}
        if endpoint in STATE_ENDPOINTS:
            body["state"] = "Ohio"
        answer = _job(client, endpoint, body)
        assert answer["status"] == "done"
        assert compare(reference.answer(endpoint, body), answer["data"]) is None


def test_requests_naming_a_bad_data_set_are_refused_without_a_job(client):
    for dataset, reason in ((5, '"dataset" must be a string'),
                            ("nope", 'unknown data set "nope"; GET /api/datasets lists them')):
        response = client.post("/api/states_mean", json={"question": OBESITY, "dataset": dataset})
        assert response.status_code == 400
        assert response.get_json()["reason"] == reason
    assert client.get("/api/jobs").get_json()["data"] == []


def test_a_question_missing_from_an_upload_is_refused(client):
    dataset = upload(client, csv_text(own_rows())).get_json()["data"]["id"]
    response = client.post("/api/states_mean", json={"question": "Percent of adults who engage in no "
                                                     "leisure-time physical activity", "dataset": dataset})
    assert response.status_code == 400
    assert f"GET /api/questions?dataset={dataset}" in response.get_json()["reason"]
    response = client.post("/api/state_mean", json={"question": OBESITY, "state": "Texas", "dataset": dataset})
    assert response.status_code == 400
    assert response.get_json()["reason"] == f'unknown state "Texas"; GET /api/states?dataset={dataset} lists the states'


def test_headers_are_stripped_and_other_columns_ignored(client, tmp_path):
    header = ["", "YearStart", " LocationDesc", "Question ", "Data_Value", "StratificationCategory1",
              "Stratification1", "High_Confidence_Limit "]
    wide = [("2020", *row) for row in own_rows()]
    text = csv_text([(*row, "99.9") for row in wide], header=header)
    response = upload(client, text)
    assert response.status_code == 201
    dataset = response.get_json()["data"]["id"]
    reference = Reference(write_csv(tmp_path / "narrow.csv", csv_text(own_rows())))
    answer = _job(client, "states_mean", {"question": OBESITY, "dataset": dataset})
    assert compare(reference.states_mean(OBESITY), answer["data"]) is None


REJECTIONS = {
    "empty file": (b"", "the file cannot be used as a data set: the file is empty"),
    "missing columns": (csv_text([("Ohio", OBESITY, "1", "Sex", "Male")],
                                 header=["", "LocationDesc", "Question", "Value", "StratificationCategory1",
                                         "Segment"]),
                        "the file cannot be used as a data set: missing column(s): Data_Value, Stratification1"),
    "a word for a value": (csv_text([("Ohio", OBESITY, "12.5", "Sex", "Male"),
                                     ("Utah", OBESITY, "lots", "Sex", "Male")]),
                           "the file cannot be used as a data set: Data_Value must be numeric or empty; "
                           "row 2 holds 'lots'"),
    "an infinite value": (csv_text([("Ohio", OBESITY, "inf", "Sex", "Male")]),
                          "the file cannot be used as a data set: Data_Value must hold finite numbers"),
    "no values at all": (csv_text([("Ohio", OBESITY, "", "Sex", "Male")]),
                         "the file cannot be used as a data set: no row has a Question, a LocationDesc "
                         "and a numeric Data_Value"),
    "only a header": (csv_text([]), "the file cannot be used as a data set: no row has a Question, "
                                    "a LocationDesc and a numeric Data_Value"),
    "not text": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
                 "the file cannot be used as a data set: the file is not a text CSV: it looks like a PNG image"),
}


@pytest.mark.parametrize("case", REJECTIONS, ids=list(REJECTIONS))
def test_a_bad_file_is_refused_and_changes_nothing(client, app, case):
    kept = upload(client, csv_text(own_rows())).get_json()["data"]
    data, reason = REJECTIONS[case]
    response = upload(client, data)
    assert response.status_code == 400
    assert response.get_json()["status"] == "error"
    assert response.get_json()["reason"].startswith(reason)
    assert _listing(client)[1:] == [kept]
    assert _folder_listing(app) == [f"{kept['id']}.csv", f"{kept['id']}.json"]


def test_a_body_that_is_not_multipart_is_refused(client, app):
    response = client.post("/api/datasets", data=csv_text(own_rows()), content_type="text/csv")
    assert response.status_code == 415
    assert response.get_json()["reason"] == 'send the CSV file as multipart/form-data in a field named "file"'
    assert _folder_listing(app) == []


def test_an_upload_without_the_file_field_is_refused(client, app):
    response = client.post("/api/datasets", data={"csv": "LocationDesc"}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.get_json()["reason"] == 'the upload has no field named "file"; send the CSV file in it'
    assert _folder_listing(app) == []


def test_the_upload_limit_is_its_own(tmp_path):
    text = csv_text(own_rows())
    app = make_app(str(tmp_path), MAX_UPLOAD_BYTES=len(text) + 400, MAX_CONTENT_LENGTH=len(text) // 2)
    try:
        client = app.test_client()
        assert upload(client, text).status_code == 201
        too_large = upload(client, text + "\n" * 500)
        assert too_large.status_code == 413
        assert too_large.get_json() == {
            "status": "error", "reason": f"the upload is larger than the limit of {len(text) + 400} bytes"}
        assert len(_listing(client)) == 2
        assert len(_folder_listing(app)) == 2
        # Every other body keeps the smaller limit.
        padding = "x" * len(text)
        response = client.post("/api/states_mean", json={"question": OBESITY, "padding": padding})
        assert response.status_code == 413
    finally:
        stop(app)


def test_a_job_keeps_its_data_set_while_another_is_uploaded(tmp_path):
    app = make_app(str(tmp_path), NUM_THREADS=1)
    try:
        client = app.test_client()
        first_text, second_text = csv_text(own_rows()), csv_text(own_rows(scale=1.5))
        first = upload(client, first_text).get_json()["data"]["id"]
        # Hold the only worker, so the job is still queued while the second file arrives.
        gate = threading.Event()
        app.extensions["le_stats_sportif"].pool.submit(lambda: WorkItem(gate.wait, lambda *_: None))
        job_id = client.post("/api/states_mean", json={"question": OBESITY, "dataset": first}).get_json()["job_id"]
        second = upload(client, second_text).get_json()["data"]["id"]
        assert second != first
        assert client.get(f"/api/get_results/{job_id}").get_json() == {"status": "running"}
        gate.set()
        answer = wait_for(client, job_id)
        expected_first = Reference(write_csv(tmp_path / "first.csv", first_text)).states_mean(OBESITY)
        expected_second = Reference(write_csv(tmp_path / "second.csv", second_text)).states_mean(OBESITY)
        assert compare(expected_first, answer["data"]) is None
        assert compare(expected_second, answer["data"]) is not None
        later = _job(client, "states_mean", {"question": OBESITY, "dataset": second})
        assert compare(expected_second, later["data"]) is None
    finally:
        stop(app)


def test_uploads_survive_a_restart(tmp_path):
    text = csv_text(own_rows())
    first_app = make_app(str(tmp_path))
    client = first_app.test_client()
    stored = upload(client, text, filename="kept.csv").get_json()["data"]
    job_id = client.post("/api/global_mean", json={"question": OBESITY, "dataset": stored["id"]}).get_json()["job_id"]
    before = wait_for(client, job_id)
    stop(first_app)

    second_app = make_app(str(tmp_path))
    try:
        client = second_app.test_client()
        assert _listing(client)[1:] == [stored]
        assert client.get(f"/api/get_results/{job_id}").get_json() == before
        reference = Reference(write_csv(tmp_path / "kept.csv", text))
        body = {"question": OBESITY, "state": "Guam", "dataset": stored["id"]}
        answer = _job(client, "state_mean_by_category", body)
        assert compare(reference.answer("state_mean_by_category", body), answer["data"]) is None
    finally:
        stop(second_app)


def test_uploads_are_listed_in_the_order_they_came(tmp_path):
    first_app = make_app(str(tmp_path))
    client = first_app.test_client()
    names = []
    for number in range(3):
        names.append(upload(client, csv_text(own_rows(scale=1 + number)), f"n{number}.csv").get_json()["data"]["name"])
    stop(first_app)
    second_app = make_app(str(tmp_path))
    try:
        assert [item["name"] for item in _listing(second_app.test_client())[1:]] == names
    finally:
        stop(second_app)


def test_a_damaged_file_in_the_folder_does_not_stop_the_start(tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    write_csv(folder / "0123456789ab.csv", "LocationDesc,Question\nOhio,Q\n")
    (folder / "0123456789ab.json").write_text(json.dumps({"name": "broken.csv"}))
    write_csv(folder / "notes.csv", csv_text(own_rows()))
    app = make_app(str(tmp_path))
    try:
        assert [item["id"] for item in _listing(app.test_client())] == ["default"]
        with open(app.config["LOG_FILE"], encoding="utf-8") as log:
            assert "data set 0123456789ab not loaded: missing column(s)" in log.read()
    finally:
        stop(app)


def test_the_bundled_header_is_what_uploads_use():
    with open(BUNDLED_CSV, encoding="utf-8") as file:
        assert file.readline().rstrip("\n").split(",") == HEADER
