"""The journal of a file store: JSON lines appended in one write each, read back whole at start.

A line cut short by a crash is dropped when the journal is read, and an
entry the disk took only part of is cut off at once, so that the next entry
never ends up glued to a torn one. At a compaction the journal starts
afresh from a given offset: the lines before it are in the snapshot just
written, the lines after it were appended meanwhile and are kept.
"""
import contextlib
import json
import os

from app.stores.result_files import write_all


def _parse(line):
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        # A line cut short by a crash, or torn by a full disk; the others count.
        return None


def encode(entry):
    """An entry as the line the journal holds."""
    return (json.dumps(entry, separators=(",", ":")) + "\n").encode()


class Journal:
    """The journal file at `path`; the caller serialises every call but `read`."""

    def __init__(self, path):
        self.path = path
        # The journal stays open between entries; `size` is its length
        # after the last whole entry.
        self._descriptor = None
        self.size = 0

    def append(self, line):
        """Add one encoded line; raises OSError, and then the journal is as it was."""
        # A journal deleted with the results folder has no links left: it is
        # started again rather than written to where nobody reads.
        if self._descriptor is None or os.fstat(self._descriptor).st_nlink == 0:
            self._open()
        try:
            write_all(self._descriptor, line)
        except OSError:
            # A full disk can take part of a line: cut it off, or the next
            # entry would be glued to it and both lost on replay.
            os.ftruncate(self._descriptor, self.size)
            raise
        self.size += len(line)

    def read(self):
        """The entries (dicts) of the journal's whole lines, in order; [] when there is none."""
        try:
            with open(self.path, "rb") as journal:
                content = journal.read()
        except FileNotFoundError:
            return []
        complete = content[:content.rfind(b"\n") + 1]
        if self._descriptor is None:
            self.size = len(complete)
        if len(complete) < len(content):
            # A crash cut the last line short: drop it, so that the next
            # entry starts on a line of its own. A folder that cannot be
            # written to now refuses new entries anyway.
            with contextlib.suppress(OSError):
                os.truncate(self.path, len(complete))
        lines = complete.splitlines()
        try:
            # One parse for the whole journal: a start reads thousands of lines.
            entries = json.loads(b"[" + b",".join(lines) + b"]") if lines else []
        except (ValueError, RecursionError):
            entries = [_parse(line) for line in lines]
        return [entry for entry in entries if isinstance(entry, dict)]

    def mark(self):
        """(which file the journal is, its length now): where a compaction starts."""
        if self._descriptor is None or os.fstat(self._descriptor).st_nlink == 0:
            self._open()
        status = os.fstat(self._descriptor)
        return (status.st_dev, status.st_ino), self.size

    def restart(self, mark, head):
        """Make the journal `head` followed by what was appended since `mark`.

        Written to a temporary file renamed over the journal, so a kill
        leaves the old journal or the new one. Returns False, changing
        nothing, when the journal is no longer the file marked (the results
        folder was removed meanwhile).
        """
        identity, offset = mark
        status = os.fstat(self._descriptor) if self._descriptor is not None else None
        if status is None or status.st_nlink == 0 or (status.st_dev, status.st_ino) != identity:
            return False
        tail = os.pread(self._descriptor, self.size - offset, offset) if self.size > offset else b""
        temporary = self.path + ".tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            try:
                write_all(descriptor, head + tail)
            finally:
                os.close(descriptor)
            os.replace(temporary, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.remove(temporary)
            raise
        self._open()
        return True

    def close(self):
        """Close the file; the next entry opens it again."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def _open(self):
        self.close()
        self._descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self.size = os.fstat(self._descriptor).st_size
