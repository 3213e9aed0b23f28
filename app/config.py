"""The service's settings: defaults, overridden by the environment or by the caller."""
import math
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Setting -> (environment variable, default, type)
SETTINGS = {
    "CSV_PATH": ("LSS_CSV_PATH", os.path.join(ROOT, "nutrition_activity_obesity_usa_subset.csv"), str),
    "RESULTS_DIR": ("LSS_RESULTS_DIR", os.path.join(ROOT, "results"), str),
    "LOG_FILE": ("LSS_LOG_FILE", os.path.join(ROOT, "webserver.log"), str),
    "LOG_MAX_BYTES": ("LSS_LOG_MAX_BYTES", 10 * 1024 * 1024, int),
    "LOG_BACKUPS": ("LSS_LOG_BACKUPS", 5, int),
    # Log lines are written in batches this often (0: each as it is logged).
    "LOG_FLUSH_MS": ("LSS_LOG_FLUSH_MS", 100, int),
    "NUM_THREADS": ("TP_NUM_OF_THREADS", os.cpu_count() or 1, int),
    "MAX_PENDING_JOBS": ("LSS_MAX_PENDING_JOBS", 10000, int),
    "MAX_CONTENT_LENGTH": ("LSS_MAX_BODY_BYTES", 1024 * 1024, int),
    "DATASETS_DIR": ("LSS_DATASETS_DIR", os.path.join(ROOT, "datasets"), str),
    # Uploaded CSV files may be larger than the JSON bodies MAX_CONTENT_LENGTH is for.
    "MAX_UPLOAD_BYTES": ("LSS_MAX_UPLOAD_BYTES", 64 * 1024 * 1024, int),
    # The uploads kept, all together: 1 GiB is 16 files at the upload limit or
    # hundreds of survey-sized ones (the bundled file is 2.7 MiB), and fits the
    # disk of a small machine and, with the Redis store, which keeps the CSVs
    # too, the memory of a small Redis. 0 refuses every upload.
    "MAX_DATASETS_BYTES": ("LSS_MAX_DATASETS_BYTES", 1024 * 1024 * 1024, int),
    "MAX_DATASETS": ("LSS_MAX_DATASETS", 100, int),
    # What one uploaded file may hold, far above the survey's 9 questions, 55
    # locations, 250-character questions and few dozen category pairs.
    "MAX_UPLOAD_QUESTIONS": ("LSS_MAX_UPLOAD_QUESTIONS", 1000, int),
    "MAX_UPLOAD_LOCATIONS": ("LSS_MAX_UPLOAD_LOCATIONS", 10000, int),
    "MAX_UPLOAD_PAIRS": ("LSS_MAX_UPLOAD_PAIRS", 10000, int),
    "MAX_UPLOAD_FIELD_CHARS": ("LSS_MAX_UPLOAD_FIELD_CHARS", 1000, int),
    # A job whose answer would be larger fails; the bundled data's largest is 82 KiB.
    "MAX_ANSWER_BYTES": ("LSS_MAX_ANSWER_BYTES", 4 * 1024 * 1024, int),
    # Encoded answers each process keeps for the next job that asks the same;
    # every answer of the bundled data together is about 1 MiB. 0 keeps none.
    "ANSWER_CACHE_BYTES": ("LSS_ANSWER_CACHE_BYTES", 64 * 1024 * 1024, int),
    # Empty: the jobs live in RESULTS_DIR, for this process alone. A redis:// or
    # rediss:// URL: they live in that Redis, shared by every process naming it.
    "REDIS_URL": ("LSS_REDIS_URL", "", str),
    # A process that stops beating has its unfinished jobs run by another within this.
    "TAKEOVER_S": ("LSS_TAKEOVER_S", 10.0, float),
    # A Redis call gives up after two of these (a first try and one retry).
    "REDIS_TIMEOUT_S": ("LSS_REDIS_TIMEOUT_S", 1.5, float),
    # A job settled longer ago than this is forgotten (410 "expired"), its id
    # never handed out again; a week outlasts any grading run. 0 keeps every job.
    "RESULT_TTL_S": ("LSS_RESULT_TTL_S", 7 * 24 * 3600.0, float),
    # The file store's journal is folded into a snapshot once it is this long
    # (or a quarter of the snapshot, if more): what a start reads beyond the snapshot.
    "JOURNAL_COMPACT_BYTES": ("LSS_JOURNAL_COMPACT_BYTES", 1024 * 1024, int),
    # Empty: on loopback, anyone who reaches the server may stop it and upload,
    # as the course contract has it. Set: those operations need it as a Bearer
    # token (app.guard, which also checks it is long enough to resist guessing).
    "ADMIN_TOKEN": ("LSS_ADMIN_TOKEN", "", str),
    # Empty: no limit. A Flask-Limiter string ("100/second;2000/minute"): how
    # many requests that start jobs or change data one client address may send.
    "RATE_LIMIT": ("LSS_RATE_LIMIT", "", str),
}
MINIMUMS = {"NUM_THREADS": 1, "MAX_PENDING_JOBS": 0, "LOG_MAX_BYTES": 0, "LOG_BACKUPS": 0, "LOG_FLUSH_MS": 0,
            "MAX_CONTENT_LENGTH": 1, "MAX_UPLOAD_BYTES": 1, "TAKEOVER_S": 0.5, "REDIS_TIMEOUT_S": 0.05,
            "RESULT_TTL_S": 0, "JOURNAL_COMPACT_BYTES": 1,
            "MAX_DATASETS_BYTES": 0, "MAX_DATASETS": 0, "MAX_UPLOAD_QUESTIONS": 1, "MAX_UPLOAD_LOCATIONS": 1,
            "MAX_UPLOAD_PAIRS": 1, "MAX_UPLOAD_FIELD_CHARS": 1, "MAX_ANSWER_BYTES": 1,
            "ANSWER_CACHE_BYTES": 0}
REDIS_SCHEMES = ("redis://", "rediss://")


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


def load_config(overrides=None, environ=None):
    """The settings: `overrides` first, then the environment, then the defaults."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    config = {}
    for name, (variable, default, kind) in SETTINGS.items():
        if name in overrides:
            value, source = overrides[name], name
        elif environ.get(variable, "").strip():
            value, source = environ[variable].strip(), variable
        else:
            value, source = default, name
        try:
            value = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{source} must be {kind.__name__}, not {value!r}") from None
        if kind is float and not math.isfinite(value):
            raise ConfigError(f"{source} must be a finite number, not {value}")
        if name in MINIMUMS and value < MINIMUMS[name]:
            raise ConfigError(f"{source} must be at least {MINIMUMS[name]}, not {value}")
        config[name] = value
    if config["REDIS_URL"] and not config["REDIS_URL"].startswith(REDIS_SCHEMES):
        raise ConfigError(f"LSS_REDIS_URL must start with redis:// or rediss://, not {config['REDIS_URL']!r}")
    config.update({name: value for name, value in overrides.items() if name not in SETTINGS})
    return config
