"""The data sets jobs can be run against, by id: the bundled file and the uploads."""
import os
import threading
from dataclasses import dataclass

from app.data_ingestor import DataError, DataIngestor
from app.dataset_folder import DATASET_ID

DEFAULT_DATASET = "default"
NAME_LIMIT = 120


class UnknownDataset(LookupError):
    """No data set has that id."""


@dataclass(frozen=True)
class Dataset:
    """A data set the catalog serves."""

    dataset_id: str
    name: str
    ingestor: DataIngestor

    def describe(self):
        """What GET /api/datasets says about it."""
        return {"id": self.dataset_id, "name": self.name, "rows": self.ingestor.row_count,
                "questions": list(self.ingestor.questions)}


def display_name(filename):
    """The name an upload is shown under: its file name without folders, shortened."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return name[:NAME_LIMIT] or "upload.csv"


class DatasetCatalog:
    """The bundled data set and, when a DatasetFolder is given, the uploads kept in it.

    Data sets are never changed or removed once added, so a job finds the
    same rows when it runs as when it was accepted. With a folder shared
    through a store (app.stores.redis_datasets), the uploads of other
    processes are listed too, and loaded here on first use.
    """

    def __init__(self, csv_path, folder=None, logger=None):
        self._datasets = {DEFAULT_DATASET: Dataset(DEFAULT_DATASET, os.path.basename(csv_path),
                                                   DataIngestor(csv_path))}
        self._folder = folder
        # Guards adding to _datasets; readers of the dict need no lock.
        self._lock = threading.Lock()
        for dataset_id, name, path in folder.stored() if folder else ():
            try:
                self._datasets[dataset_id] = Dataset(dataset_id, name, DataIngestor(path))
            except (DataError, OSError) as error:
                # One damaged file in the folder must not keep the service from starting.
                if logger:
                    logger.warning("data set %s not loaded: %s", dataset_id, error)

    def get(self, dataset_id=DEFAULT_DATASET):
        """The DataIngestor of a data set; raises UnknownDataset."""
        dataset = self._datasets.get(dataset_id)
        if dataset is None:
            dataset = self._fetch(dataset_id)
        return dataset.ingestor

    def describe(self):
        """Every data set, the bundled one first, then the uploads oldest first."""
        described = {dataset_id: dataset.describe() for dataset_id, dataset in list(self._datasets.items())}
        for dataset_id, about in (self._folder.described() if self._folder else {}).items():
            described.setdefault(dataset_id, about)
        return list(described.values())

    def _fetch(self, dataset_id):
        """Load a data set another process received; raises UnknownDataset."""
        fetched = (self._folder.fetch(dataset_id) if self._folder and isinstance(dataset_id, str)
                   and DATASET_ID.fullmatch(dataset_id) else None)
        if fetched is None:
            raise UnknownDataset(f"no data set has the id {dataset_id!r}")
        with self._lock:
            if dataset_id not in self._datasets:
                name, path = fetched
                self._datasets[dataset_id] = Dataset(dataset_id, name, DataIngestor(path))
            return self._datasets[dataset_id]

    def add(self, stream, filename):
        """Check and keep an uploaded CSV; return (its Dataset, whether it is new).

        Raises DataError when the file cannot serve as a data set, and
        OSError when it cannot be stored; nothing is kept then.
        """
        temporary, dataset_id, size = self._folder.receive(stream)
        try:
            if dataset_id in self._datasets:
                return self._datasets[dataset_id], False
            if not size:
                raise DataError("the file is empty")
            ingestor = DataIngestor(temporary)
            if not ingestor.questions:
                raise DataError("no row has a Question, a LocationDesc and a numeric Data_Value")
            dataset = Dataset(dataset_id, display_name(filename), ingestor)
            with self._lock:
                if dataset_id in self._datasets:
                    return self._datasets[dataset_id], False
                self._folder.keep(temporary, dataset_id, dataset.name, dataset.describe())
                self._datasets[dataset_id] = dataset
            return dataset, True
        finally:
            self._folder.discard(temporary)
