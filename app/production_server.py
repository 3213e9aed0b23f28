"""`make serve`: the service on granian, in one process or, with a shared job store, one per core.

granian parses HTTP in Rust, off the interpreter lock, and serves the app
through its RSGI interface (app.rsgi_adapter): a request's body is read
whole on the event loop before the app sees it, so clients that send
slowly or sit idle hold no thread, and the routes every job takes run on
the loop's own thread (bench/README.md has the measurements that chose it).

With LSS_REDIS_URL, one worker process per core (LSS_WSGI_WORKERS) is
started, each listening on the same address with a socket of its own
(SO_REUSEPORT, which granian sets): the kernel then spreads new connections
evenly over them. This process then only supervises: SIGTERM or SIGINT is
passed on to every worker, each drains its own jobs, and the exit status is
0 when every worker's was; a worker that dies otherwise is replaced. The app
is made in each worker, so that its pool's threads live where the requests
are served.

    python -m app.production_server
"""
import asyncio
import ctypes
import logging
import os
import resource
import signal
import shutil
import socket
import subprocess
import sys
import tempfile

from app.config import load_config

METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# prctl(2): the signal a process gets when its parent ends.
PR_SET_PDEATHSIG = 1
# Connections waiting to be accepted.
BACKLOG = 2048
# The benchmark's comparison servers have no service log.
FALLBACK_LOGGER = logging.getLogger(__name__)


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


def serve(host, port, threads, make_app=None, inline=None):
    """Serve the app on granian in this process until a signal has drained it; the exit status.

    `make_app()` builds the app (app.create_app unless given: the benchmark
    serves variants of it). The hot routes run on the event loop (`inline`)
    unless the job store is shared; the benchmark says for its other servers.
    """
    # Imported here: the app (its pool's threads) is made in the worker.
    # pylint: disable=import-outside-toplevel
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    from app import create_app
    from app.guard import warn_if_exposed
    from app.rsgi_adapter import RsgiAdapter

    made = []

    def make_adapter():
        app = (make_app or create_app)()
        service = app.extensions.get("le_stats_sportif")
        if service is not None:
            warn_if_exposed(app, [host])
        made.append(app)
        local = service is not None and not service.store.shared
        return RsgiAdapter(app, _max_body_bytes(), threads, inline=local if inline is None else inline,
                           on_settled=service.on_settled if local else None)

    # The app is made by the server once it has set up logging, which
    # closes every handler made before (the service log's among them).
    server = Server(make_adapter, address=host, port=port, interface=Interfaces.RSGI, http=HTTPModes.http1,
                    websockets=False, backlog=BACKLOG, log_enabled=False, factory=True)
    return asyncio.run(_serve_until_drained(server, made))


async def _serve_until_drained(server, made):
    """Run `server`; the first SIGTERM or SIGINT drains the jobs, then stops it (a second exits at once).

    `made` holds the app once the server has made it.
    """
    loop = asyncio.get_running_loop()
    outcome = []

    def logger():
        return made[0].extensions.get("le_stats_sportif.logger", FALLBACK_LOGGER) if made else FALLBACK_LOGGER

    async def drain(name):
        service = made[0].extensions.get("le_stats_sportif") if made else None
        # Polls are still answered while the queued jobs finish; new jobs get 503.
        if service is None:
            finished = True
        else:
            logger().info("%s: draining %d jobs, then exiting", name, service.pool.pending)
            finished = await loop.run_in_executor(None, service.shutdown, True)
        logger().info("drained (%s), exiting", "all jobs finished" if finished else "timed out")
        outcome.append(0 if finished else 1)
        server.stop()

    def on_signal(signum):
        name = signal.Signals(signum).name
        if outcome or draining:
            logger().warning("%s again while draining: exiting now", name)
            # Lines the log still holds are written first: os._exit skips every clean-up.
            for handler in logger().handlers:
                handler.flush()
            os._exit(1)  # pylint: disable=protected-access
        draining.append(loop.create_task(drain(name)))

    draining = []
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    # A worker starts with these signals held (see supervise); one that came
    # while the app was being made is delivered now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    await server.serve()
    return outcome[0] if outcome else 0


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


def _check_address_free(host, port):
    """Bind the address once without SO_REUSEPORT: one in use is an error here, not a port
    silently shared with another server (granian's own sockets allow sharing)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def main(arguments):
    """Serve in this process, or supervise the workers; a worker listens beside the others."""
    host, port, workers, threads = settings()
    # Each idle connection is a descriptor: allow as many as the system lets us.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard or hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536 if hard == resource.RLIM_INFINITY else hard, hard))
    if arguments[:1] == ["--worker"]:
        _stop_with_parent()
        return serve(host, port, threads)
    _check_address_free(host, port)
    print(f"serving on http://{host}:{port} with {workers} worker(s) of {threads} threads",
          file=sys.stderr, flush=True)
    if workers == 1:
        return serve(host, port, threads)
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
