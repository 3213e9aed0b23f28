"""app.rsgi_adapter: the app under granian's RSGI interface, driven here through that interface.

The scope and protocol below follow granian's RSGI specification (the
attributes and calls app.rsgi_adapter uses); test_production_server.py
drives the same adapter through granian itself, over sockets.
"""
import asyncio
import json
import threading
import time

import pytest

from app.rsgi_adapter import MAX_HEADER_BYTES, POLL_WAIT_S, RsgiAdapter
from unittests.conftest import LOW, hold_jobs


class Scope:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """An RSGI HTTP scope."""

    def __init__(self, method, path, headers=None, query_string=""):
        self.proto, self.http_version, self.scheme = "http", "1.1", "http"
        self.server, self.client = "127.0.0.1:5000", "127.0.0.1:40000"
        self.method, self.path, self.query_string = method, path, query_string
        self.headers = {"host": "127.0.0.1:5000", **(headers or {})}


class Protocol:
    """An RSGI HTTP protocol whose body arrives in `chunks`; it records the response."""

    def __init__(self, chunks=()):
        self.chunks = list(chunks)
        self.chunks_read = 0
        self.response = None

    async def __call__(self):
        self.chunks_read = len(self.chunks)
        return b"".join(self.chunks)

    def __aiter__(self):
        return self._stream()

    async def _stream(self):
        for chunk in self.chunks:
            self.chunks_read += 1
            yield chunk

    def response_bytes(self, status, headers, body):
        """What the adapter answered."""
        self.response = (status, dict(headers), body)


def _json_request(method, path, body=None):
    encoded = b"" if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json", "content-length": str(len(encoded))} if body is not None else {}
    return Scope(method, path, headers), Protocol([encoded] if encoded else [])


@pytest.fixture(name="adapter")
def fixture_adapter(app):
    service = app.extensions["le_stats_sportif"]
    adapter = RsgiAdapter(app, 4096, 2, inline=not service.store.shared,
                          on_settled=None if service.store.shared else service.on_settled)
    return adapter


def _run(adapter, *requests):
    """Serve `requests` ((scope, protocol) pairs) concurrently on one event loop; their responses."""
    async def main():
        adapter.__rsgi_init__(asyncio.get_running_loop())
        await asyncio.gather(*(adapter.__rsgi__(scope, protocol) for scope, protocol in requests))
        adapter.__rsgi_del__(asyncio.get_running_loop())
    asyncio.run(main())
    return [protocol.response for _, protocol in requests]


def _submit(adapter):
    (status, _, body), = _run(adapter, _json_request("POST", "/api/global_mean", {"question": LOW}))
    assert status == 200, body
    return json.loads(body)["job_id"]


def test_a_poll_of_a_job_queued_here_waits_on_the_loop_and_finds_it_done(make_app):
    app = make_app()
    service = app.extensions["le_stats_sportif"]
    adapter = RsgiAdapter(app, 4096, 2, on_settled=service.on_settled)
    release = hold_jobs(app)
    job_id = _submit(adapter)
    threading.Timer(POLL_WAIT_S / 4, release.set).start()
    started = time.monotonic()
    (status, _, body), = _run(adapter, (Scope("GET", f"/api/get_results/{job_id}"), Protocol()))
    assert status == 200 and json.loads(body)["status"] == "done"
    assert time.monotonic() - started < POLL_WAIT_S * 10


def test_a_poll_waits_no_longer_than_its_bound_and_others_are_answered_meanwhile(make_app):
    app = make_app()
    service = app.extensions["le_stats_sportif"]
    adapter = RsgiAdapter(app, 4096, 2, on_settled=service.on_settled)
    release = hold_jobs(app)
    try:
        job_id = _submit(adapter)
        started = time.monotonic()
        held, other = _run(adapter, (Scope("GET", f"/api/get_results/{job_id}"), Protocol()),
                           (Scope("GET", "/api/num_jobs"), Protocol()))
        waited = time.monotonic() - started
    finally:
        release.set()
    assert held[0] == 200 and json.loads(held[2]) == {"status": "running"}
    assert POLL_WAIT_S * 0.9 <= waited < POLL_WAIT_S * 20
    assert other[0] == 200 and json.loads(other[2]) == {"num_jobs": 1}


