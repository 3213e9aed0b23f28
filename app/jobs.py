"""Jobs: what a statistics request becomes between the routes and the pool.

A job is described by a small JSON-able spec (the statistic, its question,
its state and its data set), which the store records so that it can be run
again after a crash, by this process or, with a shared store, by another.
Running it is a closure over the data set's ingestor; its answer, encoded
once per data set and kept by the ingestor, is handed to the store as bytes.
"""
import collections
import threading

from app.cluster import ClusterMonitor
from app.data_ingestor import STATISTICS, AnswerTooLarge
from app.datasets import DEFAULT_DATASET, DatasetUnusable, UnknownDataset
from app.housekeeping import Housekeeper
from app.job_listing import JobListing
from app.stores.base import IntakeClosed, StorageError, StoreUnavailable
from app.task_runner import PoolShutDown, WorkItem


class JobFailed(Exception):
    """A job cannot give its answer, for a reason a client can read as it is."""


def make_spec(statistic, question, state=None, dataset=None):
    """The spec of a job; `state` only for the statistics that take one."""
    spec = {"statistic": statistic, "question": question}
    if STATISTICS[statistic]:
        spec["state"] = state
    if dataset is not None:
        spec["dataset"] = dataset
    return spec


def spec_request(spec):
    """What a spec asks, with every field: the state None for a statistic without one, the data set's id."""
    return {"statistic": spec["statistic"], "question": spec["question"], "state": spec.get("state"),
            "dataset": spec.get("dataset", DEFAULT_DATASET)}


