"""Check a running Le Stats Sportif server against expected answers.

Every case is a request body and the expected ``data``: the case is POSTed to
/api/<endpoint>, the job is polled through /api/get_results/<job_id> until it is no
longer running, and its data is compared with the expectation (key sets exactly,
numbers within 0.01). One line is printed per failure, then ``N passed, M failed``;
the exit status is 0 only when nothing failed.

The cases come from tests/<endpoint>/{input,output} or, with --exhaustive, from the
reference computed in-process for every question and every state with rows.

    python checker/checker.py --url http://127.0.0.1:5000 --endpoint best5 worst5
    python checker/checker.py --exhaustive
"""

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder leads the path, where "checker" would name
# this very module instead of the package; the repository root has to come first.
sys.path.insert(0, str(REPO_ROOT))
from checker.reference import (  # pylint: disable=wrong-import-position
    ENDPOINTS, STATE_ENDPOINTS, Reference, compare)

FIRST_POLL_DELAY = 0.01
LONGEST_POLL_DELAY = 0.2


class Case(NamedTuple):
    """One request to an endpoint and the data its job must produce."""

    endpoint: str
    label: str
    body: dict
    expected: object


class CaseFailure(Exception):
    """The server's handling of a case differs from the contract."""


def case_number(path):
    """The N of in-N.json, so that in-10 sorts after in-9."""
    return int(path.stem.split("-", 1)[1])


def cases_from_folder(tests_dir, endpoints):
    """The cases stored in tests_dir/<endpoint>/input/in-N.json and output/out-N.json."""
    cases = []
    for endpoint in endpoints:
        for input_path in sorted((tests_dir / endpoint / "input").glob("in-*.json"),
                                 key=case_number):
            output_path = (tests_dir / endpoint / "output"
                           / f"out-{case_number(input_path)}.json")
            with open(input_path, encoding="utf-8") as input_file:
                body = json.load(input_file)
            with open(output_path, encoding="utf-8") as output_file:
                expected = json.load(output_file)
            cases.append(Case(endpoint, input_path.name, body, expected))
    return cases


def exhaustive_cases(csv_path, endpoints):
    """Every question with every endpoint, and with every state that has rows for it.

    Question-only endpoints take no state, and their answers already cover every
    state, so they get one case per question.
    """
    reference = Reference(csv_path)
    cases = []
    for question in reference.questions():
        for endpoint in endpoints:
            if endpoint in STATE_ENDPOINTS:
                bodies = [{"question": question, "state": state}
                          for state in reference.states(question)]
            else:
                bodies = [{"question": question}]
            cases.extend(Case(endpoint, json.dumps(body), body,
                              reference.answer(endpoint, body))
                         for body in bodies)
    return cases


def json_of(response, what):
    """The JSON object of ``response``, which must be an HTTP 200 answer to ``what``."""
    if response.status_code != 200:
        raise CaseFailure(f"{what} answered HTTP {response.status_code}: "
                          f"{response.text[:200]!r}")
    try:
        content = response.json()
    except ValueError as error:
        raise CaseFailure(f"{what} answered with invalid JSON: {response.text[:200]!r}") \
            from error
    if not isinstance(content, dict):
        raise CaseFailure(f"{what} answered {content!r:.200} instead of a JSON object")
    return content


class ServerClient:
    """Submits cases to one server and waits for their jobs, from several threads."""

    def __init__(self, base_url, job_timeout):
        self.base_url = base_url.rstrip("/")
        self.job_timeout = job_timeout
        # A requests.Session is not safe to share between threads; keep one per thread.
        self._local = threading.local()

    def _session(self):
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def unreachable(self):
        """None when the server answers HTTP at all, else why it cannot be reached."""
        try:
            self._session().get(self.base_url, timeout=self.job_timeout)
        except requests.RequestException as error:
            return f"cannot reach {self.base_url}: {error}"
        return None

    def check(self, case):
        """None when the server answers ``case`` as expected, else what went wrong."""
        try:
            return compare(case.expected, self._run(case))
        except CaseFailure as failure:
            return str(failure)
        except requests.RequestException as error:
            return f"request failed: {error}"

    def _run(self, case):
        """Submit the case and return the data of its finished job."""
        deadline = time.monotonic() + self.job_timeout
        submission = json_of(
            self._session().post(f"{self.base_url}/api/{case.endpoint}",
                                 json=case.body, timeout=self.job_timeout),
            f"POST /api/{case.endpoint}")
        job_id = submission.get("job_id")
        if not isinstance(job_id, str):
            raise CaseFailure(f"POST /api/{case.endpoint} answered {submission!r:.200} "
                              "without a job_id")
        poll_delay = FIRST_POLL_DELAY
        while True:
            result = json_of(
                self._session().get(f"{self.base_url}/api/get_results/{job_id}",
                                    timeout=self.job_timeout),
                f"GET /api/get_results/{job_id}")
            if result.get("status") != "running":
                break
            if time.monotonic() > deadline:
                raise CaseFailure(f"{job_id} still running after {self.job_timeout} s")
            time.sleep(poll_delay)
            poll_delay = min(2 * poll_delay, LONGEST_POLL_DELAY)
        if result.get("status") != "done" or "data" not in result:
            raise CaseFailure(f"{job_id} finished with {result!r:.200}")
        return result["data"]


def parse_arguments():
    """The command line options."""
    parser = argparse.ArgumentParser(
        description="Check a running Le Stats Sportif server against expected answers.")
    parser.add_argument("--url", default="http://127.0.0.1:5000",
                        help="base URL of the server (default: %(default)s)")
    parser.add_argument("--tests", type=Path, default=REPO_ROOT / "tests",
                        help="folder of <endpoint>/input and <endpoint>/output cases")
    parser.add_argument("--endpoint", nargs="+", choices=ENDPOINTS, default=ENDPOINTS,
                        metavar="NAME", help="check only these endpoints")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds a job may take, submission included "
                             "(default: %(default)s)")
    parser.add_argument("--workers", type=int, default=4,
                        help="cases checked concurrently (default: %(default)s)")
    parser.add_argument("--exhaustive", action="store_true",
                        help="check every question and state against the reference "
                             "instead of the tests folder")
    parser.add_argument("--csv", type=Path,
                        default=REPO_ROOT / "nutrition_activity_obesity_usa_subset.csv",
                        help="data file of the reference for --exhaustive")
    arguments = parser.parse_args()
    if arguments.workers < 1:
        parser.error("--workers must be at least 1")
    return arguments


def main():
    """Run the checks and exit with 0 only when all of them passed."""
    arguments = parse_arguments()
    if arguments.exhaustive:
        cases = exhaustive_cases(arguments.csv, arguments.endpoint)
    else:
        cases = cases_from_folder(arguments.tests, arguments.endpoint)
    if not cases:
        sys.exit(f"no cases found in {arguments.tests}")
    client = ServerClient(arguments.url, arguments.timeout)
    unreachable = client.unreachable()
    if unreachable:
        # One line instead of the same connection error for every case.
        print(unreachable)
        print(f"0 passed, {len(cases)} failed")
        sys.exit(1)
    failed = 0
    with ThreadPoolExecutor(max_workers=arguments.workers) as pool:
        # map keeps the case order, so the report is the same from run to run.
        for case, difference in zip(cases, pool.map(client.check, cases)):
            if difference:
                failed += 1
                print(f"FAIL {case.endpoint} {case.label}: {difference}", flush=True)
    print(f"{len(cases) - failed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
