"""The snapshot of a file store: its status table in one file, which appears whole in one step.

A JSON header line (the base id, how many ids follow, the reasons of the
failed jobs and the distinct specs, each as its compact JSON text) and then
four binary blocks, each with an entry for every id from the base: a status
byte, a settle time (a float64), a spec number (a uint32 indexing the specs,
NO_SPEC when not known) and a submit time (a float64, 0 when not known).
Reading it costs a read of about 21 bytes per kept job, however many jobs
were ever run, straight into the table's arrays. It is written to a
temporary file that a rename puts in place, so a kill at any moment leaves
the previous snapshot or this one.

Version 1, written before specs and submit times were kept, has only the
first two blocks and the specs of the running jobs in its header; it is
still read, its other jobs then have neither.
"""
import array
import contextlib
import json
import os
from dataclasses import dataclass, field

import numpy

from app.stores.result_files import write_all
from app.stores.status_table import NO_SPEC

SNAPSHOT_NAME = ".snapshot"
MAGIC = b"LSS snapshot 2\n"
MAGIC_1 = b"LSS snapshot 1\n"
# The bytes of the four blocks for one job.
JOB_BYTES = 1 + 8 + 4 + 8


class BrokenSnapshot(ValueError):
    """The snapshot file is not one this store wrote whole."""


@dataclass
class Snapshot:  # pylint: disable=too-many-instance-attributes
    """What a snapshot holds: the columns of a StatusTable, its spec texts and reasons.

    The columns are bytes when written, and arrays when read, as a
    StatusTable takes them. `running_specs` ({id: spec} of the running
    jobs) comes only from a version 1 snapshot, whose `spec_numbers` and
    `submitted` are None.
    """

    base: int
    codes: object
    times: object
    spec_numbers: object = None
    submitted: object = None
    spec_texts: list = field(default_factory=list)
    reasons: dict = field(default_factory=dict)
    running_specs: dict = field(default_factory=dict)


def write(folder, snapshot):
    """Put `snapshot` in `folder` in one step; returns its size in bytes. Raises OSError."""
    header = json.dumps({"base": snapshot.base, "count": len(snapshot.codes),
                         "reasons": {str(job_id): reason for job_id, reason in snapshot.reasons.items()},
                         "specs": snapshot.spec_texts},
                        separators=(",", ":")).encode()
    # Written block by block: joined, a million jobs would cost 21 MB more for a moment.
    parts = [MAGIC + header + b"\n", snapshot.codes, snapshot.times, snapshot.spec_numbers,
             snapshot.submitted]
    path = os.path.join(folder, SNAPSHOT_NAME)
    temporary = path + ".tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for part in parts:
                write_all(descriptor, part)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    return sum(len(part) for part in parts)


def read(folder):
    """The Snapshot in `folder`, or None when there is none. Raises BrokenSnapshot."""
    path = os.path.join(folder, SNAPSHOT_NAME)
    try:
        with open(path, "rb") as file:
            return _parse(file)
    except FileNotFoundError:
        return None
    except EOFError:
        raise BrokenSnapshot(f"{path} is damaged (cut short); move it away to start without the "
                             "history it holds") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BrokenSnapshot(f"{path} is damaged ({error}); move it away to start without the "
                             "history it holds") from None


def _parse(file):
    magic = file.read(len(MAGIC))
    line = file.readline()
    if magic not in (MAGIC, MAGIC_1) or not line.endswith(b"\n"):
        raise ValueError("no header")
    header = json.loads(line)
    snapshot = (_version_1 if magic == MAGIC_1 else _version_2)(header, file)
    if file.read(1):
        raise ValueError(f"more bytes than {header['count']} jobs take")
    return snapshot


def _column(file, typecode, count):
    """`count` items read from the file into an array made for them: no other copy of their bytes is made."""
    column = array.array(typecode, [0]) * count
    with memoryview(column) as items, items.cast("B") as raw:
        if file.readinto(raw) != len(raw):
            raise EOFError
    return column


def _count(header):
    count = header["count"]
    if not isinstance(count, int) or count < 0:
        raise ValueError(f"{count!r} is not a number of jobs")
    return count


def _reasons(header):
    return {int(job_id): reason for job_id, reason in header["reasons"].items()}


def _version_2(header, file):
    count = _count(header)
    codes, times = _column(file, "B", count), _column(file, "d", count)
    spec_numbers, submitted = _column(file, "I", count), _column(file, "d", count)
    spec_texts = header["specs"]
    if not all(isinstance(text, str) for text in spec_texts):
        raise ValueError("a spec that is not a text")
    numbers = numpy.frombuffer(spec_numbers, dtype=numpy.uint32)
    if ((numbers >= len(spec_texts)) & (numbers != NO_SPEC)).any():
        raise ValueError("a spec number beyond the specs")
    return Snapshot(base=int(header["base"]), codes=codes, times=times, spec_numbers=spec_numbers,
                    submitted=submitted, spec_texts=spec_texts, reasons=_reasons(header))


def _version_1(header, file):
    count = _count(header)
    codes, times = _column(file, "B", count), _column(file, "d", count)
    return Snapshot(base=int(header["base"]), codes=codes, times=times, reasons=_reasons(header),
                    running_specs={int(job_id): spec for job_id, spec in header["specs"].items()})