class JobService:  # pylint: disable=too-many-instance-attributes
    """Accepts jobs into the store and the pool, and records their outcomes."""

    def __init__(self, store, pool, catalog, logger, metrics):
        self.store = store
        self.listing = JobListing(store)
        self.pool = pool
        self.catalog = catalog
        self.logger = logger
        self.metrics = metrics
        # (job id, answer, reason) of outcomes the store could not take when
        # they came (a shared store out of reach); recorded at the next beat.
        self._unrecorded = collections.deque()
        self._recording = threading.Lock()
        # Ids of the jobs in this process's pool, from admission until recorded,
        # and what to call once each is (on_settled); guarded by _settling.
        self._in_pool = set()
        self._when_settled = {}
        self._settling = threading.Lock()
        # Owned jobs found not running at the last reconcile(); rerun if still so at the next.
        self._suspects = set()
        for job_id, spec in store.take_unfinished().items():
            self.rerun(job_id, spec, "unfinished at the last stop")
        self._monitor = ClusterMonitor(self, store.beat_interval_s, logger) if store.shared else None
        if self._monitor:
            self._monitor.start()
        self._housekeeper = Housekeeper(store, logger)
        self._housekeeper.start()

    def submit(self, spec):
        """Accept a job and return its id.

        Raises PoolShutDown, PoolFull or StorageError; no job exists then.
        """
        try:
            return self.pool.submit(lambda: self._admit(spec)).key
        except IntakeClosed:
            # Another process asked the cluster to stop: this one stops too,
            # once its admission is over (shutdown waits for admissions).
            self.shutdown(wait=False)
            raise PoolShutDown("the cluster is shutting down") from None

    def _admit(self, spec):
        item = self._work_item(self.store.create(spec), spec)
        self.metrics.submitted.inc()
        self.metrics.waiting.inc()
        return item

    def rerun(self, job_id, spec, why):
        """Run again a job the store has but no pool does."""
        self.logger.info("rerunning job_id_%d, %s", job_id, why)

        def admit():
            self.metrics.waiting.inc()
            return self._work_item(job_id, spec)

        self.pool.submit(admit, bounded=False)

    def adopt(self, heartbeat):
        """Act on what the cluster said at a heartbeat; the store is reachable then."""
        if heartbeat.shutdown and not self.pool.is_shutting_down:
            self.logger.info("the cluster was asked to shut down: draining %d jobs", self.pool.pending)
            self.pool.shutdown(wait=False)
        for job_id, spec in heartbeat.claimed.items():
            try:
                self.rerun(job_id, spec, "claimed from a process that stopped beating")
                self.metrics.takeovers.inc()
            except PoolShutDown:
                # Still owned by this process: claimed again once it has left.
                self.logger.warning("job_id_%d claimed while shutting down; left for another process",
                                    job_id)
        self.record_unrecorded()

    def reconcile(self):
        """Rerun the jobs the store says this process owns but that it is not running.

        A call that timed out may still have been run by the store: a job
        created that way was never queued here and would stay running for
        ever. A job is rerun only when found so twice, a few seconds apart,
        so that one between its creation and its queueing is left alone.
        """
        owned = self.store.owned_ids()
        with self._settling:
            busy = set(self._in_pool)
        busy |= {job_id for job_id, _, _ in list(self._unrecorded)}
        orphans = owned - busy
        ripe, self._suspects = orphans & self._suspects, orphans - self._suspects
        if ripe and not self.pool.is_shutting_down:
            for job_id, spec in self.store.specs(ripe).items():
                self.rerun(job_id, spec, "recorded in the store but never queued")

    def shutdown(self, wait=False, timeout=None):
        """Stop intake and let the queued jobs finish; see ThreadPool.shutdown."""
        finished = self.pool.shutdown(wait=wait, timeout=timeout)
        if wait and finished:
            if self._monitor:
                self._monitor.stop()
            self._housekeeper.stop()
            self.record_unrecorded()
            self.store.close()
        return finished

    def record_unrecorded(self):
        """Record the outcomes kept while the store was out of reach, until it fails again."""
        with self._recording:
            while self._unrecorded:
                job_id, encoded, reason = self._unrecorded[0]
                try:
                    if reason is None:
                        self.store.finish(job_id, encoded)
                    else:
                        self.store.fail(job_id, reason)
                except StoreUnavailable:
                    return
                self._unrecorded.popleft()
                self.logger.info("job_id_%d's outcome recorded after the store came back", job_id)

    def _work_item(self, job_id, spec):
        with self._settling:
            self._in_pool.add(job_id)

        def compute():
            dataset = spec.get("dataset", DEFAULT_DATASET)
            try:
                ingestor = self.catalog.get(dataset)
            except UnknownDataset:
                # It was there when the job was accepted.
                raise JobFailed(f"the data set {dataset} was deleted before the job ran") from None
            except DatasetUnusable as error:
                raise JobFailed(str(error)) from None
            try:
                return ingestor.encoded(spec["statistic"], spec["question"], spec.get("state"))
            except AnswerTooLarge as error:
                raise JobFailed(str(error)) from None

        def record(encoded, error):
            self.metrics.waiting.dec()
            try:
                settle(encoded, error)
            finally:
                self._left_pool(job_id)

        def settle(encoded, error):
            if error is None:
                try:
                    self.store.finish(job_id, encoded)
                    self.metrics.finished.inc()
                    return
                except StoreUnavailable as unreachable:
                    self._keep(job_id, encoded, None, unreachable)
                    return
                except Exception as storing_error:  # pylint: disable=broad-exception-caught
                    # However storing fails, the job must end as an error
                    # rather than stay running for ever.
                    error = storing_error
            elif isinstance(error, StoreUnavailable):
                # Its data set could not be fetched from a shared store out of
                # reach: not the job's fault, and an error would stand for good.
                # It stays this process's and unsettled, and reconcile() runs it again.
                self.logger.error("job_id_%d left to run again: %s", job_id, error)
                return
            self.logger.error("job_id_%d failed: %s", job_id, error)
            self.metrics.failed.inc()
            reason = (str(error) if isinstance(error, (StorageError, JobFailed))
                      else f"the statistic could not be computed: {error!r}")
            try:
                self.store.fail(job_id, reason)
            except StoreUnavailable as unreachable:
                self._keep(job_id, None, reason, unreachable)

        return WorkItem(compute, record, key=job_id)

    def on_settled(self, job_id, callback):
        """Have `callback()` called, on a pool thread, once the job's outcome is recorded.

        Returns False, and never calls it, when the job is not in this
        process's pool (unknown, settled already, or another process's).
        """
        with self._settling:
            if job_id not in self._in_pool:
                return False
            self._when_settled.setdefault(job_id, []).append(callback)
            return True

    def _left_pool(self, job_id):
        with self._settling:
            self._in_pool.discard(job_id)
            callbacks = self._when_settled.pop(job_id, ())
        for callback in callbacks:
            callback()

    def _keep(self, job_id, encoded, reason, error):
        self.logger.error("job_id_%d's outcome kept until the store is back: %s", job_id, error)
        self._unrecorded.append((job_id, encoded, reason))
