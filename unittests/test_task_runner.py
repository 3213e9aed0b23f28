"""The hand-written pool: thread count, concurrency, drain, refusal, failures."""
import os
import threading
import time

import pytest

from app import create_app
from app.config import ConfigError, load_config
from app.task_runner import PoolFull, PoolShutDown, ThreadPool, WorkItem


class Outcomes:
    """Collects what WorkItems record."""

    def __init__(self):
        self.values, self.errors = [], []
        self._lock = threading.Lock()

    def record(self, value, error):
        with self._lock:
            (self.errors if error else self.values).append(error or value)


@pytest.fixture(name="pool")
def fixture_pool():
    pools = []

    def make(num_threads, max_pending=0):
        pools.append(ThreadPool(num_threads, max_pending))
        return pools[-1]

    yield make
    for pool in pools:
        pool.shutdown(wait=True, timeout=10)


def test_the_thread_count_follows_tp_num_of_threads(monkeypatch, tmp_path, small_csv):
    monkeypatch.setenv("TP_NUM_OF_THREADS", "3")
    app = create_app({"CSV_PATH": str(small_csv), "RESULTS_DIR": str(tmp_path / "r"),
                      "LOG_FILE": str(tmp_path / "log"), "DATASETS_DIR": str(tmp_path / "d")})
    pool = app.extensions["le_stats_sportif"].pool
    try:
        assert pool.num_threads == 3
        runners = [t for t in threading.enumerate() if t.name.startswith("TaskRunner")]
        assert len(runners) >= 3
    finally:
        pool.shutdown(wait=True, timeout=10)


def test_the_default_thread_count_is_the_cpu_count():
    assert load_config({}, environ={})["NUM_THREADS"] == os.cpu_count()
    assert load_config({}, environ={"TP_NUM_OF_THREADS": "4"})["NUM_THREADS"] == 4


@pytest.mark.parametrize("value", ["0", "-2", "many", "2.5"])
def test_an_unusable_thread_count_is_refused_at_start(value):
    with pytest.raises(ConfigError, match="TP_NUM_OF_THREADS"):
        load_config({}, environ={"TP_NUM_OF_THREADS": value})


def test_jobs_run_concurrently(pool):
    # Four jobs that each wait for the other three can only finish on four threads at once.
    barrier = threading.Barrier(4, timeout=10)
    outcomes = Outcomes()
    workers = pool(4)
    for _ in range(4):
        workers.submit(lambda: WorkItem(lambda: barrier.wait() is not None, outcomes.record))
    workers.shutdown(wait=True)
    assert outcomes.errors == [] and outcomes.values == [True] * 4


def test_a_drain_finishes_every_accepted_job(pool):
    outcomes = Outcomes()
    workers = pool(2)
    for number in range(200):
        workers.submit(lambda number=number: WorkItem(lambda: time.sleep(0.001) or number, outcomes.record))
    assert workers.shutdown(wait=True) is True
    assert sorted(outcomes.values) == list(range(200))


def test_nothing_is_accepted_after_shutdown(pool):
    workers = pool(2)
    workers.shutdown(wait=False)
    made = []
    with pytest.raises(PoolShutDown):
        workers.submit(lambda: made.append(1))
    assert made == [] and workers.is_shutting_down


def test_a_failing_job_is_recorded_and_its_worker_survives(pool):
    outcomes = Outcomes()
    workers = pool(1)
    workers.submit(lambda: WorkItem(lambda: {}["missing"], outcomes.record))
    workers.submit(lambda: WorkItem(lambda: "after", outcomes.record))
    workers.shutdown(wait=True)
    assert [type(error) for error in outcomes.errors] == [KeyError]
    assert outcomes.values == ["after"]


def test_a_failing_recorder_does_not_kill_the_worker(pool):
    outcomes = Outcomes()
    workers = pool(1)

    def broken_record(value, error):
        raise OSError("disk gone")

    workers.submit(lambda: WorkItem(lambda: 1, broken_record))
    workers.submit(lambda: WorkItem(lambda: 2, outcomes.record))
    workers.shutdown(wait=True)
    assert outcomes.values == [2]


def test_the_bound_refuses_and_queues_nothing(pool):
    release = threading.Event()
    outcomes = Outcomes()
    workers = pool(1, max_pending=2)
    for _ in range(2):
        workers.submit(lambda: WorkItem(lambda: release.wait(10), outcomes.record))
    with pytest.raises(PoolFull):
        workers.submit(lambda: WorkItem(lambda: "extra", outcomes.record))
    release.set()
    workers.shutdown(wait=True)
    assert outcomes.values == [True, True]


def test_an_item_that_cannot_be_made_queues_nothing(pool):
    workers = pool(1)

    def refuse():
        raise OSError("journal full")

    with pytest.raises(OSError):
        workers.submit(refuse)
    assert workers.pending == 0


def test_a_pool_needs_a_thread():
    with pytest.raises(ValueError):
        ThreadPool(0)


class HeldAdmission:
    """A submission held while its item is made, as one waiting on a slow journal write."""

    def __init__(self, workers, make_item):
        self.errors = []
        self._making, self._release = threading.Event(), threading.Event()

        def held_item():
            self._making.set()
            self._release.wait(10)
            return make_item()

        def submit():
            try:
                workers.submit(held_item)
            except OSError as error:
                self.errors.append(error)

        self._submitter = in_background(submit)
        assert self._making.wait(10)

    def release(self):
        """Let the item be made, and wait for the submission to end."""
        self._release.set()
        self._submitter.join(10)


def in_background(function, **kwargs):
    """`function(**kwargs)` started in a thread of its own."""
    thread = threading.Thread(target=function, kwargs=kwargs)
    thread.start()
    return thread


def test_a_job_admitted_before_a_shutdown_runs_even_if_it_is_queued_after_it(pool):
    # The item is made outside the pool's lock (making it writes the journal),
    # so a shutdown can start in between: its sentinels must wait for the item.
    outcomes = Outcomes()
    workers = pool(1)
    admission = HeldAdmission(workers, lambda: WorkItem(lambda: "admitted", outcomes.record))
    stopper = in_background(workers.shutdown, wait=True)
    stopper.join(0.2)
    assert stopper.is_alive(), "the shutdown did not wait for the job being admitted"
    with pytest.raises(PoolShutDown):
        workers.submit(lambda: WorkItem(lambda: "late", outcomes.record))
    admission.release()
    stopper.join(10)
    assert outcomes.values == ["admitted"] and workers.pending == 0


def test_an_admission_that_fails_during_a_shutdown_does_not_hold_it_up(pool):
    workers = pool(1)

    def refuse():
        raise OSError("journal full")

    admission = HeldAdmission(workers, refuse)
    stopper = in_background(workers.shutdown, wait=True)
    admission.release()
    stopper.join(10)
    assert not stopper.is_alive() and len(admission.errors) == 1 and workers.pending == 0


def test_every_shutdown_call_waits_for_the_admissions_in_progress(pool):
    # /api/graceful_shutdown may be called again while the first call waits;
    # the second must not return, and report the jobs left, before the job
    # being admitted counts among them.
    outcomes = Outcomes()
    workers = pool(1)
    admission = HeldAdmission(workers, lambda: WorkItem(lambda: "admitted", outcomes.record))
    first = in_background(workers.shutdown, wait=False)
    for _ in range(1000):
        if workers.is_shutting_down:
            break
        time.sleep(0.001)
    second = in_background(workers.shutdown, wait=False)
    second.join(0.2)
    assert second.is_alive(), "a second shutdown returned while a job was being admitted"
    admission.release()
    for thread in (first, second):
        thread.join(10)
    assert workers.shutdown(wait=True) is True
    assert outcomes.values == ["admitted"]
