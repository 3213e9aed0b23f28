"""The server's entry point: `flask --app api_server run` or `python api_server.py`."""
import os

from app import create_app
from app.lifecycle import drain_on_signals

app = create_app()
drain_on_signals(app)

if __name__ == "__main__":
    app.run(host=os.environ.get("FLASK_RUN_HOST", "127.0.0.1"),
            port=int(os.environ.get("FLASK_RUN_PORT", "5000")))
