"""Concurrent clients that submit statistics jobs, poll them and check every answer.

Expected answers come from checker/reference.py (csv and math.fsum, no code
shared with the server). Every response is checked as it arrives: never a
500, always JSON without NaN, and each finished job's data equal to the
reference's within 0.01 with exactly the same keys.
"""
import collections
import json
import os
import random
import threading
import time

import requests

from checker.reference import ENDPOINTS, STATE_ENDPOINTS, Reference, compare

from .servers import ROOT

CSV_PATH = os.path.join(ROOT, "nutrition_activity_obesity_usa_subset.csv")

# Outcomes that are a defect unless a run says it provokes them.
FAULTS = ("server_error", "bad_response", "wrong_answer", "job_error", "gone", "refused_storage",
          "unreadable", "invalid_id", "stuck", "disconnected", "store_unreachable")
# The reason of a 503 from a server whose Redis is out of reach (app.stores.redis_store).
UNREACHABLE = "(Redis) cannot be reached"


def _refuse_constant(name):
    raise ValueError(f"{name} in a JSON answer")


def strict_json(text):
    """Parse JSON that must not hold NaN or Infinity."""
    return json.loads(text, parse_constant=_refuse_constant)


class Expectations:
    """Valid requests and their expected answers, each computed once by the reference."""

    def __init__(self, csv_path=CSV_PATH):
        self.reference = Reference(csv_path)
        self.requests = []
        for question in self.reference.questions():
            states = self.reference.states(question)
            for endpoint in ENDPOINTS:
                if endpoint in STATE_ENDPOINTS:
                    self.requests += [(endpoint, {"question": question, "state": state}) for state in states]
                else:
                    self.requests.append((endpoint, {"question": question}))
        self._answers = {}
        self._lock = threading.Lock()

    def expected(self, endpoint, body):
        """The reference's `data` for the request."""
        key = (endpoint, body["question"], body["state"] if endpoint in STATE_ENDPOINTS else None)
        with self._lock:
            if key not in self._answers:
                self._answers[key] = self.reference.answer(endpoint, body)
            return self._answers[key]


class Tally:
    """Counters shared by the clients of a run, and the first problems in words."""

    def __init__(self):
        self.counts = collections.Counter()
        self.problems = []
        self._lock = threading.Lock()

    def add(self, name, problem=None):
        """Count one `name`; keep `problem` (a description) among the first twenty."""
        with self._lock:
            self.counts[name] += 1
            if problem and len(self.problems) < 20:
                self.problems.append(problem)

    def faults(self, allowed=()):
        """{outcome: count} of the defects seen, leaving out the `allowed` ones."""
        return {name: self.counts[name] for name in FAULTS if self.counts[name] and name not in allowed}


