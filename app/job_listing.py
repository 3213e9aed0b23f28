"""The list of every job and its status, as GET /api/jobs sends it, kept cheap at any size.

The list only grows and a finished job's status never changes, so it is
encoded in blocks of ids: a block is encoded again only when one of its
status bytes differs from the ones it was encoded from. At 100,000 jobs a
listing costs re-encoding the block or two that hold running jobs and joining
the rest.
"""
from app.stores.base import STATUS_OF_CODE

BLOCK_SIZE = 4096
# Status byte -> the JSON of one job, waiting for its id.
ENTRY_OF_CODE = {code: b'{"job_id_%%d":"%s"}' % status.value.encode()
                 for code, status in STATUS_OF_CODE.items()}


def encode_block(first_id, codes):
    """The comma-separated JSON entries of the jobs whose status bytes are `codes`."""
    return b",".join(ENTRY_OF_CODE[code] % (first_id + offset)
                     for offset, code in enumerate(codes) if code)


class JobListing:
    """The JSON array of {"job_id_N": status} for every job of a store, oldest first."""

    def __init__(self, store, block_size=BLOCK_SIZE):
        self._store = store
        self._block_size = block_size
        # first id of a block -> (the status bytes it was encoded from, its JSON)
        self._blocks = {}

    def encode(self):
        """The array as JSON bytes."""
        codes = self._store.status_codes()
        pieces = []
        for first_id in range(0, len(codes), self._block_size):
            block_codes = codes[first_id:first_id + self._block_size]
            cached = self._blocks.get(first_id)
            if cached is None or cached[0] != block_codes:
                # Requests that race here encode the same bytes; either may stay.
                cached = (block_codes, encode_block(first_id, block_codes))
                self._blocks[first_id] = cached
            if cached[1]:
                pieces.append(cached[1])
        return b"[" + b",".join(pieces) + b"]"
