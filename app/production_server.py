"""`make serve`: the service on waitress, in one process or, with a shared job store, one per core.

waitress reads each request whole, headers and body, on its I/O thread
before a request thread sees it, so clients that send slowly or sit idle
hold no thread: with hundreds of them connected, other clients are still
answered at once. gunicorn's threads and granian's blocking threads are
each held by a slow body until it has arrived (bench/README.md, "Slow and
idle clients", has the measurement).

With LSS_REDIS_URL, one worker process per core (LSS_WSGI_WORKERS) is
started, each listening on the same address with a socket of its own
(SO_REUSEPORT): the kernel then spreads new connections evenly over them,
where one shared socket let one worker take most of a burst of keep-alive
connections while the other idled (bench/README.md). This process then only supervises: SIGTERM or SIGINT is passed on to
every worker, each drains its own jobs (app.lifecycle), and the exit status
is 0 when every worker's was; a worker that dies otherwise is replaced.
The app is made in each worker, after the fork, so that its pool's threads
live where the requests are served.

    python -m app.production_server
"""
import ctypes
import json
import os
import resource
import signal
import shutil
import socket
import subprocess
import sys
import tempfile

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

from app.config import load_config

# Idle connections waitress keeps open, and for how long.
CONNECTION_LIMIT = 4096
IDLE_TIMEOUT_S = 60
# waitress refuses headers past this by itself; the app refuses smaller
# excesses first, with its own reasons (app/__init__.py).
MAX_HEADER_BYTES = 256 * 1024
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
# prctl(2): the signal a process gets when its parent ends.
PR_SET_PDEATHSIG = 1


class JsonErrorTask(ErrorTask):
    """waitress's answer to a request it cannot parse, as JSON with a reason like every other error."""

    def execute(self):
        error = self.request.error
        body = json.dumps({"status": "error", "reason": f"{error.reason}: {error.body}"}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("Connection", "close")])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):  # pylint: disable=too-many-ancestors
    """A waitress connection whose parse errors are answered by JsonErrorTask."""

    error_task_class = JsonErrorTask


def settings(environ=None):
    """(host, port, workers, threads) from the environment, as README's table says."""
    environ = os.environ if environ is None else environ
    config = load_config(environ=environ)
    host = environ.get("FLASK_RUN_HOST", "127.0.0.1")
    default_workers = (os.cpu_count() or 1) if config["REDIS_URL"] else 1
    workers = _count(environ, "LSS_WSGI_WORKERS", default_workers)
    if workers > 1 and not config["REDIS_URL"]:
        raise SystemExit("LSS_WSGI_WORKERS: more than one worker needs LSS_REDIS_URL "
                         "(the file store belongs to one process)")
    return host, _count(environ, "FLASK_RUN_PORT", 5000), workers, _count(environ, "LSS_WSGI_THREADS", 8)


def _count(environ, variable, default):
    text = environ.get(variable, "").strip()
    try:
        value = int(text) if text else default
    except ValueError:
        raise SystemExit(f"{variable} must be a whole number, not {text!r}") from None
    if value < 1:
        raise SystemExit(f"{variable} must be at least 1, not {value}")
    return value


def serve(listener, threads, max_body_bytes):
    """Serve the app on `listener` in this process until a signal ends it."""
    # Imported here: the app (its pool's threads) is made in the worker.
    import api_server  # pylint: disable=import-outside-toplevel
    # A worker starts with these signals held (see supervise); one that came
    # while the app was being made is delivered now, to app.lifecycle's handlers.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    server = create_server(api_server.app, sockets=[listener], threads=threads,
                           connection_limit=CONNECTION_LIMIT, channel_timeout=IDLE_TIMEOUT_S,
                           max_request_header_size=MAX_HEADER_BYTES,
                           max_request_body_size=max_body_bytes, ident="le-stats-sportif",
                           clear_untrusted_proxy_headers=True,
                           # select() stops at descriptor 1024; poll() has no such bound.
                           asyncore_use_poll=True)
    server.channel_class = JsonErrorChannel
    server.run()


def supervise(workers):
    """Run `workers` workers, replace those that die, pass signals on; the exit status."""
    children = {}
    stopping = []

    def start_worker():
        # A fresh interpreter, not a fork: it imports prometheus_client after
        # METRICS_DIR is set, and inherits no thread of this process.
        # Its own process group: a Ctrl-C in the terminal reaches this process
        # alone, which passes it on once (a second signal would cut a drain short).
        # It starts with SIGTERM and SIGINT held, so that one passed on while it
        # is still starting waits for its handlers rather than killing it.
        worker = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", "app.production_server", "--worker"], process_group=0,
            preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS))
        children[worker.pid] = worker

    def pass_on(signum, _frame):
        stopping.append(signum)
        for worker in children.values():
            worker.send_signal(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, pass_on)
    for _ in range(workers):
        start_worker()
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if children.pop(pid, None) is None:
            continue
        _forget_metrics(pid)
        code = os.waitstatus_to_exitcode(status)
        if stopping:
            failed = failed or code != 0
        else:
            print(f"worker {pid} ended with {code}; starting another", file=sys.stderr, flush=True)
            start_worker()
    return 1 if failed else 0


def _forget_metrics(pid):
    if os.environ.get(METRICS_DIR):
        from prometheus_client import multiprocess  # pylint: disable=import-outside-toplevel
        multiprocess.mark_process_dead(pid)


def _stop_with_parent():
    """Have the kernel send SIGTERM (a drain) to this worker if its supervisor dies, even by kill -9."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:
        # The supervisor died before the request was made.
        os.kill(os.getpid(), signal.SIGTERM)


def _max_body_bytes():
    config = load_config()
    return max(config["MAX_UPLOAD_BYTES"], config["MAX_CONTENT_LENGTH"]) + 1024 * 1024


def _listen(host, port, shared=False):
    return socket.create_server((host, port), backlog=2048, reuse_port=shared,
                                family=socket.AF_INET6 if ":" in host else socket.AF_INET)


def main(arguments):
    """Serve in this process, or supervise the workers; a worker listens beside the others."""
    host, port, workers, threads = settings()
    # Each idle connection is a descriptor: allow as many as the system lets us.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard or hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536 if hard == resource.RLIM_INFINITY else hard, hard))
    if arguments[:1] == ["--worker"]:
        _stop_with_parent()
        serve(_listen(host, port, shared=True), threads, _max_body_bytes())
        return 0
    # Bound without SO_REUSEPORT first, so that an address in use is an error
    # here rather than a port silently shared with another server.
    listener = _listen(host, port)
    print(f"serving on http://{host}:{port} with {workers} worker(s) of {threads} threads",
          file=sys.stderr, flush=True)
    if workers == 1:
        serve(listener, threads, _max_body_bytes())
        return 0
    listener.close()
    made = None
    if not os.environ.get(METRICS_DIR):
        made = os.environ[METRICS_DIR] = tempfile.mkdtemp(prefix="lss-metrics-")
    try:
        return supervise(workers)
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
