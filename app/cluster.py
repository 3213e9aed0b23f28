"""The heartbeat of a process that shares its jobs with others (a shared job store).

A thread of its own beats every few tenths of a second: the store renews
the process's heartbeat and answers whether the cluster was asked to shut
down and which jobs of dead processes this one now owns; the service acts
on that. A store out of reach is logged once when it goes and once when it
comes back, and the beats go on.
"""
import threading

from app.stores.base import StoreUnavailable


class ClusterMonitor(threading.Thread):
    """Beats for a JobService every `interval_s` until stopped."""

    def __init__(self, service, interval_s, logger):
        super().__init__(name="ClusterMonitor", daemon=True)
        self._service = service
        self._interval_s = interval_s
        self._logger = logger
        self._stopped = threading.Event()

    def run(self):
        reachable = True
        while True:
            try:
                heartbeat = self._service.store.beat(claim=not self._service.pool.is_shutting_down)
            except StoreUnavailable as error:
                if reachable:
                    self._logger.error("heartbeat failed: %s", error)
                reachable = False
            else:
                if not reachable:
                    self._logger.info("the job store is reachable again")
                reachable = True
                try:
                    self._service.adopt(heartbeat)
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
