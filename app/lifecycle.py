"""Ending the process: SIGINT and SIGTERM drain the queue, then exit."""
import os
import signal
import sys
import threading


def drain_on_signals(app, timeout=None):
    """Install handlers that stop intake, wait for every accepted job, then exit 0.

    A second signal while draining exits at once with status 1; the jobs
    still unfinished are in the journal and run after the next start.
    Only the main thread can install signal handlers, so elsewhere (a
    server that imports the app from a worker thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    service = app.extensions["le_stats_sportif"]
    logger = app.extensions["le_stats_sportif.logger"]
    draining = threading.Event()

    def handle(signum, _frame):
        name = signal.Signals(signum).name
        if draining.is_set():
            logger.warning("%s again while draining: exiting now", name)
            os._exit(1)
        draining.set()
        # The pool's own count: this process's jobs, and no call to a store
        # that may be out of reach.
        logger.info("%s: draining %d jobs, then exiting", name, service.pool.pending)
        finished = service.shutdown(wait=True, timeout=timeout)
        logger.info("drained (%s), exiting", "all jobs finished" if finished else "timed out")
        sys.exit(0 if finished else 1)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
