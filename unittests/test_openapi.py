"""GET /api/openapi.json stays true: the routes it lists are the app's, and
real answers of every operation fit the schemas it gives."""
import io
import os
import re
import threading

import jsonschema
import pytest

from app.data_ingestor import STATISTICS, DataIngestor
from app.task_runner import WorkItem
from unittests.conftest import wait_for
from unittests.dataset_support import OBESITY, csv_text, make_app, own_rows, stop

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(name="app")
def fixture_app(tmp_path):
    # Room for one upload and small files, so that a larger one gets the 507 of the quota.
    app = make_app(str(tmp_path), MAX_UPLOAD_BYTES=20000, MAX_DATASETS_BYTES=len(csv_text(own_rows())) + 100)
    yield app
    stop(app)


@pytest.fixture(name="spec")
def fixture_spec(app):
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _openapi_path(rule):
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _routes(app):
    """(path, method) of every route of the app, in OpenAPI's notation."""
    routes = set()
    for rule in app.url_map.iter_rules():
        methods = {method.lower() for method in rule.methods - IGNORED_METHODS}
        # One rule serves the nine statistics; the description lists each.
        paths = ([f"/api/{name}" for name in STATISTICS] if rule.endpoint == "api.submit_statistic"
                 else [_openapi_path(rule.rule)])
        routes.update((path, method) for path in paths for method in methods)
    return routes


def _schema(spec, schema):
    """A schema that resolves the description's #/components references."""
    return {**schema, "components": spec["components"]}


def test_the_paths_are_the_routes(app, spec):
    described = {(path, method) for path, operations in spec["paths"].items() for method in operations}
    assert described == _routes(app)


def test_the_description_is_consistent(spec):
    assert spec["openapi"].startswith("3.")
    for schema in spec["components"]["schemas"].values():
        jsonschema.Draft7Validator.check_schema(schema)
    text = repr(spec)
    for reference in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert reference in spec["components"]["schemas"], reference
    operation_ids = []
    for path, operations in spec["paths"].items():
        declared = re.findall(r"{(\w+)}", path)
        for operation in operations.values():
            operation_ids.append(operation["operationId"])
            assert operation["responses"], (path, operation)
            parameters = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            assert parameters == declared, path
    assert len(operation_ids) == len(set(operation_ids))


def test_the_examples_fit_their_schemas(spec):
    checked = 0
    for operations in spec["paths"].values():
        for operation in operations.values():
            contents = [operation.get("requestBody", {}).get("content", {})]
            contents += [response.get("content", {}) for response in operation["responses"].values()]
            for content in contents:
                for media in content.values():
                    if "example" in media:
                        jsonschema.validate(media["example"], _schema(spec, media["schema"]))
                        checked += 1
            if "x-answer" in operation:
                jsonschema.validate(operation["x-answer"]["example"], _schema(spec, operation["x-answer"]["schema"]))
                checked += 1
    assert checked > 30


class Exchanges:
    """Sends requests and checks each answer against the description."""

    def __init__(self, client, spec):
        self.client = client
        self.spec = spec
        self.seen = set()

    def send(self, method, path, url, expected_status, **kwargs):
        """Send the request, check status and body against the operation; return the response."""
        response = self.client.open(url, method=method.upper(), **kwargs)
        assert response.status_code == expected_status, (url, response.data[:300])
        operation = self.spec["paths"][path][method]
        described = operation["responses"][str(response.status_code)]
        # An answer may be described in more than one type (get_results: JSON, or CSV with ?format=csv).
        media_type = response.mimetype if response.mimetype in described["content"] else "*/*"
        assert media_type in described["content"], (url, response.mimetype, list(described["content"]))
        if media_type == "application/json":
            jsonschema.validate(response.get_json(), _schema(self.spec, described["content"][media_type]["schema"]))
        self.seen.add((path, method))
        return response


