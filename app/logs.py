"""The service's log: a rotating file with UTC timestamps.

Every request logs two lines, so the path from a call to a line on disk is
kept short: no search of the call stack for a source location the format
never shows, no second formatting of each record to decide on rotation, the
same timestamp text reused within a second, no lock held across a write, and
a route's entry line written in the same write as its answer line.
"""
import logging
import time
from logging.handlers import RotatingFileHandler

from flask import request

FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(threadName)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
# `extra` of a line that may wait for the next one to be written with it.
HELD = {"held_for_next_line": True}
# Bodies longer than this are logged by size only.
LOGGED_BODY_BYTES = 4096


class UTCFormatter(logging.Formatter):
    """Timestamps in UTC whatever TZ says, so logs of machines compare."""

    converter = time.gmtime

    def __init__(self):
        super().__init__(FORMAT, DATE_FORMAT)
        # (second, its text), replaced whole so that the pair always agrees.
        self._cached = (None, "")

    def formatTime(self, record, datefmt=None):
        second = int(record.created)
        cached = self._cached
        if cached[0] != second:
            cached = (second, time.strftime(self.datefmt, self.converter(second)))
            self._cached = cached
        return cached[1]


class AppendingHandler(RotatingFileHandler):
    """A RotatingFileHandler whose threads do not queue behind one another's writes.

    Each write goes to a file opened for appending, which the system applies
    whole, so the handler's lock is held only to decide on rotation and never
    across the write itself: a thread waiting in the write no longer holds up
    every other thread that logs. A line logged with extra=HELD waits in
    memory and is written with the next line that is not held, which for a
    request's entry line is its answer line: one write a request instead of
    two, and every line is on disk once any request has been answered. The
    size is counted from what was written rather than asked of the file.
    """

    def __init__(self, path, max_bytes, backup_count):
        # A client's text may hold lone surrogates, which UTF-8 cannot encode;
        # escaping them keeps the line rather than losing it to an encoding error.
        super().__init__(path, maxBytes=max_bytes, backupCount=backup_count, delay=True,
                         encoding="utf-8", errors="backslashreplace")
        self._size = 0
        # Held lines, in the order they were logged.
        self._held = []
        # The file of the previous rotation, closed at the next one: a thread
        # may still be writing to it when the rotation happens.
        self._retired = None

    def _open(self):
        return open(self.baseFilename, "ab", buffering=0)  # pylint: disable=consider-using-with

    def handle(self, record):
        if self.filter(record):
            self.emit(record)
        return record

    def emit(self, record):
        try:
            line = (self.format(record) + self.terminator).encode(self.encoding, self.errors)
            with self.lock:
                if self.stream is None:
                    self.stream = self._open()
                    self._size = self.stream.seek(0, 2)
                if self.maxBytes and self._size and self._size + len(line) >= self.maxBytes:
                    self.doRollover()
                self._size += len(line)
                if record.__dict__.get("held_for_next_line"):
                    self._held.append(line)
                    return
                if self._held:
                    self._held.append(line)
                    line, self._held = b"".join(self._held), []
                stream = self.stream
            stream.write(line)
        except Exception:  # pylint: disable=broad-exception-caught
            # Logging never takes a request down; this reports on stderr.
            self.handleError(record)

    def doRollover(self):
        # Held lines were counted in the file being retired, so they go there.
        self._write_held()
        retired, self.stream = self.stream, None
        super().doRollover()
        if self._retired is not None:
            self._retired.close()
        self._retired = retired
        self.stream = self._open()
        self._size = 0

    def _write_held(self):
        if self._held and self.stream is not None:
            self.stream.write(b"".join(self._held))
        self._held = []

    def close(self):
        with self.lock:
            self._write_held()
            if self._retired is not None:
                self._retired.close()
                self._retired = None
        super().close()


class ServiceLogger(logging.Logger):
    """A logger that does not look up the caller's file and line, which FORMAT never shows."""

    def findCaller(self, stack_info=False, stacklevel=1):
        return "(unknown file)", 0, "(unknown function)", None


def make_logger(path, max_bytes, backup_count):
    """A logger of its own (not in logging's global registry) writing to `path`."""
    handler = AppendingHandler(path, max_bytes, backup_count)
    handler.setFormatter(UTCFormatter())
    logger = ServiceLogger("le_stats_sportif", logging.INFO)
    logger.addHandler(handler)
    return logger


def _parameters(environ):
    parameters = dict(request.view_args or {})
    if environ.get("QUERY_STRING"):
        parameters["query"] = request.args.to_dict()
    size = request.content_length
    if size and size <= LOGGED_BODY_BYTES and not environ.get("CONTENT_TYPE", "").startswith("multipart/"):
        # Small bodies only: reading a large or multipart one here would
        # read it before its own checks and parsers do.
        parameters["body"] = request.get_data(cache=True).decode("utf-8", "replace")
    elif size:
        parameters["body"] = f"<{size} bytes>"
    return parameters


def log_requests(app, logger):
    """Log a line when each route is entered and one when it answers."""

    @app.before_request
    def log_entry():
        environ = request.environ
        environ["le_stats_sportif.started"] = time.perf_counter()
        logger.info("enter %s %s %s", environ["REQUEST_METHOD"], request.path, _parameters(environ),
                    extra=HELD)

    @app.after_request
    def log_exit(response):
        environ = request.environ
        started = environ.get("le_stats_sportif.started")
        elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
        logger.info("answer %s %s %d in %.1f ms", environ["REQUEST_METHOD"], request.path,
                    response.status_code, elapsed)
        return response
