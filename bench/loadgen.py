"""A closed-loop load generator for any server of the Le Stats Sportif API.

Each of K clients submits a job, polls get_results until it is done, then
submits the next. Together they cycle through every question x every location
x the nine endpoints (the state endpoints only for states with rows for the
question), and every answer is checked against checker.reference, which
shares no code with the server.

The client shares the machine's cores with the server, so it is kept cheap:
the K clients are K keep-alive sockets driven by one thread through a
selector (K Python threads would spend more on taking turns at the
interpreter lock than on their requests), it speaks just the HTTP/1.1 this
API needs, the expected answers are computed before the clock starts, and the answers are checked
after it stops: during the run a response is only counted, and each distinct
response body of each distinct request is decoded and compared once.
`Result.client_cpu` reports what the run itself cost.
`python -m bench.loadgen --url http://127.0.0.1:5000 --clients 8 --seconds 10`
"""
import argparse
import heapq
import json
import selectors
import socket
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from checker.reference import ENDPOINTS, STATE_ENDPOINTS, Reference, compare

DEFAULT_CSV = "nutrition_activity_obesity_usa_subset.csv"
# Waits between polls of a running job: the first poll goes at once, then
# they back off gently, as a considerate client would.
POLL_PAUSES = (0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
JOB_DEADLINE = 30.0
REQUEST_TIMEOUT = 10.0
FAILURE_PAUSE = 0.01
SAMPLES_KEPT = 10
REQUEST_HEAD = b"%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


@dataclass(frozen=True)
class Request:
    """One item of the mix: an endpoint, its body, and the key of its expected answer."""

    endpoint: str
    body: bytes
    answer_key: tuple


def build_mix(reference):
    """The mix and the expected `data` of each of its distinct requests."""
    mix = mix_of(reference)
    return mix, expected_answers(reference, {item.answer_key for item in mix})


def mix_of(reference):
    """Every question x every location x the nine endpoints, as Requests."""
    questions = reference.questions()
    states_of = {question: set(reference.states(question)) for question in questions}
    locations = sorted(set().union(*states_of.values()))
    mix = []
    for question in questions:
        for location in locations:
            for endpoint in ENDPOINTS:
                if endpoint in STATE_ENDPOINTS:
                    if location not in states_of[question]:
                        continue
                    body = {"question": question, "state": location}
                else:
                    body = {"question": question}
                key = (endpoint, question, body.get("state"))
                mix.append(Request(endpoint, json.dumps(body).encode(), key))
    return mix


def expected_answers(reference, answer_keys):
    """{answer key: the reference's `data`} for (endpoint, question, state or None) keys."""
    expected = {}
    for endpoint, question, state in answer_keys:
        body = {"question": question} if state is None else {"question": question, "state": state}
        expected[endpoint, question, state] = reference.answer(endpoint, body)
    return expected


@dataclass
class Result:
    """The outcome of one run of the load."""

    clients: int
    seconds: float
    jobs: int = 0
    requests: int = 0
    errors: int = 0
    wrong: int = 0
    client_cpu: float = 0.0
    latencies: list = field(default_factory=list)
    samples: list = field(default_factory=list)

    def note(self, kind, detail):
        """Count an error or a wrong answer, keeping a few for the report."""
        if kind == "wrong":
            self.wrong += 1
        else:
            self.errors += 1
        if len(self.samples) < SAMPLES_KEPT:
            self.samples.append(f"{kind}: {detail}")

    @property
    def jobs_per_second(self):
        """Finished jobs per wall-clock second."""
        return self.jobs / self.seconds if self.seconds else 0.0

    def percentile(self, fraction):
        """Submit-to-done latency in ms at `fraction` (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[rank] * 1000

    def merge(self, other):
        """Add another run's counts to this one."""
        self.seconds += other.seconds
        self.jobs += other.jobs
        self.requests += other.requests
        self.errors += other.errors
        self.wrong += other.wrong
        self.client_cpu += other.client_cpu
        self.latencies.extend(other.latencies)
        self.samples.extend(other.samples[:SAMPLES_KEPT - len(self.samples)])

    def summary(self):
        """One line for humans."""
        return (f"{self.jobs_per_second:8.1f} jobs/s  p50 {self.percentile(0.5):6.2f} ms  "
                f"p95 {self.percentile(0.95):6.2f} ms  p99 {self.percentile(0.99):6.2f} ms  "
                f"errors {self.errors}  wrong {self.wrong}  "
                f"{self.requests / max(self.jobs, 1):.2f} requests/job  "
                f"client CPU {1e6 * self.client_cpu / max(self.jobs, 1):.0f} us/job")


class Failure(Exception):
    """A request failed: an HTTP error status, a timeout or a broken connection."""


def parse_response(buffer):
    """(status, body, rest of buffer, closing) of a whole response at the head of `buffer`, or None.

    Every answer of this API carries a Content-Length; one without it is a failure.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buffer[:end].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = dict(line.lower().split(b":", 1) for line in lines[1:] if b":" in line)
    if b"content-length" not in headers:
        raise Failure(f"a response without Content-Length (status {status})")
    length = int(headers[b"content-length"])
    start = end + 4
    if len(buffer) < start + length:
        return None
    closing = headers.get(b"connection", b"").strip() == b"close"
    return status, buffer[start:start + length], buffer[start + length:], closing


class Client:
    """One closed-loop client: a socket and where it is in its current job."""

    def __init__(self, first, stride):
        self.position, self.stride = first, stride
        self.sock = None
        self.buffer = b""
        self.index = None
        self.started = 0.0
        self.deadline = 0.0
        self.path = ""
        self.polls = 0
        self.sent = None
        self.resent = False


class LoadRun:
    """K clients on one thread: each request is sent when the client's last answer is in."""

    def __init__(self, url, mix, expected, clients, poll=True, checked=None):
        parts = urlsplit(url)
        self._address = (parts.hostname, parts.port or 80)
        self._host = f"{parts.hostname}:{parts.port or 80}".encode()
        self._mix, self._expected = mix, expected
        self._poll = poll
        self._clients = clients
        # (answer key, body) -> how many jobs got it, during a run
        self._answers = {}
        # (answer key, body) -> None if right, else what is wrong; kept by
        # the caller across runs against the same server
        self._checked = {} if checked is None else checked
        self._selector = selectors.DefaultSelector()
        # (when, sequence number, client, what to do then: "poll" or "next job")
        self._timers = []
        self._sequence = 0
        self.result = None

    def run(self, seconds, offset=0, max_jobs=None):
        """Run for `seconds`, or until `max_jobs` jobs are done; return the Result."""
        self.result = Result(self._clients, 0.0)
        clients = [Client(offset + index, self._clients) for index in range(self._clients)]
        cpu_before = time.process_time()
        started = time.perf_counter()
        end = started + seconds
        for client in clients:
            self._next_job(client)
        while max_jobs is None or self.result.jobs < max_jobs:
            now = time.perf_counter()
            if now >= end:
                break
            timeout = end - now
            if self._timers:
                timeout = min(timeout, max(0.0, self._timers[0][0] - now))
            for key, _ in self._selector.select(timeout):
                self._readable(key.data)
            now = time.perf_counter()
            while self._timers and self._timers[0][0] <= now:
                _, _, client, action = heapq.heappop(self._timers)
                if action == "poll":
                    self._send(client, "GET", client.path)
                else:
                    self._next_job(client)
            self._expire(clients, now)
        self.result.seconds = time.perf_counter() - started
        for client in clients:
            self._disconnect(client)
        self._selector.close()
        self.result.client_cpu = time.process_time() - cpu_before
        self._check_answers()
        return self.result

    def _next_job(self, client):
        client.index = client.position % len(self._mix)
        client.position += client.stride
        item = self._mix[client.index]
        client.started = time.perf_counter()
        client.deadline = client.started + JOB_DEADLINE
        client.path, client.polls = "", 0
        self._send(client, "POST", f"/api/{item.endpoint}", item.body)

    def _send(self, client, method, path, body=b""):
        client.sent = (method, path, body, time.perf_counter())
        request = REQUEST_HEAD % (method.encode(), path.encode(), self._host, len(body))
        for retry in (False, True):
            try:
                if client.sock is None:
                    self._connect(client)
                client.sock.sendall(request + body)
                return
            except OSError as error:
                self._disconnect(client)
                if retry:
                    self._fail(client, f"{method} {path}: {error!r}")

    def _connect(self, client):
        client.sock = socket.create_connection(self._address, REQUEST_TIMEOUT)
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.sock.setblocking(False)
        self._selector.register(client.sock, selectors.EVENT_READ, client)

    def _disconnect(self, client):
        if client.sock is not None:
            self._selector.unregister(client.sock)
            client.sock.close()
        client.sock, client.buffer = None, b""

    def _readable(self, client):
        try:
            chunk = client.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as error:
            chunk, reason = b"", repr(error)
        else:
            reason = "the server closed the connection"
        if not chunk:
            method, path, body, _ = client.sent
            nothing_came = not client.buffer
            self._disconnect(client)
            if nothing_came and not client.resent:
                # A keep-alive connection the server let go: the request is
                # sent once more on a new one.
                client.resent = True
                self._send(client, method, path, body)
            else:
                self._fail(client, f"{method} {path}: {reason}")
            return
        client.buffer += chunk
        try:
            parsed = parse_response(client.buffer)
        except (Failure, ValueError, IndexError) as error:
            self._disconnect(client)
            self._fail(client, str(error))
            return
        if parsed is None:
            return
        status, body, client.buffer, closing = parsed
        client.resent = False
        self.result.requests += 1
        if closing:
            self._disconnect(client)
        self._answered(client, status, body)

    def _answered(self, client, status, body):
        method, path, _, _ = client.sent
        if status != 200:
            self._fail(client, f"{method} {path} answered {status}: {body[:120]!r}")
        elif method == "POST":
            try:
                client.path = f"/api/get_results/{json.loads(body)['job_id']}"
            except (ValueError, KeyError, TypeError):
                self._fail(client, f"{path} answered {body[:120]!r}")
                return
            if self._poll:
                self._send(client, "GET", client.path)
            else:
                self._done(client, None)
        elif b'"running"' in body[:32]:
            # Only the head is looked at here; a whole answer is checked when done.
            pause = POLL_PAUSES[min(client.polls, len(POLL_PAUSES) - 1)]
            client.polls += 1
            self._later(client, pause, "poll")
        else:
            self._done(client, body)

    def _done(self, client, body):
        self.result.latencies.append(time.perf_counter() - client.started)
        self.result.jobs += 1
        if body is not None:
            key = (self._mix[client.index].answer_key, body)
            self._answers[key] = self._answers.get(key, 0) + 1
        self._next_job(client)

    def _later(self, client, pause, action):
        self._sequence += 1
        heapq.heappush(self._timers, (time.perf_counter() + pause, self._sequence, client, action))

    def _fail(self, client, detail):
        self.result.note("error", detail)
        client.resent = False
        # Nothing is awaited until the next job starts.
        client.deadline = float("inf")
        client.sent = (*client.sent[:3], float("inf"))
        # After a pause, so that a server that is down is not hammered.
        self._later(client, FAILURE_PAUSE, "next job")

    def _expire(self, clients, now):
        for client in clients:
            method, path, _, sent_at = client.sent
            if now > client.deadline or now - sent_at > REQUEST_TIMEOUT:
                self._disconnect(client)
                self._timers = [timer for timer in self._timers if timer[2] is not client]
                heapq.heapify(self._timers)
                self._fail(client, f"{method} {path}: no answer in time")

    def _check_answers(self):
        for (answer_key, body), jobs in self._answers.items():
            if (answer_key, body) not in self._checked:
                self._checked[answer_key, body] = self._difference(answer_key, body)
            difference = self._checked[answer_key, body]
            if difference is None:
                continue
            kind, detail = difference
            for _ in range(jobs):
                self.result.note(kind, f"{answer_key}: {detail}")

    def _difference(self, answer_key, body):
        """None when `body` is the right answer to the request, else (kind, what is wrong)."""
        try:
            answer = json.loads(body)
        except ValueError:
            return "wrong", f"not JSON: {body[:80]!r}"
        if not isinstance(answer, dict) or answer.get("status") != "done":
            return "error", f"{body[:120]!r}"
        difference = compare(self._expected[answer_key], answer.get("data"))
        return None if difference is None else ("wrong", difference)


def run_load(url, mix, expected, clients=8, seconds=10.0, offset=0, checked=None):
    """Run `clients` closed-loop clients for `seconds`; return a Result.

    `offset` shifts where in the mix the clients start, so that successive
    rounds cover all of it; `checked` (a dict) keeps the answers already
    checked from one round against a server to the next.
    """
    return LoadRun(url, mix, expected, clients, checked=checked).run(seconds, offset)


def main(argv=None):
    """Run the load against --url and print the result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--csv", default=DEFAULT_CSV, help="the data set the server answers from")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args(argv)
    mix, expected = build_mix(Reference(options.csv))
    result = run_load(options.url, mix, expected, options.clients, options.seconds)
    print(f"{options.clients} clients, {result.seconds:.1f} s, {result.jobs} jobs: {result.summary()}")
    for sample in result.samples:
        print("  ", sample)
    return 0 if result.errors == 0 and result.wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
