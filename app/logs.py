"""The service's log: a rotating file with UTC timestamps."""
import logging
import time
from logging.handlers import RotatingFileHandler

from flask import g, request

FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(threadName)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


def make_logger(path, max_bytes, backup_count):
    """A logger of its own (not in logging's global registry) writing to `path`."""
    formatter = logging.Formatter(FORMAT, DATE_FORMAT)
    # Timestamps in UTC whatever TZ says, so logs of machines compare.
    formatter.converter = time.gmtime
    # A client's text may hold lone surrogates, which UTF-8 cannot encode;
    # escaping them keeps the line rather than losing it to an encoding error.
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backup_count, delay=True,
                                  encoding="utf-8", errors="backslashreplace")
    handler.setFormatter(formatter)
    logger = logging.Logger("le_stats_sportif", logging.INFO)
    logger.addHandler(handler)
    return logger


def _parameters():
    parameters = dict(request.view_args or {})
    if request.args:
        parameters["query"] = request.args.to_dict()
    size = request.content_length
    if size and size <= 4096 and request.mimetype != "multipart/form-data":
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
        g.started = time.perf_counter()
        logger.info("enter %s %s %s", request.method, request.path, _parameters())

    @app.after_request
    def log_exit(response):
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        logger.info("answer %s %s %d in %.1f ms", request.method, request.path,
                    response.status_code, elapsed)
        return response
