"""The survey data and the nine statistics computed over it.

The CSV is read once and every question's aggregates are computed once with
pandas; after that each statistic is a dictionary lookup, so running a job
never scans the data.

An uploaded file is read in chunks against UploadLimits: a file that holds
too many distinct questions, locations or category pairs, or too long a text,
is refused at the chunk where it goes over, before the rest is parsed and
before anything is computed from it.
"""
import collections
import json
import threading
from dataclasses import dataclass

import numpy as np
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
# Lower is better for these wherever they are asked, an upload's file included.
SURVEY_LOWER_IS_BETTER = frozenset(QUESTIONS_BEST_IS_MIN)

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


# Rows parsed at a time: the bundled file (18,650 rows) is one chunk, and a
# hostile file is judged after its first 64 Ki rows, a fraction of a second.
CHUNK_ROWS = 65536
TEXT_COLUMNS = (LOCATION, QUESTION, CATEGORY, SEGMENT)

# The first bytes of the binary files people upload by mistake.
SIGNATURES = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (an Excel workbook is one)"),
    (b"\x1f\x8b", "a gzip archive"), (b"\xd0\xcf\x11\xe0", "an old Excel or Word file"),
)
# Longest first: the UTF-32 marks begin with the UTF-16 ones.
BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                    (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))
SAVE_AS = "; save it as a CSV file in UTF-8"


class DataError(ValueError):
    """The CSV cannot serve as a data set; the message says why."""


class AnswerTooLarge(RuntimeError):
    """An answer is larger than a job may give; the message says by how much."""


@dataclass(frozen=True)
class UploadLimits:
    """What one uploaded file may hold (app.config's MAX_UPLOAD_* settings)."""

    questions: int = 1000
    locations: int = 10000
    pairs: int = 10000
    field_chars: int = 1000

    @classmethod
    def from_config(cls, config):
        """The limits of the app's settings."""
        return cls(config["MAX_UPLOAD_QUESTIONS"], config["MAX_UPLOAD_LOCATIONS"],
                   config["MAX_UPLOAD_PAIRS"], config["MAX_UPLOAD_FIELD_CHARS"])


def text_problem(head, has_nul):
    """Why a file whose first bytes are `head` is not a text CSV, or None when it may be one.

    A codec's complaint about byte 0x89 tells a user nothing; naming the
    kind of file they sent does.
    """
    for mark, encoding in BYTE_ORDER_MARKS:
        if head.startswith(mark):
            return f"the file is not a text CSV in UTF-8: it is {encoding} text{SAVE_AS}"
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            return f"the file is not a text CSV: it looks like {kind}"
    if has_nul:
        return ("the file is not a text CSV: it holds NUL bytes, as binary files and UTF-16 or UTF-32 "
                f"text do{SAVE_AS}")
    return None


@dataclass(frozen=True)
class QuestionSummary:
    """Everything the nine statistics need to know about one question."""

    lower_is_better: bool
    global_mean: float
    # state -> mean, in ascending order of mean
    state_means: dict
    # state -> {(category, segment): mean}, keys sorted
    category_means: dict


def read_survey(source, limits=None):
    """Read the columns the API uses from a path or file object.

    Header names are stripped because the official full-width file has a
    header with a trailing space; every other column is skipped unread.
    With `limits` (UploadLimits), a file that holds more is refused as soon
    as a chunk shows it.
    """
    chunks = _read_chunks(source, limits)
    # One chunk for the bundled file: the frame is the one a single read gives.
    frame = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    text = frame[VALUE].str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = values.isna() & (text != "")
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(f"{VALUE} must be numeric or empty; row {row + 1} holds {text.iloc[row]!r}")
    # Far below float's limit, so that no sum of a column can overflow to infinity.
    numbers = values.dropna().to_numpy(dtype="float64")
    if not (np.isfinite(numbers) & (np.abs(numbers) <= 1e300)).all():
        raise DataError(f"{VALUE} must hold finite numbers between -1e300 and 1e300")
    frame[VALUE] = values
    for name in (LOCATION, QUESTION, CATEGORY, SEGMENT):
        frame[name] = frame[name].str.strip()
    return frame


