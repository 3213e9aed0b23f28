"""The API's description in OpenAPI 3, and the route that serves it.

Written by hand, next to the routes it describes; unittests/test_openapi.py
keeps it true by comparing its paths with the app's routes and checking
real answers against its schemas.
"""
from flask import Blueprint, jsonify

from app.data_ingestor import STATISTICS
from app.guard import SAFE_METHODS, changes_something, needs_token

api_description = Blueprint("api_description", __name__)

QUESTION = "Percent of adults aged 18 years and older who have obesity"


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description, example=None):
    content = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def _error(description, reason):
    return _json(_ref("Error"), description, {"status": "error", "reason": reason})


def _listing(item_schema, description):
    return {"type": "object", "description": description, "required": ["status", "data"],
            "properties": {"status": {"type": "string", "enum": ["done"]},
                           "data": {"type": "array", "items": item_schema}}}


NUMBER_MAP = {"type": "object", "additionalProperties": {"type": "number"}}
DATASET_FIELD = {"type": "string", "nullable": True,
                 "description": 'A data set id of GET /api/datasets; the bundled data ("default") '
                                'when null or left out.'}


# null, said so that OpenAPI 3.0 and JSON Schema (which the tests validate with) read it alike:
# OpenAPI 3.0's "nullable" is not JSON Schema, and JSON Schema's "null" type is not OpenAPI 3.0.
NULL = {"enum": [None]}
INSTANT = {"type": "string", "format": "date-time",
           "description": "ISO 8601 in UTC, to the millisecond: 2026-12-01T17:26:11.540+00:00."}


def _or_null(schema, description):
    return {"anyOf": [schema, NULL], "description": description}


# One {"job_id_N": status} of GET /api/jobs.
JOB_ENTRY = {"type": "object", "minProperties": 1, "maxProperties": 1,
             "additionalProperties": {"type": "string", "enum": ["running", "done", "error"]}}


def _start_request(takes_state):
    """The body of /api/start for the statistics that take a state, or for the others."""
    tasks = [statistic for statistic, needs_state in STATISTICS.items() if needs_state == takes_state]
    fields = {"task": {"type": "string", "enum": tasks}, "question": {"type": "string"}}
    if takes_state:
        fields["state"] = {"type": "string"}
    return {"type": "object", "required": list(fields), "properties": {**fields, "dataset": DATASET_FIELD}}


