"""The answer files of a results folder: each appears whole in one step and is read back whole.

Many jobs get the same answer, so only the first job to get an answer has
its file written (to a temporary file that then replaces it); the next jobs
with the same answer get their `job_id_N.json` as a hard link to that file:
one system call a job instead of creating, writing, closing and renaming a
file, and one copy of each answer on disk. The folder holds nothing but the
jobs' files. Where links cannot be made, every job's file is written.
"""
import errno
import os
import re

from app.stores.base import MAX_JOB_ID

# Any id up to 2**63 - 1 (app.stores.base.MAX_JOB_ID): 19 digits at most.
RESULT_NAME = re.compile(r"job_id_([1-9][0-9]{0,18})\.json")
# How many answers' files are remembered before the memory starts afresh.
ANSWERS_KEPT = 10000
# A result is read in one call when it is smaller than this.
READ_SIZE = 64 * 1024


class ResultFiles:
    """Write, read and list the `job_id_N.json` files of one folder."""

    def __init__(self, folder):
        self.folder = folder
        # encoded answer -> the path of a job's file that holds it
        self._file_of = {}
        self._links_work = True

    def path(self, job_id):
        """Where the answer of a job lives."""
        return os.path.join(self.folder, f"job_id_{job_id}.json")

    def write(self, job_id, encoded):
        """Give a job its answer file; raises OSError, and then no file appears."""
        path = self.path(job_id)
        if self._link_to_same_answer(encoded, path):
            return
        self._write_atomically(encoded, path, os.path.join(self.folder, f".job_id_{job_id}.tmp"))
        if self._links_work:
            if len(self._file_of) >= ANSWERS_KEPT:
                self._file_of.clear()
            self._file_of[encoded] = path

    def read(self, job_id):
        """The answer of a job; raises FileNotFoundError when it has none."""
        descriptor = os.open(self.path(job_id), os.O_RDONLY)
        try:
            chunks = [os.read(descriptor, READ_SIZE)]
            # A short read of a regular file means its end: most results
            # take one call, without asking the file's size first.
            while len(chunks[-1]) == READ_SIZE:
                chunks.append(os.read(descriptor, READ_SIZE))
        finally:
            os.close(descriptor)
        return b"".join(chunks)

    def remove(self, job_id):
        """Remove a job's answer file, if it has one."""
        _remove_quietly(self.path(job_id))

    def finished_ids(self):
        """The ids of the jobs that have an answer file."""
        found = set()
        for name in os.listdir(self.folder):
            match = RESULT_NAME.fullmatch(name)
            if match and int(match.group(1)) <= MAX_JOB_ID:
                found.add(int(match.group(1)))
        return found

    def _link_to_same_answer(self, encoded, path):
        """Make `path` a hard link to an earlier job's file of `encoded`; False when there is none."""
        earlier = self._file_of.get(encoded) if self._links_work else None
        if earlier is None:
            return False
        try:
            os.link(earlier, path)
        except (FileNotFoundError, FileExistsError):
            # The earlier file went (removed, or with the results folder), or
            # this job has a file already: it is written and becomes the one
            # later jobs link to.
            return False
        except OSError as error:
            if error.errno == errno.EMLINK:
                # The earlier file has as many links as the file system
                # allows; this job's file is written and links start anew.
                return False
            # A file system without hard links: every job gets its own file.
            self._links_work = False
            return False
        return True

    def _write_atomically(self, data, path, temporary):
        try:
            self._write(temporary, data)
            os.replace(temporary, path)
        except OSError:
            _remove_quietly(temporary)
            raise

    @staticmethod
    def _write(path, data):
        # A missing folder is the caller's to make again (JobStore._in_results_dir).
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(descriptor, data)
        finally:
            os.close(descriptor)


def write_all(descriptor, data):
    """Write all of `data`: os.write may take only part of it."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass
