"""Job ids, statuses and result files, kept in one folder.

Every job is recorded in an append-only journal in the results folder when
it is accepted, and again if it fails, so that after a restart (even after
kill -9) ids go on from where they were, finished jobs keep their answers and
accepted jobs that never finished can be run again. Answers live in
`<job_id>.json` files that appear whole in one step (app.stores.result_files); a
job's file is the record that it is done, so success costs no journal entry.
Only the statuses, one byte a job, are held in memory.
"""
import contextlib
import json
import os
import threading

from app.stores.base import CODE_OF_STATUS as _CODES
from app.stores.base import STATUS_OF_CODE, AnswerRemoved, JobStatus, JobStore, Lookup, StorageError, job_name
from app.stores.result_files import ResultFiles, write_all

JOURNAL_NAME = ".journal"


def _describe(error):
    return f"{error.strerror or error} ({error.filename})" if error.filename else str(error)


class FileStore(JobStore):
    """The jobs of one results folder: create, finish, fail and read them."""

    def __init__(self, results_dir):
        self.results_dir = os.fspath(results_dir)
        self._journal_path = os.path.join(self.results_dir, JOURNAL_NAME)
        # The journal stays open between entries; _journal_size is its
        # length after the last whole entry.
        self._journal = None
        self._journal_size = 0
        self._files = ResultFiles(self.results_dir)
        # Guards the status table; _journal_lock guards the id counter and
        # the journal file, and is the only one held across a system call.
        self._lock = threading.Lock()
        self._journal_lock = threading.Lock()
        self._codes = bytearray(1)
        self._reasons = {}
        self._running = 0
        self._unfinished = {}
        os.makedirs(self.results_dir, exist_ok=True)
        self._replay()

    # -- reading ---------------------------------------------------------

    @property
    def last_id(self):
        """The newest id handed out (0 before the first job)."""
        return len(self._codes) - 1

    @property
    def running_count(self):
        """Jobs accepted and not yet finished."""
        return self._running

    def status(self, job_id):
        """The job's JobStatus, or None when there is no such job."""
        if 0 < job_id < len(self._codes):
            return STATUS_OF_CODE.get(self._codes[job_id])
        return None

    def reason(self, job_id):
        """Why a failed job failed."""
        return self._reasons.get(job_id, "the job failed")

    def result(self, job_id):
        """The encoded answer of a finished job.

        Raises FileNotFoundError when the file has been removed since.
        """
        return self._files.read(job_id)

    def lookup(self, job_id):
        status = self.status(job_id)
        if status is JobStatus.DONE:
            try:
                return Lookup(status, answer=self._files.read(job_id))
            except FileNotFoundError:
                raise AnswerRemoved(
                    f"the result of {job_name(job_id)} was removed from the results folder") from None
        if status is JobStatus.ERROR:
            return Lookup(status, reason=self.reason(job_id))
        return Lookup(status)

    def status_codes(self):
        """Every job's status as one byte, at the index of its id (0: no such job).

        STATUS_OF_CODE tells which JobStatus a byte stands for.
        """
        return bytes(self._codes)

    def take_unfinished(self):
        """The {job id: spec} of jobs a previous run accepted and never finished.

        They count as running until the caller runs them and records the
        outcome; the store hands them out once.
        """
        unfinished, self._unfinished = self._unfinished, {}
        return unfinished

    # -- writing ---------------------------------------------------------

    def create(self, spec):
        """Record a new job described by the JSON-able `spec`; return its id.

        Raises StorageError when the journal cannot be written, and then no
        job exists: a job that is not recorded could be lost.
        """
        with self._journal_lock:
            job_id = len(self._codes)
            self._append({"id": job_id, "spec": spec})
            with self._lock:
                self._codes.append(_CODES[JobStatus.RUNNING])
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
        # The file now on disk is the durable record; the journal needs no line.
        self._settle(job_id, JobStatus.DONE, None)

    def fail(self, job_id, reason):
        """Mark a job failed, for `reason`."""
        self._settle(job_id, JobStatus.ERROR, reason)

    # -- internals -------------------------------------------------------

    def _settle(self, job_id, status, reason):
        with self._lock:
            if self._codes[job_id] == _CODES[JobStatus.RUNNING]:
                self._running -= 1
            if status is JobStatus.ERROR:
                # Before the status, so a reader never sees an error without its reason.
                self._reasons[job_id] = reason
            self._codes[job_id] = _CODES[status]
        if status is JobStatus.DONE:
            return
        with self._journal_lock:
            try:
                self._append({"id": job_id, "status": status.value, "reason": reason})
            except StorageError:
                # The outcome stands in memory; after a restart the job is
                # found unfinished and rerun.
                pass

    def close(self):
        """Close the journal; a later entry opens it again."""
        with self._journal_lock:
            if self._journal is not None:
                os.close(self._journal)
                self._journal = None

    def _append(self, entry):
        """Add an entry to the journal; the caller holds the journal lock."""
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        try:
            self._in_results_dir(lambda: self._append_line(line))
        except OSError as error:
            raise StorageError(f"could not record the job: {_describe(error)}") from error

    def _append_line(self, line):
        # A journal deleted with the results folder has no links left:
        # it is started again rather than written to where nobody reads.
        if self._journal is None or os.fstat(self._journal).st_nlink == 0:
            self._open_journal()
        try:
            write_all(self._journal, line)
        except OSError:
            # A full disk can take part of a line: cut it off, or the
            # next entry would be glued to it and both lost on replay.
            os.ftruncate(self._journal, self._journal_size)
            raise
        self._journal_size += len(line)

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

    def _open_journal(self):
        if self._journal is not None:
            os.close(self._journal)
            self._journal = None
        os.makedirs(self.results_dir, exist_ok=True)
        self._journal = os.open(self._journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._journal_size = os.fstat(self._journal).st_size

    def _replay(self):
        specs, outcomes = {}, {}
        for entry in self._read_journal():
            if "spec" in entry:
                specs[entry["id"]] = entry["spec"]
            else:
                outcomes[entry["id"]] = entry
        on_disk = self._files.finished_ids()
        last = max([0, *specs, *outcomes, *on_disk])
        self._codes = bytearray(last + 1)
        for job_id in range(1, last + 1):
            outcome = outcomes.get(job_id)
            if job_id in on_disk or (outcome and outcome.get("status") == JobStatus.DONE.value):
                self._codes[job_id] = _CODES[JobStatus.DONE]
            elif outcome:
                self._codes[job_id] = _CODES[JobStatus.ERROR]
                self._reasons[job_id] = outcome.get("reason") or "the job failed"
            elif job_id in specs:
                self._codes[job_id] = _CODES[JobStatus.RUNNING]
                self._unfinished[job_id] = specs[job_id]
                self._running += 1

    def _read_journal(self):
        try:
            with open(self._journal_path, "rb") as journal:
                content = journal.read()
        except FileNotFoundError:
            return []
        complete = content[:content.rfind(b"\n") + 1]
        if len(complete) < len(content):
            # A crash cut the last line short: drop it, so that the next
            # entry starts on a line of its own. A folder that cannot be
            # written to now refuses new entries anyway.
            with contextlib.suppress(OSError):
                os.truncate(self._journal_path, len(complete))
        entries = []
        for line in complete.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                # A line cut short by a crash; everything before it counts.
                continue
            if isinstance(entry, dict) and isinstance(entry.get("id"), int) and 0 < entry["id"] < 10**9:
                entries.append(entry)
        return entries
