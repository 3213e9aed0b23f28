"""Job ids, statuses and result files, kept in one folder.

Every job is recorded in an append-only journal in the results folder when
it is accepted, and again if it fails, so that after a restart (even after
kill -9) ids go on from where they were, finished jobs keep their answers and
accepted jobs that never finished can be run again. Answers live in
`<job_id>.json` files that appear whole in one step (app.stores.result_files);
a job's file is the record that it is done, so success costs no journal
write of its own: done jobs are journaled in batches by maintain(), which
also forgets the jobs settled longer ago than the retention time (and
removes their files) and, once the journal has grown, writes a snapshot of
the statuses (app.stores.snapshot) and starts the journal afresh. A start
reads the snapshot and the journal written since, never the whole history
nor the folder's listing. Only a row for each kept job (its status, its
settle time, its spec's number and its submit time: 21 bytes) and each
distinct spec once are held in memory (app.stores.status_table).
"""
import collections
import contextlib
import json
import os
import threading
import time

from app.stores import recovery
from app.stores import snapshot as snapshots
from app.stores.base import (MAX_JOB_ID, STATUS_OF_CODE, AnswerRemoved, JobExpired, JobRecord, JobStore,
                             Lookup, StorageError, job_name)
from app.stores.journal import Journal, encode
from app.stores.result_files import ResultFiles
from app.stores.status_table import DONE, ERROR, GONE, RUNNING, spec_text

JOURNAL_NAME = ".journal"
SNAPSHOT_NAME = snapshots.SNAPSHOT_NAME
# The journal is compacted once it holds this much, or a sixteenth of the
# snapshot's size if that is more: a start then reads at most a snapshot and
# a sixteenth, and compaction rewrites the snapshot no more often than that.
# A byte of journal costs a start far more than a byte of snapshot (a parse,
# not a copy): at 1,000,000 jobs a start reads a snapshot of 21 MB and at
# most 1.3 MB of journal.
COMPACT_BYTES = 1024 * 1024
SNAPSHOT_SHARE = 16
# ... or once the snapshot holds this many more ids than the table now keeps
# (and twice as many): after jobs expired, a start reads only the kept ones.
STALE_IDS = 4096
# Expired jobs' files removed by one round of maintain().
REMOVALS_PER_ROUND = 20000


def _describe(error):
    return f"{error.strerror or error} ({error.filename})" if error.filename else str(error)