def _read_chunks(source, limits):
    """The file's chunks with stripped column names; raises DataError."""
    chunks = []
    distinct = _Distinct(limits) if limits else None
    try:
        with pd.read_csv(source, usecols=lambda name: name.strip() in COLUMNS, dtype="string",
                         keep_default_na=False, chunksize=CHUNK_ROWS) as reader:
            for chunk in reader:
                chunk.columns = [name.strip() for name in chunk.columns]
                if not chunks:
                    _check_columns(chunk.columns)
                if distinct:
                    distinct.add(chunk)
                chunks.append(chunk)
    except DataError:
        raise
    except UnicodeDecodeError as error:
        raise DataError(f"the file is not a text CSV in UTF-8: it holds bytes that are not UTF-8 "
                        f"(0x{error.object[error.start]:02x}){SAVE_AS}") from error
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"the file is not a readable CSV: {error}") from error
    return chunks


def _check_columns(columns):
    missing = [name for name in COLUMNS if name not in columns]
    if missing:
        raise DataError(f"missing column(s): {', '.join(missing)}")
    repeated = sorted(set(columns[columns.duplicated()]))
    if repeated:
        raise DataError(f"column(s) named more than once: {', '.join(repeated)}")


class _Distinct:
    """The distinct texts of the chunks read so far, held against UploadLimits.

    Only each chunk's distinct raw values are stripped and counted, so a
    chunk costs a pass in C and a few Python operations per distinct value.
    """

    def __init__(self, limits):
        self.limits = limits
        self.questions = set()
        self.locations = set()
        self.pairs = set()

    def add(self, chunk):
        """Count a chunk's texts; raises DataError at the first limit it passes."""
        uniques = {}
        codes = {}
        for name in TEXT_COLUMNS:
            # On the plain array of str: twice as fast as on the string column.
            codes[name], found = pd.factorize(chunk[name].to_numpy())
            uniques[name] = [value.strip() for value in found]
            longest = max(uniques[name], key=len, default="")
            if len(longest) > self.limits.field_chars:
                raise DataError(f"a {name} of {len(longest)} characters is longer than the "
                                f"{self.limits.field_chars} a text may have")
        self._grow(self.questions, uniques[QUESTION], self.limits.questions, "questions")
        self._grow(self.locations, uniques[LOCATION], self.limits.locations, "locations")
        categories, segments = uniques[CATEGORY], uniques[SEGMENT]
        combined = np.unique(codes[CATEGORY].astype(np.int64) * max(len(segments), 1) + codes[SEGMENT])
        pairs = ((categories[code // len(segments)], segments[code % len(segments)])
                 for code in combined.tolist())
        self._grow(self.pairs, [(category, segment) for category, segment in pairs if category and segment],
                   self.limits.pairs, "(category, segment) pairs")

    @staticmethod
    def _grow(seen, values, limit, what):
        seen.update(value for value in values if value)
        if len(seen) > limit:
            raise DataError(f"the file holds more than {limit} distinct {what}, the most a data set may have")


def summarise(frame, lower_is_better=SURVEY_LOWER_IS_BETTER):
    """Compute every question's summary from a frame of read_survey.

    `lower_is_better` holds the questions whose lowest mean is the best.
    """
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
            lower_is_better=question in lower_is_better,
            global_mean=float(group[VALUE].mean()),
            state_means={state: float(mean) for state, mean in state_means.items()},
            category_means=category_means,
        )
    return summaries


class AnswerCache:
    """Encoded answers by key, the least recently used dropped once they hold more than `budget` bytes.

    One cache serves every data set of a process, so that the memory answers
    hold stays bounded however many data sets and questions clients ask about.
    """

    def __init__(self, budget=64 * 1024 * 1024):
        self._budget = budget
        self._answers = collections.OrderedDict()
        self._bytes = 0
        # Workers of the pool read and add at once; OrderedDict's reordering is not atomic.
        self._lock = threading.Lock()

    @property
    def budget(self):
        """The bytes of answers kept at most."""
        return self._budget

    @budget.setter
    def budget(self, budget):
        with self._lock:
            self._budget = budget
            self._shrink()

    @property
    def size(self):
        """The bytes of the answers kept now."""
        return self._bytes

    def get(self, key):
        """The answer kept under `key`, or None."""
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key, answer):
        """Keep `answer` under `key`, dropping the least recently used ones beyond the budget."""
        with self._lock:
            if len(answer) > self._budget:
                return
            previous = self._answers.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous)
            self._answers[key] = answer
            self._bytes += len(answer)
            self._shrink()

    def forget(self, owner):
        """Drop every answer whose key starts with `owner` (a data set that is gone)."""
        with self._lock:
            for key in [key for key in self._answers if key[0] is owner]:
                self._bytes -= len(self._answers.pop(key))

    def _shrink(self):
        while self._bytes > self._budget:
            _, answer = self._answers.popitem(last=False)
            self._bytes -= len(answer)


