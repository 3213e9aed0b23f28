"""The HTTP routes of the data sets: list them, upload a CSV file, delete one."""
import json

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.data_ingestor import DataError
from app.dataset_folder import QuotaExceeded
from app.datasets import DEFAULT_DATASET, DatasetSettings, NotAQuestion, UnknownDataset
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
    """Check an uploaded CSV (multipart field "file") and keep it as a data set.

    Each multipart field "lower_is_better" names one of the file's questions
    whose lowest mean is the best.
    """
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    limits = _catalog().settings.limits
    # Only this route takes files; every other body stays under MAX_CONTENT_LENGTH.
    request.max_content_length = limit
    # The file, and a lower_is_better field for each question a file may hold.
    request.max_form_parts = limits.questions + 1
    if request.mimetype != "multipart/form-data":
        raise RequestError('send the CSV file as multipart/form-data in a field named "file"', 415)
    try:
        upload = request.files.get("file")
        named = _lower_is_better(request.form.getlist("lower_is_better"), limits.field_chars)
    except RequestEntityTooLarge:
        raise RequestError(_too_large(limit, request.max_form_parts), 413) from None
    if upload is None:
        raise RequestError('the upload has no field named "file"; send the CSV file in it')
    try:
        described, created = _catalog().add(upload.stream, upload.filename, named)
    except DataError as error:
        raise RequestError(f"the file cannot be used as a data set: {error}") from None
    except NotAQuestion as error:
        raise RequestError(str(error)) from None
    except QuotaExceeded as error:
        # 507, as for a quota of WebDAV (RFC 4331): the request is sound, the room is not there.
        raise RequestError(f"the data set is not kept: {error}", 507) from None
    except StoreUnavailable:
        # Answered by the routes' handler, with the reason naming the store.
        raise
    except OSError as error:
        _logger().error("storing an upload failed: %s", error)
        raise RequestError("the data set could not be stored; try again later", 503) from None
    _logger().info("data set %s %s: %r, %d rows, %d lower-is-better questions", described["id"],
                   "added" if created else "uploaded again", described["name"], described["rows"],
                   len(described["lower_is_better"]))
    return jsonify({"status": "done", "data": described}), 201 if created else 200


def _lower_is_better(values, field_chars):
    """The questions the "lower_is_better" fields name; blank ones name none.

    Surrounding spaces are stripped, as they are from the file's questions.
    A value longer than a question may be is refused before the file is read.
    """
    named = frozenset(value.strip() for value in values) - {""}
    longest = max(named, key=len, default="")
    if len(longest) > field_chars:
        raise RequestError(f'a "lower_is_better" value of {len(longest)} characters is longer than the '
                           f"{field_chars} a question may have")
    return named


def _too_large(limit, parts):
    """Why Werkzeug refused the body: its size, or else too many fields or too large a field."""
    if request.content_length is not None and request.content_length <= limit:
        return (f"the upload has more than {parts} fields, or a field other than the file of more than "
                f'{request.max_form_memory_size} bytes; send the file and at most {parts - 1} '
                '"lower_is_better" values, one question each')
    return f"the upload is larger than the limit of {limit} bytes"


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
