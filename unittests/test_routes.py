"""Every route, status code and JSON shape, through Flask's test client."""
import csv
import io
import os
import threading

import pytest
import redis

from checker.reference import ENDPOINTS, STATE_ENDPOINTS, Reference, compare
from unittests.conftest import HIGH, LOW, hold_jobs, run_job, wait_for

QUESTION_ONLY = {
    "states_mean": {"Ohio": 15.0, "Texas": 30.0, "Utah": 40.0},
    "best5": {"Ohio": 15.0, "Texas": 30.0, "Utah": 40.0},
    "worst5": {"Utah": 40.0, "Texas": 30.0, "Ohio": 15.0},
    "global_mean": {"global_mean": 25.0},
    "diff_from_mean": {"Ohio": 10.0, "Texas": -5.0, "Utah": -15.0},
    "mean_by_category": {"('Ohio', 'Age (years)', '18 - 24')": 10.0, "('Ohio', 'Gender', 'Male')": 20.0,
                         "('Texas', 'Age (years)', '18 - 24')": 30.0},
}
WITH_STATE = {
    "state_mean": {"Texas": 30.0},
    "state_diff_from_mean": {"Texas": -5.0},
    "state_mean_by_category": {"Texas": {"('Age (years)', '18 - 24')": 30.0}},
}


@pytest.mark.parametrize("endpoint", QUESTION_ONLY)
def test_question_statistics(client, endpoint):
    answer = run_job(client, endpoint, {"question": LOW})
    assert answer == {"status": "done", "data": QUESTION_ONLY[endpoint]}
    assert list(answer["data"]) == list(QUESTION_ONLY[endpoint])


@pytest.mark.parametrize("endpoint", WITH_STATE)
def test_state_statistics(client, endpoint):
    answer = run_job(client, endpoint, {"question": LOW, "state": "Texas"})
    assert answer == {"status": "done", "data": WITH_STATE[endpoint]}


def test_job_ids_count_from_one_and_results_go_to_the_store(client, app):
    first = client.post("/api/global_mean", json={"question": LOW}).get_json()
    second = client.post("/api/global_mean", json={"question": HIGH}).get_json()
    assert (first, second) == ({"job_id": "job_id_1"}, {"job_id": "job_id_2"})
    assert wait_for(client, "job_id_2")["data"] == {"global_mean": 60.0}
    result_file = os.path.join(app.config["RESULTS_DIR"], "job_id_2.json")
    if app.config["REDIS_URL"]:
        # In Redis mode the answers live in Redis, shared by every process, not in results/.
        assert not os.path.exists(result_file)
        kept = redis.Redis.from_url(app.config["REDIS_URL"])
        digest = kept.hget("lss:job:2", "answer").decode()
        assert kept.get(f"lss:answer:{digest}") == b'{"global_mean": 60.0}'
    else:
        with open(result_file, encoding="utf-8") as file:
            assert file.read() == '{"global_mean": 60.0}'


def test_get_results_accepts_the_bare_number(client):
    run_job(client, "global_mean", {"question": LOW})
    assert client.get("/api/get_results/1").get_json() == {"status": "done", "data": {"global_mean": 25.0}}
    assert client.get("/api/results/job_id_1").get_json()["data"] == {"global_mean": 25.0}
    assert client.get("/api/status/job_id_1").get_json() == {"status": "done"}


@pytest.mark.parametrize("job_id", ["job_id_2", "2", "0", "-1", "job_id_", "abc", "job_id_1x",
                                    "99999999999999999999999", "..%2F..%2Fetc%2Fpasswd", "a/b"])
def test_unknown_jobs_are_404(client, job_id):
    run_job(client, "global_mean", {"question": LOW})
    for route in ("get_results", "results", "status"):
        response = client.get(f"/api/{route}/{job_id}")
        assert response.status_code == 404
        assert response.get_json() == {"status": "error", "reason": "Invalid job_id"}


def test_jobs_and_num_jobs(client):
    assert client.get("/api/jobs").get_json() == {"status": "done", "data": []}
    run_job(client, "global_mean", {"question": LOW})
    run_job(client, "states_mean", {"question": HIGH})
    assert client.get("/api/jobs").get_json() == {
        "status": "done", "data": [{"job_id_1": "done"}, {"job_id_2": "done"}]}
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 0}


def test_start_alias(client):
    response = client.post("/api/start", json={"task": "state_mean", "question": LOW, "state": "Ohio"})
    assert wait_for(client, response.get_json()["job_id"])["data"] == {"Ohio": 15.0}
    refused = client.post("/api/start", json={"task": "nope", "question": LOW})
    assert refused.status_code == 400 and "task" in refused.get_json()["reason"]


