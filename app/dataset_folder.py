"""Uploaded CSV files kept on disk, one folder for all of them.

An upload is named by a hash of its content and of the questions it names
lower-is-better, so the same file uploaded twice with the same choice is one
data set, and an id always means the same rows ranked the same way. Each data
set is `<id>.csv` with `<id>.json` beside it holding its display name, upload
time and summary (rows, questions, those lower-is-better), so that listing the
data sets never parses a CSV. Files are written to a temporary name first and
renamed into place, so a data set on disk is always whole; a data set exists
while its CSV does.
"""
import fnmatch
import hashlib
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from app.data_ingestor import SURVEY_LOWER_IS_BETTER

DATASET_ID = re.compile(r"[0-9a-f]{12}")
CHUNK_BYTES = 1024 * 1024
# Enough to tell a PNG, a ZIP or UTF-16 text from a CSV.
HEAD_BYTES = 4096
TEMPORARY_NAMES = (".upload-*.tmp", ".fetch-*.tmp", "*.tmp.json")
# A temporary file lives for a copy and a parse, seconds; one this old was
# left by a process that stopped. The margin spares the files of another
# process that shares the folder (the Redis store's workers do) and is busy.
STALE_TEMPORARY_S = 120
SUMMARY = ("rows", "questions")


class QuotaExceeded(Exception):
    """Keeping the upload would pass the quota of data sets; the message says which and how to free room."""


@dataclass(frozen=True)
class Received:
    """An upload copied to a temporary file, and what was learnt while copying it."""

    path: str
    dataset_id: str
    size: int
    # The first bytes, and whether a NUL byte came anywhere: what tells a binary file.
    head: bytes
    has_nul: bool


@dataclass(frozen=True)
class Quota:
    """How many data sets, and how many bytes of CSV, may be kept at most."""

    count: int
    size: int

    def check(self, count, size, adding):
        """Raise QuotaExceeded unless `count` data sets of `size` bytes leave room for one of `adding`."""
        if count + 1 > self.count:
            raise QuotaExceeded(f"{count} data sets are kept, and at most {self.count} may be; "
                                f"DELETE /api/datasets/<id> frees room")
        if size + adding > self.size:
            raise QuotaExceeded(f"the data sets kept take {size} bytes and this file {adding} more, "
                                f"over the {self.size} bytes they may take together; "
                                "DELETE /api/datasets/<id> frees room")


