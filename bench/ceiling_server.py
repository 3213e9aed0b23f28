"""The ceiling probe: the same API on the same stack, doing nothing per job.

Every answer is computed and encoded once at start; a job is a dict insert
and a poll returns the stored bytes. No pool, no disk, no logging, no
validation beyond finding the answer: no server that keeps the contract can
do less per job, so its jobs/s is the ceiling the others are measured
against. It answers only what the load generator asks.
"""
import itertools
import json
import threading

from flask import Flask, Response, abort, request

from app.data_ingestor import STATISTICS, DataIngestor


def encode_every_answer(ingestor):
    """{(statistic, question, state or None): the encoded answer} of every request."""
    answers = {}
    for question in ingestor.questions:
        for statistic, needs_state in STATISTICS.items():
            method = getattr(ingestor, statistic)
            if not needs_state:
                answers[statistic, question, None] = json.dumps(method(question)).encode()
                continue
            for state in ingestor.locations:
                if ingestor.has_rows(question, state):
                    answers[statistic, question, state] = json.dumps(method(question, state)).encode()
    return answers


def create_ceiling_app(csv_path):
    """The ceiling probe for the data set at `csv_path`."""
    app = Flask(__name__)
    answers = encode_every_answer(DataIngestor(csv_path))
    jobs = {}
    ids = itertools.count(1)
    lock = threading.Lock()

    @app.post("/api/<statistic>")
    def submit(statistic):
        body = json.loads(request.get_data())
        answer = answers.get((statistic, body.get("question"), body.get("state")))
        if answer is None:
            abort(400)
        with lock:
            job_id = next(ids)
            jobs[job_id] = answer
        return Response(b'{"job_id": "job_id_%d"}' % job_id, mimetype="application/json")

    @app.get("/api/get_results/<job_id>")
    def get_results(job_id):
        answer = jobs.get(int(job_id.removeprefix("job_id_")))
        if answer is None:
            abort(404)
        return Response(b'{"status": "done", "data": ' + answer + b"}", mimetype="application/json")

    return app
