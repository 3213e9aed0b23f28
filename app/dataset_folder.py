"""Uploaded CSV files kept on disk, one folder for all of them.

An upload is named by a hash of its content, so the same file uploaded twice
is one data set, and an id always means the same rows. Each data set is
`<id>.csv` with `<id>.json` beside it holding its display name and upload
time. Files are written to a temporary name first and renamed into place,
so a data set on disk is always whole.
"""
import hashlib
import json
import os
import re
import uuid
from datetime import datetime, timezone

DATASET_ID = re.compile(r"[0-9a-f]{12}")
CHUNK_BYTES = 1024 * 1024


class DatasetFolder:
    """The folder of uploaded data sets: receive, keep and list them."""

    def __init__(self, path):
        self.path = os.fspath(path)
        os.makedirs(self.path, exist_ok=True)

    def stored(self):
        """(id, name, csv path) of every kept data set, oldest upload first."""
        found = []
        for entry in os.listdir(self.path):
            stem, extension = os.path.splitext(entry)
            if extension != ".csv" or not DATASET_ID.fullmatch(stem):
                continue
            about = self._read_about(stem)
            name = about.get("name")
            found.append((str(about.get("uploaded", "")), stem,
                          name if isinstance(name, str) and name else f"{stem}.csv"))
        return [(dataset_id, name, self.csv_path(dataset_id))
                for _, dataset_id, name in sorted(found)]

    def described(self):
        """{id: what GET /api/datasets says} of data sets kept elsewhere; a folder of its own has none."""
        return {}

    def fetch(self, dataset_id):  # pylint: disable=unused-argument
        """(name, CSV path) of a data set kept elsewhere; every one of this folder is loaded at start."""
        return None

    def csv_path(self, dataset_id):
        """Where the data set's CSV file lives."""
        return os.path.join(self.path, f"{dataset_id}.csv")

    def receive(self, stream):
        """Copy `stream` to a temporary file; return (its path, the id of its content, its size)."""
        temporary = os.path.join(self.path, f".upload-{uuid.uuid4().hex}.tmp")
        digest = hashlib.sha256()
        size = 0
        try:
            with open(temporary, "wb") as file:
                for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
                    digest.update(chunk)
                    file.write(chunk)
                    size += len(chunk)
        except OSError:
            self.discard(temporary)
            raise
        return temporary, digest.hexdigest()[:12], size

    def keep(self, temporary, dataset_id, name, description=None):  # pylint: disable=unused-argument
        """Make the received file the data set `dataset_id`, shown as `name`.

        `description` (what GET /api/datasets says of it) is for folders that
        share their data sets; this one reads them back from the files.
        """
        uploaded = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        about = json.dumps({"name": name, "uploaded": uploaded})
        about_temporary = f"{temporary}.json"
        try:
            with open(about_temporary, "w", encoding="utf-8") as file:
                file.write(about)
            os.replace(about_temporary, os.path.join(self.path, f"{dataset_id}.json"))
        finally:
            self.discard(about_temporary)
        # The CSV comes last: a data set exists once its CSV is in place.
        os.replace(temporary, self.csv_path(dataset_id))

    @staticmethod
    def discard(temporary):
        """Remove a received file that is not kept; nothing if it is gone."""
        try:
            os.remove(temporary)
        except FileNotFoundError:
            pass

    def _read_about(self, dataset_id):
        try:
            with open(os.path.join(self.path, f"{dataset_id}.json"), encoding="utf-8") as file:
                about = json.load(file)
        except (OSError, ValueError):
            return {}
        return about if isinstance(about, dict) else {}
