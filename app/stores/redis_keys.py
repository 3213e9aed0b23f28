"""Every Redis key of the service, named in one place.

All start with "lss:", so one Redis can hold other things beside them. The
keys of one job, one answer, one process or one data set are made from a
prefix below and the thing's id, inside the Lua scripts too (which is why
the scripts get these prefixes as arguments).
"""

PREFIX = "lss:"

# INCR: the newest job id handed out.
NEXT_ID = PREFIX + "next_id"
# A string of one status byte a job, at the offset of its id (app.stores.base.CODE_OF_STATUS).
STATUSES = PREFIX + "statuses"
# An integer: jobs accepted and not yet finished, in the whole cluster.
RUNNING = PREFIX + "running"
# An integer bumped by every cluster-wide shutdown; a process serves while it is
# the value it read when it started.
SHUTDOWN_EPOCH = PREFIX + "shutdown_epoch"
# A set: the processes that may own unfinished jobs.
PROCESSES = PREFIX + "processes"
# A hash: data set id -> its description (JSON: name, upload time, rows, questions).
DATASETS = PREFIX + "datasets"

# A hash per job: its spec (JSON), its owner (a process id), and once settled
# the digest of its answer or the reason it failed.
JOB = PREFIX + "job:"
# A string per distinct answer, named by its digest: every job with that answer points at it.
ANSWER = PREFIX + "answer:"
# A key per live process, with a time to live that its heartbeats renew.
HEARTBEAT = PREFIX + "heartbeat:"
# A set per process: the ids of the unfinished jobs it owns.
OWNED = PREFIX + "owned:"
# A string per data set: the uploaded CSV as it came.
DATASET_CSV = PREFIX + "dataset_csv:"


def job(job_id):
    """The hash of one job."""
    return f"{JOB}{job_id}"


def heartbeat(process):
    """The heartbeat of one process."""
    return HEARTBEAT + process


def owned(process):
    """The unfinished jobs of one process."""
    return OWNED + process


def dataset_csv(dataset_id):
    """The CSV of one data set."""
    return DATASET_CSV + dataset_id