def test_real_answers_fit_the_schemas(app, spec):
    client = app.test_client()
    talk = Exchanges(client, spec)
    talk.send("get", "/", "/", 200)
    talk.send("get", "/docs", "/docs", 200)
    talk.send("get", "/api/openapi.json", "/api/openapi.json", 200)
    talk.send("get", "/static/{filename}", "/static/css/dashboard.css", 200)
    talk.send("get", "/static/{filename}", "/static/nothing.css", 404)

    talk.send("get", "/api/datasets", "/api/datasets", 200)
    stored = talk.send("post", "/api/datasets", "/api/datasets", 201, content_type="multipart/form-data",
                       data={"file": (_bytes(csv_text(own_rows())), "mine.csv")}).get_json()["data"]["id"]
    talk.send("post", "/api/datasets", "/api/datasets", 200, content_type="multipart/form-data",
              data={"file": (_bytes(csv_text(own_rows())), "again.csv")})
    talk.send("post", "/api/datasets", "/api/datasets", 400, content_type="multipart/form-data",
              data={"file": (_bytes("a,b\n1,2\n"), "bad.csv")})
    talk.send("post", "/api/datasets", "/api/datasets", 413, content_type="multipart/form-data",
              data={"file": (_bytes("x" * 30000), "big.csv")})
    talk.send("post", "/api/datasets", "/api/datasets", 415, data="LocationDesc", content_type="text/csv")
    talk.send("post", "/api/datasets", "/api/datasets", 507, content_type="multipart/form-data",
              data={"file": (_bytes(csv_text(own_rows() * 2)), "twice.csv")})
    for route in ("/api/questions", "/api/states"):
        talk.send("get", route, route, 200)
        talk.send("get", route, f"{route}?dataset={stored}", 200)
        talk.send("get", route, f"{route}?dataset=nope", 400)
    talk.send("get", "/api/states", f"/api/states?question={OBESITY}", 200)
    talk.send("get", "/api/states", "/api/states?question=Percent%20of%20cats", 400)
    talk.send("get", "/api/ranking", f"/api/ranking?question={OBESITY}", 200)
    talk.send("get", "/api/ranking", "/api/ranking", 400)

    job_ids = []
    for statistic, needs_state in STATISTICS.items():
        body = {"question": OBESITY, **({"state": "Ohio"} if needs_state else {})}
        path = f"/api/{statistic}"
        job_ids.append(talk.send("post", path, path, 200, json=body).get_json()["job_id"])
        job_ids.append(talk.send("post", path, path, 200, json={**body, "dataset": stored}).get_json()["job_id"])
        talk.send("post", path, path, 400, json={"question": "Percent of cats"})
        talk.send("post", path, path, 413, json={**body, "padding": "x" * 2_000_000})
    job_ids.append(talk.send("post", "/api/start", "/api/start", 200,
                             json={"task": "best5", "question": OBESITY}).get_json()["job_id"])
    talk.send("post", "/api/start", "/api/start", 400, json={"task": "nothing"})
    talk.send("post", "/api/start", "/api/start", 413, json={"task": "best5", "padding": "x" * 2_000_000})

    for job_id in job_ids:
        talk.send("get", "/api/status/{job_id}", f"/api/status/{job_id}", 200)
        wait_for(client, job_id)
        talk.send("get", "/api/jobs/{job_id}", f"/api/jobs/{job_id}", 200)
        for route in ("get_results", "results"):
            talk.send("get", f"/api/{route}/{{job_id}}", f"/api/{route}/{job_id}", 200)
            csv_answer = talk.send("get", f"/api/{route}/{{job_id}}", f"/api/{route}/{job_id}?format=csv", 200)
            assert csv_answer.mimetype == "text/csv"
            talk.send("get", f"/api/{route}/{{job_id}}", f"/api/{route}/{job_id}?format=xml", 400)
    deleted = "/api/datasets/{dataset_id}"
    talk.send("delete", deleted, f"/api/datasets/{stored}", 200)
    talk.send("delete", deleted, f"/api/datasets/{stored}", 404)
    talk.send("delete", deleted, "/api/datasets/default", 400)
    for route in ("get_results", "results", "status", "jobs"):
        talk.send("get", f"/api/{route}/{{job_id}}", f"/api/{route}/job_id_999", 404)
    os.remove(os.path.join(app.config["RESULTS_DIR"], f"{job_ids[0]}.json"))
    for route in ("get_results", "results", "status"):
        talk.send("get", f"/api/{route}/{{job_id}}", f"/api/{route}/{job_ids[0]}", 410)
    # A folder where an answer's file was: the answer is there but cannot be read.
    unreadable = os.path.join(app.config["RESULTS_DIR"], f"{job_ids[1]}.json")
    os.remove(unreadable)
    os.mkdir(unreadable)
    for route in ("get_results", "results"):
        talk.send("get", f"/api/{route}/{{job_id}}", f"/api/{route}/{job_ids[1]}", 503)
    talk.send("get", "/api/jobs", "/api/jobs", 200)
    page = talk.send("get", "/api/jobs", "/api/jobs?limit=2", 200).get_json()
    talk.send("get", "/api/jobs", f"/api/jobs?limit=2&before={page['next']}", 200)
    talk.send("get", "/api/jobs", "/api/jobs?since=job_id_3", 200)
    talk.send("get", "/api/jobs", "/api/jobs?limit=0", 400)
    talk.send("get", "/api/num_jobs", "/api/num_jobs", 200)
    talk.send("get", "/livez", "/livez", 200)
    talk.send("get", "/readyz", "/readyz", 200)
    talk.send("get", "/metrics", "/metrics", 200)

    talk.send("get", "/api/graceful_shutdown", "/api/graceful_shutdown", 200)
    talk.send("get", "/readyz", "/readyz", 503)
    talk.send("post", "/api/states_mean", "/api/states_mean", 503, json={"question": OBESITY})
    talk.send("post", "/api/start", "/api/start", 503, json={"task": "best5", "question": OBESITY})

    described = {(path, method) for path, operations in spec["paths"].items() for method in operations}
    assert talk.seen == described


