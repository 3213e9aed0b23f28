"""The service's log: a rotating file with UTC timestamps, written in batches.

Every request logs two lines, so the path from a call to a line is kept
short: no search of the call stack for a source location the format never
shows, the same timestamp text reused within a second, and no system call
on the request's thread. Lines wait in memory and a thread of the log's own
writes them, every `flush_ms` milliseconds or as soon as 64 KB wait, in one
write each (nginx's `access_log ... buffer= flush=` makes the same trade).
A system call gives the interpreter lock away, and under load getting it
back costs a thread switch; one write a batch instead of one a request is
what this saves (bench/README.md). The price: a kill -9 loses the lines of
the last `flush_ms` milliseconds (RELIABILITY.md); a normal exit, SIGTERM
and SIGINT included, writes every line. With `flush_ms` 0 every line is
written as it is logged.
"""
import logging
import threading
import time
from logging.handlers import RotatingFileHandler

from flask import request

FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(threadName)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
# Bodies longer than this are logged by size only.
LOGGED_BODY_BYTES = 4096
# Waiting lines are written at once when they reach this size.
BATCH_BYTES = 64 * 1024


class UTCFormatter(logging.Formatter):
    """Timestamps in UTC whatever TZ says, so logs of machines compare."""

    converter = time.gmtime

    def __init__(self):
        super().__init__(FORMAT, DATE_FORMAT)
        # (second, its text), replaced whole so that the pair always agrees.
        self._cached = (None, "")

    def formatTime(self, record, datefmt=None):
        return self.second_text(int(record.created))

    def second_text(self, second):
        """The text of a whole second since the epoch, as FORMAT shows it."""
        cached = self._cached
        if cached[0] != second:
            cached = (second, time.strftime(self.datefmt, self.converter(second)))
            self._cached = cached
        return cached[1]


class BatchedFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose lines are written in batches by a thread of its own.

    The size of the file is counted from what was written rather than asked
    of it, and a batch that would take the file past `max_bytes` is split
    at a line, the rest going to the next file.
    """

    def __init__(self, path, max_bytes, backup_count, flush_ms):
        # A client's text may hold lone surrogates, which UTF-8 cannot encode;
        # escaping them keeps the line rather than losing it to an encoding error.
        super().__init__(path, maxBytes=max_bytes, backupCount=backup_count, delay=True,
                         encoding="utf-8", errors="backslashreplace")
        self.flush_s = flush_ms / 1000
        # Lines not yet written, and their size. self.lock guards them and is
        # held across a write and a rotation too, so that batches reach the
        # file in order; the lines' threads wait for it only while a batch is
        # written, a few times a second.
        self._waiting = []
        self._waiting_bytes = 0
        self._size = 0
        self._batch_full = threading.Event()
        self._closed = False
        self._writer = None
        if self.flush_s:
            self._writer = threading.Thread(target=self._write_batches, name="log-writer", daemon=True)
            self._writer.start()

    def _open(self):
        return open(self.baseFilename, "ab", buffering=0)  # pylint: disable=consider-using-with

    def handle(self, record):
        if self.filter(record):
            self.emit(record)
        return record

    def emit(self, record):
        try:
            line = (self.format(record) + self.terminator).encode(self.encoding, self.errors)
        except Exception:  # pylint: disable=broad-exception-caught
            # Logging never takes a request down; this reports on stderr.
            self.handleError(record)
            return
        self._add(line)

    def emit_text(self, text):
        """Add a line already formatted as FORMAT would (ServiceLogger.request_line)."""
        self._add((text + self.terminator).encode(self.encoding, self.errors))

    def _add(self, line):
        with self.lock:
            self._waiting.append(line)
            self._waiting_bytes += len(line)
            full = self._waiting_bytes >= BATCH_BYTES
        if not self.flush_s:
            self.flush()
        elif full:
            self._batch_full.set()

    def _write_batches(self):
        while not self._closed:
            self._batch_full.wait(self.flush_s)
            self._batch_full.clear()
            self.flush()

    def flush(self):
        """Write every waiting line."""
        with self.lock:
            lines, self._waiting, self._waiting_bytes = self._waiting, [], 0
            if not lines:
                return
            try:
                self._write(lines)
            except Exception:  # pylint: disable=broad-exception-caught
                self.handleError(logging.makeLogRecord({"msg": f"{len(lines)} log lines lost"}))

    def _write(self, lines):
        """Write `lines`, rotating where the next line would take the file to `maxBytes`; holds the lock."""
        if self.stream is None:
            self.stream = self._open()
            self._size = self.stream.seek(0, 2)
        chunk, chunk_bytes = [], 0
        for line in lines:
            written = self._size + chunk_bytes
            if self.maxBytes and written and written + len(line) >= self.maxBytes:
                self.stream.write(b"".join(chunk))
                chunk, chunk_bytes = [], 0
                self.doRollover()
            chunk.append(line)
            chunk_bytes += len(line)
        self.stream.write(b"".join(chunk))
        self._size += chunk_bytes

    def doRollover(self):
        super().doRollover()
        self.stream = self._open()
        self._size = 0

    def close(self):
        # The writer is not joined: logging.shutdown() calls this holding the
        # lock the writer may be waiting for. It leaves at its next wake-up.
        self._closed = True
        self._batch_full.set()
        self.flush()
        super().close()


class ServiceLogger(logging.Logger):
    """A logger that does not look up the caller's file and line, which FORMAT never shows."""

    def findCaller(self, stack_info=False, stacklevel=1):
        return "(unknown file)", 0, "(unknown function)", None

    def request_line(self, message):
        """`info(message)` for a message already formatted: the same line, without a LogRecord.

        Every request logs two lines; building a record and formatting it
        cost more than the rest of a poll's route.
        """
        if self.disabled or not self.isEnabledFor(logging.INFO):
            return
        now = time.time()
        for handler in self.handlers:
            second = int(now)
            handler.emit_text(f"{handler.formatter.second_text(second)}.{int((now - second) * 1000):03d}Z "
                              f"INFO {threading.current_thread().name} {message}")


def make_logger(path, max_bytes, backup_count, flush_ms=0):
    """A logger of its own (not in logging's global registry) writing to `path` every `flush_ms`."""
    handler = BatchedFileHandler(path, max_bytes, backup_count, flush_ms)
    handler.setFormatter(UTCFormatter())
    logger = ServiceLogger("le_stats_sportif", logging.INFO)
    logger.addHandler(handler)
    return logger


def _parameters(current):
    environ = current.environ
    parameters = dict(current.view_args or {})
    if environ.get("QUERY_STRING"):
        parameters["query"] = current.args.to_dict()
    size = current.content_length
    if size and size <= LOGGED_BODY_BYTES and not environ.get("CONTENT_TYPE", "").startswith("multipart/"):
        # Small bodies only: reading a large or multipart one here would
        # read it before its own checks and parsers do.
        parameters["body"] = current.get_data(cache=True).decode("utf-8", "replace")
    elif size:
        parameters["body"] = f"<{size} bytes>"
    return parameters


def log_requests(app, logger):
    """Log a line when each route is entered and one when it answers."""

    @app.before_request
    def log_entry():
        # The request itself rather than its proxy, looked up once.
        current = request._get_current_object()  # pylint: disable=protected-access
        environ = current.environ
        environ["le_stats_sportif.started"] = time.perf_counter()
        logger.request_line(f"enter {environ['REQUEST_METHOD']} {current.path} {_parameters(current)}")

    @app.after_request
    def log_exit(response):
        current = request._get_current_object()  # pylint: disable=protected-access
        environ = current.environ
        started = environ.get("le_stats_sportif.started")
        elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
        logger.request_line(f"answer {environ['REQUEST_METHOD']} {current.path} {response.status_code} "
                            f"in {elapsed:.1f} ms")
        return response
