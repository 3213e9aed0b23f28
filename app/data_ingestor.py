"""The survey data and the nine statistics computed over it.

The CSV is read once and every question's aggregates are computed once with
pandas; after that each statistic is a dictionary lookup, so running a job
never scans the data.
"""
import json
import math
from dataclasses import dataclass

import pandas as pd

LOCATION = "LocationDesc"
QUESTION = "Question"
VALUE = "Data_Value"
CATEGORY = "StratificationCategory1"
SEGMENT = "Stratification1"
COLUMNS = (LOCATION, QUESTION, VALUE, CATEGORY, SEGMENT)

QUESTIONS_BEST_IS_MIN = (
    "Percent of adults aged 18 years and older who have an overweight classification",
    "Percent of adults aged 18 years and older who have obesity",
    "Percent of adults who engage in no leisure-time physical activity",
    "Percent of adults who report consuming fruit less than one time daily",
    "Percent of adults who report consuming vegetables less than one time daily",
)

# The statistics a client can ask for, and whether each one names a state.
STATISTICS = {
    "states_mean": False,
    "state_mean": True,
    "best5": False,
    "worst5": False,
    "global_mean": False,
    "diff_from_mean": False,
    "state_diff_from_mean": True,
    "mean_by_category": False,
    "state_mean_by_category": True,
}


class DataError(ValueError):
    """The CSV cannot serve as a data set; the message says why."""


@dataclass(frozen=True)
class QuestionSummary:
    """Everything the nine statistics need to know about one question."""

    lower_is_better: bool
    global_mean: float
    # state -> mean, in ascending order of mean
    state_means: dict
    # state -> {(category, segment): mean}, keys sorted
    category_means: dict


def read_survey(source):
    """Read the columns the API uses from a path or file object.

    Header names are stripped because the official full-width file has a
    header with a trailing space; every other column is skipped unread.
    """
    try:
        frame = pd.read_csv(
            source,
            usecols=lambda name: name.strip() in COLUMNS,
            dtype="string",
            keep_default_na=False,
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"the file is not a readable CSV: {error}") from error
    frame.columns = [name.strip() for name in frame.columns]
    missing = [name for name in COLUMNS if name not in frame.columns]
    if missing:
        raise DataError(f"missing column(s): {', '.join(missing)}")
    repeated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if repeated:
        raise DataError(f"column(s) named more than once: {', '.join(repeated)}")
    text = frame[VALUE].str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = values.isna() & (text != "")
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(f"{VALUE} must be numeric or empty; row {row + 1} holds {text.iloc[row]!r}")
    # Far below float's limit, so that no sum of a column can overflow to infinity.
    if not values.dropna().map(lambda value: math.isfinite(value) and abs(value) <= 1e300).all():
        raise DataError(f"{VALUE} must hold finite numbers between -1e300 and 1e300")
    frame[VALUE] = values
    for name in (LOCATION, QUESTION, CATEGORY, SEGMENT):
        frame[name] = frame[name].str.strip()
    return frame


def summarise(frame):
    """Compute every question's summary from a frame of read_survey."""
    rows = frame.dropna(subset=[VALUE])
    rows = rows[(rows[LOCATION] != "") & (rows[QUESTION] != "")]
    summaries = {}
    for question, group in rows.groupby(QUESTION, sort=True):
        state_means = group.groupby(LOCATION)[VALUE].mean().sort_values(kind="stable")
        categorised = group[(group[CATEGORY] != "") & (group[SEGMENT] != "")]
        by_category = categorised.groupby([LOCATION, CATEGORY, SEGMENT])[VALUE].mean()
        category_means = {}
        for (state, category, segment), mean in sorted(by_category.items()):
            category_means.setdefault(state, {})[(category, segment)] = float(mean)
        summaries[question] = QuestionSummary(
            lower_is_better=question in QUESTIONS_BEST_IS_MIN,
            global_mean=float(group[VALUE].mean()),
            state_means={state: float(mean) for state, mean in state_means.items()},
            category_means=category_means,
        )
    return summaries


class DataIngestor:
    """One data set: its questions, its locations and the nine statistics."""

    def __init__(self, source):
        frame = read_survey(source)
        self.row_count = len(frame)
        self._summaries = summarise(frame)
        self._locations = sorted(set(frame[LOCATION]) - {""})
        # (statistic, question, state) -> the answer as JSON bytes. Bounded by
        # the requests that can pass validation, a few thousand at most.
        self._encoded = {}

    @property
    def questions(self):
        """The questions with at least one value, each with its direction."""
        return {question: summary.lower_is_better for question, summary in self._summaries.items()}

    @property
    def locations(self):
        """Every location named in the data."""
        return list(self._locations)

    def has_question(self, question):
        """Whether the question has at least one value."""
        return question in self._summaries

    def has_state(self, state):
        """Whether the location appears anywhere in the data."""
        return state in self._locations

    def has_rows(self, question, state):
        """Whether the state has values for the question."""
        return state in self._summaries[question].state_means

    def encoded(self, statistic, question, state=None):
        """The answer of a statistic as JSON bytes, encoded on first use and kept.

        The data never change, so neither do the answers: every job after the
        first of its kind costs a dictionary lookup. `state` is passed only to
        the statistics that take one. Answers that raise are not kept.
        """
        key = (statistic, question, state)
        answer = self._encoded.get(key)
        if answer is None:
            method = getattr(self, statistic)
            value = method(question, state) if STATISTICS[statistic] else method(question)
            answer = json.dumps(value, allow_nan=False).encode()
            # Threads that miss together each encode the same bytes; any one will do.
            self._encoded[key] = answer
        return answer

    def states_mean(self, question):
        """The mean of every state, in ascending order."""
        return dict(self._summaries[question].state_means)

    def state_mean(self, question, state):
        """The mean of one state."""
        return {state: self._summaries[question].state_means[state]}

    def best5(self, question):
        """The five best states, best first."""
        return dict(self._ranked(question, best_first=True)[:5])

    def worst5(self, question):
        """The five worst states, worst first."""
        return dict(self._ranked(question, best_first=False)[:5])

    def global_mean(self, question):
        """The mean over all of the question's rows."""
        return {"global_mean": self._summaries[question].global_mean}

    def diff_from_mean(self, question):
        """The global mean minus each state's mean."""
        summary = self._summaries[question]
        return {state: summary.global_mean - mean for state, mean in summary.state_means.items()}

    def state_diff_from_mean(self, question, state):
        """The global mean minus one state's mean."""
        summary = self._summaries[question]
        return {state: summary.global_mean - summary.state_means[state]}

    def mean_by_category(self, question):
        """The mean of every (state, category, segment)."""
        by_state = self._summaries[question].category_means
        return {
            str((state, *pair)): mean
            for state, pairs in sorted(by_state.items())
            for pair, mean in pairs.items()
        }

    def state_mean_by_category(self, question, state):
        """The mean of every (category, segment) of one state."""
        pairs = self._summaries[question].category_means.get(state, {})
        return {state: {str(pair): mean for pair, mean in pairs.items()}}

    def _ranked(self, question, best_first):
        summary = self._summaries[question]
        ascending = summary.lower_is_better == best_first
        ranked = list(summary.state_means.items())
        return ranked if ascending else ranked[::-1]
