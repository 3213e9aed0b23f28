"""The Flask app served by granian's RSGI interface: whole bodies first, the hot routes inline.

granian's WSGI interface hands a request to a blocking thread before its
body has arrived, so a client that sends slowly holds a thread for as long
as it likes (bench/README.md, "Slow and idle clients"). Over RSGI the body
is awaited on the event loop, where a slow one holds nothing but its
connection, and only a request whose body is whole reaches the app.

The routes every job goes through (a submission, a poll) answer from
memory and the local disk in microseconds, so they are run on the event
loop's own thread: a request is then one turn of the loop, with no hand-over
to a thread and back, which under load is what a request costs most
(bench/README.md, "Where the time goes"). Every other request may take
longer (an upload, a listing of a million jobs, a data set parsed on first
use) and runs on one of `threads` threads; so does every request when the
job store is shared, since a store on the network may keep a call waiting.

A poll that comes while its job is still queued in this process waits for
it on the loop, up to POLL_WAIT_S, before the app answers it: the job is
then mostly done by the time the poll is answered, and a client needs one
poll a job rather than two or three (`on_settled`, JobService.on_settled).
"""
import asyncio
import io
import json
import re
import sys

from app.data_ingestor import STATISTICS
from app.validation import job_number

POLL_PATH = re.compile(r"/api/(?:get_results|results)/([^/]+)")
# How long a poll may wait for its job, queued in this process, to finish.
POLL_WAIT_S = 0.02
# Requests run on the event loop's thread when the store is local: polls,
# and submissions of the bundled data set's statistics (a body naming
# another data set may have to parse it first).
INLINE_GETS = re.compile(r"/api/(get_results|results|status)/[^/]+|/api/num_jobs|/livez|/readyz")
INLINE_POSTS = re.compile(f"/api/({'|'.join(STATISTICS)}|start)")
NAMES_DATASET = b'"dataset"'
# Headers past this are refused before the app sees them, as under every
# other server of the project; granian itself closes a connection whose
# head outgrows its buffer (or has over 100 headers) with an empty 431,
# and one whose request line is over 64 KiB with an empty 414.
MAX_HEADER_BYTES = 256 * 1024
# Bodies up to this size are read in one call; larger ones chunk by chunk, counted.
SMALL_BODY_BYTES = 64 * 1024


def _refuse(protocol, status, reason):
    protocol.response_bytes(status, [("Content-Type", "application/json"), ("Connection", "close")],
                            json.dumps({"status": "error", "reason": reason}).encode())


class RsgiAdapter:
    """A WSGI app as an RSGI app (granian's interface), with request bodies bounded by `max_body_bytes`."""

    def __init__(self, wsgi_app, max_body_bytes, threads, inline=True,  # pylint: disable=too-many-arguments
                 on_settled=None):
        """`on_settled(job number, callback)`, when given, calls back once a job of this process
        is settled and returns True, or returns False at once (JobService.on_settled)."""
        self.wsgi_app = wsgi_app
        self.on_settled = on_settled
        self.max_body_bytes = max_body_bytes
        self.inline = inline
        self._threads = threads
        self._executor = None
        self._base_environ = {
            "SCRIPT_NAME": "", "wsgi.version": (1, 0), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "wsgi.input_terminated": True, "SERVER_SOFTWARE": "le-stats-sportif",
        }

    def __rsgi_init__(self, loop):
        # concurrent.futures only for the HTTP side's threads: the jobs have their own pool.
        from concurrent.futures import ThreadPoolExecutor  # pylint: disable=import-outside-toplevel
        self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="http")
        loop.set_default_executor(self._executor)

    def __rsgi_del__(self, loop):
        del loop
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def __rsgi__(self, scope, protocol):
        if scope.proto != "http":
            return
        header_bytes = sum(len(name) + len(value) + 4 for name, value in scope.headers.items())
        if header_bytes > MAX_HEADER_BYTES:
            _refuse(protocol, 431, f"the request headers are larger than {MAX_HEADER_BYTES} bytes")
            return
        try:
            body = await self._whole_body(scope, protocol)
        except Exception as error:  # pylint: disable=broad-exception-caught
            # granian's errors for a body cut off or malformed have no type of their own.
            _refuse(protocol, 400, f"the request body could not be read: {error}")
            return
        if body is None:
            _refuse(protocol, 413, f"the request body is larger than {self.max_body_bytes} bytes")
            return
        environ = self._environ(scope, body)
        if self._runs_inline(scope, body):
            if self.on_settled is not None and scope.method == "GET":
                await self._wait_for_job(scope.path)
            status, headers, data = self.call(environ)
        else:
            status, headers, data = await asyncio.get_running_loop().run_in_executor(
                self._executor, self.call, environ)
        protocol.response_bytes(status, headers, data)

    async def _wait_for_job(self, path):
        """Wait up to POLL_WAIT_S for the job `path` polls, if it is queued in this process."""
        polled = POLL_PATH.fullmatch(path)
        number = job_number(polled.group(1)) if polled else None
        if number is None:
            return
        loop = asyncio.get_running_loop()
        settled = loop.create_future()

        def wake():
            if not settled.done():
                settled.set_result(None)

        if self.on_settled(number, lambda: loop.call_soon_threadsafe(wake)):
            try:
                await asyncio.wait_for(settled, POLL_WAIT_S)
            except asyncio.TimeoutError:
                pass

    def call(self, environ):
        """(status, headers, body bytes) of the WSGI app's answer to `environ`."""
        started = []

        def start_response(status, headers, exc_info=None):
            del exc_info
            started[:] = (int(status[:3]), headers)

        chunks = self.wsgi_app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return started[0], started[1], data

    def _runs_inline(self, scope, body):
        if not self.inline:
            return False
        if scope.method == "GET":
            return INLINE_GETS.fullmatch(scope.path) is not None
        return (scope.method == "POST" and INLINE_POSTS.fullmatch(scope.path) is not None
                and NAMES_DATASET not in body)

    async def _whole_body(self, scope, protocol):
        """The request's body; None when it is larger than allowed (it is then not read on)."""
        declared = scope.headers.get("content-length")
        if declared is None and "transfer-encoding" not in scope.headers:
            # No body: nothing to wait for (most requests are polls).
            return b""
        if declared is not None:
            try:
                if int(declared) > self.max_body_bytes:
                    return None
                if 0 <= int(declared) <= SMALL_BODY_BYTES:
                    return await protocol()
            except ValueError:
                pass
        chunks, size = [], 0
        async for chunk in protocol:
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _environ(self, scope, body):
        host, _, port = scope.server.rpartition(":")
        environ = dict(self._base_environ)
        environ.update({
            "REQUEST_METHOD": scope.method, "PATH_INFO": scope.path, "QUERY_STRING": scope.query_string,
            "SERVER_NAME": host, "SERVER_PORT": port, "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
            "REMOTE_ADDR": scope.client.rpartition(":")[0].strip("[]"), "wsgi.url_scheme": scope.scheme,
            "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        })
        for name, value in scope.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ[key] = value
            elif key != "CONTENT_LENGTH":
                key = "HTTP_" + key
                # A header sent more than once is one value, comma-separated, as in CGI.
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ
