"""The job store of a cluster: any number of processes share one job space in Redis.

Every write is one Lua script (app.stores.redis_scripts), so that the hot
path of a job costs three round trips: create, finish, and the poll that
finds it done. Ids come from one counter and are never handed out twice;
the statuses are one string of a byte a job, so the job list is one read;
an answer is stored once per distinct answer, under its digest, and each
job points at it.

Each process has an id of its own and owns the jobs it accepted until they
settle. It beats (a key with a time to live) from app.cluster's thread; when
a process stops beating, the next live process to beat claims its unfinished
jobs in the same script, so exactly one of them runs them again.
"""
import hashlib
import json
import threading
import uuid

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.stores import redis_keys as keys
from app.stores import redis_scripts as scripts
from app.stores.base import (STATUS_OF_CODE, AnswerRemoved, Heartbeat, IntakeClosed, JobStatus, JobStore,
                             Lookup, StoreUnavailable, job_name)

# How many answers this process remembers having stored, before it starts afresh.
ANSWERS_KNOWN = 10000


def connect(url, timeout_s):
    """A client of the Redis at `url` whose every call gives up within about 2 x `timeout_s`.

    One retry on a fresh connection covers a server that restarted since
    the pooled connection was made. A call that timed out is not retried:
    Redis may still run it (a script creating a job, say), and a retry would
    run it twice; StoreUnavailable is raised instead, never a wait without end.
    """
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                                health_check_interval=0)


def unavailable(error):
    """The StoreUnavailable for a Redis error."""
    return StoreUnavailable(f"the job store (Redis) cannot be reached: {error}")


