"""Drive a server with wrk (bench/jobs.lua), every answer checked.

The Python load generator (bench/loadgen.py) costs a large share of a core at
thousands of jobs/s on a 2-core machine, so at these rates the load comes
from wrk, written in C: eight connections, each on a wrk thread of its own,
submitting a job and polling it until it is done, then the next.

Before the clock starts, a pass of its own (`write_mix`) submits every
distinct request of the mix once, compares the decoded answer with the
independent reference (checker.reference) and writes the answer's exact
bytes beside the request. During the run jobs.lua compares every answer with
those bytes, so each of the run's answers is checked, at the cost of one
string comparison in the client.

`python -m bench.wrk --url http://127.0.0.1:5000 --seconds 10`
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.loadgen import build_mix
from checker.reference import Reference, compare

LUA_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobs.lua")
DEFAULT_CSV = "nutrition_activity_obesity_usa_subset.csv"
JOB_DEADLINE_S = 30.0


class MixError(Exception):
    """The server answered a request of the mix wrongly, or not at all."""


@dataclass
class WrkResult:
    """What one wrk run counted, summed over its connections."""

    seconds: float = 0.0
    jobs: int = 0
    submits: int = 0
    polls: int = 0
    errors: int = 0
    wrong: int = 0
    socket_errors: int = 0
    non_2xx: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    samples: list = field(default_factory=list)

    @property
    def jobs_per_second(self):
        """Finished jobs per wall-clock second."""
        return self.jobs / self.seconds if self.seconds else 0.0

    @property
    def requests_per_job(self):
        """Submissions and polls per finished job."""
        return (self.submits + self.polls) / self.jobs if self.jobs else float("nan")

    @property
    def failures(self):
        """Errors of any kind and wrong answers."""
        return self.errors + self.wrong + self.socket_errors + self.non_2xx


def wrk_binary():
    """The path of wrk, or SystemExit saying how to get it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `make install_bench` installs Debian's wrk")
    return path


def _fetch(connection, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, path, body, headers)
    response = connection.getresponse()
    return response.status, response.read()


def answer_bytes(connection, item):
    """The exact bytes of the done answer to `item`, from a job of its own."""
    status, body = _fetch(connection, "POST", f"/api/{item.endpoint}", item.body)
    if status != 200:
        raise MixError(f"{item.endpoint} {item.body!r}: {status} {body[:200]!r}")
    job_id = json.loads(body)["job_id"]
    deadline = time.monotonic() + JOB_DEADLINE_S
    while time.monotonic() < deadline:
        status, body = _fetch(connection, "GET", f"/api/get_results/{job_id}")
        if status != 200:
            raise MixError(f"{item.endpoint} {job_id}: {status} {body[:200]!r}")
        if json.loads(body).get("status") == "done":
            return body
        time.sleep(0.001)
    raise MixError(f"{item.endpoint} {job_id}: not done in {JOB_DEADLINE_S} s")


def write_mix(url, mix, expected, path):
    """Check every distinct request's answer against `expected`; write the mix file for jobs.lua."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    seen = {}
    try:
        with open(path, "w", encoding="utf-8") as out:
            for item in mix:
                body = seen.get(item.answer_key)
                if body is None:
                    body = answer_bytes(connection, item)
                    difference = compare(expected[item.answer_key], json.loads(body)["data"])
                    if difference is not None:
                        raise MixError(f"{item.endpoint} {item.body!r}: {difference}")
                    seen[item.answer_key] = body
                out.write(f"/api/{item.endpoint}\t{item.body.decode()}\t{_one_line(body)}\n")
    finally:
        connection.close()
    return len(seen)


def _one_line(body):
    """`body` on one line of the mix file: a line break as byte 1, a tab as byte 2 (jobs.lua undoes it).

    Neither byte can appear in JSON text, where control characters are escaped.
    """
    if b"\x01" in body or b"\x02" in body:
        raise MixError(f"an answer holds a control character: {body[:200]!r}")
    return body.replace(b"\n", b"\x01").replace(b"\t", b"\x02").decode()


def run_wrk(url, mix_path, seconds, connections=8, timeout_s=10):
    """One closed-loop wrk run of `seconds` against `url`; a WrkResult."""
    command = [wrk_binary(), f"-t{connections}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               f"--timeout={timeout_s}s", "-s", LUA_SCRIPT, url, "--", mix_path]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    result = None
    samples = []
    for line in finished.stdout.splitlines():
        if line.startswith("LSS "):
            result = WrkResult(**json.loads(line[4:]))
        elif line.startswith("LSS-SAMPLE "):
            samples.append(line[11:])
    if result is None:
        raise RuntimeError(f"wrk printed no result (exit {finished.returncode}): "
                           f"{finished.stderr[-500:]} {finished.stdout[-500:]}")
    result.samples = samples
    return result


def main(argv=None):
    """Check the mix against --url, run wrk, print the result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--csv", default=DEFAULT_CSV, help="the data set the server answers from")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--mix-file", default="bench/out/wrk-mix.tsv")
    options = parser.parse_args(argv)
    mix, expected = build_mix(Reference(options.csv))
    os.makedirs(os.path.dirname(os.path.abspath(options.mix_file)), exist_ok=True)
    distinct = write_mix(options.url, mix, expected, options.mix_file)
    print(f"{distinct} distinct answers checked against the reference")
    result = run_wrk(options.url, options.mix_file, options.seconds, options.connections)
    print(f"{result.jobs_per_second:.0f} jobs/s, {result.requests_per_job:.2f} requests/job, "
          f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, {result.failures} failures")
    for sample in result.samples:
        print("  ", sample)
    return 0 if result.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
