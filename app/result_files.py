"""The answer files of a results folder: each appears whole in one step and is read back whole.

Many jobs get the same answer, so an answer is written once, atomically, to
a shared `.answer-<hash>.json`, and each job's `job_id_N.json` is a hard link
to it: one system call a job instead of creating, writing, closing and
renaming a file, and one copy on disk. Where links cannot be made, each job's
file is written on its own, to a temporary file that then replaces it.
"""
import hashlib
import os
import re

RESULT_NAME = re.compile(r"job_id_([1-9][0-9]{0,6})\.json")
# How many shared answers are remembered before the memory starts afresh.
SHARED_ANSWERS_KEPT = 10000
# A result is read in one call when it is smaller than this.
READ_SIZE = 64 * 1024


class ResultFiles:
    """Write, read and list the `job_id_N.json` files of one folder."""

    def __init__(self, folder):
        self.folder = folder
        # encoded answer -> the path of a whole file holding it
        self._shared = {}
        self._links_work = True

    def path(self, job_id):
        """Where the answer of a job lives."""
        return os.path.join(self.folder, f"job_id_{job_id}.json")

    def write(self, job_id, encoded):
        """Give a job its answer file; raises OSError, and then no file appears."""
        path = self.path(job_id)
        temporary = os.path.join(self.folder, f".job_id_{job_id}.tmp")
        if not self._link_shared(encoded, path, temporary):
            self._write_atomically(encoded, path, temporary)

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

    def finished_ids(self):
        """The ids of the jobs that have an answer file."""
        found = set()
        for name in os.listdir(self.folder):
            match = RESULT_NAME.fullmatch(name)
            if match:
                found.add(int(match.group(1)))
        return found

    def _link_shared(self, encoded, path, temporary):
        """Make `path` a hard link to the shared file of `encoded`; False when it cannot be."""
        if not self._links_work:
            return False
        shared = self._shared.get(encoded)
        if shared is None:
            name = f".answer-{hashlib.blake2b(encoded, digest_size=16).hexdigest()}.json"
            shared = os.path.join(self.folder, name)
            self._write_atomically(encoded, shared, temporary)
            if len(self._shared) >= SHARED_ANSWERS_KEPT:
                self._shared.clear()
            self._shared[encoded] = shared
        try:
            os.link(shared, path)
        except FileNotFoundError:
            # The shared file went (with the results folder, say); it is
            # written again the next time it is needed.
            self._shared.pop(encoded, None)
            return False
        except FileExistsError:
            return False
        except OSError:
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

    def _write(self, path, data):
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except FileNotFoundError:
            # Someone removed the results folder while we were running.
            os.makedirs(self.folder, exist_ok=True)
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
