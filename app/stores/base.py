"""What every job store keeps and answers, whatever it keeps it in.

A store hands out ids, records each job's spec before its id is returned,
and records the outcome: an encoded answer or a failure reason. Readers ask
it for a job's status and, in the same call, its answer or reason, so that
a poll costs one look-up in any backend. A job settled longer ago than the retention
time is expired: readers are told so (JobExpired), and its id stays used.
Each kept job's spec and the times it was submitted and settled are kept
too (record), so that a client can ask what a job was asked and when. A
store shared by several processes (`shared`) also tells each of them, at
every heartbeat, whether the cluster was asked to stop and which jobs of
dead processes it now owns.
"""
import enum
from dataclasses import dataclass, field


class JobStatus(enum.Enum):
    """What a client is told about a job."""

    RUNNING = "running"
    DONE = "done"
    ERROR = "error"


# One byte a job, in memory or in Redis; 0 means no such job.
CODE_OF_STATUS = {JobStatus.RUNNING: 1, JobStatus.DONE: 2, JobStatus.ERROR: 3}
STATUS_OF_CODE = {code: status for status, code in CODE_OF_STATUS.items()}


class StorageError(OSError):
    """The store could not record something; the message says why."""


class StoreUnavailable(StorageError):
    """The store cannot be reached now; the request may be tried again later."""


class AnswerRemoved(LookupError):
    """A finished job's answer is no longer kept; the message says where it went."""


class JobExpired(LookupError):
    """The job settled longer ago than the retention time: it is forgotten, its id never reused."""


# The largest id any store hands out: Redis counts with signed 64-bit integers.
MAX_JOB_ID = 2**63 - 1


class IntakeClosed(RuntimeError):
    """The cluster was asked to shut down: no job may be accepted."""


def job_name(job_id):
    """The public name of a job: job_id_N."""
    return f"job_id_{job_id}"


@dataclass(frozen=True)
class Lookup:
    """A job as a reader sees it: its status and, once settled, its answer or reason.

    `status` is None when there is no such job.
    """

    status: JobStatus | None
    answer: bytes | None = None
    reason: str | None = None


@dataclass(frozen=True)
class JobRecord:
    """What a job was asked, when, and how it ended (its answer stays with lookup).

    Times are seconds since the epoch: `finished_at` is None while the job
    runs, and `spec` and `submitted_at` are None for a job recorded by a
    version of the store that did not keep them.
    """

    status: JobStatus
    spec: dict | None
    submitted_at: float | None
    finished_at: float | None = None
    reason: str | None = None


@dataclass
class Heartbeat:
    """What a shared store tells a process when it beats."""

    # The cluster was asked to stop since this process started.
    shutdown: bool = False
    # {job id: spec} of dead processes' unfinished jobs, now this process's to run.
    claimed: dict = field(default_factory=dict)


class JobStore:
    """The interface of a job store; app.stores.open_store picks the backend."""

    # Whether other processes share the jobs (and so need heartbeats).
    shared = False
    # Seconds between two calls of maintain().
    maintenance_interval_s = 1.0

    def create(self, spec):
        """Record a new job described by the JSON-able `spec`; return its id.

        Raises StorageError (no job exists then) or IntakeClosed.
        """
        raise NotImplementedError

    def finish(self, job_id, encoded):
        """Store a job's encoded answer and mark it done; raises StorageError."""
        raise NotImplementedError

    def fail(self, job_id, reason):
        """Mark a job failed, for `reason`; raises StorageError."""
        raise NotImplementedError

    def lookup(self, job_id):
        """The job's Lookup.

        Raises JobExpired for an expired job, AnswerRemoved when a finished
        job's answer was removed, OSError when it cannot be read
        (StoreUnavailable when the store cannot be reached).
        """
        raise NotImplementedError

    def status(self, job_id):
        """The job's JobStatus, or None when there is no such job.

        Raises JobExpired and AnswerRemoved as lookup does, so that both
        tell a client the same.
        """
        raise NotImplementedError

    def record(self, job_id):
        """The job's JobRecord, or None when there is no such job.

        Raises JobExpired as lookup does, StoreUnavailable when the store
        cannot be reached.
        """
        raise NotImplementedError

    def id_bounds(self):
        """(the lowest id that may still be kept, the newest id handed out); (1, 0) before any job."""
        raise NotImplementedError

    def status_range(self, start, stop):
        """The status bytes of the kept jobs with ids in [start, stop).

        A list of (first id, bytes), ascending and apart; byte i is the
        status of job first id + i, 0 for a job not listed (expired).
        """
        raise NotImplementedError

    def kept_count(self):
        """How many jobs the full job list holds."""
        raise NotImplementedError

    def maintain(self):
        """Housekeeping done now and then by a thread of the service: expiry, compaction."""

    @property
    def running_count(self):
        """Jobs accepted and not yet finished (in the whole cluster, when shared)."""
        raise NotImplementedError

    def take_unfinished(self):
        """{job id: spec} of jobs accepted by an earlier run of this store and never finished."""
        return {}

    def beat(self, claim=True):  # pylint: disable=unused-argument
        """Tell the cluster this process lives; return a Heartbeat.

        With `claim`, the jobs of processes that stopped beating become this
        process's to run.
        """
        return Heartbeat()

    def owned_ids(self):
        """The ids of the unfinished jobs this process owns in a shared store."""
        return set()

    def specs(self, job_ids):  # pylint: disable=unused-argument
        """{job id: spec} of jobs the store has."""
        return {}

    def request_shutdown(self):
        """Ask every process sharing the store to stop intake (itself included)."""

    def ping(self):
        """Raise StoreUnavailable when the store cannot take work now."""

    def close(self):
        """Release what the store holds; called once no job is left to record."""
