"""Jobs: what a statistics request becomes between the routes and the pool.

A job is described by a small JSON-able spec (the statistic, its question,
its state and its data set), which the store journals so that it can be run
again after a crash. Running it is a closure over the data set's ingestor;
its answer, encoded once per data set and kept by the ingestor, is handed to
the store as bytes.
"""
from app.data_ingestor import STATISTICS
from app.datasets import DEFAULT_DATASET
from app.job_listing import JobListing
from app.job_store import StorageError
from app.task_runner import WorkItem


def make_spec(statistic, question, state=None, dataset=None):
    """The spec of a job; `state` only for the statistics that take one."""
    spec = {"statistic": statistic, "question": question}
    if STATISTICS[statistic]:
        spec["state"] = state
    if dataset is not None:
        spec["dataset"] = dataset
    return spec


class JobService:
    """Accepts jobs into the store and the pool, and records their outcomes."""

    def __init__(self, store, pool, catalog, logger):
        self.store = store
        self.listing = JobListing(store)
        self.pool = pool
        self.catalog = catalog
        self.logger = logger
        for job_id, spec in store.take_unfinished().items():
            self.logger.info("rerunning job_id_%d, unfinished at the last stop", job_id)
            pool.submit(lambda job_id=job_id, spec=spec: self._work_item(job_id, spec), bounded=False)

    def submit(self, spec):
        """Accept a job and return its id.

        Raises PoolShutDown, PoolFull or StorageError; no job exists then.
        """
        return self.pool.submit(lambda: self._work_item(self.store.create(spec), spec)).key

    def shutdown(self, wait=False, timeout=None):
        """Stop intake and let the queued jobs finish; see ThreadPool.shutdown."""
        finished = self.pool.shutdown(wait=wait, timeout=timeout)
        if wait and finished:
            self.store.close()
        return finished

    def _work_item(self, job_id, spec):
        def compute():
            ingestor = self.catalog.get(spec.get("dataset", DEFAULT_DATASET))
            return ingestor.encoded(spec["statistic"], spec["question"], spec.get("state"))

        def record(encoded, error):
            if error is None:
                try:
                    self.store.finish(job_id, encoded)
                    return
                except Exception as storing_error:  # pylint: disable=broad-exception-caught
                    # However storing fails, the job must end as an error
                    # rather than stay running for ever.
                    error = storing_error
            self.logger.error("job_id_%d failed: %s", job_id, error)
            self.store.fail(job_id, str(error) if isinstance(error, StorageError)
                            else f"the statistic could not be computed: {error!r}")

        return WorkItem(compute, record, key=job_id)
