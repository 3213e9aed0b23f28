"""The heartbeat of a process that shares its jobs with others (a shared job store).

A thread of its own beats every few tenths of a second: the store renews
the process's heartbeat and answers whether the cluster was asked to shut
down and which jobs of dead processes this one now owns; the service acts
on that. Every few seconds it also asks the service to look for jobs the
store says this process owns but that it is not running. A store out of
reach is logged once when it goes and once when it comes back, and the
beats go on.
"""
import threading
import time

from app.stores.base import StoreUnavailable

# Beats between two looks for owned jobs that are not running.
RECONCILE_EVERY = 10


class ClusterMonitor(threading.Thread):
    """Beats for a JobService every `interval_s` until stopped."""

    def __init__(self, service, interval_s, logger):
        super().__init__(name="ClusterMonitor", daemon=True)
        self._service = service
        self._interval_s = interval_s
        self._logger = logger
        self._stopped = threading.Event()

    def run(self):
        store = self._service.store
        # Since when the store has answered every beat; None while it does not.
        reachable_since = None
        failing = False
        beats = 0
        while True:
            try:
                # Claim only once reachable for quiet_s: a process just started
                # or just reconnected would otherwise take for dead the others
                # whose heartbeats expired while Redis was away.
                steady = reachable_since is not None and time.monotonic() - reachable_since >= store.quiet_s
                heartbeat = store.beat(claim=steady and not self._service.pool.is_shutting_down)
                if reachable_since is None:
                    reachable_since = time.monotonic()
                if failing:
                    self._logger.info("the job store is reachable again")
                    failing = False
                self._service.adopt(heartbeat)
                beats += 1
                if beats % RECONCILE_EVERY == 0:
                    self._service.reconcile()
            except StoreUnavailable as error:
                if not failing:
                    self._logger.error("heartbeat failed: %s", error)
                    failing = True
                reachable_since = None
            except Exception:  # pylint: disable=broad-exception-caught
                # Losing this thread would stop the heartbeat of a live
                # process and hand its jobs to others: log and go on.
                self._logger.exception("acting on a heartbeat failed")
            if self._stopped.wait(self._interval_s):
                return

    def stop(self):
        """Beat no more; returns once the thread has ended."""
        self._stopped.set()
        if self.is_alive():
            self.join()
