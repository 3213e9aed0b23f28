"""Start the server on a free port, run the checker against it, stop it.

The server gets a results folder and a log of its own in a temporary
directory, so the run leaves the working tree as it was. Exits with the
checker's status, or 1 if the server would not start or stop cleanly.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url, server, seconds=30):
    """Whether the server answers within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            requests.get(f"{url}/api/num_jobs", timeout=1)
            return True
        except requests.ConnectionError:
            time.sleep(0.1)
    return False


def main():
    """Run the whole check; return the exit status."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        environment = dict(os.environ, LSS_RESULTS_DIR=os.path.join(scratch, "results"),
                           LSS_LOG_FILE=os.path.join(scratch, "webserver.log"),
                           LSS_DATASETS_DIR=os.path.join(scratch, "datasets"))
        with subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "api_server", "run", "--port", str(port)],
                cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL) as server:
            try:
                if not wait_until_up(url, server):
                    print(f"the server did not start on {url}", file=sys.stderr)
                    return 1
                checked = subprocess.run(
                    [sys.executable, os.path.join(ROOT, "checker", "checker.py"), "--url", url,
                     *sys.argv[1:]],
                    cwd=ROOT, check=False)
            finally:
                server.send_signal(signal.SIGTERM)
                try:
                    stopped = server.wait(timeout=30) == 0
                except subprocess.TimeoutExpired:
                    server.kill()
                    stopped = False
        if not stopped:
            print("the server did not exit cleanly on SIGTERM", file=sys.stderr)
            return 1
        return checked.returncode


if __name__ == "__main__":
    sys.exit(main())