def test_questions_and_states(app, client):
    listed = client.get("/api/questions").get_json()
    assert [(item["question"], item["lower_is_better"]) for item in listed["data"]] == [(LOW, True), (HIGH, False)]
    # Each with its global mean, as the independent reference computes it.
    reference = Reference(app.config["CSV_PATH"])
    for item in listed["data"]:
        assert compare(reference.global_mean(item["question"]), {"global_mean": item["global_mean"]},
                       tolerance=1e-9) is None
    assert client.get("/api/states").get_json() == {
        "status": "done", "data": ["Guam", "Ohio", "Texas", "Utah"]}


def test_states_of_a_question_are_the_locations_with_data_for_it(app, client):
    reference = Reference(app.config["CSV_PATH"])
    for question in (LOW, HIGH):
        listed = client.get("/api/states", query_string={"question": question}).get_json()
        assert listed == {"status": "done", "data": sorted(reference.states(question))}
    # The small data set has a location without data for one of its questions.
    assert sorted(reference.states(LOW)) != sorted(reference.states(HIGH))
    refused = client.get("/api/states", query_string={"question": "Percent of cats"})
    assert refused.status_code == 400 and refused.get_json()["reason"] == (
        'unknown question "Percent of cats"; GET /api/questions lists the questions')


def test_ranking_follows_the_reference_means_and_the_question_direction(app, client):
    reference = Reference(app.config["CSV_PATH"])
    for question, lower_is_better in ((LOW, True), (HIGH, False)):
        means = reference.states_mean(question)
        ranked = client.get("/api/ranking", query_string={"question": question}).get_json()["data"]
        assert compare(means, {entry["state"]: entry["mean"] for entry in ranked}) is None
        shown = [entry["mean"] for entry in ranked]
        assert shown == sorted(shown, reverse=not lower_is_better)
        places = len(ranked)
        for entry in ranked:
            better = sum(1 for other in means.values() if (other < entry["mean"]) == lower_is_better
                         and other != entry["mean"])
            worse = sum(1 for other in means.values() if (other > entry["mean"]) == lower_is_better
                        and other != entry["mean"])
            assert entry["rank"] == better + 1
            assert entry["percentile"] == round(100 * worse / (places - 1), 1)


@pytest.mark.parametrize("query, reason", [
    ({}, '"question" is missing; GET /api/questions lists the questions'),
    ({"question": "Percent of cats"}, 'unknown question "Percent of cats"; GET /api/questions lists the questions'),
    ({"question": LOW, "dataset": "nope"}, None),
])
def test_ranking_refuses_a_question_it_does_not_know(client, query, reason):
    refused = client.get("/api/ranking", query_string=query)
    assert refused.status_code == 400
    if reason:
        assert refused.get_json()["reason"] == reason


@pytest.mark.parametrize("endpoint, body, status, reason", [
    ("states_mean", b"", 400, "empty"),
    ("states_mean", b"{not json", 400, "not valid JSON"),
    ("states_mean", b'{"question": "x"', 400, "not valid JSON"),
    ("states_mean", b"[1, 2]", 400, "JSON object"),
    ("states_mean", b'"text"', 400, "JSON object"),
    ("states_mean", b"{}", 400, 'no "question"'),
    ("states_mean", b'{"question": 5}', 400, '"question" must be a string'),
    ("states_mean", b'{"question": "What?"}', 400, "GET /api/questions"),
    ("state_mean", ('{"question": "%s"}' % LOW).encode(), 400, 'no "state"'),
    ("state_mean", ('{"question": "%s", "state": ["Ohio"]}' % LOW).encode(), 400, '"state" must be a string'),
    ("state_mean", ('{"question": "%s", "state": "Atlantis"}' % LOW).encode(), 400, "unknown state"),
    ("state_mean", ('{"question": "%s", "state": "Texas"}' % HIGH).encode(), 400, "no data"),
    ("states_mean", b"[" * 100000 + b"]" * 100000, 400, "not valid JSON"),
    ("nope", b'{"question": "x"}', 404, "not found"),
])
def test_bad_requests_get_a_reason_and_no_job(client, endpoint, body, status, reason):
    response = client.post(f"/api/{endpoint}", data=body, content_type="application/json")
    assert response.status_code == status
    payload = response.get_json()
    assert payload["status"] == "error" and reason in payload["reason"]
    assert client.get("/api/jobs").get_json()["data"] == []


