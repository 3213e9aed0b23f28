"""Schemathesis against a real server: every operation of GET /api/openapi.json
answers with a status, content type, headers and body its description gives,
never a 5xx but the 503 of a server shutting down, and requests that break the
described schemas are refused. unittests/stress/schemathesis_run.py holds the
run: three passes over one server process, before, at and after the shutdown.

LSS_SCHEMATHESIS_EXAMPLES sets the examples per operation (`make stress` runs
many more); the seed is random, printed on failure, and LSS_SCHEMATHESIS_SEED
runs one again.
"""
import os

import pytest

from app.openapi import DESCRIPTION
from unittests.stress import schemathesis_run

EXAMPLES = int(os.environ.get("LSS_SCHEMATHESIS_EXAMPLES", "25"))
SEED = os.environ.get("LSS_SCHEMATHESIS_SEED")
OPERATIONS = sum(len(operations) for operations in DESCRIPTION["paths"].values())
STATISTICS_POSTS = sum("Statistics" in operation["tags"] for operations in DESCRIPTION["paths"].values()
                       for operation in operations.values())


@pytest.fixture(name="run", scope="module")
def fixture_run(tmp_path_factory):
    """One run of the three passes, shared by the tests that read it."""
    return schemathesis_run.run(tmp_path_factory.mktemp("schemathesis"), EXAMPLES,
                                None if SEED is None else int(SEED))


def _why(run, result):
    return f"seed {run.seed} (LSS_SCHEMATHESIS_SEED runs it again):\n" + "\n".join(result.problems())


def _tested(result):
    return result.report["operations"]["tested"]


def test_every_operation_answers_as_described(run):
    first = run.passes[0]
    assert not first.problems(), _why(run, first)
    assert _tested(first) == OPERATIONS - 1
    # The three phases before the stateful one each send every operation at least once.
    assert first.generated >= 3 * (OPERATIONS - 1)
    assert first.statuses[200] > 0 and first.statuses[400] > 0 and first.statuses[404] > 0


def test_graceful_shutdown_answers_as_described(run):
    shutdown = run.passes[1]
    assert not shutdown.problems(), _why(run, shutdown)
    assert _tested(shutdown) == 1


def test_after_the_shutdown_every_statistics_post_is_refused_as_described(run):
    after = run.passes[2]
    assert not after.problems(), _why(run, after)
    assert _tested(after) == STATISTICS_POSTS
    assert after.statuses[503] > 0


def test_the_server_logged_no_stack_trace_and_exited_0(run):
    assert run.tracebacks == 0
    assert run.exit_status == 0
