"""Serve one of the three servers of the benchmark on a WSGI server.

`python -m bench.serve ours|ceiling|naive --port 5100 [--wsgi gunicorn|waitress]`
gunicorn runs as `make serve` does (gunicorn.conf.py): one worker process
with threads; waitress is there to measure the other choice.
Settings of our server come from the environment as usual (LSS_CSV_PATH,
LSS_RESULTS_DIR, LSS_LOG_FILE, TP_NUM_OF_THREADS); the two comparison
servers read the same variables, so all three answer from the same data.
"""
import argparse
import logging
import sys

from app.config import load_config
from bench.breakdown import PARTS, switch_off

WSGI_THREADS = 8


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


def serve_gunicorn(kind, port, threads, without=()):
    """One gunicorn worker process with `threads` threads (the job store is per process).

    The app is built in the worker, after the fork: threads started in the
    parent would not exist in the child.
    """
    from gunicorn.app.base import BaseApplication  # pylint: disable=import-outside-toplevel

    class OneWorker(BaseApplication):  # pylint: disable=abstract-method
        """gunicorn with its settings given here rather than on its command line."""

        def load_config(self):
            for name, value in {"bind": f"127.0.0.1:{port}", "workers": 1, "worker_class": "gthread",
                                "threads": threads, "accesslog": None,
                                "control_socket_disable": True}.items():
                self.cfg.set(name, value)

        def load(self):
            return build(kind, without)

    OneWorker().run()


def main(argv=None):
    """Parse the command line and serve until a signal ends the process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("kind", choices=("ours", "ceiling", "naive"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--wsgi", choices=("gunicorn", "waitress"), default="gunicorn")
    parser.add_argument("--threads", type=int, default=WSGI_THREADS, help="threads of the WSGI server")
    parser.add_argument("--without", choices=PARTS, action="append", default=[],
                        help="switch a part of our server off, to measure what it costs")
    options = parser.parse_args(argv)
    if options.wsgi == "gunicorn":
        serve_gunicorn(options.kind, options.port, options.threads, options.without)
    else:
        import waitress  # pylint: disable=import-outside-toplevel
        # Under a closed-loop load every burst would print a warning that
        # requests wait for a thread.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        waitress.serve(build(options.kind, options.without), host="127.0.0.1", port=options.port,
                       threads=options.threads, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
