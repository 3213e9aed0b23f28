"""The jobs a file store keeps, from its oldest kept id on: status, settle time, spec and submit time.

Ids below `base` are expired, so the table holds a row for the jobs kept,
not for every id ever handed out: memory follows the retention time, not
the age of the service. Within the table, 0 marks a job expired (or never
known, a gap a lost record left). Failed jobs keep their reason.

Every job keeps its spec, so that a running one can be rerun and any kept
one told about, and when it was submitted. Jobs mostly ask the same few
things, so each distinct spec is held once, as its compact JSON, and a job
holds its number: 21 bytes a job in all (a status byte, a settle time, a
spec number, a submit time). A job recorded before specs and submit times
were kept has NO_SPEC and a submit time of 0.

Not thread-safe: the file store holds its lock around every call.
"""
import array
import json
import re

import numpy

from app.stores.base import CODE_OF_STATUS, JobStatus

RUNNING = CODE_OF_STATUS[JobStatus.RUNNING]
DONE = CODE_OF_STATUS[JobStatus.DONE]
ERROR = CODE_OF_STATUS[JobStatus.ERROR]
GONE = 0
# The spec number of a job whose spec is not known.
NO_SPEC = 2**32 - 1

_KEPT = re.compile(rb"[^\x00]")
_RUNNING = re.compile(rb"\x01")
# One encoder for every spec, on the path of every job: json.dumps would make one a call.
_SPEC_ENCODER = json.JSONEncoder(separators=(",", ":"))


def spec_text(spec):
    """A spec as the table holds it, compact JSON: the same spec gives the same text."""
    return _SPEC_ENCODER.encode(spec)


class StatusTable:  # pylint: disable=too-many-instance-attributes
    """Status bytes, settle times (seconds since the epoch, 0 while running), specs, submit times, reasons.

    `codes` is bytes-like (copied); the other columns are arrays, taken as
    they are: `times` and `submitted` of float64s ("d"), `spec_numbers` of
    uint32s ("I") indexing `spec_texts`, the distinct specs. Left out
    (None), none is known.
    """

    def __init__(self, base=1, codes=b"", times=None, *, spec_numbers=None, submitted=None, spec_texts=()):
        self.base = base
        self.codes = bytearray(codes)
        count = len(self.codes)
        self.times = array.array("d", [0.0]) * count if times is None else times
        self.spec_numbers = array.array("I", [NO_SPEC]) * count if spec_numbers is None else spec_numbers
        self.submitted = array.array("d", [0.0]) * count if submitted is None else submitted
        if not len(self.times) == len(self.spec_numbers) == len(self.submitted) == count:
            raise ValueError("every status byte needs a settle time, a spec number and a submit time")
        # The distinct specs, and the number of each: what a job's spec number means.
        self.spec_texts = list(spec_texts)
        self._number_of_spec = {text: number for number, text in enumerate(self.spec_texts)}
        # {id: reason} of the failed jobs kept.
        self.reasons = {}

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

    def request(self, job_id):
        """(the spec text or None, the submit time or 0) of a kept job."""
        number = self.spec_numbers[job_id - self.base]
        return (None if number == NO_SPEC else self.spec_texts[number]), self.submitted[job_id - self.base]

    def spec(self, job_id):
        """A kept job's spec, or None when it is not known."""
        text = self.request(job_id)[0]
        return None if text is None else json.loads(text)

    def add(self, text, submitted):
        """A new running job with the next id, of spec text `text`, submitted then; returns the id."""
        self.codes.append(RUNNING)
        self.times.append(0.0)
        self.spec_numbers.append(self._intern(text))
        self.submitted.append(submitted)
        return self.last

    def _intern(self, text):
        # A dict look-up for a spec asked before, which is nearly every job.
        number = self._number_of_spec.get(text)
        if number is None:
            number = self._number_of_spec[text] = len(self.spec_texts)
            self.spec_texts.append(text)
        return number

    def put(self, job_id, code, at=0.0, reason=None):
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
            self.spec_numbers.frombytes(b"\xff" * (4 * gap))
            self.submitted.frombytes(bytes(8 * gap))
        self.codes[job_id - self.base] = code
        self.times[job_id - self.base] = at
        self.reasons.pop(job_id, None)
        if code == ERROR:
            self.reasons[job_id] = reason or "the job failed"

    def describe(self, job_id, text, submitted):
        """Give a kept job the spec text and submit time it lacks; used when rebuilding a table."""
        if self.code(job_id) in (None, GONE):
            return
        index = job_id - self.base
        if self.spec_numbers[index] == NO_SPEC:
            self.spec_numbers[index] = self._intern(text)
        if not self.submitted[index]:
            self.submitted[index] = submitted

    def settle_running(self, job_ids, code, at):
        """Settle those of `job_ids` that run, all at `at`: a batch of done jobs from the journal."""
        base, last = self.base, self.last
        for job_id in job_ids:
            if base <= job_id <= last and self.codes[job_id - base] == RUNNING:
                self.codes[job_id - base] = code
                self.times[job_id - base] = at

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
            for column in (self.codes, self.times, self.spec_numbers, self.submitted):
                del column[:dropped]
            self.base += dropped

    def drop_unused_specs(self):
        """Forget the specs no kept job has, and number the others afresh.

        Done at each compaction, so that the specs held follow the jobs kept
        rather than every spec ever asked (the rows of expired jobs then get
        NO_SPEC). Over the whole table at once (numpy): it runs under the
        store's lock.
        """
        if not self.spec_texts:
            return
        codes = numpy.frombuffer(self.codes, dtype=numpy.uint8)
        numbers = numpy.frombuffer(self.spec_numbers, dtype=numpy.uint32)
        known = (codes != GONE) & (numbers != NO_SPEC)
        used = numpy.zeros(len(self.spec_texts), dtype=bool)
        used[numbers[known]] = True
        if used.all():
            return
        renumbered = numpy.cumsum(used, dtype=numpy.int64) - 1
        numbers[known] = renumbered[numbers[known]]
        numbers[~known] = NO_SPEC
        self.spec_texts = [text for text, kept in zip(self.spec_texts, used.tolist()) if kept]
        self._number_of_spec = {text: number for number, text in enumerate(self.spec_texts)}

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
