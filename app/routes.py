"""The HTTP layer: parse and validate, hand work to the jobs, map outcomes to JSON."""
from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.answer_csv import answer_csv
from app.data_ingestor import STATISTICS
from app.job_listing import page_answer
from app.jobs import spec_request
from app.stores.base import AnswerRemoved, JobExpired, JobStatus, StorageError, StoreUnavailable, job_name
from app.task_runner import PoolFull, PoolShutDown
from app.validation import (RequestError, dataset_ingestor, job_number, json_object, known_question,
                            listing_query, statistic_spec)

api = Blueprint("api", __name__)

# The answers every job gets many of, encoded once.
RUNNING = b'{"status":"running"}'
# What a job settled longer ago than the retention time answers (LSS_RESULT_TTL_S).
EXPIRED = "expired"


def _service():
    return current_app.extensions["le_stats_sportif"]


def _json(encoded):
    return Response(encoded, mimetype="application/json")


def _error(reason, status):
    return jsonify({"status": "error", "reason": reason}), status


# For every blueprint: the data set routes refuse requests the same way.
@api.app_errorhandler(RequestError)
def _refuse(error):
    current_app.extensions["le_stats_sportif.logger"].info("refused: %s", error.reason)
    return _error(error.reason, error.status)


@api.app_errorhandler(StoreUnavailable)
def _store_unavailable(error):
    current_app.extensions["le_stats_sportif.logger"].error("store unavailable: %s", error)
    return _error(str(error), 503)


def _submit(statistic, body):
    service = _service()
    spec = statistic_spec(statistic, body, service.catalog)
    try:
        job_id = service.submit(spec)
    except PoolShutDown:
        return _error("shutting down", 503)
    except PoolFull:
        response, status = _error("too many jobs are waiting; try again shortly", 503)
        response.headers["Retry-After"] = "1"
        return response, status
    except StorageError as error:
        current_app.extensions["le_stats_sportif.logger"].error("job refused: %s", error)
        return _error(f"the job could not be recorded: {error}", 503)
    return _json(b'{"job_id":"%s"}' % job_name(job_id).encode())


def _submitted_body():
    """The body of a job submission; after a shutdown every one is refused, valid or not."""
    if _service().pool.is_shutting_down:
        raise RequestError("shutting down", 503)
    raw = request.get_data()
    if request.content_length is None and len(raw) >= request.max_content_length:
        # A body sent in chunks has no length to refuse up front: the server
        # stops reading it at the limit, so one that reaches it is too large.
        raise RequestEntityTooLarge()
    return json_object(raw)


# Only the nine names match, so that other paths get 404 and a POST to a
# GET route (/api/jobs) gets 405.
@api.post(f"/api/<any({', '.join(STATISTICS)}):statistic>")
def submit_statistic(statistic):
    """POST /api/states_mean and its eight siblings."""
    return _submit(statistic, _submitted_body())


@api.post("/api/start")
def start():
    """POST /api/start: {"task": "<statistic>", ...the statistic's body}."""
    body = _submitted_body()
    task = body.pop("task", None)
    if not isinstance(task, str) or task not in STATISTICS:
        raise RequestError(f'"task" must be one of: {", ".join(STATISTICS)}')
    return _submit(task, body)


def _job_number(text):
    number = job_number(text)
    if number is None:
        raise RequestError("Invalid job_id", 404)
    return number


