"""gunicorn's settings for `make serve`, the production way to run the server.

With the file store, one worker process, because the job store (ids and
statuses) belongs to the process that serves. With LSS_REDIS_URL, the jobs
live in Redis and every worker shares them: one worker per core, each with
its own queue and pool, and the metrics of /metrics summed over them
(prometheus_client's multiprocess mode, in a folder made for this run).
Threads in each worker (gthread), because a job is a lookup and a request
mostly waits on sockets, files or Redis. The app is loaded in each worker
after the fork, so that the thread pool runs where the requests are.
FLASK_RUN_HOST, FLASK_RUN_PORT, LSS_WSGI_WORKERS and LSS_WSGI_THREADS
change the defaults.
"""
import os
import shutil
import tempfile

SHARED_STORE = bool(os.environ.get("LSS_REDIS_URL", "").strip())

bind = f"{os.environ.get('FLASK_RUN_HOST', '127.0.0.1')}:{os.environ.get('FLASK_RUN_PORT', '5000')}"
workers = int(os.environ.get("LSS_WSGI_WORKERS") or (os.cpu_count() or 1 if SHARED_STORE else 1))
if workers > 1 and not SHARED_STORE:
    raise SystemExit("several workers need LSS_REDIS_URL: the file store belongs to one process")
worker_class = "gthread"
threads = int(os.environ.get("LSS_WSGI_THREADS", "8"))
preload_app = False
# The service logs every request itself, in webserver.log.
accesslog = None
# The control socket's default path is one per user, which several servers
# on one machine would take from each other; nothing here uses it.
control_socket_disable = True

if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Read by prometheus_client when a worker imports it, after the fork.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="lss-metrics-")
    _METRICS_DIR_MADE = os.environ["PROMETHEUS_MULTIPROC_DIR"]
else:
    _METRICS_DIR_MADE = None


def worker_int(worker):
    """Drain the accepted jobs before the worker stops on SIGINT or SIGQUIT.

    The worker's own SIGTERM and SIGINT handlers (app.lifecycle) already
    drain; this covers the quick stop the master sends when it gets SIGINT.
    """
    worker.wsgi.extensions["le_stats_sportif"].shutdown(wait=True)


def child_exit(_server, worker):
    """A worker that ended: its live gauges no longer count."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Imported here, not above: prometheus_client reads the folder's
        # setting when first imported, which must come after it is set.
        from prometheus_client import multiprocess  # pylint: disable=import-outside-toplevel
        multiprocess.mark_process_dead(worker.pid)


def on_exit(_server):
    """Remove the metrics folder this run made."""
    if _METRICS_DIR_MADE:
        shutil.rmtree(_METRICS_DIR_MADE, ignore_errors=True)