class DatasetFolder:
    """The folder of uploaded data sets: receive, keep, list, remove them."""

    def __init__(self, path):
        self.path = os.fspath(path)
        os.makedirs(self.path, exist_ok=True)

    # -- listing ---------------------------------------------------------

    def described(self):
        """{id: what GET /api/datasets says} of every summarised data set, oldest upload first."""
        found = []
        for dataset_id in self._kept_ids():
            about = self._read_about(dataset_id)
            if _summarised(about):
                found.append((str(about.get("uploaded", "")), dataset_id, about))
        return {dataset_id: _description(dataset_id, about) for _, dataset_id, about in sorted(found)}

    def description(self, dataset_id):
        """What GET /api/datasets says of a kept data set, or None when it is not kept (or not summarised)."""
        if not os.path.exists(self.csv_path(dataset_id)):
            return None
        about = self._read_about(dataset_id)
        return _description(dataset_id, about) if _summarised(about) else None

    def unsummarised(self):
        """(id, name, CSV path) of the data sets whose about-file lacks the summary (an older version's)."""
        found = []
        for dataset_id in self._kept_ids():
            about = self._read_about(dataset_id)
            if not _summarised(about):
                found.append((dataset_id, _name(dataset_id, about), self.csv_path(dataset_id)))
        return found

    def summarise(self, dataset_id, description):
        """Write the summary of a data set kept without one, keeping its upload time and so its place."""
        about = self._read_about(dataset_id)
        uploaded = about.get("uploaded") or datetime.fromtimestamp(
            os.path.getmtime(self.csv_path(dataset_id)), timezone.utc).isoformat(timespec="microseconds")
        self._write_about(dataset_id, {**_about(description), "uploaded": uploaded})

    def fetch(self, dataset_id):
        """(name, CSV path, questions named lower-is-better) of a kept data set, or None."""
        path = self.csv_path(dataset_id)
        if not os.path.exists(path):
            return None
        about = self._read_about(dataset_id)
        lower = lower_is_better_of(about) if _summarised(about) else ()
        return _name(dataset_id, about), path, frozenset(lower)

    def holds(self, dataset_id):
        """Whether the data set is still kept: a process that loaded it asks before each use."""
        return os.path.exists(self.csv_path(dataset_id))

    def csv_path(self, dataset_id):
        """Where the data set's CSV file lives."""
        return os.path.join(self.path, f"{dataset_id}.csv")

    # -- receiving and keeping -------------------------------------------

    def receive(self, stream, lower_is_better=frozenset()):
        """Copy `stream` to a temporary file; return its Received, whose id folds in `lower_is_better`."""
        temporary = os.path.join(self.path, f".upload-{uuid.uuid4().hex}.tmp")
        digest = hashlib.sha256()
        size = 0
        head = b""
        has_nul = False
        try:
            with open(temporary, "wb") as file:
                for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
                    digest.update(chunk)
                    file.write(chunk)
                    if len(head) < HEAD_BYTES:
                        head += chunk[:HEAD_BYTES - len(head)]
                    has_nul = has_nul or b"\0" in chunk
                    size += len(chunk)
        except OSError:
            self.discard(temporary)
            raise
        return Received(temporary, upload_id(digest.hexdigest(), lower_is_better), size, head, has_nul)

    def check_room(self, adding, quota, replacing=None):
        """Raise QuotaExceeded unless a file of `adding` bytes fits beside the data sets kept."""
        sizes = {}
        for dataset_id in self._kept_ids():
            try:
                sizes[dataset_id] = os.path.getsize(self.csv_path(dataset_id))
            except FileNotFoundError:
                pass
        sizes.pop(replacing, None)
        quota.check(len(sizes), sum(sizes.values()), adding)

    def keep(self, received, dataset_id, description, quota):
        """Make the received file the data set `dataset_id`, described by `description`.

        Returns False when the data set is kept already. Raises QuotaExceeded
        (nothing kept then); the caller keeps others from keeping meanwhile.
        """
        if self.description(dataset_id) is not None:
            return False
        # A CSV without a summary (a damaged file of an older version) is replaced, not counted twice.
        self.check_room(received.size, quota, replacing=dataset_id)
        self._place(received.path, dataset_id, description)
        return True

    def remove(self, dataset_id):
        """Remove a data set; return {"id", "name"} of it, or None when it was not kept."""
        about = self._read_about(dataset_id)
        kept = os.path.exists(self.csv_path(dataset_id))
        self.forget(dataset_id)
        return {"id": dataset_id, "name": _name(dataset_id, about)} if kept else None

    def forget(self, dataset_id):
        """Remove the data set's files here; the CSV first, since a data set exists while it does."""
        for path in (self.csv_path(dataset_id), self._about_path(dataset_id)):
            self.discard(path)

    def sweep(self, now=None):
        """Remove what interrupted work left: stale temporary files, about-files without a CSV.

        Returns the names removed.
        """
        now = time.time() if now is None else now
        removed = []
        for entry in os.listdir(self.path):
            stem, extension = os.path.splitext(entry)
            orphan = (extension == ".json" and DATASET_ID.fullmatch(stem)
                      and not os.path.exists(self.csv_path(stem)))
            if not orphan and not any(fnmatch.fnmatchcase(entry, pattern) for pattern in TEMPORARY_NAMES):
                continue
            path = os.path.join(self.path, entry)
            try:
                if now - os.path.getmtime(path) >= STALE_TEMPORARY_S:
                    os.remove(path)
                    removed.append(entry)
            except FileNotFoundError:
                pass
        return removed

    @staticmethod
    def discard(path):
        """Remove a file that is not kept; nothing if it is gone."""
        try:
            os.remove(path)
        except FileNotFoundError:
            pass

    # -- files -----------------------------------------------------------

    def _place(self, temporary, dataset_id, description):
        """Rename a whole CSV into place, its about-file first."""
        uploaded = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        self._write_about(dataset_id, {**_about(description), "uploaded": uploaded})
        # The CSV comes last: a data set exists once its CSV is in place.
        os.replace(temporary, self.csv_path(dataset_id))

    def _write_about(self, dataset_id, about):
        temporary = os.path.join(self.path, f".upload-{uuid.uuid4().hex}.tmp.json")
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump(about, file)
            os.replace(temporary, self._about_path(dataset_id))
        finally:
            self.discard(temporary)

    def _kept_ids(self):
        return [stem for stem, extension in map(os.path.splitext, os.listdir(self.path))
                if extension == ".csv" and DATASET_ID.fullmatch(stem)]

    def _about_path(self, dataset_id):
        return os.path.join(self.path, f"{dataset_id}.json")

    def _read_about(self, dataset_id):
        try:
            with open(self._about_path(dataset_id), encoding="utf-8") as file:
                about = json.load(file)
        except (OSError, ValueError):
            return {}
        return about if isinstance(about, dict) else {}


def upload_id(content_digest, lower_is_better):
    """The id of an upload: its file's SHA-256 (hex), and the questions it names lower-is-better.

    Naming none keeps the id of the content alone, so that the data sets kept
    before a choice could be named keep their ids.
    """
    if not lower_is_better:
        return content_digest[:12]
    folded = json.dumps([content_digest, sorted(lower_is_better)], ensure_ascii=False)
    return hashlib.sha256(folded.encode()).hexdigest()[:12]


def lower_is_better_of(about):
    """The lower-is-better questions a description records.

    One written before uploads could name theirs records none: the survey's
    own were the only ones then.
    """
    named = about.get("lower_is_better")
    if named is None:
        return [question for question in about["questions"] if question in SURVEY_LOWER_IS_BETTER]
    return named


def _name(dataset_id, about):
    name = about.get("name")
    return name if isinstance(name, str) and name else f"{dataset_id}.csv"


def _summarised(about):
    return (isinstance(about.get("rows"), int) and _texts(about.get("questions"))
            and (about.get("lower_is_better") is None or _texts(about["lower_is_better"])))


def _texts(value):
    return isinstance(value, list) and all(isinstance(text, str) for text in value)


def _description(dataset_id, about):
    return {"id": dataset_id, "name": _name(dataset_id, about), "rows": about["rows"],
            "questions": about["questions"], "lower_is_better": lower_is_better_of(about)}


def _about(description):
    return {name: description[name] for name in ("name", "rows", "questions", "lower_is_better")}