class RedisStore(JobStore):
    """Jobs kept in the Redis at `url`, shared with every process that uses it."""

    shared = True

    def __init__(self, url, takeover_s=10.0, timeout_s=1.5):
        self.client = connect(url, timeout_s)
        self.process_id = uuid.uuid4().hex
        # A process beats at least twice a second, so that a cluster-wide
        # shutdown reaches it within one; its heartbeat outlives many missed
        # beats yet expires at 0.6 of the takeover time, so that the next
        # beat of another process claims its jobs within the takeover time.
        self.beat_interval_s = min(0.5, takeover_s / 5)
        self.heartbeat_ttl_ms = max(100, int(takeover_s * 600))
        # While Redis is out of reach every heartbeat expires in it; once it is
        # back, a process claims nothing until every live process has had time
        # to beat again (a call that hangs, then the next beat), so that none
        # is taken for dead.
        self.quiet_s = max(self.heartbeat_ttl_ms / 1000, 2 * timeout_s + self.beat_interval_s)
        # Each runs by its digest (EVALSHA), and is loaded again when a restarted Redis lost it.
        self._scripts = {name: self.client.register_script(getattr(scripts, name))
                         for name in ("CREATE", "FINISH", "FAIL", "LOOKUP", "BEAT", "REQUEST_SHUTDOWN", "LEAVE")}
        # The shutdown epoch this process serves in; read at the first call that works.
        self._epoch = None
        # Digests of answers this process stored, so that it sends each answer once.
        self._known_answers = set()
        self._lock = threading.Lock()

    # -- writing ---------------------------------------------------------

    def create(self, spec):
        epoch = self._serving_epoch()
        try:
            job_id = self._scripts["CREATE"](
                keys=[keys.NEXT_ID, keys.STATUSES, keys.RUNNING, keys.SHUTDOWN_EPOCH, keys.PROCESSES,
                      keys.owned(self.process_id), keys.heartbeat(self.process_id)],
                args=[epoch, json.dumps(spec, separators=(",", ":")), self.process_id, keys.JOB,
                      self.heartbeat_ttl_ms])
        except redis.RedisError as error:
            raise unavailable(error) from error
        if job_id < 0:
            raise IntakeClosed("the cluster is shutting down")
        return job_id

    def finish(self, job_id, encoded):
        digest = hashlib.blake2b(encoded, digest_size=16).hexdigest()
        known = digest in self._known_answers
        try:
            done = self._settle(self._scripts["FINISH"], job_id, keys.ANSWER, digest,
                                "0" if known else "1", b"" if known else encoded)
            if done < 0:
                # Remembered but gone (Redis lost it, or a restart without its
                # append-only file): send it after all.
                done = self._settle(self._scripts["FINISH"], job_id, keys.ANSWER, digest, "1", encoded)
        except redis.RedisError as error:
            raise unavailable(error) from error
        with self._lock:
            if len(self._known_answers) >= ANSWERS_KNOWN:
                self._known_answers.clear()
            self._known_answers.add(digest)

    def fail(self, job_id, reason):
        try:
            self._settle(self._scripts["FAIL"], job_id, reason)
        except redis.RedisError as error:
            raise unavailable(error) from error

    def _settle(self, script, job_id, *args):
        return script(keys=[keys.STATUSES, keys.RUNNING],
                      args=[job_id, keys.JOB, keys.OWNED, *args])

    # -- reading ---------------------------------------------------------

    def lookup(self, job_id):
        try:
            found = self._scripts["LOOKUP"](keys=[keys.STATUSES], args=[job_id, keys.JOB, keys.ANSWER])
        except redis.RedisError as error:
            raise unavailable(error) from error
        status = STATUS_OF_CODE.get(found[0][0]) if found[0] else None
        if status is JobStatus.DONE:
            if found[1] is None:
                raise AnswerRemoved(f"the result of {job_name(job_id)} is no longer in Redis")
            return Lookup(status, answer=found[1])
        if status is JobStatus.ERROR:
            return Lookup(status, reason=(found[1] or b"the job failed").decode("utf-8", "replace"))
        return Lookup(status)

    def status(self, job_id):
        try:
            code = self.client.getrange(keys.STATUSES, job_id, job_id)
        except redis.RedisError as error:
            raise unavailable(error) from error
        return STATUS_OF_CODE.get(code[0]) if code else None

    def status_codes(self):
        try:
            return self.client.get(keys.STATUSES) or b"\0"
        except redis.RedisError as error:
            raise unavailable(error) from error

    @property
    def running_count(self):
        try:
            return int(self.client.get(keys.RUNNING) or 0)
        except redis.RedisError as error:
            raise unavailable(error) from error

    # -- the cluster -----------------------------------------------------

    def beat(self, claim=True):
        try:
            epoch, claimed = self._scripts["BEAT"](
                keys=[keys.SHUTDOWN_EPOCH, keys.PROCESSES, keys.heartbeat(self.process_id),
                      keys.owned(self.process_id)],
                args=[self.process_id, self.heartbeat_ttl_ms, "1" if claim else "0", keys.HEARTBEAT,
                      keys.OWNED, keys.JOB])
        except redis.RedisError as error:
            raise unavailable(error) from error
        epoch = int(epoch)
        if self._epoch is None:
            self._epoch = epoch
        specs = {int(claimed[index]): json.loads(claimed[index + 1])
                 for index in range(0, len(claimed), 2)}
        return Heartbeat(shutdown=epoch != self._epoch, claimed=specs)

    def owned_ids(self):
        """The ids of the unfinished jobs this process owns."""
        try:
            return {int(job_id) for job_id in self.client.smembers(keys.owned(self.process_id))}
        except redis.RedisError as error:
            raise unavailable(error) from error

    def specs(self, job_ids):
        """{job id: spec} of jobs the store has."""
        job_ids = sorted(job_ids)
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for job_id in job_ids:
                    pipe.hget(keys.job(job_id), "spec")
                found = pipe.execute()
        except redis.RedisError as error:
            raise unavailable(error) from error
        return {job_id: json.loads(spec) for job_id, spec in zip(job_ids, found) if spec}

    def request_shutdown(self):
        epoch = self._serving_epoch()
        try:
            self._scripts["REQUEST_SHUTDOWN"](keys=[keys.SHUTDOWN_EPOCH], args=[epoch])
        except redis.RedisError as error:
            raise unavailable(error) from error

    def ping(self):
        try:
            self.client.ping()
        except redis.RedisError as error:
            raise unavailable(error) from error

    def close(self):
        try:
            self._scripts["LEAVE"](keys=[keys.PROCESSES, keys.heartbeat(self.process_id), keys.owned(self.process_id)],
                        args=[self.process_id])
        except redis.RedisError:
            # Its heartbeat then expires by itself, and what it owns is claimed.
            pass
        self.client.close()

    def _serving_epoch(self):
        if self._epoch is None:
            try:
                self._epoch = int(self.client.get(keys.SHUTDOWN_EPOCH) or 0)
            except redis.RedisError as error:
                raise unavailable(error) from error
        return self._epoch
