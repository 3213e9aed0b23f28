"""The data sets jobs can be run against, by id."""
from app.data_ingestor import DataIngestor

DEFAULT_DATASET = "default"


class UnknownDataset(LookupError):
    """No data set has that id."""


class DatasetCatalog:
    """The bundled data set, loaded once at start."""

    def __init__(self, csv_path):
        self._ingestors = {DEFAULT_DATASET: DataIngestor(csv_path)}

    def get(self, dataset_id=DEFAULT_DATASET):
        """The DataIngestor of a data set; raises UnknownDataset."""
        try:
            return self._ingestors[dataset_id]
        except KeyError:
            raise UnknownDataset(f"no data set has the id {dataset_id!r}") from None
