"""Hostile input on every route: never a 500, never a stack trace, never a job
from a bad request, never a file touched outside the results folder, the
data sets and the log.

Most requests go through Flask's test client; those that only a real socket
can send (a 10 MB body, a chunked or truncated one, an unknown method, a
path with `..` that no client library would leave alone) go to a real server.
"""
import http.client
import json
import os
import socket
import sys
import threading

import pytest

from app import create_app
from app.data_ingestor import STATISTICS
from unittests.stress.load import strict_json
from unittests.stress.servers import ROOT, ServerProcess

QUESTION = "Percent of adults aged 18 years and older who have obesity"
POST_ROUTES = [f"/api/{name}" for name in STATISTICS] + ["/api/start"]
GET_ROUTES = ["/api/jobs", "/api/num_jobs", "/api/graceful_shutdown", "/api/questions", "/api/states",
              "/api/get_results/job_id_1", "/api/results/1", "/api/status/job_id_1"]
TEN_MB = 10 * 1024 * 1024

HOSTILE_BODIES = [
    b"", b"   \n", b"{", b'{"question": ', b'{"question": "' + QUESTION.encode(), b"}", b"null", b"[]",
    b'"question"', b"42", b"true", b"NaN", b"1e999", b'{"question": NaN}', b'{"question": Infinity}',
    b"[" * 100_000, b'{"a":' * 50_000, b'{"question": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"question": ' + b"9" * 100_000 + b"}", b'{"question": -1}', b'{"question": 1e400}',
    b'{"question": null}', b'{"question": true}', b'{"question": ["' + QUESTION.encode() + b'"]}',
    b'{"question": {"text": "x"}}', b'{"question": "' + b"x" * 500_000 + b'"}',
    '{"question": "問題 😀 ¿qué?"}'.encode(), b'{"question": "\\ud800"}', b'{"question": "\\u0000"}',
    b'{"question": "\xff\xfe"}', b"\xff\xfe\x00\x00", "\ufeff{}".encode(),
    json.dumps({"question": QUESTION + " "}).encode(), json.dumps({"question": QUESTION.upper()}).encode(),
    json.dumps({"question": QUESTION, "dataset": "../../etc/passwd"}).encode(),
    json.dumps({"question": QUESTION, "dataset": ["default"]}).encode(),
    json.dumps({"question": QUESTION, "dataset": "/etc/passwd"}).encode(),
    json.dumps({"task": "best5", "question": QUESTION, "dataset": "../../etc/passwd"}).encode(),
]
# Bad only where a state is read: the state routes, and /api/start (no task).
HOSTILE_STATES = [json.dumps({"question": QUESTION, "state": state}).encode() for state in (
    7, None, ["Ohio"], {"name": "Ohio"}, "../../etc/passwd", "x" * 100_000, "ohio", "Ohio ", "\ud800",
    "Ohio\u0000", "Puerto Rico\n")] + [json.dumps({"question": QUESTION}).encode()]
# Bad only where a task is read: /api/start.
HOSTILE_TASKS = [json.dumps({"task": task, "question": QUESTION}).encode() for task in (
    "../../etc/passwd", {"name": "best5"}, ["best5"], None, 5, "start", "jobs", "BEST5", "best5 ", "")]


def hostile_bodies(route):
    """The bodies that `route` must refuse."""
    bodies = list(HOSTILE_BODIES)
    if route == "/api/start" or STATISTICS.get(route.rsplit("/", 1)[1]):
        bodies += HOSTILE_STATES
    if route == "/api/start":
        bodies += HOSTILE_TASKS
        bodies += [b'{"task": "state_mean", ' + body[1:] for body in HOSTILE_STATES]
    return bodies


HOSTILE_JOB_IDS = [
    "../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e%2f", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "job_id_1/../../../etc/passwd", "job_id_0", "0", "-1", "job_id_-1", "9" * 100, "job_id_" + "9" * 19,
    "1e5", "1.0", "0x1", "+1", " 1", "job_id_ 1", "%00", "1%00", "١", "job_id_١", "ⅰ", "job_id_1.json",
    "/1", "//job_id_1", "/",
    ".journal", "..", "%2e%2e", "job_id_1%2f..", "x" * 10_000, "job%5fid%5f1x",
]

# Paths the server may open: its results folder, its log, the data it
# serves and its own code (Python opens modules it imports lazily).
ALLOWED_ROOTS = [os.path.realpath(path) for path in (
    sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.join(ROOT, "app"),
    os.path.join(ROOT, "nutrition_activity_obesity_usa_subset.csv"))]


