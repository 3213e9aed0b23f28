"""The job stores, side by side behind app.stores.base.JobStore, chosen by one URL setting.

Without LSS_REDIS_URL the jobs live in the results folder of one process
(app.stores.file_store); with it, in Redis, shared by every process that
names the same URL (app.stores.redis_store). Both forget a job RESULT_TTL_S
after it settled.
"""
from app.stores.file_store import FileStore
from app.stores.redis_store import RedisStore


def open_store(config):
    """The job store the settings name."""
    if config["REDIS_URL"]:
        return RedisStore(config["REDIS_URL"], takeover_s=config["TAKEOVER_S"],
                          timeout_s=config["REDIS_TIMEOUT_S"], ttl_s=config["RESULT_TTL_S"])
    return FileStore(config["RESULTS_DIR"], ttl_s=config["RESULT_TTL_S"],
                     compact_bytes=config["JOURNAL_COMPACT_BYTES"])
