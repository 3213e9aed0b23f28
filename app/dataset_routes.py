"""The HTTP routes of the data sets: list them, upload a CSV file, delete one."""
import json

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.data_ingestor import DataError
from app.dataset_folder import QuotaExceeded
from app.datasets import DEFAULT_DATASET, DatasetSettings, UnknownDataset
from app.stores.base import StoreUnavailable
from app.validation import RequestError

datasets_api = Blueprint("datasets_api", __name__)


@datasets_api.record_once
def _open_catalog(state):
    """Hand the catalog its settings and let it tidy its folder, once, as the app is built.

    The catalog is made before the blueprints are registered; this is the
    first moment the data set routes see the app's settings.
    """
    state.app.extensions["le_stats_sportif"].catalog.open(DatasetSettings.from_config(state.app.config))


def _catalog():
    return current_app.extensions["le_stats_sportif"].catalog


def _logger():
    return current_app.extensions["le_stats_sportif.logger"]


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
        described, created = _catalog().add(upload.stream, upload.filename)
    except DataError as error:
        raise RequestError(f"the file cannot be used as a data set: {error}") from None
    except QuotaExceeded as error:
        # 507, as for a quota of WebDAV (RFC 4331): the request is sound, the room is not there.
        raise RequestError(f"the data set is not kept: {error}", 507) from None
    except StoreUnavailable:
        # Answered by the routes' handler, with the reason naming the store.
        raise
    except OSError as error:
        _logger().error("storing an upload failed: %s", error)
        raise RequestError("the data set could not be stored; try again later", 503) from None
    _logger().info("data set %s %s: %r, %d rows", described["id"], "added" if created else "uploaded again",
                   described["name"], described["rows"])
    return jsonify({"status": "done", "data": described}), 201 if created else 200


@datasets_api.delete("/api/datasets/<dataset_id>")
def delete_dataset(dataset_id):
    """Remove an uploaded data set: its files, its copy in Redis, and from every process at its next use."""
    if dataset_id == DEFAULT_DATASET:
        raise RequestError("the bundled data set cannot be deleted")
    try:
        removed = _catalog().delete(dataset_id)
    except UnknownDataset:
        raise RequestError(f"no data set has the id {json.dumps(dataset_id[:80], ensure_ascii=False)}; "
                           "GET /api/datasets lists them", 404) from None
    except StoreUnavailable:
        raise
    except OSError as error:
        _logger().error("deleting data set %s failed: %s", dataset_id, error)
        raise RequestError("the data set could not be deleted; try again later", 503) from None
    _logger().info("data set %s deleted: %r", removed["id"], removed["name"])
    return jsonify({"status": "done", "data": removed})
