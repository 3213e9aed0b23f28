"""The jobs a file store keeps, from its oldest kept id on: a status byte and a settle time each.

Ids below `base` are expired, so the table holds a byte for the jobs kept,
not for every id ever handed out: memory follows the retention time, not
the age of the service. Within the table, 0 marks a job expired (or never
known, a gap a lost record left). Failed jobs keep their reason and running
jobs their spec, so that a snapshot of the table can rerun them.

Not thread-safe: the file store holds its lock around every call.
"""
import array
import re

import numpy

from app.stores.base import CODE_OF_STATUS, JobStatus

RUNNING = CODE_OF_STATUS[JobStatus.RUNNING]
DONE = CODE_OF_STATUS[JobStatus.DONE]
ERROR = CODE_OF_STATUS[JobStatus.ERROR]
GONE = 0

_KEPT = re.compile(rb"[^\x00]")
_RUNNING = re.compile(rb"\x01")


class StatusTable:
    """Status bytes, settle times (seconds since the epoch, 0 while running), reasons and specs."""

    def __init__(self, base=1, codes=b"", times=b""):
        self.base = base
        self.codes = bytearray(codes)
        self.times = array.array("d", times or bytes(8 * len(self.codes)))
        if len(self.times) != len(self.codes):
            raise ValueError("a settle time is needed for every status byte")
        # {id: reason} of the failed jobs kept, {id: spec} of the running ones.
        self.reasons = {}
        self.specs = {}

    @property
    def last(self):
        """The newest id handed out (base - 1 while the table is empty)."""
        return self.base + len(self.codes) - 1

    def code(self, job_id):
        """The byte of a job: GONE below the base, None beyond the newest id."""
        if job_id > self.last:
            return None
        if job_id < self.base:
            return GONE
        return self.codes[job_id - self.base]

    def settled_at(self, job_id):
        """When a settled job settled."""
        return self.times[job_id - self.base]

    def add(self, spec):
        """A new running job with the next id; returns the id."""
        self.codes.append(RUNNING)
        self.times.append(0.0)
        self.specs[self.last] = spec
        return self.last

    def put(self, job_id, code, at=0.0, spec=None, reason=None):
        """Set a job's byte, growing the table up to it; used when rebuilding a table."""
        if job_id < self.base:
            return
        if not self.codes and job_id > self.base:
            # An empty table starts at the first id it gets: a journal that
            # starts at 10**9 costs nothing for the ids below.
            self.base = job_id
        if job_id > self.last:
            gap = job_id - self.last
            self.codes.extend(bytes(gap))
            self.times.frombytes(bytes(8 * gap))
        self.codes[job_id - self.base] = code
        self.times[job_id - self.base] = at
        self.specs.pop(job_id, None)
        self.reasons.pop(job_id, None)
        if code == RUNNING and spec is not None:
            self.specs[job_id] = spec
        elif code == ERROR:
            self.reasons[job_id] = reason or "the job failed"

    def settle_running(self, job_ids, code, at):
        """Settle those of `job_ids` that run, all at `at`: a batch of done jobs from the journal."""
        base, last = self.base, self.last
        for job_id in job_ids:
            if base <= job_id <= last and self.codes[job_id - base] == RUNNING:
                self.codes[job_id - base] = code
                self.times[job_id - base] = at
                self.specs.pop(job_id, None)

    def skip_to(self, last):
        """Know that every id up to `last` was handed out, whatever became of them."""
        if last > self.last:
            if self.codes:
                self.put(last, GONE)
            else:
                self.base = last + 1

    def settle(self, job_id, code, at, reason=None):
        """Record the outcome of a running job; False (and nothing changes) when it is not running."""
        if self.code(job_id) != RUNNING:
            return False
        self.put(job_id, code, at, reason=reason)
        return True

    def expire(self, now, ttl_s):
        """Forget the jobs settled longer than `ttl_s` ago; return the ids of the done ones among them.

        Jobs settle nearly in the order of their ids, so the oldest go first,
        up to the first settled job still kept: running jobs are passed over
        (they never expire), and a job that settled before an older one goes
        once that one has. Done over the whole table at once (numpy), as a
        start after a long stop may find a million jobs expired.
        """
        if not self.codes:
            return numpy.empty(0, dtype=numpy.int64)
        codes = numpy.frombuffer(self.codes, dtype=numpy.uint8)
        times = numpy.frombuffer(self.times, dtype=numpy.float64)
        settled = (codes == DONE) | (codes == ERROR)
        kept = settled & (times > now - ttl_s)
        stop = int(kept.argmax()) if kept.any() else len(codes)
        expired = numpy.flatnonzero(settled[:stop])
        done = expired[codes[expired] == DONE] + self.base
        if self.reasons:
            for job_id in (expired[codes[expired] == ERROR] + self.base).tolist():
                self.reasons.pop(job_id, None)
        codes[expired] = GONE
        # The views must go before the table can grow or shrink again.
        del codes, times, settled, kept, expired
        self._trim()
        return done

    def _trim(self):
        found = _KEPT.search(self.codes)
        dropped = found.start() if found else len(self.codes)
        if dropped:
            del self.codes[:dropped]
            del self.times[:dropped]
            self.base += dropped

    def range(self, start, stop):
        """(first id, the bytes of the ids in [start, stop) the table holds)."""
        first = max(start, self.base)
        return first, bytes(self.codes[first - self.base:max(0, stop - self.base)])

    def kept_count(self):
        """How many jobs are kept."""
        return len(self.codes) - self.codes.count(GONE)

    def running_ids(self):
        """The ids of the running jobs."""
        return [self.base + found.start() for found in _RUNNING.finditer(self.codes)]