@api.get("/api/get_results/<path:job_id>")
@api.get("/api/results/<path:job_id>")
def get_results(job_id):
    """A job's status and, once done, its answer, served as stored: one look-up in the store.

    With ?format=csv a finished job's answer is CSV (app.answer_csv); a job
    not done answers as without it.
    """
    number = _job_number(job_id)
    # Most polls have no query: the arguments are parsed only when there are some.
    as_csv = bool(request.environ.get("QUERY_STRING")) and _answer_format() == "csv"
    try:
        found = _service().store.lookup(number)
    except JobExpired:
        raise RequestError(EXPIRED, 410) from None
    except AnswerRemoved as error:
        raise RequestError(str(error), 410) from None
    except StoreUnavailable:
        raise
    except OSError as error:
        current_app.extensions["le_stats_sportif.logger"].error("reading %s failed: %s",
                                                                job_name(number), error)
        return _error(f"the result of {job_name(number)} cannot be read now: {error.strerror}", 503)
    if found.status is None:
        raise RequestError("Invalid job_id", 404)
    if found.status is JobStatus.ERROR:
        return jsonify({"status": "error", "reason": found.reason})
    if found.status is JobStatus.RUNNING:
        return _json(RUNNING)
    if as_csv:
        return Response(answer_csv(found.answer), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{job_name(number)}.csv"'})
    return _json(b'{"status": "done", "data": ' + found.answer + b"}")


def _answer_format():
    answer_format = request.args.get("format", "json")
    if answer_format not in ("json", "csv"):
        raise RequestError('"format" must be json or csv')
    return answer_format


@api.get("/api/status/<path:job_id>")
def job_status(job_id):
    """A job's status alone; an expired job, or one whose answer was removed, answers as get_results does."""
    try:
        status = _service().store.status(_job_number(job_id))
    except JobExpired:
        raise RequestError(EXPIRED, 410) from None
    except AnswerRemoved as error:
        raise RequestError(str(error), 410) from None
    if status is None:
        raise RequestError("Invalid job_id", 404)
    return jsonify({"status": status.value})


@api.get("/api/jobs/<path:job_id>")
def job_record(job_id):
    """What a job was asked, when, and how it ended; an expired job answers 410 as get_results does."""
    try:
        found = _service().store.record(_job_number(job_id))
    except JobExpired:
        raise RequestError(EXPIRED, 410) from None
    if found is None:
        raise RequestError("Invalid job_id", 404)
    answer = {"status": found.status.value,
              "request": None if found.spec is None else spec_request(found.spec),
              "submitted_at": _instant(found.submitted_at), "finished_at": _instant(found.finished_at)}
    if found.status is JobStatus.ERROR:
        answer["reason"] = found.reason
    return jsonify(answer)


def _instant(seconds):
    """A time as ISO 8601 in UTC, to the millisecond; None when it is not known."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


@api.get("/api/jobs")
def jobs():
    """Every job kept and its status, oldest first; with since, before or limit, a page of them."""
    service = _service()
    query = listing_query(request.args)
    if query is None:
        return _json(b'{"status":"done","data":' + service.listing.encode() + b"}")
    array, older = service.listing.page(**query)
    return _json(page_answer(array, service.store.kept_count(), older))


@api.get("/api/num_jobs")
def num_jobs():
    """How many accepted jobs have not finished."""
    return jsonify({"num_jobs": _service().store.running_count})


@api.get("/api/graceful_shutdown")
def graceful_shutdown():
    """Stop intake and drain the queue, without waiting for it; with a shared store, in every process."""
    service = _service()
    service.shutdown(wait=False)
    try:
        service.store.request_shutdown()
    except StoreUnavailable as error:
        return _error(f"this process takes no more jobs, but the others could not be told: {error}", 503)
    return jsonify({"status": "running" if service.store.running_count else "done"})


def _queried_dataset():
    return dataset_ingestor(_service().catalog, request.args.get("dataset"))


@api.get("/api/questions")
def questions():
    """The questions of a data set (?dataset=<id>), each with whether a lower value is better and its
    global mean (what POST /api/global_mean answers), so that a chart can mark it without a job."""
    ingestor = _queried_dataset()
    listing = [{"question": question, "lower_is_better": lower,
                "global_mean": ingestor.global_mean(question)["global_mean"]}
               for question, lower in ingestor.questions.items()]
    return jsonify({"status": "done", "data": listing})


@api.get("/api/states")
def states():
    """The locations of a data set (?dataset=<id>); with ?question=<text>, only those with data for it."""
    ingestor = _queried_dataset()
    question = request.args.get("question")
    if question is None:
        return jsonify({"status": "done", "data": ingestor.locations})
    known_question(ingestor, question, request.args.get("dataset"))
    return jsonify({"status": "done", "data": [location for location in ingestor.locations
                                               if ingestor.has_rows(question, location)]})


@api.get("/api/ranking")
def ranking():
    """Every state's mean, rank and percentile for a question (?question=<text>, ?dataset=<id>), best
    first: what a one-state view places its state in, without a job of its own."""
    ingestor = _queried_dataset()
    question = request.args.get("question")
    if question is None:
        raise RequestError('"question" is missing; GET /api/questions lists the questions')
    known_question(ingestor, question, request.args.get("dataset"))
    return jsonify({"status": "done", "data": ingestor.ranking(question)})
