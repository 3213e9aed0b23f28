"""Checks of our own that schemathesis applies to every response, besides its own.

Loaded by the schemathesis command (SCHEMATHESIS_HOOKS=<this file>, see
schemathesis_run.py). The described schemas cannot say these: JSON answers
hold no NaN or Infinity, every refusal is JSON with a reason (the 405 of an
undescribed method too), and no answer shows a stack trace.
"""
import os
import sys

import schemathesis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# pylint: disable=wrong-import-position
from unittests.stress.load import strict_json  # noqa: E402


def _content_type(response):
    return response.headers.get("content-type", [""])[0].split(";")[0].strip()


def _json(response):
    try:
        return strict_json(response.content)
    except ValueError as error:
        raise AssertionError(f"not JSON without NaN or Infinity: {error}") from None


@schemathesis.check
def strict_json_answers(_ctx, response, _case):
    """An answer said to be JSON parses as JSON without NaN or Infinity."""
    if _content_type(response) == "application/json":
        _json(response)


@schemathesis.check
def refusals_give_a_reason(_ctx, response, _case):
    """A 4xx or 5xx is {"status": "error", "reason": "..."} in JSON."""
    if response.status_code < 400:
        return
    assert _content_type(response) == "application/json", f"a {response.status_code} that is not JSON"
    answer = _json(response)
    assert isinstance(answer, dict) and answer.get("status") == "error", f"not an error object: {answer!r}"
    assert isinstance(answer.get("reason"), str) and answer["reason"].strip(), f"no reason: {answer!r}"


@schemathesis.check
def no_stack_trace(_ctx, response, _case):
    """No answer shows a Python stack trace."""
    assert b"Traceback (most recent call last)" not in response.content, "a stack trace in the answer"
