"""The snapshot of a file store: its status table in one file, which appears whole in one step.

A JSON header line (the base id, how many ids follow, the reasons of the
failed jobs and the specs of the running ones) and then two binary blocks:
a status byte and a settle time (a float64) for every id from the base.
Reading it costs a read of about nine bytes per kept job, however many jobs
were ever run. It is written to a temporary file that a rename puts in
place, so a kill at any moment leaves the previous snapshot or this one.
"""
import contextlib
import json
import os
from dataclasses import dataclass, field

from app.stores.result_files import write_all

SNAPSHOT_NAME = ".snapshot"
MAGIC = b"LSS snapshot 1\n"


class BrokenSnapshot(ValueError):
    """The snapshot file is not one this store wrote whole."""


@dataclass
class Snapshot:
    """What a snapshot holds."""

    base: int
    codes: bytes
    times: bytes
    reasons: dict = field(default_factory=dict)
    specs: dict = field(default_factory=dict)


def write(folder, snapshot):
    """Put `snapshot` in `folder` in one step; returns its size in bytes. Raises OSError."""
    header = json.dumps({"base": snapshot.base, "count": len(snapshot.codes),
                         "reasons": {str(job_id): reason for job_id, reason in snapshot.reasons.items()},
                         "specs": {str(job_id): spec for job_id, spec in snapshot.specs.items()}},
                        separators=(",", ":")).encode()
    data = b"".join([MAGIC, header, b"\n", snapshot.codes, snapshot.times])
    path = os.path.join(folder, SNAPSHOT_NAME)
    temporary = path + ".tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(descriptor, data)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    return len(data)


def read(folder):
    """The Snapshot in `folder`, or None when there is none. Raises BrokenSnapshot."""
    path = os.path.join(folder, SNAPSHOT_NAME)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return None
    end = data.find(b"\n", len(MAGIC))
    try:
        if not data.startswith(MAGIC) or end < 0:
            raise ValueError("no header")
        header = json.loads(data[len(MAGIC):end])
        count = header["count"]
        body = data[end + 1:]
        if len(body) != 9 * count:
            raise ValueError(f"{len(body)} bytes for {count} jobs")
        return Snapshot(base=int(header["base"]), codes=body[:count], times=body[count:],
                        reasons={int(job_id): reason for job_id, reason in header["reasons"].items()},
                        specs={int(job_id): spec for job_id, spec in header["specs"].items()})
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BrokenSnapshot(f"{path} is damaged ({error}); move it away to start without the "
                             "history it holds") from None
