"""`make serve` (app/production_server.py) against slow, idle and broken clients.

A real server process is started as `make serve` starts it; the clients
here speak raw HTTP over sockets, as a slow or hostile client would.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
import requests

from unittests.conftest import LOW
from unittests.stress.servers import ROOT, ServerProcess


@pytest.fixture(name="server", scope="module")
def fixture_server(tmp_path_factory):
    """One production server for the module, stopped (and drained) at its end."""
    process = ServerProcess(tmp_path_factory.mktemp("production"), launcher="production").start()
    yield process
    assert process.stop(signal.SIGTERM) == 0


def _connect(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _raw(server, data):
    """Send raw bytes; the status code and the JSON body of the answer."""
    with _connect(server) as connection:
        connection.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return int(head.split()[1]), json.loads(body)


def _length(answer):
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_clients_are_answered_while_hundreds_sit_idle_or_send_slowly(server):
    idle = [_connect(server) for _ in range(300)]
    slow, stop = [], threading.Event()
    for _ in range(16):
        connection = _connect(server)
        connection.sendall(b"POST /api/states_mean HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 1000\r\n\r\n{")
        slow.append(connection)

    def trickle():
        while not stop.wait(0.5):
            for connection in slow:
                connection.sendall(b" ")

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        for _ in range(5):
            # Blocked behind the slow ones, this would time out.
            response = requests.post(f"{server.url}/api/global_mean", json={"question": LOW}, timeout=5)
            assert response.status_code == 200, response.text
    finally:
        stop.set()
        trickler.join()
        for connection in idle + slow:
            connection.close()


@pytest.mark.parametrize("chunk", [b"zz", b"-5", b"5\r\nabcde"])
def test_malformed_chunked_bodies_get_400_in_json(server, chunk):
    status, body = _raw(server, b"POST /api/states_mean HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n" + chunk + b"\r\nXX\r\n0\r\n\r\n")
    assert 400 <= status < 500 and body["status"] == "error" and body["reason"]


def test_headers_past_the_limit_get_431_in_json(server):
    status, body = _raw(server, b"GET /api/num_jobs HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 300_000 + b"\r\n\r\n")
    assert status == 431 and body["status"] == "error" and "262144" in body["reason"]
    many = b"".join(b"X-%d: %s\r\n" % (number, b"a" * 3000) for number in range(90))
    status, body = _raw(server, b"GET /api/num_jobs HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431 and body["status"] == "error"


def test_a_head_past_what_granian_buffers_is_refused_before_the_app(server):
    """Past granian's own bounds the answer is granian's: the status alone, no body (README)."""
    for request, expected in ((b"GET /" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
                              (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 5_000_000 + b"\r\n\r\n", 431)):
        with _connect(server) as connection:
            try:
                connection.sendall(request)
            except BrokenPipeError:
                pass
            head = connection.recv(65536)
        assert head.startswith(b"HTTP/1.1 %d " % expected), head
        assert requests.get(f"{server.url}/api/num_jobs", timeout=10).status_code == 200


def test_a_body_past_the_limit_gets_413_in_json_without_being_read(server):
    status, body = _raw(server, b"POST /api/states_mean HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Content-Length: 99999999999\r\n\r\n")
    assert status == 413 and body["status"] == "error" and "larger than" in body["reason"]
    chunk = b"%x\r\n%s\r\n" % (1024 * 1024, b" " * 1024 * 1024)
    with _connect(server) as connection:
        connection.sendall(b"POST /api/states_mean HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        answer = b""
        try:
            for _ in range(200):
                connection.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_workers_on_redis_share_the_jobs_sum_their_metrics_and_drain_on_a_signal(tmp_path, redis_url, signum):
    cluster = ServerProcess(tmp_path, launcher="production",
                            environment={"LSS_REDIS_URL": redis_url, "LSS_WSGI_WORKERS": 2}).start()
    try:
        session = requests.Session()
        ids = [session.post(f"{cluster.url}/api/global_mean", json={"question": LOW}, timeout=10).json()["job_id"]
               for _ in range(20)]
        assert ids == [f"job_id_{number}" for number in range(1, 21)]
        metrics = requests.get(f"{cluster.url}/metrics", timeout=10).text
        assert "lss_jobs_submitted_total 20.0" in metrics
        assert cluster.stop(signum) == 0
    finally:
        cluster.kill()


def test_a_second_server_on_a_port_in_use_stops_rather_than_sharing_it(tmp_path, redis_url):
    environment = {"LSS_REDIS_URL": redis_url, "LSS_WSGI_WORKERS": 2}
    (tmp_path / "first").mkdir()
    first = ServerProcess(tmp_path / "first", launcher="production", environment=environment).start()
    try:
        (tmp_path / "second").mkdir()
        second = subprocess.run([sys.executable, "-m", "app.production_server"], cwd=ROOT, timeout=60,
                                env=dict(os.environ, LSS_REDIS_URL=redis_url, LSS_WSGI_WORKERS="2",
                                         FLASK_RUN_PORT=str(first.port),
                                         LSS_RESULTS_DIR=str(tmp_path / "second"),
                                         LSS_LOG_FILE=str(tmp_path / "second" / "log"),
                                         LSS_DATASETS_DIR=str(tmp_path / "second")),
                                capture_output=True, text=True, check=False)
        assert second.returncode != 0 and "Address already in use" in second.stderr
        assert requests.get(f"{first.url}/livez", timeout=10).status_code == 200
    finally:
        first.stop()


def test_the_development_server_answers_a_request_line_or_header_too_long_in_json(tmp_path):
    """`make run_server` runs `python api_server.py`: its own parse errors are JSON too."""
    development = ServerProcess(tmp_path, launcher="script").start()
    try:
        status, body = _raw(development, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 414 and body["status"] == "error" and body["reason"]
        status, body = _raw(development, b"GET /api/num_jobs HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000
                                         + b"\r\n\r\n")
        assert 400 <= status < 500 and body["status"] == "error" and body["reason"]
    finally:
        development.stop()
