"""Turning request bodies and job ids into what the service needs, or a reason why not."""
import json
import re

from app.data_ingestor import STATISTICS
from app.datasets import UnknownDataset
from app.jobs import make_spec

JOB_ID = re.compile(r"(?:job_id_)?([1-9][0-9]{0,17})")


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


def statistic_spec(statistic, body, catalog):
    """Check a statistics request against its data set; return the job spec."""
    dataset = body.get("dataset")
    ingestor = dataset_ingestor(catalog, dataset)
    query = "" if dataset is None else f"?dataset={dataset}"
    question = _string_field(body, "question")
    if not ingestor.has_question(question):
        raise RequestError(f"unknown question {_quote(question)}; "
                           f"GET /api/questions{query} lists the questions")
    state = None
    if STATISTICS[statistic]:
        state = _string_field(body, "state")
        if not ingestor.has_state(state):
            raise RequestError(f"unknown state {_quote(state)}; GET /api/states{query} lists the states")
        if not ingestor.has_rows(question, state):
            raise RequestError(f"{state} has no data for the question {_quote(question)}")
    return make_spec(statistic, question, state, dataset)


def job_number(text):
    """The number of `job_id_N` or `N`, or None when it names no possible job."""
    match = JOB_ID.fullmatch(text)
    return int(match.group(1)) if match else None
