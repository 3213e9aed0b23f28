"""gunicorn's settings for `make serve`, the production way to run the server.

One worker process, because the job store (ids and statuses) belongs to the
process that serves; threads in it (gthread), because a job is a lookup and
a request mostly waits on sockets and files. The app is loaded in the worker
after the fork, so that the thread pool runs where the requests are.
FLASK_RUN_HOST, FLASK_RUN_PORT and LSS_WSGI_THREADS change the defaults.
"""
import os

bind = f"{os.environ.get('FLASK_RUN_HOST', '127.0.0.1')}:{os.environ.get('FLASK_RUN_PORT', '5000')}"
workers = 1
worker_class = "gthread"
threads = int(os.environ.get("LSS_WSGI_THREADS", "8"))
preload_app = False
# The service logs every request itself, in webserver.log.
accesslog = None
# The control socket's default path is one per user, which several servers
# on one machine would take from each other; nothing here uses it.
control_socket_disable = True


def worker_int(worker):
    """Drain the accepted jobs before the worker stops on SIGINT or SIGQUIT.

    The worker's own SIGTERM and SIGINT handlers (app.lifecycle) already
    drain; this covers the quick stop the master sends when it gets SIGINT.
    """
    worker.wsgi.extensions["le_stats_sportif"].shutdown(wait=True)
