"""The thread that keeps a job store's history bounded: store.maintain() every so often.

The store says how often (maintenance_interval_s) and what it does: the file
store journals done jobs, forgets expired ones and compacts its journal;
the Redis store sweeps expired jobs out of its status chunks. A failure is
logged once, when it starts, and the rounds go on: a store out of reach now
is tidied once it is back.
"""
import threading

from app.stores.base import StoreUnavailable


class Housekeeper(threading.Thread):
    """Calls store.maintain() until stopped."""

    def __init__(self, store, logger):
        super().__init__(name="Housekeeper", daemon=True)
        self._store = store
        self._logger = logger
        self._stopped = threading.Event()

    def run(self):
        failing = False
        while not self._stopped.wait(self._store.maintenance_interval_s):
            try:
                self._store.maintain()
                failing = False
            except StoreUnavailable:
                # The heartbeat reports an unreachable store already.
                failing = True
            except Exception:  # pylint: disable=broad-exception-caught
                if not failing:
                    self._logger.exception("housekeeping of the job store failed")
                failing = True

    def stop(self):
        """No more rounds; returns once the thread has ended."""
        self._stopped.set()
        if self.is_alive():
            self.join()
