"""Serve one of the three servers of the benchmark on a WSGI server.

`python -m bench.serve ours|ceiling|naive --port 5100 [--wsgi granian|granian-wsgi|gunicorn|waitress]`
"granian" is what `make serve` runs (app.production_server: granian's RSGI
interface through app.rsgi_adapter, in this process); "granian-wsgi" is
granian's own WSGI interface with blocking threads, one worker process;
gunicorn runs gthread workers, our server with the settings and hooks of
gunicorn.conf.py, the address, the worker processes (one unless told) and
the threads given here; waitress is there to measure the other choice.
Settings of our server come from the environment as usual (LSS_CSV_PATH,
LSS_RESULTS_DIR, LSS_LOG_FILE, TP_NUM_OF_THREADS, LSS_REDIS_URL); the two
comparison servers read the same variables, so all three answer from the
same data.
"""
import argparse
import logging
import os
import sys

from app.config import load_config
from bench.breakdown import PARTS, switch_off

WSGI_THREADS = 8
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUNICORN_CONF = os.path.join(ROOT, "gunicorn.conf.py")


def build(kind, without=()):
    """The WSGI app of `kind`, configured from the environment.

    `without` names parts of our server to switch off (bench.breakdown).
    """
    config = load_config()
    if kind == "ours":
        # Imported here so that its signal handlers are installed only when
        # our server is the one being served.
        from api_server import app  # pylint: disable=import-outside-toplevel
        return switch_off(app, without)
    if kind == "ceiling":
        from bench.ceiling_server import create_ceiling_app  # pylint: disable=import-outside-toplevel
        return create_ceiling_app(config["CSV_PATH"])
    from bench.naive_server import create_naive_app  # pylint: disable=import-outside-toplevel
    return create_naive_app(config["CSV_PATH"], config["RESULTS_DIR"], config["LOG_FILE"],
                            config["NUM_THREADS"])


def serve_gunicorn(kind, port, threads, without=(),  # pylint: disable=too-many-positional-arguments
                   workers=1, reuse_port=False):
    """`workers` gunicorn worker processes with `threads` threads each.

    Our server takes the settings and hooks of gunicorn.conf.py (with
    several workers, its metrics summed over them through a folder of their
    own), which refuses several workers on the file store: its jobs belong
    to one process. The app is built in each worker, after the fork: threads
    started in the parent would not exist in the child. With `reuse_port`
    each worker listens on a socket of its own (SO_REUSEPORT) and the kernel
    spreads new connections over them; otherwise all workers accept from
    the master's one socket, whichever wakes first.
    """
    from gunicorn.app.base import Application  # pylint: disable=import-outside-toplevel

    if kind == "ours":
        # gunicorn.conf.py reads it when loaded, to count the workers.
        os.environ["LSS_WSGI_WORKERS"] = str(workers)

    class Served(Application):  # pylint: disable=abstract-method
        """gunicorn with its settings given here rather than on its command line."""

        def load_config(self):
            if kind == "ours":
                self.load_config_from_file(GUNICORN_CONF)
            for name, value in {"bind": f"127.0.0.1:{port}", "workers": workers, "worker_class": "gthread",
                                "threads": threads, "accesslog": None, "reuse_port": reuse_port,
                                "control_socket_disable": True}.items():
                self.cfg.set(name, value)

        def load(self):
            return build(kind, without)

    Served().run()


def serve_granian(kind, port, threads, without=()):
    """The server `make serve` runs, serving `kind`, in this process.

    The ceiling probe's routes run on the event loop like our hot routes; the
    naive baseline's, which filter a data frame per request, on threads.
    """
    from app.production_server import serve  # pylint: disable=import-outside-toplevel
    return serve("127.0.0.1", port, threads, make_app=lambda: build(kind, without),
                 inline=None if kind == "ours" else kind == "ceiling")


def granian_wsgi_target():
    """The app for granian's WSGI interface, named by the environment (see serve_granian_wsgi)."""
    return build(os.environ["LSS_BENCH_KIND"], [part for part in os.environ["LSS_BENCH_WITHOUT"].split(",") if part])


def serve_granian_wsgi(kind, port, threads, without=()):
    """granian's WSGI interface: one worker process, `threads` blocking threads."""
    # pylint: disable=import-outside-toplevel
    from granian import Granian
    from granian.constants import Interfaces

    os.environ["LSS_BENCH_KIND"], os.environ["LSS_BENCH_WITHOUT"] = kind, ",".join(without)
    Granian("bench.serve:granian_wsgi_target", address="127.0.0.1", port=port, interface=Interfaces.WSGI,
            workers=1, blocking_threads=threads, factory=True, log_enabled=False, websockets=False).serve()


def main(argv=None):
    """Parse the command line and serve until a signal ends the process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("kind", choices=("ours", "ceiling", "naive"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--wsgi", choices=("granian", "granian-wsgi", "gunicorn", "waitress"), default="granian")
    parser.add_argument("--threads", type=int, default=WSGI_THREADS, help="threads of the WSGI server")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn's worker processes")
    parser.add_argument("--reuse-port", action="store_true",
                        help="a listening socket per gunicorn worker (SO_REUSEPORT): the kernel spreads "
                             "the connections")
    parser.add_argument("--without", choices=PARTS, action="append", default=[],
                        help="switch a part of our server off, to measure what it costs")
    options = parser.parse_args(argv)
    if options.wsgi in ("granian", "granian-wsgi") and (options.workers != 1 or options.reuse_port):
        parser.error("granian serves one process here: --workers and --reuse-port are for gunicorn")
    if options.wsgi == "granian":
        return serve_granian(options.kind, options.port, options.threads, options.without)
    if options.wsgi == "granian-wsgi":
        serve_granian_wsgi(options.kind, options.port, options.threads, options.without)
    elif options.wsgi == "gunicorn":
        serve_gunicorn(options.kind, options.port, options.threads, options.without, options.workers,
                       options.reuse_port)
    else:
        if options.workers != 1 or options.reuse_port:
            parser.error("waitress serves from one process: --workers and --reuse-port are for gunicorn")
        import waitress  # pylint: disable=import-outside-toplevel
        # Under a closed-loop load every burst would print a warning that
        # requests wait for a thread.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        waitress.serve(build(options.kind, options.without), host="127.0.0.1", port=options.port,
                       threads=options.threads, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
