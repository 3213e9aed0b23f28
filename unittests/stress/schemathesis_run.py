"""Schemathesis against a real server process, in three passes over it.

1. Every operation of GET /api/openapi.json but graceful_shutdown.
2. graceful_shutdown, which stops the server taking jobs.
3. The statistics POSTs again, which must now be refused: 503 "shutting
   down" for a valid body, 4xx for any other.

Each pass runs the schemathesis command (its examples, coverage, fuzzing and
stateful phases) with every check it has, those of schemathesis_checks.py
too, but one: positive_data_acceptance expects every request of the
described shape to be accepted, while the contract refuses with 400 a
question, state or data set that does not exist and an upload that is not a
CSV of the survey's columns, which no schema can tell from the real ones.
test_properties.py judges those requests by a model of the contract instead.
In the third pass not_a_server_error is off, since 503 is the answer the
contract gives there; status_code_conformance still fails any status the
description does not list, a 500 among them.

After each pass the server's log tells which statuses it answered: no 5xx
before the shutdown, no job accepted after it.
"""
import collections
import json
import os
import random
import re
import subprocess
import sys

import requests

from .servers import ServerProcess

CHECKS_FOR_SHAPES_ONLY = ("positive_data_acceptance",)
OWN_CHECKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis_checks.py")
ANSWER = re.compile(r" answer (\S+) (.*) (\d{3}) in [\d.]+ ms$")


class Pass:
    """One schemathesis command: which operations, with how many examples, and what the server may answer."""

    def __init__(self, key, name, selection, share, shut_down=False):
        self.key = key
        self.name = name
        self.selection = selection
        self.share = share
        # Once shut down, the server accepts no job and refuses valid ones with 503.
        self.shut_down = shut_down
        self.checks_off = ("not_a_server_error",) if shut_down else ()

    def command(self, description, url, examples, seed, report):
        """The schemathesis command line of this pass."""
        # One worker: as quick as two on two cores beside the server, and a seed replays the run.
        return [sys.executable, "-m", "schemathesis.cli", "run", description, "--url", url, "--no-color",
                "--checks", "all", "--exclude-checks", ",".join(CHECKS_FOR_SHAPES_ONLY + self.checks_off),
                "--max-examples", str(max(1, round(examples * self.share))), "--seed", str(seed),
                "--workers", "1", "--continue-on-failure", "--generation-database", "none",
                "--request-timeout", "30", "--report", "json", "--report-json-path", report,
                *self.selection]


PASSES = (
    Pass("before_shutdown", "every operation but graceful_shutdown",
         ["--exclude-operation-id", "graceful_shutdown"], 1.0),
    Pass("shutdown", "graceful_shutdown", ["--include-operation-id", "graceful_shutdown"], 0.1),
    Pass("after_shutdown", "the statistics after the shutdown", ["--include-tag", "Statistics"], 0.2,
         shut_down=True),
)


class PassResult:
    """What one pass found: schemathesis's report and the statuses the server answered."""

    def __init__(self, run_pass, exit_code, output, report, answers):
        self.key = run_pass.key
        self.name = run_pass.name
        self.exit_code = exit_code
        self.output = output
        self.report = report
        self.statuses = collections.Counter(status for _, _, status in answers)
        allowed_5xx = (503,) if run_pass.shut_down else ()
        self.unexpected = [answer for answer in answers if answer[2] >= 500 and answer[2] not in allowed_5xx
                           or run_pass.shut_down and answer[0] == "POST" and answer[2] == 200]

    @property
    def generated(self):
        """How many test cases schemathesis generated."""
        return self.report.get("test_cases", {}).get("generated", 0)

    def problems(self):
        """What went wrong in this pass, in words."""
        found = []
        if self.exit_code != 0:
            start = self.output.find("FAILURES")
            shown = self.output[start:start + 6000] if start >= 0 else self.output[-6000:]
            found.append(f"{self.name}: schemathesis exited {self.exit_code}:\n{shown}")
        for key in ("failures", "errors"):
            if self.report.get(key):
                found.append(f"{self.name}: {len(self.report[key])} {key} in the report")
        if self.unexpected:
            found.append(f"{self.name}: the server answered {self.unexpected[:5]}")
        return found


class SchemathesisRun:
    """Every pass of one run, the server's exit status and the stack traces in its log."""

    def __init__(self, seed, passes, exit_status, tracebacks):
        self.seed = seed
        self.passes = passes
        self.exit_status = exit_status
        self.tracebacks = tracebacks

    def problems(self):
        """Every broken promise, in words; empty when the run found nothing."""
        found = [problem for result in self.passes for problem in result.problems()]
        if self.passes[-1].statuses[503] == 0:
            found.append("no statistics POST was refused after the shutdown")
        if self.tracebacks:
            found.append(f"{self.tracebacks} stack traces in the server's log")
        if self.exit_status != 0:
            found.append(f"the server exited {self.exit_status} on SIGTERM")
        return found

    def figures(self):
        """The run in numbers."""
        statuses = sum((result.statuses for result in self.passes), collections.Counter())
        return {"seed": self.seed,
                "test_cases": sum(result.generated for result in self.passes),
                **{f"test_cases_{result.key}": result.generated for result in self.passes},
                "requests_answered": sum(statuses.values()),
                "statuses": " ".join(f"{status}x{count}" for status, count in sorted(statuses.items())),
                "failures": sum(len(result.report.get("failures", ())) for result in self.passes),
                "unexpected_answers": sum(len(result.unexpected) for result in self.passes)}


def run(workdir, examples, seed=None):
    """Start a server in `workdir`, run the three passes against it, stop it; a SchemathesisRun."""
    seed = random.randrange(2**32) if seed is None else seed
    server = ServerProcess(workdir)
    # One log file for the whole run, so that every answer is counted.
    server.settings["LSS_LOG_MAX_BYTES"] = 0
    server.start()
    results, read = [], 0
    try:
        # Schemathesis leaves out the operation its description came from;
        # read from a copy, GET /api/openapi.json is tested like the others.
        description = os.path.join(workdir, "openapi.json")
        with open(description, "wb") as copy:
            copy.write(requests.get(f"{server.url}/api/openapi.json", timeout=30).content)
        for run_pass in PASSES:
            report = os.path.join(workdir, f"schemathesis-{run_pass.key}.json")
            completed = subprocess.run(run_pass.command(description, server.url, examples, seed, report),
                                       cwd=workdir, env=dict(os.environ, SCHEMATHESIS_HOOKS=OWN_CHECKS),
                                       capture_output=True, text=True, check=False)
            answers, read = _answers(server.log_file, read)
            results.append(PassResult(run_pass, completed.returncode, completed.stdout + completed.stderr,
                                      _load(report), answers))
    finally:
        exit_status = server.stop()
    return SchemathesisRun(seed, results, exit_status, server.log_lines("Traceback"))


def _answers(log_file, start):
    """(method, path, status) of every answer logged after byte `start`, and where the log ends."""
    with open(log_file, "rb") as log:
        log.seek(start)
        text = log.read()
    # A line the server is still writing is read with the next pass.
    text = text[:text.rfind(b"\n") + 1]
    answers = []
    for line in text.decode("utf-8", "replace").split("\n"):
        match = ANSWER.search(line)
        if match:
            answers.append((match.group(1), match.group(2), int(match.group(3))))
    return answers, start + len(text)


def _load(report):
    try:
        with open(report, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError):
        return {}
