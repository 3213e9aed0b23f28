"""Uploaded data sets shared through Redis, so that an upload to any process serves every process.

The upload is checked in the process that receives it; its CSV and
description then go to Redis under its content id in one script that also
holds the quota (the data sets kept and the bytes of their CSVs, counted
there), so that every process shares one quota and two uploads at once
cannot both pass it. A copy goes to this process's folder (app.dataset_folder);
a process asked for a data set it does not have copies the CSV from Redis
into its own folder and loads it there, on first use.

A data set exists while Redis holds it. DELETE removes it there in one
script; every other process asks Redis before each use of a data set it has
loaded (one HEXISTS), so it stops serving it at the next request or job.
"""
import json
import os
import uuid
from datetime import datetime, timezone

import redis

from app.dataset_folder import DatasetFolder, QuotaExceeded, lower_is_better_of
from app.stores import redis_keys as keys
from app.stores.redis_store import unavailable

# KEYS: datasets. ARGV: CSV prefix. Leaves `ids` and `size`: the data sets
# kept and the bytes of their CSVs, counted afresh so that no total can drift.
_USAGE = """
local ids = redis.call('HKEYS', KEYS[1])
local size = 0
for _, id in ipairs(ids) do size = size + redis.call('STRLEN', ARGV[1] .. id) end
"""

# Returns {data sets kept, bytes of their CSVs}.
USAGE = _USAGE + "return {#ids, size}\n"

# KEYS: datasets. ARGV: CSV prefix, id, description (JSON), the CSV, most data sets, most bytes.
# Returns {1, ...} when added, {0, ...} when kept already, {-1, count, size}
# when one more data set, or these bytes, would pass the quota; nothing is kept then.
ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return {0, 0, 0} end
""" + _USAGE + """
if #ids + 1 > tonumber(ARGV[5]) or size + string.len(ARGV[4]) > tonumber(ARGV[6]) then
  return {-1, #ids, size}
end
redis.call('SET', ARGV[1] .. ARGV[2], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return {1, #ids + 1, size + string.len(ARGV[4])}
"""

# KEYS: datasets. ARGV: CSV prefix, id. Returns the description, or nil when it is not kept.
DELETE = """
local about = redis.call('HGET', KEYS[1], ARGV[2])
if not about then return false end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('DEL', ARGV[1] .. ARGV[2])
return about
"""


class SharedDatasetFolder(DatasetFolder):
    """A DatasetFolder whose data sets are kept in the Redis of `client`, this folder holding copies."""

    def __init__(self, path, client):
        super().__init__(path)
        self._client = client
        self._scripts = {name: client.register_script(script)
                         for name, script in (("USAGE", USAGE), ("ADD", ADD), ("DELETE", DELETE))}

    def described(self):
        """{id: what GET /api/datasets says} of every data set of the cluster, oldest upload first."""
        try:
            found = self._client.hgetall(keys.DATASETS)
        except redis.RedisError as error:
            raise unavailable(error) from error
        described = {}
        for about in sorted((json.loads(text) for text in found.values()),
                            key=lambda about: about.get("uploaded", "")):
            described[about["id"]] = _description(about)
        return described

    def description(self, dataset_id):
        """What GET /api/datasets says of a data set of the cluster, or None."""
        about = self._about(dataset_id)
        return None if about is None else _description(about)

    def sweep(self, now=None):
        """Remove what interrupted work left, and the copies of data sets Redis no longer holds.

        A copy is removed at once by the process that deletes its data set,
        and by any other at the data set's next use there; this catches the
        copies no process used again before it stopped.
        """
        removed = super().sweep(now)
        try:
            kept = {dataset_id.decode() for dataset_id in self._client.hkeys(keys.DATASETS)}
        except redis.RedisError:
            # A process starts while Redis is away, and answers 503 until it is back;
            # the copies wait for the next start.
            return removed
        for dataset_id in self._kept_ids():
            if dataset_id not in kept:
                self.forget(dataset_id)
                removed.append(f"{dataset_id}.csv")
        return removed

    def unsummarised(self):
        """None: every data set in Redis came with its description; this folder holds copies only."""
        return []

    def holds(self, dataset_id):
        """Whether Redis still holds the data set (deleted by any process, it does not)."""
        try:
            return bool(self._client.hexists(keys.DATASETS, dataset_id))
        except redis.RedisError as error:
            raise unavailable(error) from error

    def fetch(self, dataset_id):
        """(name, CSV path, lower-is-better questions) of a cluster's data set, copied here if need be.

        None when the cluster has no such data set.
        """
        about = self._about(dataset_id)
        if about is None:
            return None
        path = self.csv_path(dataset_id)
        kept = about["name"], path, frozenset(lower_is_better_of(about))
        if os.path.exists(path):
            return kept
        try:
            content = self._client.get(keys.dataset_csv(dataset_id))
        except redis.RedisError as error:
            raise unavailable(error) from error
        if content is None:
            return None
        temporary = os.path.join(self.path, f".fetch-{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "wb") as file:
                file.write(content)
            self._place(temporary, dataset_id, _description(about))
        finally:
            self.discard(temporary)
        return kept

    def check_room(self, adding, quota, replacing=None):
        """Raise QuotaExceeded unless a file of `adding` bytes fits beside the cluster's data sets."""
        try:
            count, size = self._scripts["USAGE"](keys=[keys.DATASETS], args=[keys.DATASET_CSV])
        except redis.RedisError as error:
            raise unavailable(error) from error
        quota.check(count, size, adding)

    def keep(self, received, dataset_id, description, quota):
        """Add the data set to Redis within the quota, then keep a copy here.

        Returns False when the cluster has it already; raises QuotaExceeded
        or StoreUnavailable, and then nothing is kept.
        """
        about = dict(description, id=dataset_id,
                     uploaded=datetime.now(timezone.utc).isoformat(timespec="microseconds"))
        with open(received.path, "rb") as file:
            content = file.read()
        try:
            added, count, size = self._scripts["ADD"](
                keys=[keys.DATASETS], args=[keys.DATASET_CSV, dataset_id, json.dumps(about), content,
                                            quota.count, quota.size])
        except redis.RedisError as error:
            raise unavailable(error) from error
        if added == 0:
            return False
        if added < 0:
            quota.check(count, size, received.size)
            raise QuotaExceeded("the data sets kept are at their quota; DELETE /api/datasets/<id> frees room")
        try:
            self._place(received.path, dataset_id, description)
        except OSError:
            # Only a copy: the data set is in Redis, and fetch() copies it again on first use.
            pass
        return True

    def remove(self, dataset_id):
        """Remove a data set from Redis and this folder; return {"id", "name"} of it, or None."""
        try:
            about = self._scripts["DELETE"](keys=[keys.DATASETS], args=[keys.DATASET_CSV, dataset_id])
        except redis.RedisError as error:
            raise unavailable(error) from error
        self.forget(dataset_id)
        if about is None:
            return None
        return {"id": dataset_id, "name": json.loads(about)["name"]}

    def _about(self, dataset_id):
        try:
            about = self._client.hget(keys.DATASETS, dataset_id)
        except redis.RedisError as error:
            raise unavailable(error) from error
        return None if about is None else json.loads(about)


def _description(about):
    return {**{name: about[name] for name in ("id", "name", "rows", "questions")},
            "lower_is_better": lower_is_better_of(about)}