SCHEMAS = {
    "Error": {
        "type": "object", "required": ["status", "reason"], "additionalProperties": False,
        "description": "Every refused request and every failed job: what is wrong, in plain words.",
        "properties": {"status": {"type": "string", "enum": ["error"]}, "reason": {"type": "string"}},
    },
    "QuestionRequest": {
        "type": "object", "required": ["question"],
        "properties": {
            "question": {"type": "string", "description": "One of GET /api/questions."},
            "dataset": DATASET_FIELD,
        },
    },
    "StateRequest": {
        "type": "object", "required": ["question", "state"],
        "properties": {
            "question": {"type": "string", "description": "One of GET /api/questions."},
            "state": {"type": "string", "description": "One of GET /api/states with rows for the question."},
            "dataset": DATASET_FIELD,
        },
    },
    "StartRequest": {
        "description": "The body of one of the nine statistics, with the statistic's name in task.",
        "oneOf": [_ref("StartQuestionRequest"), _ref("StartStateRequest")],
    },
    "StartQuestionRequest": _start_request(takes_state=False),
    "StartStateRequest": _start_request(takes_state=True),
    "JobAccepted": {
        "type": "object", "required": ["job_id"], "additionalProperties": False,
        "properties": {"job_id": {"type": "string", "pattern": "^job_id_[1-9][0-9]*$"}},
    },
    "StateMeans": {**NUMBER_MAP, "description": "{state: number}, one entry a state."},
    "GlobalMean": {"type": "object", "required": ["global_mean"], "additionalProperties": False,
                   "properties": {"global_mean": {"type": "number"}}},
    "CategoryMeans": {**NUMBER_MAP, "description": "{\"('State', 'Category', 'Segment')\": mean}: "
                                                   "keys are Python's str() of a tuple."},
    "StateCategoryMeans": {
        "type": "object", "description": "{state: {\"('Category', 'Segment')\": mean}}, one state.",
        "additionalProperties": NUMBER_MAP,
    },
    "JobRunning": {"type": "object", "required": ["status"], "additionalProperties": False,
                   "properties": {"status": {"type": "string", "enum": ["running"]}}},
    "JobDone": {
        "type": "object", "required": ["status", "data"], "additionalProperties": False,
        "properties": {
            "status": {"type": "string", "enum": ["done"]},
            "data": {"description": "The answer; its shape depends on the statistic.",
                     "anyOf": [_ref("StateMeans"), _ref("GlobalMean"), _ref("CategoryMeans"),
                               _ref("StateCategoryMeans")]},
        },
    },
    "JobResult": {"oneOf": [_ref("JobRunning"), _ref("JobDone"), _ref("Error")]},
    "JobStatus": {"type": "object", "required": ["status"], "additionalProperties": False,
                  "properties": {"status": {"type": "string", "enum": ["running", "done", "error"]}}},
    "JobRequest": {
        "type": "object", "required": ["statistic", "question", "state", "dataset"],
        "additionalProperties": False,
        "description": "What a job was asked: its statistic and the fields of the statistic's body.",
        "properties": {
            "statistic": {"type": "string", "enum": list(STATISTICS)},
            "question": {"type": "string"},
            "state": _or_null({"type": "string"}, "null for the statistics without a state."),
            "dataset": {"type": "string", "description": '"default" for the bundled data, else the id of an '
                                                         "upload (GET /api/datasets)."},
        },
    },
    "JobRecord": {
        "type": "object", "required": ["status", "request", "submitted_at", "finished_at"],
        "additionalProperties": False,
        "properties": {
            "status": {"type": "string", "enum": ["running", "done", "error"]},
            "request": _or_null(_ref("JobRequest"), "null for a job recorded before the server kept "
                                                    "requests (by an older version)."),
            "submitted_at": _or_null(INSTANT, "When the job was accepted; null when not known, as request."),
            "finished_at": _or_null(INSTANT, "When it was done or failed; null while it runs (or, for a job "
                                             "settled by an older version of the Redis store, not known)."),
            "reason": {"type": "string", "description": "A failed job only: why it failed."},
        },
    },
    "JobList": {
        **_listing(JOB_ENTRY, "One {job_id: status} object per job kept, oldest first; expired jobs are "
                              "left out. With since, before or limit, a page of them, with total and next."),
        "properties": {
            "status": {"type": "string", "enum": ["done"]},
            "data": {"type": "array", "items": JOB_ENTRY},
            "total": {"type": "integer", "minimum": 0,
                      "description": "A page only: how many jobs the whole list holds."},
            "next": {"type": "string", "pattern": "^job_id_[1-9][0-9]*$",
                     "description": "A page with limit, when older jobs are kept: the before of the "
                                    "page of older jobs."},
        },
    },
    "NumJobs": {"type": "object", "required": ["num_jobs"], "additionalProperties": False,
                "properties": {"num_jobs": {"type": "integer", "minimum": 0}}},
    "ShutdownProgress": {"type": "object", "required": ["status"], "additionalProperties": False,
                         "properties": {"status": {"type": "string", "enum": ["running", "done"]}}},
    "Alive": {"type": "object", "required": ["status"],
              "properties": {"status": {"type": "string", "enum": ["alive"]}}},
    "Ready": {"type": "object", "required": ["status"],
              "properties": {"status": {"type": "string", "enum": ["ready"]}}},
    "Questions": _listing({"type": "object", "required": ["question", "lower_is_better", "global_mean"],
                           "properties": {"question": {"type": "string"},
                                          "lower_is_better": {"type": "boolean"},
                                          "global_mean": {"type": "number"}}},
                          "The questions of the data set, each with its direction and its global mean "
                          "(as POST /api/global_mean answers it)."),
    "States": _listing({"type": "string"}, "Every location of the data set."),
    "Ranking": _listing({"type": "object", "required": ["state", "mean", "rank", "percentile"],
                         "additionalProperties": False,
                         "properties": {"state": {"type": "string"}, "mean": {"type": "number"},
                                        "rank": {"type": "integer", "minimum": 1},
                                        "percentile": {"type": "number", "minimum": 0, "maximum": 100}}},
                        "Every location with data for the question, best first (by the question's "
                        "direction): its mean, its rank (equal means share one) and its percentile "
                        "(the share of the other locations with a worse mean, in percent)."),
    "Dataset": {
        "type": "object", "required": ["id", "name", "rows", "questions", "lower_is_better"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string",
                   "description": '"default" for the bundled data, for uploads a hash of the content '
                                  "and of the questions named lower-is-better."},
            "name": {"type": "string", "description": "The file's name."},
            "rows": {"type": "integer", "minimum": 0},
            "questions": {"type": "array", "items": {"type": "string"}},
            "lower_is_better": {"type": "array", "items": {"type": "string"},
                                "description": "The questions whose lowest mean is the best (ranked "
                                               "lowest first); the others are higher-is-better."},
        },
    },
    "DatasetList": {
        **_listing(_ref("Dataset"), "The bundled data set first, then the uploads, oldest first."),
        "properties": {"status": {"type": "string", "enum": ["done"]},
                       "data": {"type": "array", "items": _ref("Dataset")},
                       "max_upload_bytes": {"type": "integer", "minimum": 1}},
    },
    "DatasetStored": {"type": "object", "required": ["status", "data"],
                      "properties": {"status": {"type": "string", "enum": ["done"]},
                                     "data": _ref("Dataset")}},
    "DatasetDeleted": {"type": "object", "required": ["status", "data"],
                       "properties": {"status": {"type": "string", "enum": ["done"]},
                                      "data": {"type": "object", "required": ["id", "name"],
                                               "additionalProperties": False,
                                               "properties": {"id": {"type": "string"},
                                                              "name": {"type": "string"}}}}},
    "Upload": {"type": "object", "required": ["file"],
               "properties": {"file": {"type": "string", "format": "binary",
                                       "description": (
                                           "A CSV with the columns LocationDesc, Question, Data_Value, "
                                           "StratificationCategory1 and Stratification1 (others are "
                                           "ignored); Data_Value numeric or empty.")},
                              "lower_is_better": {
                                  "type": "array", "items": {"type": "string"},
                                  "description": (
                                      "A field of its own for each question of the file whose lowest "
                                      "mean is the best, its text as in the file (surrounding spaces "
                                      "aside; blank values name none). The others are higher-is-better, "
                                      "except the survey's own lower-is-better questions, which are so "
                                      "in any file. At most one a question of the file.")}}},
}

