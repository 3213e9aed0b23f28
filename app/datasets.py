"""The data sets jobs can be run against, by id: the bundled file and the uploads.

The bundled file is loaded at start. An upload is loaded in a process on its
first use there; until then it is listed from the summary written beside it
(or, with the Redis store, kept in Redis), so a start parses no upload.
"""
import json
import os
import threading
from dataclasses import dataclass, field

from app.data_ingestor import (SURVEY_LOWER_IS_BETTER, AnswerCache, DataError, DataIngestor, UploadLimits,
                               text_problem)
from app.dataset_folder import DATASET_ID, Quota
from app.stores.base import StoreUnavailable

DEFAULT_DATASET = "default"
NAME_LIMIT = 120


class UnknownDataset(LookupError):
    """No data set has that id."""


class NotAQuestion(ValueError):
    """An upload names lower-is-better a question its file does not have; the message names it."""


class DatasetUnusable(Exception):
    """A data set is kept but cannot be loaded.

    `status` is 400 for a file that cannot serve, 503 for a disk that fails now.
    """

    def __init__(self, reason, status):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class DatasetSettings:
    """The settings of app.config the data sets follow."""

    limits: UploadLimits = field(default_factory=UploadLimits)
    quota: Quota = field(default_factory=lambda: Quota(100, 1024 * 1024 * 1024))
    max_answer_bytes: int = 4 * 1024 * 1024
    answer_cache_bytes: int = 64 * 1024 * 1024

    @classmethod
    def from_config(cls, config):
        """The settings of an app's config."""
        return cls(UploadLimits.from_config(config),
                   Quota(config["MAX_DATASETS"], config["MAX_DATASETS_BYTES"]),
                   config["MAX_ANSWER_BYTES"], config["ANSWER_CACHE_BYTES"])


@dataclass(frozen=True)
class Dataset:
    """A data set loaded in this process."""

    dataset_id: str
    name: str
    ingestor: DataIngestor

    def describe(self):
        """What GET /api/datasets says about it."""
        questions = self.ingestor.questions
        return {"id": self.dataset_id, "name": self.name, "rows": self.ingestor.row_count,
                "questions": list(questions),
                "lower_is_better": [question for question, lower in questions.items() if lower]}