class FileAudit:
    """Records every file the process opens, lists, removes or renames while active.

    Audit hooks cannot be removed, so one hook is installed for the module
    and records only while `active` is set: while the app handles a request.
    """

    EVENTS = {"open": 1, "os.remove": 1, "os.rename": 2, "os.mkdir": 1, "os.rmdir": 1, "os.listdir": 1,
              "os.scandir": 1, "os.truncate": 1, "os.chmod": 1, "shutil.rmtree": 1, "os.symlink": 2,
              "os.link": 2}

    def __init__(self):
        self.active = threading.Event()
        self.paths = []
        sys.addaudithook(self._hook)

    def _hook(self, event, args):
        if self.active.is_set() and event in self.EVENTS:
            for arg in args[:self.EVENTS[event]]:
                if isinstance(arg, (str, bytes, os.PathLike)):
                    self.paths.append((event, os.path.realpath(os.fsdecode(arg))))

    def outside(self, allowed):
        """The recorded (event, path) pairs outside every folder of `allowed`."""
        return sorted({(event, path) for event, path in self.paths
                       if not any(path == root or path.startswith(root + os.sep) for root in allowed)})


AUDIT = FileAudit()


@pytest.fixture
def app(tmp_path):
    """A fresh app over tmp_path/results."""
    application = create_app({"RESULTS_DIR": str(tmp_path / "results"),
                              "DATASETS_DIR": str(tmp_path / "datasets"),
                              "LOG_FILE": str(tmp_path / "webserver.log"), "NUM_THREADS": 2,
                              "LOG_FLUSH_MS": 0})
    application.config["TESTING"] = True
    yield application
    application.extensions["le_stats_sportif"].shutdown(wait=True, timeout=30)


@pytest.fixture
def audited(app, tmp_path):
    """The app, recording the files it touches while handling requests; checked at the end."""
    handle = app.wsgi_app

    def handle_audited(environ, start_response):
        AUDIT.active.set()
        try:
            return handle(environ, start_response)
        finally:
            AUDIT.active.clear()

    AUDIT.paths.clear()
    app.wsgi_app = handle_audited
    yield app
    allowed = ALLOWED_ROOTS + [os.path.realpath(tmp_path / "results"),
                               os.path.realpath(tmp_path / "datasets"),
                               os.path.realpath(tmp_path / "webserver.log")]
    outside = AUDIT.outside(allowed)
    assert not outside, outside


def assert_refused(response, statuses=(400, 404, 405, 410, 413)):
    """A 4xx JSON error with a reason, and nothing that looks like a stack trace."""
    assert response.status_code in statuses, (response.status_code, response.data[:300])
    assert response.mimetype == "application/json"
    answer = strict_json(response.get_data(as_text=True))
    assert answer["status"] == "error"
    assert isinstance(answer["reason"], str) and answer["reason"]
    assert b"Traceback" not in response.data and b'File "' not in response.data


def assert_no_job_and_no_trace(app, client, capfd):
    """No job was created, and nothing went wrong inside the server."""
    assert client.get("/api/jobs").get_json()["data"] == []
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 0}
    with open(app.config["LOG_FILE"], encoding="utf-8") as log:
        assert "Traceback" not in log.read()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("route", POST_ROUTES)
def test_hostile_bodies_are_refused_with_a_reason_and_create_no_job(audited, route, capfd):
    client = audited.test_client()
    for body in hostile_bodies(route):
        for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
            assert_refused(client.post(route, data=body, content_type=content_type), (400,))
    assert_no_job_and_no_trace(audited, client, capfd)


@pytest.mark.parametrize("route", POST_ROUTES)
def test_ten_megabyte_bodies_get_413(audited, route, capfd):
    client = audited.test_client()
    body = b'{"question": "' + b"x" * TEN_MB + b'"}'
    assert_refused(client.post(route, data=body, content_type="application/json"), (413,))
    chunked = client.post(route, input_stream=__import__("io").BytesIO(body),
                          environ_overrides={"wsgi.input_terminated": True},
                          content_type="application/json")
    assert_refused(chunked, (413,))
    assert_no_job_and_no_trace(audited, client, capfd)


