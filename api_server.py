"""The server's entry point: `python api_server.py` (`make run_server`) or `flask --app api_server run`."""
import os

from app import create_app
from app.dev_server import JsonErrorRequestHandler
from app.guard import flask_run_host, warn_if_exposed
from app.lifecycle import drain_on_signals

app = create_app()
drain_on_signals(app)
# Where the server listens: `flask run` knows it (its --host, or FLASK_RUN_HOST);
# every other launcher (the script below, `make serve`) binds FLASK_RUN_HOST.
HOST = flask_run_host() or os.environ.get("FLASK_RUN_HOST", "127.0.0.1")
warn_if_exposed(app, [HOST])

if __name__ == "__main__":
    # Its own errors in JSON too; `flask run` cannot be given a handler, so
    # there a request line or header too long gets Werkzeug's HTML page.
    app.run(host=HOST, port=int(os.environ.get("FLASK_RUN_PORT", "5000")),
            request_handler=JsonErrorRequestHandler)
