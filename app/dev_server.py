"""The development server's request handler, for `make run_server`.

Werkzeug's development server answers a request it cannot parse (a request
line or a header longer than Python's HTTP server reads) itself, before the
app sees it, with an HTML page; this handler gives those answers in JSON
with a reason, like every other error of the API.
"""
from werkzeug.serving import WSGIRequestHandler


class JsonErrorRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler with its own error pages in JSON."""

    error_content_type = "application/json"
    # Filled in by http.server's send_error, whose messages hold no quote or backslash.
    error_message_format = '{"status": "error", "reason": "%(message)s"}'