# statistic -> (summary, the schema of its answer, an example answer)
ANSWERS = {
    "states_mean": ("The mean of every state, ascending", "StateMeans",
                    {"Colorado": 22.2, "Mississippi": 34.6}),
    "state_mean": ("The mean of one state", "StateMeans", {"Ohio": 30.1}),
    "best5": ("The five best states, best first", "StateMeans", {"Colorado": 22.2, "Hawaii": 23.1}),
    "worst5": ("The five worst states, worst first", "StateMeans", {"Mississippi": 34.6, "Alabama": 33.9}),
    "global_mean": ("The mean over all rows of the question", "GlobalMean", {"global_mean": 29.2}),
    "diff_from_mean": ("Global mean minus each state's mean", "StateMeans",
                       {"Colorado": 7.0, "Mississippi": -5.4}),
    "state_diff_from_mean": ("Global mean minus one state's mean", "StateMeans", {"Ohio": -0.9}),
    "mean_by_category": ("The mean of every state, category and segment", "CategoryMeans",
                         {"('Ohio', 'Age (years)', '18 - 24')": 20.4}),
    "state_mean_by_category": ("The mean of every category and segment of one state", "StateCategoryMeans",
                               {"Ohio": {"('Age (years)', '18 - 24')": 20.4}}),
}

JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"},
          "description": "job_id_N, or N alone.", "example": "job_id_1"}
DATASET = {"name": "dataset", "in": "query", "required": False, "schema": {"type": "string"},
           "description": "A data set id of GET /api/datasets; the bundled data when left out."}
ANSWER_FORMAT = {"name": "format", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
                 "description": "csv: a finished job's answer as text/csv, a header row and one row per key "
                                "(state, value; state, category, segment, value for the by-category answers; "
                                "statistic, value for global_mean). A job not done answers in JSON as "
                                "without it."}
QUESTION_FILTER = {"name": "question", "in": "query", "required": False, "schema": {"type": "string"},
                   "description": "A question of the data set: only the locations with data for it "
                                  "(the ones its state statistics accept)."}
