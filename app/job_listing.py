"""The list of jobs and their statuses, as GET /api/jobs sends it, kept cheap at any size.

The whole list (the contract's answer) is encoded in blocks of ids: a block
is encoded again only when one of its status bytes differs from the ones it
was encoded from, so a listing costs re-encoding the block or two that hold
running jobs and joining the rest. Expired jobs are left out: the contract
knows three statuses, and an expired job's id answers 410 anyway.

A page (`since`, `before`, `limit`) reads only the status bytes it needs,
newest first, in windows that grow until the page is full: what a dashboard
polls every few seconds, whatever the number of jobs kept.
"""
import re

from app.stores.base import STATUS_OF_CODE, job_name

BLOCK_SIZE = 4096
# The smallest window of ids a page reads at a time.
PAGE_WINDOW = 1024
# Status byte -> the JSON of one job, waiting for its id.
ENTRY_OF_CODE = {code: b'{"job_id_%%d":"%s"}' % status.value.encode()
                 for code, status in STATUS_OF_CODE.items()}
_LISTED = re.compile(b"[" + bytes(sorted(ENTRY_OF_CODE)) + b"]")


def encode_block(first_id, codes):
    """The comma-separated JSON entries of the jobs whose status bytes are `codes`."""
    return b",".join(ENTRY_OF_CODE[code] % (first_id + offset)
                     for offset, code in enumerate(codes) if code in ENTRY_OF_CODE)


class JobListing:
    """The JSON array of {"job_id_N": status} for the jobs of a store, oldest first."""

    def __init__(self, store, block_size=BLOCK_SIZE):
        self._store = store
        self._block_size = block_size
        # first id of a piece of a block -> (the status bytes it was encoded from, its JSON)
        self._blocks = {}

    def encode(self):
        """Every job kept, as JSON bytes."""
        first_kept, last = self._store.id_bounds()
        blocks, pieces = {}, []
        for first, codes in self._store.status_range(first_kept, last + 1):
            start, end = first, first + len(codes)
            while start < end:
                stop = min(end, (start // self._block_size + 1) * self._block_size)
                block_codes = codes[start - first:stop - first]
                cached = self._blocks.get(start)
                if cached is None or cached[0] != block_codes:
                    cached = (block_codes, encode_block(start, block_codes))
                blocks[start] = cached
                if cached[1]:
                    pieces.append(cached[1])
                start = stop
        # Requests that race here encode the same bytes; either may stay.
        # Blocks no longer listed (expired) are dropped with the old dict.
        self._blocks = blocks
        return b"[" + b",".join(pieces) + b"]"

    def page(self, since=0, before=None, limit=None):
        """(the JSON array of the jobs with since < id < before, oldest first, the id for the next page).

        With `limit`, only the newest `limit` of them; the id for the next
        page is then the oldest one listed when older ones remain (the
        `before` of the page of older jobs), None otherwise.
        """
        first_kept, last = self._store.id_bounds()
        low = max(first_kept, since + 1)
        high = last + 1 if before is None else min(last + 1, before)
        if limit is None:
            found = [entry for first, codes in self._store.status_range(low, high)
                     for entry in _entries(first, codes)]
            return _array(found), None
        newest = []
        window = max(PAGE_WINDOW, 4 * limit)
        while high > low and len(newest) <= limit:
            start = max(low, high - window)
            for first, codes in reversed(self._store.status_range(start, high)):
                newest.extend(reversed(_entries(first, codes)))
            high, window = start, window * 4
        older = newest[limit - 1][0] if len(newest) > limit else None
        return _array(reversed(newest[:limit])), older


def _entries(first, codes):
    return [(first + found.start(), found.group()[0]) for found in _LISTED.finditer(codes)]


def _array(entries):
    return b"[" + b",".join(ENTRY_OF_CODE[code] % job_id for job_id, code in entries) + b"]"


def page_answer(array, total, older):
    """The JSON body of a page: the contract's shape, the jobs kept in all, the next page's cursor if any."""
    cursor = b',"next":"%s"' % job_name(older).encode() if older is not None else b""
    return b'{"status":"done","data":%s,"total":%d%s}' % (array, total, cursor)
