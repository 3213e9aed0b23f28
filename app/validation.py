"""Turning request bodies and job ids into what the service needs, or a reason why not."""
import json
import re

from app.data_ingestor import STATISTICS
from app.datasets import DatasetUnusable, UnknownDataset
from app.jobs import make_spec
from app.stores.base import MAX_JOB_ID

# Ids go up to 2**63 - 1 (MAX_JOB_ID), 19 digits; job_number checks the bound.
JOB_ID = re.compile(r"(?:job_id_)?([1-9][0-9]{0,18})")
# ?since= also takes 0: every job.
SINCE_ID = re.compile(r"(?:job_id_)?(0|[1-9][0-9]{0,18})")
PAGE_LIMIT = re.compile(r"[1-9][0-9]{0,3}")
# The most jobs a page of GET /api/jobs lists.
MAX_PAGE_SIZE = 1000


class RequestError(Exception):
    """A request the service cannot serve: HTTP `status` and a plain reason."""

    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _quote(text, limit=80):
    """A client's string, shortened, for an error message."""
    shown = text if len(text) <= limit else text[:limit] + "..."
    return json.dumps(shown, ensure_ascii=False)


def json_object(raw):
    """The request body as a dict; raises RequestError otherwise."""
    if not raw.strip():
        raise RequestError('the request body is empty; send a JSON object such as {"question": "..."}')
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise RequestError(f"the request body is not valid JSON ({str(error)[:120]})") from None
    if not isinstance(body, dict):
        raise RequestError(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def _string_field(body, name):
    if name not in body:
        raise RequestError(f'the request body has no "{name}"')
    value = body[name]
    if not isinstance(value, str):
        raise RequestError(f'"{name}" must be a string')
    return value


def dataset_ingestor(catalog, dataset):
    """The DataIngestor of the data set a client named, or of the bundled one for None."""
    if dataset is None:
        return catalog.get()
    if not isinstance(dataset, str):
        raise RequestError('"dataset" must be a string')
    try:
        return catalog.get(dataset)
    except UnknownDataset:
        raise RequestError(f"unknown data set {_quote(dataset)}; GET /api/datasets lists them") from None
    except DatasetUnusable as error:
        raise RequestError(str(error), error.status) from None


def known_question(ingestor, question, dataset=None):
    """`question`, if the data set (named `dataset`, None for the bundled one) has it; else RequestError."""
    if not ingestor.has_question(question):
        query = "" if dataset is None else f"?dataset={dataset}"
        raise RequestError(f"unknown question {_quote(question)}; "
                           f"GET /api/questions{query} lists the questions")
    return question


def statistic_spec(statistic, body, catalog):
    """Check a statistics request against its data set; return the job spec."""
    dataset = body.get("dataset")
    ingestor = dataset_ingestor(catalog, dataset)
    query = "" if dataset is None else f"?dataset={dataset}"
    question = known_question(ingestor, _string_field(body, "question"), dataset)
    state = None
    if STATISTICS[statistic]:
        state = _string_field(body, "state")
        if not ingestor.has_state(state):
            raise RequestError(f"unknown state {_quote(state)}; GET /api/states{query} lists the states")
        if not ingestor.has_rows(question, state):
            raise RequestError(f"{state} has no data for the question {_quote(question)}")
    return make_spec(statistic, question, state, dataset)


def job_number(text, pattern=JOB_ID):
    """The number of `job_id_N` or `N`, or None when it names no possible job."""
    match = pattern.fullmatch(text)
    number = int(match.group(1)) if match else None
    return number if number is not None and number <= MAX_JOB_ID else None


def listing_query(args):
    """{since, before, limit} of a GET /api/jobs query; None when it asks for the whole list."""
    if not any(name in args for name in ("since", "before", "limit")):
        return None
    query = {}
    if "since" in args:
        query["since"] = job_number(args["since"], SINCE_ID)
        if query["since"] is None:
            raise RequestError('"since" must be a job id (job_id_N or N), or 0 for every job')
    if "before" in args:
        query["before"] = job_number(args["before"])
        if query["before"] is None:
            raise RequestError('"before" must be a job id (job_id_N or N)')
    if "limit" in args:
        if not PAGE_LIMIT.fullmatch(args["limit"]) or int(args["limit"]) > MAX_PAGE_SIZE:
            raise RequestError(f'"limit" must be a whole number from 1 to {MAX_PAGE_SIZE}')
        query["limit"] = int(args["limit"])
    return query
