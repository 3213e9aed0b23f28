"""Reference answers for the nine statistics, computed independently of the server.

The server answers with pandas; this module deliberately uses only the standard
library (``csv`` and ``math.fsum``) so that a mistake in one cannot hide in the
other. It reads the bundled six-column subset as well as the full-width official
file, whose headers are matched after stripping surrounding spaces.
"""

import csv
import math
from collections import defaultdict
from typing import NamedTuple

ENDPOINTS = (
    "states_mean",
    "state_mean",
    "best5",
    "worst5",
    "global_mean",
    "diff_from_mean",
    "state_diff_from_mean",
    "mean_by_category",
    "state_mean_by_category",
)

STATE_ENDPOINTS = ("state_mean", "state_diff_from_mean", "state_mean_by_category")

LOWER_IS_BETTER = frozenset({
    "Percent of adults aged 18 years and older who have an overweight classification",
    "Percent of adults aged 18 years and older who have obesity",
    "Percent of adults who engage in no leisure-time physical activity",
    "Percent of adults who report consuming fruit less than one time daily",
    "Percent of adults who report consuming vegetables less than one time daily",
})

RANKING_SIZE = 5


class Observation(NamedTuple):
    """One numeric survey row of a question."""

    state: str
    value: float
    category: str
    segment: str


def mean(values):
    """Arithmetic mean; fsum keeps the result independent of the row order."""
    return math.fsum(values) / len(values)


def _group_means(keyed_values):
    """Mean of the values per key, for an iterable of (key, value) pairs."""
    groups = defaultdict(list)
    for key, value in keyed_values:
        groups[key].append(value)
    return {key: mean(values) for key, values in groups.items()}


def _read_observations(csv_path):
    """Numeric rows of the CSV grouped by question; rows without a value are dropped."""
    by_question = defaultdict(list)
    with open(csv_path, newline="", encoding="utf-8") as csv_file:
        reader = csv.DictReader(csv_file)
        # The official file has a header with a trailing space; strip them all.
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
        for row in reader:
            text = row["Data_Value"].strip()
            if not text:
                continue
            by_question[row["Question"]].append(Observation(
                state=row["LocationDesc"],
                value=float(text),
                category=row["StratificationCategory1"],
                segment=row["Stratification1"],
            ))
    return dict(by_question)


class Reference:
    """Expected answers of the nine statistics endpoints for one CSV file."""

    def __init__(self, csv_path):
        self._observations = _read_observations(csv_path)

    def questions(self):
        """Every question of the data set, sorted."""
        return sorted(self._observations)

    def states(self, question):
        """The states having at least one numeric row for the question, sorted."""
        return sorted({obs.state for obs in self._rows(question)})

    def answer(self, endpoint, body):
        """The expected ``data`` of ``endpoint`` for the request ``body``."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        question = body["question"]
        if endpoint in STATE_ENDPOINTS:
            return getattr(self, endpoint)(question, body["state"])
        return getattr(self, endpoint)(question)

    def _rows(self, question):
        if question not in self._observations:
            raise ValueError(f"unknown question {question!r}")
        return self._observations[question]

    def _state_rows(self, question, state):
        rows = [obs for obs in self._rows(question) if obs.state == state]
        if not rows:
            raise ValueError(f"no rows for state {state!r} and question {question!r}")
        return rows

    def states_mean(self, question):
        """{state: mean} for every state, in ascending order of mean."""
        means = _group_means((obs.state, obs.value) for obs in self._rows(question))
        # Ties are broken by name so that the output is reproducible.
        return dict(sorted(means.items(), key=lambda item: (item[1], item[0])))

    def state_mean(self, question, state):
        """{state: mean} for one state."""
        return {state: mean([obs.value for obs in self._state_rows(question, state)])}

    def best5(self, question):
        """The five best states, best first."""
        return self._ranking(question, best_first=True)

    def worst5(self, question):
        """The five worst states, worst first."""
        return self._ranking(question, best_first=False)

    def _ranking(self, question, best_first):
        ascending = list(self.states_mean(question).items())
        lowest_first = best_first == (question in LOWER_IS_BETTER)
        ordered = ascending if lowest_first else ascending[::-1]
        return dict(ordered[:RANKING_SIZE])

    def global_mean(self, question):
        """{"global_mean": mean over all rows}; rows, not states, are averaged."""
        return {"global_mean": mean([obs.value for obs in self._rows(question)])}

    def diff_from_mean(self, question):
        """{state: global_mean - state_mean} for every state."""
        overall = self.global_mean(question)["global_mean"]
        return {state: overall - state_average
                for state, state_average in self.states_mean(question).items()}

    def state_diff_from_mean(self, question, state):
        """{state: global_mean - state_mean} for one state."""
        overall = self.global_mean(question)["global_mean"]
        return {state: overall - self.state_mean(question, state)[state]}

    def mean_by_category(self, question):
        """{"('State', 'Category', 'Segment')": mean} over the rows with a category."""
        means = _group_means(
            ((obs.state, obs.category, obs.segment), obs.value)
            for obs in self._rows(question)
            if obs.category and obs.segment
        )
        return {str(key): means[key] for key in sorted(means)}

    def state_mean_by_category(self, question, state):
        """{state: {"('Category', 'Segment')": mean}} over the state's rows with a category."""
        means = _group_means(
            ((obs.category, obs.segment), obs.value)
            for obs in self._state_rows(question, state)
            if obs.category and obs.segment
        )
        return {state: {str(key): means[key] for key in sorted(means)}}


def _is_number(value):
    # bool is an int subclass, but true/false is never a valid statistic.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _describe_keys(keys, limit=3):
    shown = sorted(keys)[:limit]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(repr(key) for key in shown) + more


def compare(expected, actual, tolerance=0.01):
    """None when ``actual`` matches ``expected``, else a description of the first difference.

    Mappings must have exactly the same keys at every level (their order is
    ignored) and numbers must agree within the absolute ``tolerance``; anything
    else must be equal.
    """
    return _first_difference(expected, actual, tolerance, "data")


def _first_difference(expected, actual, tolerance, path):
    if isinstance(expected, dict):
        return _mapping_difference(expected, actual, tolerance, path)
    if _is_number(expected):
        # Written so that NaN in the answer never passes as a match.
        if _is_number(actual) and abs(expected - actual) <= tolerance:
            return None
        return f"{path}: expected {expected!r}, got {actual!r:.80}"
    if expected != actual:
        return f"{path}: expected {expected!r:.80}, got {actual!r:.80}"
    return None


def _mapping_difference(expected, actual, tolerance, path):
    if not isinstance(actual, dict):
        return f"{path}: expected an object, got {actual!r:.80}"
    missing = expected.keys() - actual.keys()
    if missing:
        return f"{path}: missing keys {_describe_keys(missing)}"
    unexpected = actual.keys() - expected.keys()
    if unexpected:
        return f"{path}: unexpected keys {_describe_keys(unexpected)}"
    for key in sorted(expected):
        difference = _first_difference(expected[key], actual[key], tolerance,
                                       f"{path}[{key!r}]")
        if difference:
            return difference
    return None
