"""A real redis-server for the tests: started on a free port in a folder of its own, killed, started again.

It keeps an append-only file with `appendfsync everysec`, as README asks of
a production Redis, so that a kill -9 and a restart show what survives one.
`make test` installs Debian's redis-server when it is missing.
"""
import os
import shutil
import signal
import subprocess
import time

import redis

from unittests.stress.servers import free_port

EXECUTABLE = "redis-server"


class RedisServer:
    """One redis-server process over the folder `workdir`."""

    def __init__(self, workdir):
        self.workdir = os.fspath(workdir)
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        """The URL the service is given (LSS_REDIS_URL)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        """A client of this server, for the tests' own look at what is kept."""
        return redis.Redis(port=self.port, socket_timeout=5)

    def start(self, seconds=20):
        """Start the server (on the same port and folder as before) and wait until it answers."""
        if shutil.which(EXECUTABLE) is None:
            raise RuntimeError("redis-server is not installed; `make test` installs it (Debian's redis-server)")
        os.makedirs(self.workdir, exist_ok=True)
        self.process = subprocess.Popen(
            [EXECUTABLE, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.workdir,
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--logfile", os.path.join(self.workdir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
            if self.process.poll() is not None:
                break
        raise RuntimeError(f"redis-server did not start on port {self.port}; see {self.workdir}/redis.log")

    def kill(self):
        """kill -9, as a crash would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        """Stop it if it runs."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
