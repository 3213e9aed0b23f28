"""Real server processes for the tests that need one: start, signal, kill, start again.

Each server gets its own results folder and log in a work folder chosen by
the caller, so a kill leaves exactly what a crashed server would leave there.
"""
import os
import signal
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GATED_SERVER = os.path.join(ROOT, "unittests", "stress", "gated_server.py")

# How a server is started: `flask run` as the README says, the script
# itself, the script with every job held at a gate (see gated_server.py),
# or the production server of `make serve` (app/production_server.py).
LAUNCHERS = ("flask", "script", "gated", "production")


def free_port():
    """A TCP port nobody listens on: from LSS_TEST_PORTS ("5300-5399") if set, else any."""
    first, _, last = os.environ.get("LSS_TEST_PORTS", "").partition("-")
    candidates = range(int(first), int(last) + 1) if last else [0]
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free port in {first}-{last}")


class ServerProcess:
    """One server process over the results folder `<workdir>/results`."""

    def __init__(self, workdir, launcher="flask", threads=None, max_pending=None, gate=None, *,
                 environment=None):
        if launcher not in LAUNCHERS:
            raise ValueError(f"launcher must be one of {LAUNCHERS}")
        self.workdir = os.fspath(workdir)
        self.results_dir = os.path.join(self.workdir, "results")
        self.log_file = os.path.join(self.workdir, "webserver.log")
        self.launcher = launcher
        self.gate = gate
        self.settings = {"TP_NUM_OF_THREADS": threads, "LSS_MAX_PENDING_JOBS": max_pending}
        # Any other variables, such as LSS_REDIS_URL for a server of a cluster.
        self.settings.update(environment or {})
        self.process = None
        self.port = None

    @property
    def url(self):
        """Where the server answers."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        """The process id of the running server."""
        return self.process.pid

    def start(self, seconds=60):
        """Start the server and wait until it answers; return self."""
        self.port = free_port()
        environment = dict(os.environ, LSS_RESULTS_DIR=self.results_dir, LSS_LOG_FILE=self.log_file,
                           LSS_DATASETS_DIR=os.path.join(os.path.dirname(self.results_dir), "datasets"),
                           FLASK_RUN_PORT=str(self.port), PYTHONPATH=ROOT)
        environment.update({name: str(value) for name, value in self.settings.items()
                            if value is not None})
        if self.launcher == "flask":
            command = [sys.executable, "-m", "flask", "--app", "api_server", "run", "--port", str(self.port)]
        elif self.launcher == "script":
            command = [sys.executable, "api_server.py"]
        elif self.launcher == "production":
            command = [sys.executable, "-m", "app.production_server"]
        else:
            environment["LSS_GATE"] = self.gate
            command = [sys.executable, GATED_SERVER]
        with open(os.path.join(self.workdir, "server.out"), "ab") as output:
            self.process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output,
                                            stderr=subprocess.STDOUT)
        self._wait_until_up(seconds)
        return self

    def _wait_until_up(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode} at start; "
                                   f"see {self.workdir}/server.out")
            try:
                requests.get(f"{self.url}/api/num_jobs", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the server did not answer within {seconds} s")

    def send(self, signum):
        """Send `signum` to the server."""
        self.process.send_signal(signum)

    def wait(self, seconds):
        """The exit status, or None if the server is still running after `seconds`."""
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, signum=signal.SIGTERM, seconds=60):
        """Signal the server and wait for it to exit; the exit status, or None if it hung (then killed)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.send(signum)
        status = self.wait(seconds)
        if status is None:
            self.kill()
        return status

    def kill(self):
        """kill -9, and reap the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_lines(self, text):
        """How many lines of the log (and its rotations) contain `text`."""
        count = 0
        for name in os.listdir(self.workdir):
            if name.startswith(os.path.basename(self.log_file)):
                with open(os.path.join(self.workdir, name), encoding="utf-8", errors="replace") as log:
                    count += sum(text in line for line in log)
        return count

    def memory_kib(self):
        """The resident memory of the server process, in KiB."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0