BAD_BODY = _error("The body is not a JSON object, or a field is missing, of the wrong type or unknown.",
                  'unknown question "Percent of cats"; GET /api/questions lists the questions')
TOO_LARGE = _error("The body is larger than the server accepts.", "Request Entity Too Large")
REFUSED_WORK = {
    **_error("Shutting down, or too many jobs are waiting (then Retry-After says when to try again).",
             "shutting down"),
    "headers": {"Retry-After": {"schema": {"type": "integer"},
                                "description": "Seconds to wait; sent when the queue is full."}},
}
NO_JOB = _error("No such job.", "Invalid job_id")
JOB_EXPIRED = _error("The job settled longer ago than the server keeps jobs (LSS_RESULT_TTL_S, a week by "
                     "default). Its id is never handed out again.", "expired")
EXPIRED_OR_GONE = _error("The job settled longer ago than the server keeps jobs (LSS_RESULT_TTL_S, a week "
                         'by default): reason "expired"; or it finished and its result was removed '
                         "from the results folder. Its id is never handed out again.", "expired")
LISTING_PARAMETERS = [
    {"name": "since", "in": "query", "required": False,
     "schema": {"type": "string", "pattern": "^(job_id_)?(0|[1-9][0-9]{0,18})$"},
     "description": "Only the jobs with a larger id (job_id_N or N; 0 for every job).",
     "example": "job_id_40"},
    {"name": "before", "in": "query", "required": False,
     "schema": {"type": "string", "pattern": "^(job_id_)?[1-9][0-9]{0,18}$"},
     "description": "Only the jobs with a smaller id: the next of the previous page.",
     "example": "job_id_90"},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
     "description": "At most this many jobs, the newest of those selected (still listed oldest first).",
     "example": 30},
]
RESULT_UNREADABLE = _error("The job finished but the disk refuses to give its result now, or the job store "
                           "(Redis) cannot be reached; try again later.",
                           "the result of job_id_1 cannot be read now: Permission denied")
STORE_UNAVAILABLE = _error("With the Redis job store: Redis cannot be reached now; try again later.",
                           "the job store (Redis) cannot be reached: Connection refused")
# The answers of app.guard, which runs before every route (see _guarded).
CROSS_SITE = _error("A browser marked the request as sent by a page of another site (Sec-Fetch-Site "
                    "cross-site or same-site, or an Origin that is not this server's); nothing was done. "
                    "Clients that are not browsers send neither header.",
                    "the request comes from a page of 'http://example.com', not of this server; only "
                    "this server's own pages may change anything here")
NO_TOKEN = {
    **_error("LSS_ADMIN_TOKEN is set and the request lacks Authorization: Bearer with it; nothing was done.",
             "this operation is the operator's: send the header Authorization: Bearer <LSS_ADMIN_TOKEN>"),
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer."}},
}
RATE_LIMITED = {
    **_error("LSS_RATE_LIMIT is set and this client address sent more requests that start jobs or change "
             "data than it allows; nothing was done.",
             "too many requests from 127.0.0.1: at most 100 per 1 second that start jobs or change data; "
             "try again in 1 s"),
    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
}
BAD_DATASET = _error("The dataset parameter names no data set.",
                     'unknown data set "abc"; GET /api/datasets lists them')


def _html(description):
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _statistic_operation(statistic):
    summary, answer, example = ANSWERS[statistic]
    body = "StateRequest" if STATISTICS[statistic] else "QuestionRequest"
    request_example = {"question": QUESTION, **({"state": "Ohio"} if STATISTICS[statistic] else {})}
    return {"post": {
        "tags": ["Statistics"], "operationId": statistic, "summary": summary,
        "description": f"Starts a job and answers its id at once; GET /api/get_results/{{job_id}} "
                       f"gives the answer, a {answer} object, once the job is done.",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _ref(body), "example": request_example}}},
        "responses": {"200": _json(_ref("JobAccepted"), "Accepted.", {"job_id": "job_id_1"}),
                      "400": BAD_BODY, "413": TOO_LARGE, "503": REFUSED_WORK},
        "x-answer": {"schema": _ref(answer), "example": example},
    }}


def _job_operation(operation_id, summary, schema, example, extra=None):
    responses = {"200": _json(_ref(schema), summary, example), "404": NO_JOB, "503": STORE_UNAVAILABLE,
                 **(extra or {})}
    return {"get": {"tags": ["Jobs"], "operationId": operation_id, "summary": summary,
                    "parameters": [JOB_ID], "responses": responses}}


