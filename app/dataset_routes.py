"""The HTTP routes of the data sets: list them and upload a CSV file."""
from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.data_ingestor import DataError
from app.stores.base import StoreUnavailable
from app.validation import RequestError

datasets_api = Blueprint("datasets_api", __name__)


def _catalog():
    return current_app.extensions["le_stats_sportif"].catalog


@datasets_api.get("/api/datasets")
def list_datasets():
    """Every data set: its id, name, row count and questions."""
    return jsonify({"status": "done", "data": _catalog().describe(),
                    "max_upload_bytes": current_app.config["MAX_UPLOAD_BYTES"]})


@datasets_api.post("/api/datasets")
def upload_dataset():
    """Check an uploaded CSV (multipart field "file") and keep it as a data set."""
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    # Only this route takes files; every other body stays under MAX_CONTENT_LENGTH.
    request.max_content_length = limit
    if request.mimetype != "multipart/form-data":
        raise RequestError('send the CSV file as multipart/form-data in a field named "file"', 415)
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        raise RequestError(f"the upload is larger than the limit of {limit} bytes", 413) from None
    if upload is None:
        raise RequestError('the upload has no field named "file"; send the CSV file in it')
    try:
        dataset, created = _catalog().add(upload.stream, upload.filename)
    except DataError as error:
        raise RequestError(f"the file cannot be used as a data set: {error}") from None
    except StoreUnavailable:
        # Answered by the routes' handler, with the reason naming the store.
        raise
    except OSError as error:
        current_app.extensions["le_stats_sportif.logger"].error("storing an upload failed: %s", error)
        raise RequestError("the data set could not be stored; try again later", 503) from None
    current_app.extensions["le_stats_sportif.logger"].info(
        "data set %s %s: %r, %d rows", dataset.dataset_id, "added" if created else "uploaded again",
        dataset.name, dataset.ingestor.row_count)
    return jsonify({"status": "done", "data": dataset.describe()}), 201 if created else 200
