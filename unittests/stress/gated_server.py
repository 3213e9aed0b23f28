"""The server, with every job held until a gate file exists.

Jobs normally finish in a millisecond, too fast to catch one unfinished.
Started with LSS_GATE=<path>, this runs the real server (api_server.py,
its signal handlers and its development server; or, with
LSS_GATED_SERVER=production, `make serve`'s app.production_server) but each
job waits, before computing, until <path> exists. The tests then kill, signal or flood a
server whose jobs are known to be pending, and open the gate when they choose.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# pylint: disable=wrong-import-position
from app.jobs import JobService  # noqa: E402

GATE = os.environ["LSS_GATE"]
_make_work_item = JobService._work_item  # pylint: disable=protected-access


def _gated_work_item(service, job_id, spec):
    item = _make_work_item(service, job_id, spec)
    compute = item.fn

    def wait_then_compute():
        while not os.path.exists(GATE):
            time.sleep(0.01)
        return compute()

    item.fn = wait_then_compute
    return item


JobService._work_item = _gated_work_item  # pylint: disable=protected-access

if __name__ == "__main__":
    if os.environ.get("LSS_GATED_SERVER") == "production":
        from app import production_server  # noqa: E402
        sys.exit(production_server.main([]))
    import api_server  # noqa: E402
    api_server.app.run(host="127.0.0.1", port=int(os.environ["FLASK_RUN_PORT"]))
