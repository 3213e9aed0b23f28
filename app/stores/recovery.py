"""A file store's status table rebuilt at start: the snapshot, then the journal written since.

Replaying is idempotent, so a journal that still holds lines the snapshot
covers (a kill between writing the snapshot and starting the journal
afresh) changes nothing: a line only adds a job the table does not know,
or settles one the table has running. Jobs left running are then looked up
on disk, one file each: a job whose answer file exists finished after its
last record (done jobs are journaled in batches, a second apart); the others
are unfinished and run again.
"""
import os

from app.stores.base import MAX_JOB_ID
from app.stores.status_table import DONE, ERROR, RUNNING, StatusTable


def _job_id(value):
    return value if isinstance(value, int) and 0 < value <= MAX_JOB_ID else None


def _time(entry, now):
    at = entry.get("at")
    return float(at) if isinstance(at, (int, float)) and 0 < at <= now else now


def _apply(table, entry, now):
    if "done" in entry:
        if isinstance(entry["done"], list):
            table.settle_running([job_id for job_id in entry["done"] if isinstance(job_id, int)], DONE,
                                 _time(entry, now))
        return
    if "last" in entry:
        if _job_id(entry["last"]) is not None:
            table.skip_to(entry["last"])
        return
    job_id = _job_id(entry.get("id"))
    if job_id is None:
        return
    code = table.code(job_id)
    if "spec" in entry:
        if code is None:
            table.put(job_id, RUNNING, spec=entry["spec"])
        elif code == RUNNING and job_id not in table.specs:
            table.specs[job_id] = entry["spec"]
    elif code is None or code == RUNNING:
        status = entry.get("status")
        if status == "done":
            table.put(job_id, DONE, _time(entry, now))
        else:
            reason = entry.get("reason")
            table.put(job_id, ERROR, _time(entry, now),
                      reason=reason if isinstance(reason, str) else None)


def rebuild(snapshot, entries, files, now):
    """(the StatusTable, {id: spec} of the unfinished jobs) from a snapshot (or None) and journal entries."""
    if snapshot is None:
        table = StatusTable()
    else:
        table = StatusTable(snapshot.base, snapshot.codes, snapshot.times)
        table.reasons.update(snapshot.reasons)
        table.specs.update(snapshot.specs)
    for entry in entries:
        _apply(table, entry, now)
    unfinished = {}
    for job_id in table.running_ids():
        try:
            # The inode's change time is when its last link was made: never
            # before this job's answer was, so the job never expires early.
            table.put(job_id, DONE, min(now, os.stat(files.path(job_id)).st_ctime))
            continue
        except OSError:
            pass
        spec = table.specs.get(job_id)
        if spec is None:
            table.put(job_id, ERROR, now, reason="the job's request was lost with the journal")
        else:
            unfinished[job_id] = spec
    return table, unfinished


def from_files(found, now):
    """The table of a results folder that has answer files but no journal or snapshot: all done."""
    table = StatusTable()
    for job_id in sorted(found):
        table.put(job_id, DONE, now)
    return table
