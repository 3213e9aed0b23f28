"""A file store's status table rebuilt at start: the snapshot, then the journal written since.

Replaying is idempotent, so a journal that still holds lines the snapshot
covers (a kill between writing the snapshot and starting the journal
afresh) changes nothing: a line only adds a job the table does not know,
settles one the table has running, or gives a kept job the spec and submit
time it lacks (a job of a version 1 snapshot). Jobs left running are then
looked up on disk, one file each: a job whose answer file exists finished
after its last record (done jobs are journaled in batches, a second apart);
the others are unfinished and run again.
"""
import os

from app.stores.base import MAX_JOB_ID
from app.stores.status_table import DONE, ERROR, GONE, RUNNING, StatusTable, spec_text


def _job_id(value):
    return value if isinstance(value, int) and 0 < value <= MAX_JOB_ID else None


def _time(entry, now):
    at = entry.get("at")
    return float(at) if isinstance(at, (int, float)) and 0 < at <= now else now


def _submitted(entry, now):
    """The submit time of a job's first line; 0 (not known) for a line without a believable one."""
    at = entry.get("at")
    return float(at) if isinstance(at, (int, float)) and 0 < at <= now else 0.0


def _spec_text(spec, texts):
    """The text of a spec; the few specs a journal repeats over and over are encoded once each.

    `texts` maps the items of the specs met so far to their texts: specs are
    of strings and None (app.jobs.make_spec), so equal items make one text.
    """
    try:
        key = tuple(spec.items())
        text = texts.get(key)
    except (AttributeError, TypeError):
        return spec_text(spec)
    if text is None:
        text = texts[key] = spec_text(spec)
    return text


def _apply(table, entry, now, texts):
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
            # Ids a lost line skipped stay unknown; the job is added as create() added it.
            table.skip_to(job_id - 1)
            table.add(_spec_text(entry["spec"], texts), _submitted(entry, now))
        elif code != GONE:
            table.describe(job_id, _spec_text(entry["spec"], texts), _submitted(entry, now))
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
        table = StatusTable(snapshot.base, snapshot.codes, snapshot.times, spec_numbers=snapshot.spec_numbers,
                            submitted=snapshot.submitted, spec_texts=snapshot.spec_texts)
        table.reasons.update(snapshot.reasons)
        for job_id, spec in snapshot.running_specs.items():
            table.describe(job_id, spec_text(spec), 0.0)
    texts = {}
    for entry in entries:
        _apply(table, entry, now, texts)
    unfinished = {}
    for job_id in table.running_ids():
        try:
            # The inode's change time is when its last link was made: never
            # before this job's answer was, so the job never expires early.
            # The kernel keeps it to a clock tick (milliseconds), so a job done
            # within a tick of its submission could seem done before it.
            finished = min(now, os.stat(files.path(job_id)).st_ctime)
            table.put(job_id, DONE, max(finished, table.request(job_id)[1]))
            continue
        except OSError:
            pass
        spec = table.spec(job_id)
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