@pytest.mark.parametrize("route", POST_ROUTES + GET_ROUTES)
def test_unknown_methods_get_405_in_json(audited, route, capfd):
    client = audited.test_client()
    wrong = ["GET", "PUT", "DELETE", "PATCH", "BREW"] if route in POST_ROUTES else ["POST", "PUT", "DELETE",
                                                                                      "PATCH", "BREW"]
    for method in wrong:
        response = client.open(route, method=method, data=b"{}")
        assert_refused(response, (405,))
        assert "Allow" in response.headers
    assert_no_job_and_no_trace(audited, client, capfd)


@pytest.mark.parametrize("prefix", ["/api/get_results/", "/api/results/", "/api/status/"])
def test_hostile_job_ids_are_404(audited, prefix, capfd):
    client = audited.test_client()
    job_id = client.post("/api/global_mean", json={"question": QUESTION}).get_json()["job_id"]
    for hostile in HOSTILE_JOB_IDS:
        assert_refused(client.get(prefix + hostile), (404,))
    assert client.get(prefix + job_id).status_code == 200
    assert len(client.get("/api/jobs").get_json()["data"]) == 1
    capfd.readouterr()


def test_the_audit_sees_what_a_request_touches(audited, tmp_path):
    audited.test_client().post("/api/global_mean", json={"question": QUESTION})
    journal = os.path.realpath(tmp_path / "results" / ".journal")
    assert ("open", journal) in AUDIT.paths
    assert AUDIT.outside([]) != []


def test_unknown_paths_are_404_in_json(audited):
    client = audited.test_client()
    for path in ["/api", "/api/", "/api//jobs", "//api/jobs", "/api/jobs/", "/api/foo",
                 "/api/states_mean/x", "/api/../etc/passwd",
                 "/results/job_id_1.json", "/api/jobs/../../app", "/api/%00", "/api/" + "x" * 10_000]:
        for method in ("GET", "POST"):
            assert_refused(audited.test_client().open(path, method=method), (404, 405))
    assert client.get("/api/jobs").get_json()["data"] == []


def test_odd_query_strings_and_headers_change_nothing(audited):
    client = audited.test_client()
    response = client.post("/api/global_mean?question=../../etc/passwd&x=%ff%00",
                           json={"question": QUESTION},
                           headers={"X-Forwarded-For": "\u202e", "Accept": "*/*"})
    assert response.status_code == 200 and response.get_json() == {"job_id": "job_id_1"}
    assert client.get("/api/jobs?offset=99999999999999999999&x=%ff").status_code == 200
    refused = client.get("/api/jobs?limit=-1&offset=99999999999999999999")
    assert refused.status_code == 400 and "limit" in refused.get_json()["reason"]


# -- over a real socket ------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One real server for the socket-level requests."""
    running = ServerProcess(tmp_path_factory.mktemp("hostile")).start()
    yield running
    assert running.stop() == 0


def raw_request(server, head, body=b"", close_write=False):
    """Send bytes as they are; the status line and body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head + body)
        if close_write:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], payload


def test_ten_megabytes_over_http_get_413_in_json(server):
    body = b'{"question": "' + b"x" * TEN_MB + b'"}'
    for route in ("/api/states_mean", "/api/start"):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.request("POST", route, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 413
        assert strict_json(response.read())["status"] == "error"
        connection.close()

        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.request("POST", route, body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                           headers={"Content-Type": "application/json"}, encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 413
        assert strict_json(response.read())["status"] == "error"
        connection.close()


def test_truncated_bodies_unknown_methods_and_raw_paths_over_http(server):
    head = (b"POST /api/states_mean HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 500\r\n\r\n")
    status, payload = raw_request(server, head, b'{"question": "Percent of', close_write=True)
    assert b" 400 " in status and strict_json(payload)["status"] == "error"

    status, payload = raw_request(server, b"BREW /api/jobs HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b" 405 " in status and strict_json(payload)["status"] == "error"

    for path in ["/api/get_results/../../etc/passwd", "/api/get_results/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                 "/api/results/..%2f..%2f..%2fetc%2fpasswd", "/api/status/-1",
                 "/api/get_results/" + "9" * 4000]:
        status, payload = raw_request(server, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert b" 404 " in status, (path, status)
        assert strict_json(payload)["status"] == "error"
        assert b"root:" not in payload
    _, payload = raw_request(server, b"GET /api/num_jobs HTTP/1.1\r\nHost: x\r\n\r\n")
    assert strict_json(payload) == {"num_jobs": 0}
