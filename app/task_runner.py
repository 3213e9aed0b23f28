"""A fixed pool of worker threads that run jobs from one queue.

The pool knows nothing about statistics or files: a job is a callable, and
whoever submits it also says how its outcome is recorded.
"""
import logging
import queue
import threading


class PoolShutDown(RuntimeError):
    """The pool has been asked to stop and takes no more work."""


class PoolFull(RuntimeError):
    """As many jobs wait as the pool was told to hold."""


class WorkItem:
    """A callable and the function that records its outcome.

    `record(value, error)` receives the callable's return value, or the
    exception it raised; exactly one of the two is not None. `key` names
    the item for whoever submitted it.
    """

    def __init__(self, fn, record, key=None):
        self.fn = fn
        self.record = record
        self.key = key

    def run(self):
        """Run the callable and hand its outcome to `record`."""
        try:
            value = self.fn()
        except Exception as error:  # pylint: disable=broad-exception-caught
            # A failing job is an outcome like any other; the worker goes on.
            self.record(None, error)
        else:
            self.record(value, None)


class TaskRunner(threading.Thread):
    """A worker: takes items from the queue until it meets the sentinel."""

    def __init__(self, pool, index):
        super().__init__(name=f"TaskRunner-{index}", daemon=True)
        self._pool = pool

    def run(self):
        while True:
            item = self._pool.queue.get()
            if item is None:
                return
            try:
                item.run()
            except Exception:  # pylint: disable=broad-exception-caught
                # Only `record` can get here; losing the worker would stall
                # every job behind this one, so log it and carry on.
                self._pool.logger.exception("recording a job's outcome failed")
            finally:
                self._pool.finished_one()


class ThreadPool:
    """`num_threads` TaskRunner threads over one unbounded queue.

    The queue itself is unbounded so that the sentinels of a shutdown can
    always be put without blocking; the bound on waiting jobs is enforced
    by counting under `_lock` instead.
    """

    def __init__(self, num_threads, max_pending=0, logger=None):
        if num_threads < 1:
            raise ValueError("a pool needs at least one thread")
        self.queue = queue.Queue()
        self.logger = logger or logging.getLogger(__name__)
        self.max_pending = max_pending
        self._pending = 0
        # Guards _pending and orders submissions against the shutdown's
        # sentinels: no job may be queued behind them, or it would never run.
        self._lock = threading.Lock()
        # Jobs admitted but not yet queued; the sentinels wait for them.
        self._admitting = 0
        self._no_admissions = threading.Condition(self._lock)
        self._shutdown = threading.Event()
        self._threads = [TaskRunner(self, index) for index in range(num_threads)]
        for thread in self._threads:
            thread.start()

    @property
    def num_threads(self):
        """How many workers the pool was built with."""
        return len(self._threads)

    @property
    def pending(self):
        """Jobs queued or running."""
        return self._pending

    @property
    def is_shutting_down(self):
        """Whether shutdown() has been called."""
        return self._shutdown.is_set()

    def submit(self, make_item, bounded=True):
        """Queue the WorkItem that `make_item()` returns, if it can be run.

        `make_item` is called only once the job is admitted, so that whatever
        it records (an id, say) belongs to a job that will run. It may raise,
        and then nothing is queued.
        Raises PoolShutDown after shutdown(), PoolFull when `bounded` and
        `max_pending` jobs are already waiting.
        """
        with self._lock:
            if self._shutdown.is_set():
                raise PoolShutDown("the pool is shutting down")
            if bounded and self.max_pending and self._pending >= self.max_pending:
                raise PoolFull(f"{self._pending} jobs are waiting")
            self._pending += 1
            self._admitting += 1
        # make_item may wait on a disk; holding the lock across it would
        # make every other submission and every finishing worker wait too.
        try:
            item = make_item()
        except BaseException:
            with self._lock:
                self._pending -= 1
                self._admitted_one()
            raise
        self.queue.put(item)
        with self._lock:
            self._admitted_one()
        return item

    def _admitted_one(self):
        """An admission is over; the caller holds the lock."""
        self._admitting -= 1
        if not self._admitting:
            self._no_admissions.notify_all()

    def finished_one(self):
        """Called by a worker when an item has run."""
        with self._lock:
            self._pending -= 1

    def shutdown(self, wait=True, timeout=None):
        """Take no more work; let the workers finish what is queued, then stop.

        Returns whether every worker has stopped (always True when waiting
        without a timeout).
        """
        with self._lock:
            first = not self._shutdown.is_set()
            self._shutdown.set()
            # Every caller waits, not only the first: whoever returns from
            # here may count the jobs left, and those being admitted count.
            self._no_admissions.wait_for(lambda: not self._admitting)
            if first:
                for _ in self._threads:
                    self.queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join(timeout)
        return not any(thread.is_alive() for thread in self._threads)