class Client(threading.Thread):
    """Submits `jobs` jobs in windows of `window`, polls each window until finished.

    `accepted` maps every job id the server handed out to its request;
    `answers` maps each job seen done to its raw `data`, as JSON text.
    A client stops at the first connection failure (a killed server).
    """

    def __init__(self, url, expectations, tally, jobs, seed, window=10, retry_cap=1.0):
        super().__init__(daemon=True)
        self.url = url
        self.expectations = expectations
        self.tally = tally
        self.jobs = jobs
        self.window = window
        self.retry_cap = retry_cap
        self.random = random.Random(seed)
        self.accepted = {}
        self.answers = {}
        self.stopped = threading.Event()
        self._session = requests.Session()

    def run(self):
        try:
            sent = 0
            while sent < self.jobs and not self.stopped.is_set():
                batch = []
                for _ in range(min(self.window, self.jobs - sent)):
                    job_id = self.submit(*self.random.choice(self.expectations.requests))
                    sent += 1
                    if job_id:
                        batch.append(job_id)
                for job_id in batch:
                    self.poll(job_id)
        except requests.RequestException:
            # A killed or stopping server: connection refused, reset or cut mid-answer.
            self.tally.add("disconnected")
        finally:
            self._session.close()

    def _get_json(self, response, what):
        if response.status_code >= 500 and response.status_code != 503:
            self.tally.add("server_error", f"{what}: HTTP {response.status_code} {response.text[:200]}")
            return None
        try:
            return strict_json(response.text)
        except ValueError as error:
            self.tally.add("bad_response", f"{what}: {error}: {response.text[:200]}")
            return None

    def submit(self, endpoint, body):
        """POST one job until accepted or refused for good; its id, or None."""
        while not self.stopped.is_set():
            self.tally.add("sent")
            response = self._session.post(f"{self.url}/api/{endpoint}", json=body, timeout=60)
            answer = self._get_json(response, f"POST /api/{endpoint}")
            if answer is None:
                return None
            if response.status_code == 200 and str(answer.get("job_id", "")).startswith("job_id_"):
                self.tally.add("accepted")
                self.accepted[answer["job_id"]] = (endpoint, body)
                return answer["job_id"]
            reason = answer.get("reason", "")
            if response.status_code == 503 and "Retry-After" in response.headers:
                self.tally.add("refused_busy")
                time.sleep(min(float(response.headers["Retry-After"]), self.retry_cap))
                continue
            if response.status_code == 503 and reason == "shutting down":
                self.tally.add("refused_shutdown")
                self.stopped.set()
                return None
            if response.status_code == 503 and UNREACHABLE in reason:
                # No id was handed out; the job may exist all the same, and
                # the server runs it. A client tries again, as any would.
                self.tally.add("store_unreachable")
                time.sleep(0.1)
                continue
            if response.status_code == 503 and "could not be recorded" in reason:
                self.tally.add("refused_storage")
                return None
            self.tally.add("bad_response", f"POST /api/{endpoint}: HTTP {response.status_code} {answer}")
            return None
        return None

    def poll(self, job_id, seconds=120):
        """Poll a job until it is no longer running, and check what it says."""
        endpoint, body = self.accepted[job_id]
        deadline = time.monotonic() + seconds
        while True:
            self.tally.add("polls")
            response = self._session.get(f"{self.url}/api/get_results/{job_id}", timeout=60)
            answer = self._get_json(response, f"GET {job_id}")
            if answer is None:
                return
            status = answer.get("status")
            unreachable = response.status_code == 503 and UNREACHABLE in answer.get("reason", "")
            if unreachable:
                self.tally.add("store_unreachable")
            if (response.status_code == 200 and status == "running") or unreachable:
                if time.monotonic() > deadline:
                    self.tally.add("stuck", f"{job_id} still running after {seconds} s")
                    return
                time.sleep(0.002)
                continue
            self.check(job_id, response, answer, endpoint, body)
            return

    def check(self, job_id, response, answer, endpoint, body):
        """Count a finished job's answer as right, wrong, failed or gone."""
        status = answer.get("status")
        if response.status_code == 200 and status == "done":
            difference = compare(self.expectations.expected(endpoint, body), answer.get("data"))
            if difference:
                self.tally.add("wrong_answer", f"{job_id} {endpoint} {body}: {difference}")
            else:
                self.tally.add("checked")
                self.answers[job_id] = json.dumps(answer["data"], sort_keys=True)
        elif response.status_code == 200 and status == "error" and answer.get("reason"):
            self.tally.add("job_error", f"{job_id}: {answer['reason']}")
        elif response.status_code == 410:
            self.tally.add("gone")
        elif response.status_code == 503 and "cannot be read" in answer.get("reason", ""):
            self.tally.add("unreadable")
        elif response.status_code == 404:
            self.tally.add("invalid_id", f"{job_id}: 404 for a job the server accepted")
        else:
            self.tally.add("bad_response", f"GET {job_id}: HTTP {response.status_code} {answer}")


def run_clients(url, expectations, tally, clients, jobs, window=10, seed=0, retry_cap=1.0):
    """Start `clients` clients of `jobs` jobs each; return them (still running)."""
    started = [Client(url, expectations, tally, jobs, seed=seed * 1000 + index, window=window,
                      retry_cap=retry_cap) for index in range(clients)]
    for client in started:
        client.start()
    return started


def job_number(job_id):
    """N of job_id_N."""
    return int(job_id.rsplit("_", 1)[1])


def jobs_listing(url):
    """GET /api/jobs as a list of (job id, status), and GET /api/num_jobs."""
    listing = strict_json(requests.get(f"{url}/api/jobs", timeout=60).text)["data"]
    pairs = [next(iter(entry.items())) for entry in listing]
    running = strict_json(requests.get(f"{url}/api/num_jobs", timeout=60).text)["num_jobs"]
    return pairs, running


def wait_until_idle(url, seconds=120):
    """Wait until /api/num_jobs is 0; return whether it got there."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if strict_json(requests.get(f"{url}/api/num_jobs", timeout=60).text)["num_jobs"] == 0:
            return True
        time.sleep(0.05)
    return False