class DataIngestor:
    """One data set: its questions, its locations and the nine statistics.

    `limits` (UploadLimits) is for uploaded files; the bundled one is read
    without. `answers` is the AnswerCache the encoded answers go to (one of
    its own when None); an answer longer than `max_answer_bytes` is refused.
    `lower_is_better` holds the questions ranked lowest first (the survey's
    own by default).
    """

    # A lower bound of the bytes of one entry of an answer's JSON ("a": 0.0, ),
    # so that an answer of too many entries is refused before it is built.
    MIN_ENTRY_BYTES = 10

    def __init__(self, source, limits=None, answers=None, max_answer_bytes=4 * 1024 * 1024,
                 lower_is_better=SURVEY_LOWER_IS_BETTER):
        frame = read_survey(source, limits)
        self.row_count = len(frame)
        self._summaries = summarise(frame, lower_is_better)
        self._locations = sorted(set(frame[LOCATION]) - {""})
        # Stands for this data set in the cache's keys, so that they do not
        # keep the data set alive once it is deleted.
        self.cache_owner = object()
        self.answers = AnswerCache() if answers is None else answers
        self.max_answer_bytes = max_answer_bytes

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
        """The answer of a statistic as JSON bytes, encoded on first use and kept in the cache.

        The data never change, so neither do the answers: every job after the
        first of its kind costs a dictionary lookup while the answer stays in
        the cache. `state` is passed only to the statistics that take one.
        Answers that raise are not kept; one larger than max_answer_bytes
        raises AnswerTooLarge, before it is built when its entries alone
        could not fit.
        """
        key = (self.cache_owner, statistic, question, state)
        answer = self.answers.get(key)
        if answer is None:
            entries = self._entries(statistic, question, state)
            if entries * self.MIN_ENTRY_BYTES > self.max_answer_bytes:
                raise AnswerTooLarge(f"the answer would have {entries} entries, more than fit in the "
                                     f"{self.max_answer_bytes} bytes an answer may have")
            method = getattr(self, statistic)
            value = method(question, state) if STATISTICS[statistic] else method(question)
            answer = json.dumps(value, allow_nan=False).encode()
            if len(answer) > self.max_answer_bytes:
                raise AnswerTooLarge(f"the answer is {len(answer)} bytes, more than the "
                                     f"{self.max_answer_bytes} an answer may have")
            # Threads that miss together each encode the same bytes; any one will do.
            self.answers.put(key, answer)
        return answer

    def _entries(self, statistic, question, state):
        """How many entries the answer has (those of its largest map), without building it."""
        summary = self._summaries[question]
        if statistic in ("states_mean", "diff_from_mean"):
            return len(summary.state_means)
        if statistic == "mean_by_category":
            return sum(len(pairs) for pairs in summary.category_means.values())
        if statistic == "state_mean_by_category":
            return len(summary.category_means.get(state, {}))
        return min(5, len(summary.state_means))

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

    def ranking(self, question):
        """Every state's place for the question, best first: [{state, mean, rank, percentile}].

        States with the same mean share a rank (the next one skips as many);
        the percentile is the share of the other states with a worse mean,
        in percent, so the best is 100 and the worst 0.
        """
        ranked = self._ranked(question, best_first=True)
        others = len(ranked) - 1
        entries, start = [], 0
        while start < len(ranked):
            end = start + 1
            while end < len(ranked) and ranked[end][1] == ranked[start][1]:
                end += 1
            percentile = round(100 * (len(ranked) - end) / others, 1) if others else 100.0
            entries.extend({"state": state, "mean": mean, "rank": start + 1, "percentile": percentile}
                           for state, mean in ranked[start:end])
            start = end
        return entries

    def _ranked(self, question, best_first):
        summary = self._summaries[question]
        ascending = summary.lower_is_better == best_first
        ranked = list(summary.state_means.items())
        return ranked if ascending else ranked[::-1]