def test_a_body_over_the_limit_is_413(make_app):
    client = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    response = client.post("/api/states_mean", data=b"x" * 2000, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["status"] == "error"


def test_wrong_methods_and_unknown_urls_answer_json(client):
    response = client.delete("/api/jobs")
    assert response.status_code == 405 and response.get_json()["status"] == "error"
    assert "GET" in response.headers["Allow"]
    response = client.get("/api/nothing/here")
    assert response.status_code == 404 and response.get_json()["status"] == "error"


def test_a_form_encoded_json_body_is_accepted(client):
    # curl -d sends application/x-www-form-urlencoded unless told otherwise.
    response = client.post("/api/global_mean", data=('{"question": "%s"}' % LOW).encode(),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200


def test_graceful_shutdown_drains_and_then_refuses(client, app):
    ingestor = app.extensions["le_stats_sportif"].catalog.get()
    release = threading.Event()
    original = ingestor.global_mean

    def slow_global_mean(question):
        release.wait(10)
        return original(question)

    ingestor.global_mean = slow_global_mean
    job = client.post("/api/global_mean", json={"question": LOW}).get_json()["job_id"]
    assert client.get("/api/graceful_shutdown").get_json() == {"status": "running"}
    refused = client.post("/api/global_mean", json={"question": LOW})
    assert refused.status_code == 503
    assert refused.get_json() == {"status": "error", "reason": "shutting down"}
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 1}
    assert client.get(f"/api/get_results/{job}").get_json() == {"status": "running"}
    release.set()
    assert wait_for(client, job) == {"status": "done", "data": {"global_mean": 25.0}}
    assert client.get("/api/graceful_shutdown").get_json() == {"status": "done"}
    assert client.get("/api/jobs").get_json()["data"] == [{"job_id_1": "done"}]


def test_a_failing_job_is_an_error_and_the_workers_go_on(make_app):
    app = make_app(NUM_THREADS=1)
    client = app.test_client()
    ingestor = app.extensions["le_stats_sportif"].catalog.get()
    ingestor.best5 = lambda question: 1 / 0
    failed = run_job(client, "best5", {"question": LOW})
    assert failed["status"] == "error" and "ZeroDivisionError" in failed["reason"]
    assert client.get("/api/status/1").get_json() == {"status": "error"}
    assert run_job(client, "global_mean", {"question": LOW})["data"] == {"global_mean": 25.0}


def test_after_a_shutdown_every_submission_is_refused_valid_or_not(client):
    client.get("/api/graceful_shutdown")
    for endpoint, body in [("global_mean", b'{"question": "What?"}'), ("states_mean", b"["),
                           ("start", b'{"task": "nope"}')]:
        response = client.post(f"/api/{endpoint}", data=body, content_type="application/json")
        assert response.status_code == 503
        assert response.get_json() == {"status": "error", "reason": "shutting down"}


def _from_csv(text, endpoint):
    """The answer a CSV of ?format=csv stands for, in the JSON answer's shape, numbers parsed."""
    rows = list(csv.reader(io.StringIO(text)))
    header, rows = rows[0], rows[1:]
    if endpoint == "global_mean":
        assert header == ["statistic", "value"] and [row[0] for row in rows] == ["global_mean"]
        return {"global_mean": float(rows[0][1])}
    if endpoint == "mean_by_category":
        assert header == ["state", "category", "segment", "value"]
        return {str((state, category, segment)): float(value) for state, category, segment, value in rows}
    if endpoint == "state_mean_by_category":
        assert header == ["state", "category", "segment", "value"]
        return {rows[0][0]: {str((category, segment)): float(value) for _, category, segment, value in rows}}
    assert header == ["state", "value"]
    return {state: float(value) for state, value in rows}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_finished_answer_as_csv_holds_the_reference_s_numbers(app, client, endpoint):
    body = {"question": LOW, "state": "Ohio"} if endpoint in STATE_ENDPOINTS else {"question": LOW}
    job_id = client.post(f"/api/{endpoint}", json=body).get_json()["job_id"]
    wait_for(client, job_id)
    for route in ("get_results", "results"):
        response = client.get(f"/api/{route}/{job_id}", query_string={"format": "csv"})
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{job_id}.csv"'
        expected = Reference(app.config["CSV_PATH"]).answer(endpoint, body)
        assert compare(expected, _from_csv(response.get_data(as_text=True), endpoint), tolerance=1e-9) is None
    # Rows in the answer's order, numbers to the last digit.
    answer = client.get(f"/api/get_results/{job_id}").get_json()["data"]
    assert _from_csv(client.get(f"/api/get_results/{job_id}?format=csv").get_data(as_text=True), endpoint) == answer


def test_csv_of_a_job_not_done_or_unknown_answers_as_json_does(app, client):
    release = hold_jobs(app)
    try:
        job_id = client.post("/api/global_mean", json={"question": LOW}).get_json()["job_id"]
        running = client.get(f"/api/get_results/{job_id}?format=csv")
        assert running.status_code == 200 and running.get_json() == {"status": "running"}
    finally:
        release.set()
    assert client.get("/api/get_results/job_id_999?format=csv").status_code == 404
    refused = client.get(f"/api/get_results/{job_id}?format=xml")
    assert refused.status_code == 400 and refused.get_json()["reason"] == '"format" must be json or csv'
    wait_for(client, job_id)
    assert client.get(f"/api/get_results/{job_id}?format=json").get_json()["status"] == "done"