def test_running_and_failed_jobs_fit_the_schema(app, spec, monkeypatch):
    def broken(*_):
        raise ArithmeticError("no numbers today")

    monkeypatch.setattr(DataIngestor, "state_mean", broken)
    client = app.test_client()
    talk = Exchanges(client, spec)
    gate = threading.Event()
    for _ in range(app.extensions["le_stats_sportif"].pool.num_threads):
        app.extensions["le_stats_sportif"].pool.submit(lambda: WorkItem(gate.wait, lambda *_: None))
    job_id = client.post("/api/state_mean", json={"question": OBESITY, "state": "Ohio"}).get_json()["job_id"]
    for route in ("get_results", "results", "status"):
        answer = talk.send("get", f"/api/{route}/{{job_id}}", f"/api/{route}/{job_id}", 200).get_json()
        assert answer == {"status": "running"}
    assert talk.send("get", "/api/jobs/{job_id}", f"/api/jobs/{job_id}", 200).get_json()["finished_at"] is None
    gate.set()
    assert wait_for(client, job_id)["status"] == "error"
    for route in ("get_results", "results"):
        answer = talk.send("get", f"/api/{route}/{{job_id}}", f"/api/{route}/{job_id}", 200).get_json()
        assert "no numbers today" in answer["reason"]
    assert talk.send("get", "/api/status/{job_id}", f"/api/status/{job_id}", 200).get_json() == {"status": "error"}
    record = talk.send("get", "/api/jobs/{job_id}", f"/api/jobs/{job_id}", 200).get_json()
    assert "no numbers today" in record["reason"]


def _bytes(text):
    return io.BytesIO(text.encode())