def test_a_poll_of_an_unknown_or_finished_job_does_not_wait(adapter):
    started = time.monotonic()
    (status, _, body), = _run(adapter, (Scope("GET", "/api/get_results/job_id_99"), Protocol()))
    assert status == 404 and json.loads(body)["reason"] == "Invalid job_id"
    assert time.monotonic() - started < POLL_WAIT_S


def test_a_body_past_the_limit_is_refused_with_413_and_not_read_on(adapter):
    scope = Scope("POST", "/api/global_mean", {"content-type": "application/json", "transfer-encoding": "chunked"})
    protocol = Protocol([b" " * 1024] * 100)
    (status, headers, body), = _run(adapter, (scope, protocol))
    assert status == 413 and "4096" in json.loads(body)["reason"] and headers["Connection"] == "close"
    assert protocol.chunks_read == 5
    scope = Scope("POST", "/api/global_mean", {"content-type": "application/json", "content-length": "5000"})
    protocol = Protocol([b" " * 5000])
    (status, _, _), = _run(adapter, (scope, protocol))
    assert status == 413 and protocol.chunks_read == 0


def test_headers_past_the_limit_are_refused_with_431(adapter):
    scope = Scope("GET", "/api/num_jobs", {"x-big": "a" * MAX_HEADER_BYTES})
    (status, _, body), = _run(adapter, (scope, Protocol()))
    assert status == 431 and json.loads(body)["status"] == "error"


def test_a_body_cut_off_is_a_400_with_a_reason(adapter):
    class Broken(Protocol):
        async def _stream(self):
            yield b"{"
            raise RuntimeError("connection closed")

    scope = Scope("POST", "/api/global_mean", {"content-type": "application/json", "transfer-encoding": "chunked"})
    (status, _, body), = _run(adapter, (scope, Broken()))
    assert status == 400 and "connection closed" in json.loads(body)["reason"]


def test_hot_routes_run_on_the_loop_and_the_others_on_threads(app, adapter, tmp_path):
    shared = app.extensions["le_stats_sportif"].store.shared
    job_id = _submit(adapter)
    _run(adapter, (Scope("GET", f"/api/get_results/{job_id}"), Protocol()), (Scope("GET", "/api/jobs"), Protocol()),
         _json_request("POST", "/api/global_mean", {"question": LOW, "dataset": "default"}))
    lines = (tmp_path / "webserver.log").read_text().splitlines()
    # "<time> INFO <thread> enter <method> <path> <parameters>"
    thread_of = {" ".join(line.split(" ")[4:6]): line.split(" ")[2] for line in lines if " enter " in line}
    assert thread_of["GET /api/jobs"].startswith("http")
    assert thread_of["POST /api/global_mean"].startswith("http")
    on_loop = threading.main_thread().name
    expected = "http" if shared else on_loop
    assert thread_of[f"GET /api/get_results/{job_id}"].startswith(expected)


def test_headers_sent_twice_reach_the_app_as_one_value(adapter):
    scope = Scope("GET", "/api/num_jobs")
    scope.headers = [("host", "127.0.0.1:5000"), ("x-twice", "a"), ("x-twice", "b")]

    class Headers(list):
        def get(self, name, default=None):
            return next((value for key, value in self if key == name), default)

        def items(self):
            return list(self)

        def __contains__(self, name):
            return any(key == name for key, _ in self)

    scope.headers = Headers(scope.headers)
    environ = adapter._environ(scope, b"")  # pylint: disable=protected-access
    assert environ["HTTP_X_TWICE"] == "a,b" and environ["HTTP_HOST"] == "127.0.0.1:5000"
