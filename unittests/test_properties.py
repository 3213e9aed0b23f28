"""Property-based tests: whatever the body or the job id, the server answers
as an independent model of the contract says it should.

The model is checker/reference.py: a body is valid when it is a JSON
object whose "question" is one of the reference's questions (and whose
"state", for the three state statistics, is a location with rows for it).
A valid body gets a job whose answer matches the reference; any other gets
a 4xx JSON error with a reason and no job. Never a 500, never NaN.

LSS_FUZZ_EXAMPLES sets the number of examples per test (`make stress` runs
them at length).
"""
import json
import os
import re
import time
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from checker.reference import ENDPOINTS, STATE_ENDPOINTS, compare
from unittests.stress.load import CSV_PATH, Expectations, strict_json

EXAMPLES = int(os.environ.get("LSS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EXPECTATIONS = Expectations(CSV_PATH)
QUESTIONS = EXPECTATIONS.reference.questions()
STATES = sorted({state for question in QUESTIONS for state in EXPECTATIONS.reference.states(question)})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                       max_size=4),
    max_leaves=12)
questions = st.sampled_from(QUESTIONS) | st.sampled_from([q.lower() for q in QUESTIONS]) | json_values
states = st.sampled_from(STATES) | st.sampled_from(["Nowhere", "ohio", "Ohio ", ""]) | json_values
tasks = st.sampled_from(ENDPOINTS) | st.sampled_from(["start", "jobs", "BEST5"]) | json_values
datasets = st.sampled_from(["default", "other", "../../etc/passwd"]) | json_values
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"question": questions},
                          optional={"state": states, "task": tasks, "dataset": datasets,
                                    "extra": json_values}),
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for all the examples of the module."""
    folder = tmp_path_factory.mktemp("properties")
    application = create_app({"RESULTS_DIR": str(folder / "results"),
                              "DATASETS_DIR": str(folder / "datasets"),
                              "LOG_FILE": str(folder / "webserver.log"),
                              "NUM_THREADS": 2, "MAX_PENDING_JOBS": 0})
    application.config["TESTING"] = True
    yield application
    application.extensions["le_stats_sportif"].shutdown(wait=True, timeout=30)
    with open(folder / "webserver.log", encoding="utf-8") as log:
        assert "Traceback" not in log.read()


def valid_for(endpoint, body):
    """Whether the model accepts `body` for `endpoint`."""
    if not isinstance(body, dict) or body.get("dataset") not in (None, "default"):
        return False
    question = body.get("question")
    if not isinstance(question, str) or question not in QUESTIONS:
        return False
    if endpoint in STATE_ENDPOINTS:
        state = body.get("state")
        return isinstance(state, str) and state in EXPECTATIONS.reference.states(question)
    return True


def job_count(client):
    """How many jobs the server knows."""
    return len(client.get("/api/jobs").get_json()["data"])


def check_answer(client, response, endpoint, body, valid):
    """The response is what the model says: a job with the right answer, or a 4xx with a reason."""
    assert response.status_code != 500
    answer = strict_json(response.get_data(as_text=True))
    if not valid:
        assert 400 <= response.status_code < 500, (response.status_code, answer)
        assert answer["status"] == "error" and isinstance(answer["reason"], str) and answer["reason"]
        return
    assert response.status_code == 200, answer
    job_id = answer["job_id"]
    deadline = time.monotonic() + 30
    while (result := strict_json(client.get(f"/api/get_results/{job_id}").get_data(as_text=True)))["status"] \
            == "running":
        assert time.monotonic() < deadline
        time.sleep(0.002)
    assert result["status"] == "done", result
    assert compare(EXPECTATIONS.expected(endpoint, body), result["data"]) is None


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), body=bodies)
def test_statistics_bodies(app, endpoint, body):
    client = app.test_client()
    before = job_count(client)
    valid = valid_for(endpoint, body)
    response = client.post(f"/api/{endpoint}", data=json.dumps(body), content_type="application/json")
    check_answer(client, response, endpoint, body, valid)
    assert job_count(client) == before + valid


@FUZZ
@given(body=bodies)
def test_start_bodies(app, body):
    client = app.test_client()
    before = job_count(client)
    task = body.get("task") if isinstance(body, dict) else None
    rest = {key: value for key, value in body.items() if key != "task"} if isinstance(body, dict) else body
    valid = isinstance(task, str) and task in ENDPOINTS and valid_for(task, rest)
    response = client.post("/api/start", data=json.dumps(body), content_type="application/json")
    check_answer(client, response, task, rest, valid)
    assert job_count(client) == before + valid


@FUZZ
@given(raw=st.binary(max_size=300) | bodies.map(lambda body: json.dumps(body).encode()).flatmap(
    lambda encoded: st.integers(0, len(encoded)).map(lambda cut: encoded[:cut])))
def test_raw_and_truncated_bytes(app, raw):
    client = app.test_client()
    before = job_count(client)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    response = client.post("/api/global_mean", data=raw, content_type="application/json")
    check_answer(client, response, "global_mean", body, valid_for("global_mean", body))
    assert job_count(client) == before + valid_for("global_mean", body)


JOB_ID = re.compile(r"(?:job_id_)?([1-9][0-9]*)")


@FUZZ
@given(text=st.text(min_size=1) | st.from_regex(r"(job_id_)?-?[0-9]{1,25}", fullmatch=True),
       prefix=st.sampled_from(["/api/get_results/", "/api/results/", "/api/status/", "/api/jobs/"]))
def test_any_job_id(app, text, prefix):
    client = app.test_client()
    if job_count(client) == 0:
        client.post("/api/global_mean", json={"question": QUESTIONS[0]})
    known = job_count(client)
    match = JOB_ID.fullmatch(text)
    exists = bool(match) and int(match.group(1)) <= known
    response = client.get(prefix + urllib.parse.quote(text, safe=""))
    answer = strict_json(response.get_data(as_text=True))
    if exists:
        assert response.status_code == 200 and answer["status"] in ("running", "done")
    else:
        assert response.status_code == 404 and answer["status"] == "error" and answer["reason"]


@FUZZ
@given(path=st.text(min_size=1, max_size=60),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
def test_any_path_and_method(app, path, method):
    client = app.test_client()
    before = job_count(client)
    response = client.open("/api/" + urllib.parse.quote(path, safe="/"), method=method, data=b"{}")
    assert response.status_code < 500 or response.status_code == 503
    answer = strict_json(response.get_data(as_text=True))
    if response.status_code >= 400:
        assert answer["status"] == "error" and answer["reason"]
    assert job_count(client) == before
