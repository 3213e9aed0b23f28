"""A finished job's answer as CSV: a header row, then one row per key of the answer.

The answers of the nine statistics have four shapes, told apart by their keys:
- `{"global_mean": value}`: one row `global_mean,<value>` under `statistic,value`;
- `{state: value}` (states_mean, best5, worst5, diff_from_mean, state_mean,
  state_diff_from_mean): `state,value`;
- `{"(state, category, segment)": value}` (mean_by_category, whose keys are
  the tuples' Python text, as the course's contract has them):
  `state,category,segment,value`;
- `{state: {"(category, segment)": value}}` (state_mean_by_category): the same
  four columns.
Numbers are written as JSON writes them, to the last digit.
"""
import ast
import csv
import io
import json


def _tuple_of(key, length):
    """The tuple whose text `key` is, if it is one of `length` strings; else None."""
    if not key.startswith("("):
        return None
    try:
        value = ast.literal_eval(key)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, tuple) and len(value) == length and all(isinstance(part, str) for part in value):
        return value
    return None


def _rows(data):
    """(header, rows) of a decoded answer."""
    if list(data) == ["global_mean"]:
        return ["statistic", "value"], [["global_mean", data["global_mean"]]]
    values = list(data.values())
    if values and all(isinstance(value, dict) for value in values):
        rows = []
        for state, segments in data.items():
            for key, value in segments.items():
                parts = _tuple_of(key, 2) or ("", key)
                rows.append([state, *parts, value])
        return ["state", "category", "segment", "value"], rows
    triples = [_tuple_of(key, 3) for key in data]
    if triples and all(triples):
        return ["state", "category", "segment", "value"], [[*triple, value]
                                                           for triple, value in zip(triples, values)]
    return ["state", "value"], [[state, value] for state, value in data.items()]


def _cell(value):
    return json.dumps(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def answer_csv(encoded):
    """The CSV text of a job's encoded (JSON) answer."""
    header, rows = _rows(json.loads(encoded))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
