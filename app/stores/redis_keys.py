"""Every Redis key of the service, named in one place.

All start with "lss:", so one Redis can hold other things beside them. The
keys of one job, one answer, one process or one data set are made from a
prefix below and the thing's id, inside the Lua scripts too (which is why
the scripts get these prefixes as arguments).
"""

PREFIX = "lss:"

# INCR: the newest job id handed out.
NEXT_ID = PREFIX + "next_id"
# The status bytes of the jobs (app.stores.base.CODE_OF_STATUS), one string per
# 100,000 ids: "lss:statuses:<id // 100000>", the byte at id % 100000. Chunks keep
# every offset far below the 512 MB a Redis string may hold, whatever the id (up
# to 2**63 - 1), and a chunk whose jobs all expired is deleted whole.
STATUSES = PREFIX + "statuses"
STATUS_CHUNK = STATUSES + ":"
CHUNK_DIGITS = 5
# A hash: chunk number -> how many of its jobs are kept (not expired).
LIVE_CHUNKS = PREFIX + "live_chunks"
# A list: the ids of the jobs settled while a retention time was set, in the
# order they settled; the sweep walks it from the front to find expired jobs.
SETTLED = PREFIX + "settled"
# An integer: jobs accepted and not yet finished, in the whole cluster.
RUNNING = PREFIX + "running"
# An integer bumped by every cluster-wide shutdown; a process serves while it is
# the value it read when it started.
SHUTDOWN_EPOCH = PREFIX + "shutdown_epoch"
# A set: the processes that may own unfinished jobs.
PROCESSES = PREFIX + "processes"
# A hash: data set id -> its description (JSON: name, upload time, rows, questions).
# Its length and the lengths of the dataset_csv strings are the quota in use,
# counted afresh by the script that adds one (app.stores.redis_datasets).
DATASETS = PREFIX + "datasets"

# A hash per job: "spec" (JSON), "owner" (a process id), "submitted_at" and
# once settled "finished_at" (seconds since the epoch, as the processes that
# created and settled it read their clocks; neither in the hash of a job
# recorded before they were kept), and "answer" (the digest of its answer)
# or "reason" (why it failed).
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


def status_chunk(job_id):
    """(the key of the chunk holding a job's status byte, the byte's offset in it)."""
    chunk, offset = divmod(job_id, 10**CHUNK_DIGITS)
    return f"{STATUS_CHUNK}{chunk}", offset


def heartbeat(process):
    """The heartbeat of one process."""
    return HEARTBEAT + process


def owned(process):
    """The unfinished jobs of one process."""
    return OWNED + process


def dataset_csv(dataset_id):
    """The CSV of one data set."""
    return DATASET_CSV + dataset_id