def _read(tag, operation_id, summary, schema, example, *, parameters=(), errors=None):
    operation = {"tags": [tag], "operationId": operation_id, "summary": summary,
                 "responses": {"200": _json(_ref(schema), summary, example), **(errors or {})}}
    if parameters:
        operation["parameters"] = list(parameters)
    return {"get": operation}


def _paths():
    paths = {f"/api/{statistic}": _statistic_operation(statistic) for statistic in STATISTICS}
    paths["/api/start"] = {"post": {
        "tags": ["Statistics"], "operationId": "start", "summary": "Any statistic, named in the body",
        "description": "The same as POSTing the rest of the body to /api/{task}.",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _ref("StartRequest"), "example": {"task": "states_mean", "question": QUESTION}}}},
        "responses": {"200": _json(_ref("JobAccepted"), "Accepted.", {"job_id": "job_id_1"}),
                      "400": BAD_BODY, "413": TOO_LARGE, "503": REFUSED_WORK},
    }}
    result_example = {"status": "done", "data": {"Ohio": 30.1}}
    for path, operation_id, summary in (("/api/get_results/{job_id}", "get_results",
                                         "A job's status and, once done, its answer"),
                                        ("/api/results/{job_id}", "results",
                                         "The same as /api/get_results/{job_id}")):
        paths[path] = _job_operation(operation_id, summary, "JobResult", result_example,
                                     {"410": EXPIRED_OR_GONE, "503": RESULT_UNREADABLE,
                                      "400": _error("format is neither json nor csv.",
                                                    '"format" must be json or csv')})
        operation = paths[path]["get"]
        operation["parameters"] = [JOB_ID, ANSWER_FORMAT]
        operation["responses"]["200"]["content"]["text/csv"] = {
            "schema": {"type": "string"},
            "example": "state,value\r\nOhio,30.1\r\n"}
    paths["/api/status/{job_id}"] = _job_operation(
        "status", "A job's status alone", "JobStatus", {"status": "running"}, {"410": EXPIRED_OR_GONE})
    paths["/api/jobs/{job_id}"] = _job_operation(
        "job_record", "What a job was asked, when, and how it ended", "JobRecord",
        {"status": "done", "request": {"statistic": "state_mean", "question": QUESTION, "state": "Ohio",
                                       "dataset": "default"},
         "submitted_at": "2026-12-01T17:26:11.540+00:00", "finished_at": "2026-12-01T17:26:11.543+00:00"},
        {"410": JOB_EXPIRED})
    paths["/api/jobs/{job_id}"]["get"]["description"] = (
        "The job's status, what it was asked, and when it was submitted and finished (null while it runs), "
        "with the reason of a failed job; its answer is GET /api/get_results/{job_id}'s. A job recorded "
        "before the server kept requests and submit times (by an older version) has them null.")
    paths["/api/jobs"] = _read("Jobs", "jobs", "Every job kept and its status, oldest first", "JobList",
                               {"status": "done", "data": [{"job_id_1": "done"}, {"job_id_2": "running"}]},
                               parameters=LISTING_PARAMETERS,
                               errors={"400": _error("since, before or limit is not as described.",
                                                     '"limit" must be a whole number from 1 to 1000'),
                                       "503": STORE_UNAVAILABLE})
    paths["/api/jobs"]["get"]["description"] = (
        "Without parameters, every job kept, as the course contract has it. With since, before or limit, "
        "a page of them in the same order, plus total (the jobs the whole list holds) and next: "
        "limit=30 gives the 30 newest jobs, limit=30&before=<next> the 30 before them, and since=<id> "
        "the jobs after a known one. A page reads only the jobs it lists, so a dashboard polling it "
        "costs the same whatever the number of jobs kept.")
    paths["/api/num_jobs"] = _read("Jobs", "num_jobs", "How many accepted jobs are not finished",
                                   "NumJobs", {"num_jobs": 0}, errors={"503": STORE_UNAVAILABLE})
    paths["/api/graceful_shutdown"] = _read(
        "Jobs", "graceful_shutdown", "Stop taking jobs; finish the accepted ones", "ShutdownProgress",
        {"status": "running"}, errors={"503": STORE_UNAVAILABLE})
    paths["/api/graceful_shutdown"]["get"]["description"] = (
        "Never waits: answers running while accepted jobs remain and done once all are finished. "
        "Afterwards every statistics POST gets 503; reads go on working. With the Redis job store, "
        "every process of the cluster stops taking jobs, and done means no job of the cluster is left.")
    paths["/api/questions"] = _read(
        "Data", "questions", "The questions, each with whether a lower value is better", "Questions",
        {"status": "done", "data": [{"question": QUESTION, "lower_is_better": True, "global_mean": 31.01}]},
        parameters=[DATASET], errors={"400": BAD_DATASET})
    paths["/api/states"] = _read("Data", "states", "The locations of the data; with question, those "
                                 "with data for that question", "States",
                                 {"status": "done", "data": ["Alabama", "Alaska"]},
                                 parameters=[DATASET, QUESTION_FILTER],
                                 errors={"400": _error("The dataset parameter names no data set, or the "
                                                       "question parameter no question of it.",
                                                       'unknown question "Percent of cats"; GET '
                                                       "/api/questions lists the questions")})
    paths["/api/ranking"] = _read(
        "Data", "ranking", "Every location's mean, rank and percentile for a question, best first", "Ranking",
        {"status": "done", "data": [{"state": "Colorado", "mean": 22.2, "rank": 1, "percentile": 100.0}]},
        parameters=[DATASET, {**QUESTION_FILTER, "required": True,
                              "description": "A question of the data set."}],
        errors={"400": _error("The question parameter is missing or names no question of the data set, "
                              "or the dataset parameter names no data set.",
                              'unknown question "Percent of cats"; GET /api/questions lists the questions')})
    paths["/api/datasets"] = {
        **_read("Data", "list_datasets", "Every data set with its row count and questions", "DatasetList",
                {"status": "done", "max_upload_bytes": 67108864, "data": [
                    {"id": "default", "name": "survey.csv", "rows": 18650, "questions": [QUESTION],
                     "lower_is_better": [QUESTION]}]}),
        "post": {
            "tags": ["Data"], "operationId": "upload_dataset", "summary": "Upload a CSV file as a data set",
            "description": "The file is checked, kept under an id made from its content and the "
                           "questions it names lower-is-better (the same file twice with the same "
                           "choice is one data set; with another choice it is another) and kept "
                           "across restarts. Name it in a statistics "
                           'request as "dataset". A file must be a text CSV in UTF-8 and hold at most '
                           "1,000 distinct questions, 10,000 locations, 10,000 (category, segment) pairs "
                           "and 1,000 characters in a text field (the server's defaults); the data sets "
                           "kept are at most 100, of 1 GiB together (the defaults).",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _ref("Upload")}}},
            "responses": {
                "201": _json(_ref("DatasetStored"), "Stored as a new data set.", {
                    "status": "done",
                    "data": {"id": "3f2a9c1b7d4e", "name": "mine.csv", "rows": 120,
                             "questions": [QUESTION, "Percent of adults who smoke"],
                             "lower_is_better": [QUESTION, "Percent of adults who smoke"]}}),
                "200": _json(_ref("DatasetStored"), "The same file was uploaded before with the same "
                                                    "lower_is_better questions; its data set."),
                "400": _error("The file cannot serve as a data set (not a text CSV, a column missing, "
                              "over a limit of what one file may hold), there is no file field, or a "
                              "lower_is_better value is not a question of the file.",
                              "the file cannot be used as a data set: missing column(s): Data_Value"),
                "413": _error("The upload is larger than max_upload_bytes of GET /api/datasets, or has "
                              "more fields than the file and a lower_is_better value for each question "
                              "a file may hold.",
                              "the upload is larger than the limit of 67108864 bytes"),
                "415": _error("The body is not multipart/form-data.",
                              'send the CSV file as multipart/form-data in a field named "file"'),
                "503": _error("Shutting down (after GET /api/graceful_shutdown), or the file could "
                              "not be stored.",
                              "the data set could not be stored; try again later"),
                "507": _error("The data sets kept are at their quota, in number or in bytes; nothing was "
                              "kept. Deleting a data set frees room.",
                              "the data set is not kept: 100 data sets are kept, and at most 100 may be; "
                              "DELETE /api/datasets/<id> frees room"),
            },
        },
    }
    paths["/api/datasets/{dataset_id}"] = {"delete": {
        "tags": ["Data"], "operationId": "delete_dataset", "summary": "Delete an uploaded data set",
        "description": "Removes the data set's files (and, with the Redis store, its copy there); every "
                       "process stops serving it at its next use. Jobs accepted against it that have not "
                       "run yet fail with a reason saying it was deleted.",
        "parameters": [{"name": "dataset_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "An id of GET /api/datasets.", "example": "3f2a9c1b7d4e"}],
        "responses": {
            "200": _json(_ref("DatasetDeleted"), "Deleted.",
                         {"status": "done", "data": {"id": "3f2a9c1b7d4e", "name": "mine.csv"}}),
            "400": _error("The bundled data set cannot be deleted.",
                          "the bundled data set cannot be deleted"),
            "404": _error("No data set has that id.",
                          'no data set has the id "abc"; GET /api/datasets lists them'),
            "503": _error("The files could not be removed, or Redis cannot be reached; try again later.",
                          "the data set could not be deleted; try again later"),
        },
    }}
    paths["/livez"] = _read("Health", "livez", "The process runs", "Alive", {"status": "alive"})
    paths["/readyz"] = _read("Health", "readyz", "The process can take work", "Ready", {"status": "ready"},
                             errors={"503": _error("Draining after a shutdown, or the job store cannot be "
                                                   "reached.", "shutting down")})
    paths["/metrics"] = {"get": {
        "tags": ["Health"], "operationId": "metrics", "summary": "Metrics in Prometheus's text format",
        "description": "Jobs submitted, finished and failed, jobs waiting, jobs taken over from stopped "
                       "processes, and request latency by route; summed over the worker processes.",
        "responses": {"200": {"description": "Prometheus text exposition.",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
    paths["/api/openapi.json"] = {"get": {
        "tags": ["Pages"], "operationId": "openapi", "summary": "This description",
        "responses": {"200": {"description": "OpenAPI 3.0 document.",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    paths["/"] = {"get": {"tags": ["Pages"], "operationId": "dashboard",
                          "summary": "The dashboard: the statistics as tables, charts and a map",
                          "responses": {"200": _html("The dashboard page.")}}}
    paths["/docs"] = {"get": {"tags": ["Pages"], "operationId": "docs", "summary": "This reference as a page",
                              "responses": {"200": _html("The API reference page.")}}}
    paths["/static/{filename}"] = {"get": {
        "tags": ["Pages"], "operationId": "static", "summary": "The pages' style sheets and scripts",
        "parameters": [{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"},
                        "example": "css/dashboard.css"}],
        "responses": {"200": {"description": "The file.", "content": {"*/*": {"schema": {"type": "string"}}}},
                      "404": _error("No such file.", "Not Found")}}}
    return _guarded(paths)


def _guarded(paths):
    """Add the guard's refusals to every operation it can refuse, by the guard's own rules."""
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if changes_something(method.upper(), path):
                responses.setdefault("403", CROSS_SITE)
            if needs_token(method.upper(), path):
                responses.setdefault("401", NO_TOKEN)
            if method.upper() not in SAFE_METHODS:
                responses.setdefault("429", RATE_LIMITED)
    return paths


DESCRIPTION = {
    "openapi": "3.0.3",
    "info": {
        "title": "Le Stats Sportif",
        "version": "1.0",
        "description": "Statistics of the US CDC survey of nutrition, physical activity and obesity "
                       "(BRFSS, 2011 to 2022), or of a CSV file of the same columns that you upload. "
                       "A statistics POST answers a job id at once; poll GET /api/get_results/{job_id} "
                       "until its status is done. Every refused request is answered 4xx with "
                       '{"status": "error", "reason": "..."} and creates no job.',
    },
    "tags": [{"name": "Statistics", "description": "Start a job computing one of the nine statistics."},
             {"name": "Jobs", "description": "Follow jobs and read their answers."},
             {"name": "Data", "description": "The questions, the states and the data sets."},
             {"name": "Health", "description": "For load balancers and monitoring."},
             {"name": "Pages", "description": "The pages for people and this description."}],
    "paths": _paths(),
    "components": {"schemas": SCHEMAS},
}


@api_description.get("/api/openapi.json")
def serve_description():
    """The OpenAPI 3 description of every route."""
    return jsonify(DESCRIPTION)
