"""The naive baseline: the common design of this service, for comparison.

The CSV is held as a pandas frame and every job filters it for its question
(and state) and aggregates the rows it found, in a pool of worker threads.
The answer is written to results/<job_id>.json with json.dump; get_results
loads the file and encodes it again with jsonify. Each request is logged at
entry and at answer through the standard library's RotatingFileHandler. It
keeps the contract's answers (the load generator checks them) but not its
finer promises: no journal, no atomic writes, no validation beyond what the
load sends.
"""
import itertools
import json
import logging
import os
import threading
import time
from logging.handlers import RotatingFileHandler

import pandas as pd
from flask import Flask, abort, jsonify, request

from app.data_ingestor import CATEGORY, LOCATION, QUESTION, QUESTIONS_BEST_IS_MIN, SEGMENT, VALUE
from app.task_runner import ThreadPool, WorkItem


class NaiveStatistics:
    """The nine statistics, each filtering the whole frame when asked."""

    def __init__(self, csv_path):
        self.frame = pd.read_csv(csv_path)

    def _rows(self, question, state=None):
        rows = self.frame[(self.frame[QUESTION] == question) & self.frame[VALUE].notna()]
        return rows if state is None else rows[rows[LOCATION] == state]

    def states_mean(self, question):
        """{state: mean}, ascending."""
        means = self._rows(question).groupby(LOCATION)[VALUE].mean().sort_values()
        return means.to_dict()

    def state_mean(self, question, state):
        """{state: mean}."""
        return {state: self._rows(question, state)[VALUE].mean()}

    def best5(self, question):
        """The five best states."""
        ranked = self.states_mean(question)
        items = list(ranked.items())
        return dict(items[:5] if question in QUESTIONS_BEST_IS_MIN else items[::-1][:5])

    def worst5(self, question):
        """The five worst states."""
        items = list(self.states_mean(question).items())
        return dict(items[::-1][:5] if question in QUESTIONS_BEST_IS_MIN else items[:5])

    def global_mean(self, question):
        """{"global_mean": mean of the rows}."""
        return {"global_mean": self._rows(question)[VALUE].mean()}

    def diff_from_mean(self, question):
        """{state: global mean - state mean}."""
        overall = self.global_mean(question)["global_mean"]
        return {state: overall - mean for state, mean in self.states_mean(question).items()}

    def state_diff_from_mean(self, question, state):
        """{state: global mean - state mean}."""
        overall = self.global_mean(question)["global_mean"]
        return {state: overall - self._rows(question, state)[VALUE].mean()}

    def mean_by_category(self, question):
        """{"(state, category, segment)": mean}."""
        means = self._rows(question).groupby([LOCATION, CATEGORY, SEGMENT])[VALUE].mean()
        return {str(key): mean for key, mean in means.items()}

    def state_mean_by_category(self, question, state):
        """{state: {"(category, segment)": mean}}."""
        means = self._rows(question, state).groupby([CATEGORY, SEGMENT])[VALUE].mean()
        return {state: {str(key): mean for key, mean in means.items()}}


def create_naive_app(csv_path, results_dir, log_file, num_threads):
    """The naive baseline over the data set at `csv_path`."""
    app = Flask(__name__)
    statistics = NaiveStatistics(csv_path)
    logger = logging.Logger("naive", logging.INFO)
    handler = RotatingFileHandler(log_file, maxBytes=10 * 1024 * 1024, backupCount=5)
    formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ %(levelname)s %(threadName)s %(message)s",
                                  "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    pool = ThreadPool(num_threads, logger=logger)
    os.makedirs(results_dir, exist_ok=True)
    statuses = {}
    ids = itertools.count(1)
    lock = threading.Lock()

    def job(job_id, statistic, body):
        def compute():
            method = getattr(statistics, statistic)
            answer = method(body["question"], body["state"]) if "state" in body else method(body["question"])
            with open(os.path.join(results_dir, f"job_id_{job_id}.json"), "w", encoding="utf-8") as file:
                json.dump(answer, file)

        def record(_value, error):
            statuses[job_id] = "error" if error else "done"
            if error:
                logger.error("job_id_%d failed: %r", job_id, error)

        return WorkItem(compute, record, key=job_id)

    @app.before_request
    def log_entry():
        logger.info("enter %s %s %s", request.method, request.path, request.get_data(as_text=True))

    @app.after_request
    def log_exit(response):
        logger.info("answer %s %s %d", request.method, request.path, response.status_code)
        return response

    @app.post("/api/<statistic>")
    def submit(statistic):
        body = request.get_json()
        with lock:
            job_id = next(ids)
            statuses[job_id] = "running"
        pool.submit(lambda: job(job_id, statistic, body))
        return jsonify({"job_id": f"job_id_{job_id}"})

    @app.get("/api/get_results/<job_id>")
    def get_results(job_id):
        number = int(job_id.removeprefix("job_id_"))
        status = statuses.get(number)
        if status is None:
            abort(404)
        if status != "done":
            return jsonify({"status": status})
        with open(os.path.join(results_dir, f"job_id_{number}.json"), encoding="utf-8") as file:
            return jsonify({"status": "done", "data": json.load(file)})

    return app