class FileStore(JobStore):  # pylint: disable=too-many-instance-attributes
    """The jobs of one results folder: create, finish, fail, read and forget them.

    `ttl_s` is the retention time (0: every job is kept); `clock` gives the
    time in seconds since the epoch.
    """

    def __init__(self, results_dir, ttl_s=0.0, compact_bytes=COMPACT_BYTES, clock=time.time):
        self.results_dir = os.fspath(results_dir)
        self.ttl_s = ttl_s
        self.maintenance_interval_s = min(1.0, max(0.05, ttl_s / 4)) if ttl_s else 1.0
        self._compact_bytes = compact_bytes
        self._clock = clock
        self._journal = Journal(os.path.join(self.results_dir, JOURNAL_NAME))
        self._files = ResultFiles(self.results_dir)
        # Guards the status table; _journal_lock guards the id counter and
        # the journal file, and is the one held across system calls.
        self._lock = threading.Lock()
        self._journal_lock = threading.Lock()
        # Done jobs not yet journaled; maintain() writes them in one line.
        self._done_unjournaled = []
        self._snapshot_bytes = 0
        self._snapshot_ids = 0
        os.makedirs(self.results_dir, exist_ok=True)
        for leftover in (SNAPSHOT_NAME + ".tmp", JOURNAL_NAME + ".tmp"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(self.results_dir, leftover))
        self._table, self._unfinished = self._replay()
        self._running = len(self._table.running_ids())
        # Jobs that expired while the service was stopped are forgotten at
        # once; their files go in the next rounds of maintain(), off the start's path.
        self._unremoved = collections.deque()
        if ttl_s:
            self._unremoved.append(self._table.expire(self._clock(), ttl_s))

    # -- reading ---------------------------------------------------------

    @property
    def last_id(self):
        """The newest id handed out (0 before the first job)."""
        return self._table.last

    @property
    def running_count(self):
        """Jobs accepted and not yet finished."""
        return self._running

    def status(self, job_id):
        code = self._kept_code(job_id)
        if code is None:
            return None
        if code == DONE and not os.path.exists(self._files.path(job_id)):
            raise self._removed(job_id)
        return STATUS_OF_CODE[code]

    def reason(self, job_id):
        """Why a failed job failed."""
        return self._table.reasons.get(job_id, "the job failed")

    def result(self, job_id):
        """The encoded answer of a finished job.

        Raises FileNotFoundError when the file has been removed since.
        """
        return self._files.read(job_id)

    def lookup(self, job_id):
        code = self._kept_code(job_id)
        if code == DONE:
            try:
                return Lookup(STATUS_OF_CODE[code], answer=self._files.read(job_id))
            except FileNotFoundError:
                raise self._removed(job_id) from None
        if code == ERROR:
            return Lookup(STATUS_OF_CODE[code], reason=self.reason(job_id))
        return Lookup(STATUS_OF_CODE.get(code))

    def id_bounds(self):
        with self._lock:
            return self._table.base, self._table.last

    def status_range(self, start, stop):
        with self._lock:
            first, codes = self._table.range(start, stop)
        return [(first, codes)] if codes else []

    def kept_count(self):
        with self._lock:
            return self._table.kept_count()

    def take_unfinished(self):
        """The {job id: spec} of jobs a previous run accepted and never finished.

        They count as running until the caller runs them and records the
        outcome; the store hands them out once.
        """
        unfinished, self._unfinished = self._unfinished, {}
        return unfinished

    def record(self, job_id):
        """The job's JobRecord, read in one look at the table; None for no such job. Raises JobExpired."""
        with self._lock:
            table = self._table
            code = table.code(job_id) if job_id > 0 else None
            kept = code in (RUNNING, DONE, ERROR)
            settled_at = table.settled_at(job_id) if kept else 0.0
            text, submitted_at = table.request(job_id) if kept else (None, 0.0)
            reason = table.reasons.get(job_id, "the job failed") if code == ERROR else None
        self._check_kept(job_id, code, settled_at)
        if code is None:
            return None
        spec = None if text is None else json.loads(text)
        return JobRecord(STATUS_OF_CODE[code], spec, submitted_at or None,
                         None if code == RUNNING else settled_at, reason)

    def _kept_code(self, job_id):
        """The job's status byte; None for no such job. Raises JobExpired."""
        with self._lock:
            code = self._table.code(job_id) if job_id > 0 else None
            settled_at = self._table.settled_at(job_id) if code in (DONE, ERROR) else 0.0
        self._check_kept(job_id, code, settled_at)
        return code

    def _check_kept(self, job_id, code, settled_at):
        """Raise JobExpired for a job forgotten, or settled longer than the retention time ago."""
        settled_long_ago = code in (DONE, ERROR) and self.ttl_s and settled_at + self.ttl_s <= self._clock()
        if code == GONE or settled_long_ago:
            raise JobExpired(f"{job_name(job_id)} expired")

    @staticmethod
    def _removed(job_id):
        return AnswerRemoved(f"the result of {job_name(job_id)} was removed from the results folder")

    # -- writing ---------------------------------------------------------

    def create(self, spec):
        """Record a new job described by the JSON-able `spec`; return its id.

        Raises StorageError when the journal cannot be written, and then no
        job exists: a job that is not recorded could be lost.
        """
        # The spec's text is both the key it is kept under and its part of
        # the journal's line: encoded once, before the lock.
        text = spec_text(spec)
        with self._journal_lock:
            job_id = self._table.last + 1
            if job_id > MAX_JOB_ID:
                raise StorageError(f"no job id is left: ids stop at {MAX_JOB_ID}")
            # Read under the lock, so that submit times go up with the ids;
            # a float, whose repr is its JSON.
            now = float(self._clock())
            self._append(f'{{"id":{job_id},"spec":{text},"at":{now!r}}}\n'.encode())
            with self._lock:
                self._table.add(text, now)
                self._running += 1
            return job_id

    def finish(self, job_id, encoded):
        """Store a job's encoded answer and mark it done.

        The job's file appears in a single step, a link to a whole shared
        file or a temporary file renamed, so a reader sees the whole answer
        or none. Raises StorageError (the job stays running) when that fails.
        """
        try:
            self._in_results_dir(lambda: self._files.write(job_id, encoded))
        except OSError as error:
            raise StorageError(f"could not write the result: {_describe(error)}") from error
        # The file now on disk is the durable record; the journal hears of it in the next batch.
        with self._lock:
            if self._settle(job_id, DONE, None) is not None:
                self._done_unjournaled.append(job_id)

    def fail(self, job_id, reason):
        """Mark a job failed, for `reason`."""
        with self._lock:
            settled_at = self._settle(job_id, ERROR, reason)
        if settled_at is None:
            return
        with self._journal_lock:
            try:
                self._append(encode({"id": job_id, "status": "error", "reason": reason, "at": settled_at}))
            except StorageError:
                # The outcome stands in memory; after a restart the job is
                # found unfinished and rerun.
                pass

    def _settle(self, job_id, code, reason):
        """When the job settled now; None when it was not running (the first outcome stands).

        The caller holds the lock.
        """
        now = self._clock()
        if not self._table.settle(job_id, code, now, reason):
            return None
        self._running -= 1
        return now

    # -- housekeeping ----------------------------------------------------

    def maintain(self):
        """Journal the done jobs, forget the expired ones, compact the journal once it has grown."""
        self._journal_done()
        if self.ttl_s:
            self.expire()
        grown = self._journal.size >= max(self._compact_bytes, self._snapshot_bytes // SNAPSHOT_SHARE)
        if grown or self._snapshot_is_stale():
            self.compact()

    def expire(self):
        """Forget the jobs settled longer than the retention time ago, and remove their files.

        At most REMOVALS_PER_ROUND files a round, so that a million expired
        at once do not hold up the rest of the housekeeping for long.
        """
        with self._lock:
            self._unremoved.append(self._table.expire(self._clock(), self.ttl_s))
        removed = 0
        while self._unremoved and removed < REMOVALS_PER_ROUND:
            batch = self._unremoved.popleft()
            now, later = batch[:REMOVALS_PER_ROUND - removed], batch[REMOVALS_PER_ROUND - removed:]
            if len(later):
                self._unremoved.appendleft(later)
            for job_id in now.tolist():
                self._files.remove(job_id)
            removed += len(now)

    def _snapshot_is_stale(self):
        kept_ids = len(self._table.codes)
        return self._snapshot_ids > max(2 * kept_ids, kept_ids + STALE_IDS)

    def compact(self):
        """Write a snapshot of the statuses and start the journal afresh; False when it could not.

        Only the copy of the table (the specs no kept job has dropped first)
        and the restart of the journal hold the journal lock; the snapshot
        is written meanwhile. A kill between any two steps leaves a snapshot
        and a journal that replay to the same jobs: lines the new snapshot
        covers change nothing when replayed.
        """
        try:
            with self._journal_lock:
                mark = self._journal.mark()
                with self._lock:
                    table = self._table
                    table.drop_unused_specs()
                    state = snapshots.Snapshot(table.base, bytes(table.codes), table.times.tobytes(),
                                               table.spec_numbers.tobytes(), table.submitted.tobytes(),
                                               list(table.spec_texts), dict(table.reasons))
                    last = table.last
            size = snapshots.write(self.results_dir, state)
            with self._journal_lock:
                if not self._journal.restart(mark, encode({"last": last})):
                    return False
        except OSError:
            # A results folder removed or full: the journal goes on, and the
            # next round tries again.
            return False
        self._snapshot_bytes, self._snapshot_ids = size, len(state.codes)
        return True

    def close(self):
        """Journal the done jobs and close the journal; a later entry opens it again."""
        self._journal_done()
        with self._journal_lock:
            self._journal.close()

    def _journal_done(self):
        with self._lock:
            done, self._done_unjournaled = self._done_unjournaled, []
        if done:
            with self._journal_lock:
                try:
                    self._append(encode({"done": done, "at": self._clock()}))
                except StorageError:
                    # Their files are their record: a restart finds them done,
                    # unless a file is removed before then.
                    pass

    # -- internals -------------------------------------------------------

    def _append(self, line):
        """Add an encoded entry to the journal; the caller holds the journal lock."""
        try:
            self._in_results_dir(lambda: self._journal.append(line))
        except OSError as error:
            raise StorageError(f"could not record the job: {_describe(error)}") from error

    def _in_results_dir(self, action, attempts=3):
        """Run `action`; if someone removed the results folder meanwhile, make it again and retry."""
        for attempt in range(1, attempts + 1):
            try:
                action()
                return
            except FileNotFoundError:
                if attempt == attempts:
                    raise
                # Raised when the folder went again before makedirs could see
                # it, or when a file stands in its place: the retry tells.
                with contextlib.suppress(FileExistsError):
                    os.makedirs(self.results_dir, exist_ok=True)

    def _replay(self):
        now = self._clock()
        snapshot = snapshots.read(self.results_dir)
        if snapshot is not None:
            self._snapshot_ids = len(snapshot.codes)
            self._snapshot_bytes = self._snapshot_ids * snapshots.JOB_BYTES
        entries = self._journal.read()
        if snapshot is None and not entries and not os.path.exists(self._journal.path):
            # No record at all: answer files left from a lost journal still
            # hold their ids, so that none is handed out again.
            return recovery.from_files(self._files.finished_ids(), now), {}
        return recovery.rebuild(snapshot, entries, self._files, now)
