"""Uploaded data sets shared through Redis, so that an upload to any process serves every process.

The upload is checked and kept in this process's folder as before
(app.dataset_folder), and its CSV and description go to Redis under its
content id. A process asked for a data set it does not have copies the CSV
from Redis into its own folder and loads it there, on first use.
"""
import json
import os
import uuid
from datetime import datetime, timezone

import redis

from app.dataset_folder import DatasetFolder
from app.stores import redis_keys as keys
from app.stores.redis_store import unavailable


class SharedDatasetFolder(DatasetFolder):
    """A DatasetFolder whose data sets are also kept in the Redis of `client`."""

    def __init__(self, path, client):
        super().__init__(path)
        self._client = client

    def keep(self, temporary, dataset_id, name, description=None):
        """Publish the data set to Redis, then keep it here; raises StoreUnavailable, nothing kept then."""
        about = dict(description or {}, id=dataset_id, name=name,
                     uploaded=datetime.now(timezone.utc).isoformat(timespec="microseconds"))
        with open(temporary, "rb") as file:
            content = file.read()
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.set(keys.dataset_csv(dataset_id), content)
                pipe.hsetnx(keys.DATASETS, dataset_id, json.dumps(about))
                pipe.execute()
        except redis.RedisError as error:
            raise unavailable(error) from error
        super().keep(temporary, dataset_id, name)

    def described(self):
        """{id: what GET /api/datasets says} of every data set of the cluster, oldest upload first."""
        try:
            found = self._client.hgetall(keys.DATASETS)
        except redis.RedisError as error:
            raise unavailable(error) from error
        described = {}
        for about in sorted((json.loads(text) for text in found.values()),
                            key=lambda about: about.get("uploaded", "")):
            described[about["id"]] = {name: about[name] for name in ("id", "name", "rows", "questions")}
        return described

    def fetch(self, dataset_id):
        """(name, CSV path) of a data set of the cluster, copied here if need be; None if unknown."""
        try:
            about = self._client.hget(keys.DATASETS, dataset_id)
            if about is None:
                return None
            name = json.loads(about)["name"]
            path = self.csv_path(dataset_id)
            if os.path.exists(path):
                return name, path
            content = self._client.get(keys.dataset_csv(dataset_id))
        except redis.RedisError as error:
            raise unavailable(error) from error
        if content is None:
            return None
        temporary = os.path.join(self.path, f".fetch-{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "wb") as file:
                file.write(content)
            super().keep(temporary, dataset_id, name)
        finally:
            self.discard(temporary)
        return name, path