def display_name(filename):
    """The name an upload is shown under: its file name without folders, shortened."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return name[:NAME_LIMIT] or "upload.csv"


def _check_named(named, questions):
    """Raise NotAQuestion unless every question `named` is one of `questions`."""
    unknown = sorted(named - set(questions))
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise NotAQuestion(f'"lower_is_better" names a question the file does not have: '
                           f"{json.dumps(unknown[0], ensure_ascii=False)}{more}; each value must be the text "
                           "of a Question the file gives a numeric Data_Value")


class DatasetCatalog:
    """The bundled data set and, when a DatasetFolder is given, the uploads kept in it.

    An upload is never changed once added, so a job finds the same rows when
    it runs as when it was accepted, unless the data set is deleted in
    between: then the job fails, saying so. Every use of a loaded upload first
    asks the folder whether it is still kept, which is how a process learns
    that another one deleted it.
    """

    def __init__(self, csv_path, folder=None, logger=None):
        self.settings = DatasetSettings()
        # One cache for the answers of every data set, so that their memory has one bound.
        self.answers = AnswerCache(self.settings.answer_cache_bytes)
        self._bundled = Dataset(DEFAULT_DATASET, os.path.basename(csv_path),
                                DataIngestor(csv_path, answers=self.answers,
                                             max_answer_bytes=self.settings.max_answer_bytes))
        self._folder = folder
        self._logger = logger
        # The uploads loaded in this process; readers of the dict need no lock.
        self._loaded = {}
        # id -> why a kept data set cannot be loaded, so that a broken file is parsed once.
        self._unusable = {}
        # Orders keeping and removing: the quota is checked and used in one step.
        self._lock = threading.Lock()
        # One load at a time, so that a data set asked for by many requests at once is parsed once.
        self._loading = threading.Lock()

    def open(self, settings):
        """Follow `settings`, and tidy the folder.

        What interrupted uploads left is removed. Data sets kept by an older
        version, whose about-file holds no summary, are parsed once here and
        summarised, so that no later start parses them.
        """
        self.settings = settings
        self.answers.budget = settings.answer_cache_bytes
        self._bundled.ingestor.max_answer_bytes = settings.max_answer_bytes
        if not self._folder:
            return
        removed = self._folder.sweep()
        if removed and self._logger:
            self._logger.info("removed %d files left by interrupted uploads: %s",
                              len(removed), ", ".join(removed))
        for dataset_id, name, path in self._folder.unsummarised():
            try:
                self._folder.summarise(dataset_id, Dataset(dataset_id, name, self._ingestor(path)).describe())
            except (DataError, OSError) as error:
                # One damaged file in the folder must not keep the service from starting.
                self._log("warning", "data set %s not loaded: %s", dataset_id, error)

    def get(self, dataset_id=DEFAULT_DATASET):
        """The DataIngestor of a data set.

        Raises UnknownDataset, DatasetUnusable, or StoreUnavailable when the
        Redis the data sets are kept in cannot be reached.
        """
        if dataset_id == DEFAULT_DATASET:
            return self._bundled.ingestor
        if not (self._folder and isinstance(dataset_id, str) and DATASET_ID.fullmatch(dataset_id)):
            raise UnknownDataset(f"no data set has the id {dataset_id!r}")
        dataset = self._loaded.get(dataset_id)
        if dataset is None:
            return self._load(dataset_id).ingestor
        if self._still_kept(dataset_id) or not self._drop_if_gone(dataset_id):
            return dataset.ingestor
        raise UnknownDataset(f"the data set {dataset_id} was deleted")

    def describe(self):
        """Every data set, the bundled one first, then the uploads oldest first."""
        uploads = self._folder.described() if self._folder else {}
        # A listing is a look at what is kept, as good as a use for letting go
        # of the data sets another process deleted.
        for dataset_id in set(self._loaded) - set(uploads):
            self._drop_if_gone(dataset_id)
        return [self._bundled.describe(), *uploads.values()]

    def add(self, stream, filename, lower_is_better=frozenset()):
        """Check and keep an uploaded CSV; return (what GET /api/datasets says of it, whether it is new).

        `lower_is_better` names the file's questions whose lowest mean is the
        best, beside the survey's own, which are so in any file.

        Raises DataError when the file cannot serve as a data set,
        NotAQuestion when `lower_is_better` names a question the file does not
        have, QuotaExceeded when it would pass the quota, and OSError when it
        cannot be stored (StoreUnavailable when Redis cannot be reached);
        nothing is kept then.
        """
        named = frozenset(lower_is_better)
        # Naming one of the survey's own changes nothing, so it does not change the id either.
        received = self._folder.receive(stream, named - SURVEY_LOWER_IS_BETTER)
        try:
            kept = self._folder.description(received.dataset_id)
            if kept is not None:
                _check_named(named, kept["questions"])
                return kept, False
            if not received.size:
                raise DataError("the file is empty")
            problem = text_problem(received.head, received.has_nul)
            if problem:
                raise DataError(problem)
            # Before parsing, so that a full store costs no parse; checked again when kept.
            self._folder.check_room(received.size, self.settings.quota, replacing=received.dataset_id)
            ingestor = self._ingestor(received.path, named)
            if not ingestor.questions:
                raise DataError("no row has a Question, a LocationDesc and a numeric Data_Value")
            _check_named(named, ingestor.questions)
            dataset = Dataset(received.dataset_id, display_name(filename), ingestor)
            description = dataset.describe()
            with self._lock:
                if not self._folder.keep(received, dataset.dataset_id, description, self.settings.quota):
                    return self._folder.description(dataset.dataset_id) or description, False
                self._loaded[dataset.dataset_id] = dataset
                self._unusable.pop(dataset.dataset_id, None)
            return description, True
        finally:
            self._folder.discard(received.path)

    def delete(self, dataset_id):
        """Remove an upload; return {"id", "name"} of it.

        Raises UnknownDataset, OSError when its files cannot be removed
        (StoreUnavailable when Redis cannot be reached).
        """
        if not (self._folder and isinstance(dataset_id, str) and DATASET_ID.fullmatch(dataset_id)):
            raise UnknownDataset(f"no data set has the id {dataset_id!r}")
        with self._lock:
            removed = self._folder.remove(dataset_id)
            self._unload(dataset_id)
        if removed is None:
            raise UnknownDataset(f"no data set has the id {dataset_id!r}")
        return removed

    def _load(self, dataset_id):
        with self._loading:
            dataset = self._loaded.get(dataset_id)
            if dataset is not None:
                return dataset
            fetched = self._folder.fetch(dataset_id)
            if fetched is None:
                raise UnknownDataset(f"no data set has the id {dataset_id!r}")
            if dataset_id in self._unusable:
                raise DatasetUnusable(self._unusable[dataset_id], 400)
            name, path, lower_is_better = fetched
            try:
                ingestor = self._ingestor(path, lower_is_better)
            except FileNotFoundError:
                raise UnknownDataset(f"the data set {dataset_id} was deleted") from None
            except OSError as error:
                self._log("error", "data set %s not loaded: %s", dataset_id, error)
                raise DatasetUnusable(f"the data set {dataset_id} cannot be read now: {error.strerror}",
                                      503) from None
            except DataError as error:
                reason = f"the data set {dataset_id} cannot be used: {error}"
                self._log("warning", "data set %s not loaded: %s", dataset_id, error)
                self._unusable[dataset_id] = reason
                raise DatasetUnusable(reason, 400) from None
            dataset = self._loaded[dataset_id] = Dataset(dataset_id, name, ingestor)
            return dataset

    def _still_kept(self, dataset_id):
        try:
            return self._folder.holds(dataset_id)
        except StoreUnavailable:
            # Loaded, and kept at the last look: serve it rather than fail
            # while Redis is away; a deletion is seen once it is back.
            return True

    def _drop_if_gone(self, dataset_id):
        """Unload a data set if it is no longer kept; whether it was.

        Asked again under the lock that keeping takes, so that a data set
        uploaded again in between is not unloaded, nor its files removed.
        """
        with self._lock:
            if self._still_kept(dataset_id):
                return False
            self._unload(dataset_id)
            return True

    def _unload(self, dataset_id):
        """Forget a data set that is no longer kept: its copy here, its answers, its ingestor."""
        dataset = self._loaded.pop(dataset_id, None)
        self._unusable.pop(dataset_id, None)
        if dataset is not None:
            self.answers.forget(dataset.ingestor.cache_owner)
        try:
            self._folder.forget(dataset_id)
        except OSError as error:
            self._log("warning", "the copy of deleted data set %s stays: %s", dataset_id, error)

    def _ingestor(self, path, lower_is_better=frozenset()):
        return DataIngestor(path, self.settings.limits, self.answers, self.settings.max_answer_bytes,
                            SURVEY_LOWER_IS_BETTER | lower_is_better)

    def _log(self, level, message, *args):
        if self._logger:
            getattr(self._logger, level)(message, *args)
