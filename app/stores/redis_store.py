"""The job store of a cluster: any number of processes share one job space in Redis.

Every write is one Lua script (app.stores.redis_scripts), so that the hot
path of a job costs three round trips: create, finish, and the poll that
finds it done. Ids come from one counter and are never handed out twice;
the statuses are strings of a byte a job, one per 100,000 ids, so the job
list is a read per chunk; an answer is stored once per distinct answer,
under its digest, and each job points at it.

With a retention time, a settled job's hash expires in Redis that long
after it settled (and an answer with the last job pointing at it); a job
whose id was handed out but whose hash or status byte is gone is expired.
maintain() sweeps the expired jobs out of the status chunks, deleting a
chunk once none of its jobs is kept.

Each process has an id of its own and owns the jobs it accepted until they
settle. It beats (a key with a time to live) from app.cluster's thread; when
a process stops beating, the next live process to beat claims its unfinished
jobs in the same script, so exactly one of them runs them again.
"""
import collections
import hashlib
import json
import threading
import time
import uuid

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.stores import redis_keys as keys
from app.stores import redis_scripts as scripts
from app.stores.base import (MAX_JOB_ID, STATUS_OF_CODE, AnswerRemoved, Heartbeat, IntakeClosed, JobExpired,
                             JobRecord, JobStatus, JobStore, Lookup, StorageError, StoreUnavailable, job_name)

# The jobs just finished whose answer waits here for their first poll, and for how long.
FIRST_POLLS_KEPT = 4096
FIRST_POLL_S = 5.0
# How many answers this process remembers having stored, before it starts afresh.
ANSWERS_KNOWN = 10000
# The most expired jobs one sweep forgets: a few milliseconds of Redis's time.
SWEEP_LIMIT = 2000
CHUNK_SIZE = 10**keys.CHUNK_DIGITS
# The fields of a job's hash that record() reads (app.stores.redis_keys.JOB).
RECORD_FIELDS = ("spec", "submitted_at", "finished_at", "answer", "reason")


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


def _job_record(job_id, status, fields, last):
    """The JobRecord of a job whose status byte is `status` and hash holds `fields` (RECORD_FIELDS).

    Raises JobExpired, or returns None, for a job not kept: expired when its
    id was handed out (`last` is the newest), as in LOOKUP; a settled job
    whose hash expired before the sweep cleared its byte is expired too.
    """
    spec, submitted_at, finished_at, answer, reason = fields
    outcome = {JobStatus.DONE: answer, JobStatus.ERROR: reason}
    if status is None or (status in outcome and outcome[status] is None):
        if 0 < job_id <= last:
            raise JobExpired(f"{job_name(job_id)} expired")
        return None
    return JobRecord(status, json.loads(spec) if spec else None,
                     float(submitted_at) if submitted_at else None,
                     float(finished_at) if finished_at else None,
                     reason.decode("utf-8", "replace") if status is JobStatus.ERROR else None)


class RedisStore(JobStore):  # pylint: disable=too-many-instance-attributes
    """Jobs kept in the Redis at `url`, shared with every process that uses it."""

    shared = True

    def __init__(self, url, takeover_s=10.0, timeout_s=1.5, ttl_s=0.0):
        self.client = connect(url, timeout_s)
        # The retention time; 0 keeps every job. Every process of a cluster should have the same.
        self.ttl_ms = int(ttl_s * 1000)
        self.process_id = uuid.uuid4().hex
        # A process beats at least twice a second, so that a cluster-wide
        # shutdown reaches it within one; its heartbeat outlives many missed
        # beats yet expires at 0.6 of the takeover time, so that the next
        # beat of another process claims its jobs within the takeover time.
        self.beat_interval_s = min(0.5, takeover_s / 5)
        self.maintenance_interval_s = self.beat_interval_s
        self.heartbeat_ttl_ms = max(100, int(takeover_s * 600))
        # While Redis is out of reach every heartbeat expires in it; once it is
        # back, a process claims nothing until every live process has had time
        # to beat again (a call that hangs, then the next beat), so that none
        # is taken for dead.
        self.quiet_s = max(self.heartbeat_ttl_ms / 1000, 2 * timeout_s + self.beat_interval_s)
        # Each runs by its digest (EVALSHA), and is loaded again when a restarted Redis lost it.
        self._scripts = {name: self.client.register_script(getattr(scripts, name))
                         for name in ("CREATE", "FINISH", "FAIL", "LOOKUP", "SWEEP", "BEAT",
                                      "REQUEST_SHUTDOWN", "LEAVE")}
        # The shutdown epoch this process serves in: read now if Redis answers,
        # else at the first call that works.
        self._epoch = None
        # When a call last found Redis out of reach (0: it answers). For a
        # moment after, calls fail at once rather than each waiting out its
        # timeout, so that a hung Redis costs a request milliseconds, not
        # seconds in a queue behind others; one call at a time then tries again,
        # and so does every heartbeat.
        self._failed_at = 0.0
        self._hold_s = self.beat_interval_s
        try:
            self._serving_epoch()
        except StoreUnavailable:
            # The process starts all the same and answers 503 until Redis is back.
            self._failed_at = 0.0
        # Digests of answers this process stored, so that it sends each answer once.
        self._known_answers = set()
        # Job id -> (answer, when) of the jobs this process just finished, until their first poll.
        self._first_polls = collections.OrderedDict()
        # Never longer than the job is kept: an expired job answers 410.
        self._first_poll_s = min(FIRST_POLL_S, ttl_s) if ttl_s else FIRST_POLL_S
        self._lock = threading.Lock()

    # -- reaching Redis ---------------------------------------------------

    def _reachable(self):
        """Raise StoreUnavailable at once while Redis was found out of reach a moment ago."""
        failed_at = self._failed_at
        if failed_at:
            now = time.monotonic()
            if now - failed_at < self._hold_s:
                raise StoreUnavailable("the job store (Redis) cannot be reached: it did not answer "
                                       "a moment ago")
            # This call tries again; the others keep failing at once meanwhile.
            self._failed_at = now

    def _unavailable(self, error):
        """The StoreUnavailable for a Redis error."""
        if isinstance(error, redis.ResponseError):
            # Redis answered, and refused (out of memory, say): it is in reach.
            return StoreUnavailable(f"the job store (Redis) refused the request: {error}")
        self._failed_at = time.monotonic()
        return unavailable(error)

    # -- writing ---------------------------------------------------------

    def create(self, spec):
        self._reachable()
        epoch = self._serving_epoch()
        try:
            job_id = self._scripts["CREATE"](
                keys=[keys.NEXT_ID, keys.LIVE_CHUNKS, keys.RUNNING, keys.SHUTDOWN_EPOCH, keys.PROCESSES,
                      keys.owned(self.process_id), keys.heartbeat(self.process_id)],
                args=[epoch, json.dumps(spec, separators=(",", ":")), self.process_id, keys.JOB,
                      self.heartbeat_ttl_ms, keys.STATUS_CHUNK, time.time()])
        except redis.ResponseError as error:
            if "overflow" in str(error):
                raise StorageError(f"no job id is left: ids stop at {MAX_JOB_ID}") from error
            raise self._unavailable(error) from error
        except redis.RedisError as error:
            raise self._unavailable(error) from error
        job_id = int(job_id)
        if job_id < 0:
            raise IntakeClosed("the cluster is shutting down")
        return job_id

    def finish(self, job_id, encoded):
        self._reachable()
        digest = hashlib.blake2b(encoded, digest_size=16).hexdigest()
        known = digest in self._known_answers
        # A place for the first poll's answer, taken before Redis hears of the
        # job: a poll that finds it done in Redis meanwhile takes the place
        # away (_lookup), so that no later poll is answered from here.
        with self._lock:
            if len(self._first_polls) >= FIRST_POLLS_KEPT:
                self._first_polls.popitem(last=False)
            self._first_polls[job_id] = None
        try:
            done = self._settle(self._scripts["FINISH"], job_id, keys.ANSWER, digest,
                                "0" if known else "1", b"" if known else encoded)
            if done < 0:
                # Remembered but gone (expired, lost by Redis, or a restart
                # without its append-only file): send it after all.
                done = self._settle(self._scripts["FINISH"], job_id, keys.ANSWER, digest, "1", encoded)
        except redis.RedisError as error:
            with self._lock:
                self._first_polls.pop(job_id, None)
            raise self._unavailable(error) from error
        with self._lock:
            if len(self._known_answers) >= ANSWERS_KNOWN:
                self._known_answers.clear()
            self._known_answers.add(digest)
            if done == 1 and job_id in self._first_polls:
                # Recorded in Redis first: the poll this process answers from
                # here finds what Redis holds.
                self._first_polls[job_id] = (encoded, time.monotonic())
            else:
                self._first_polls.pop(job_id, None)

    def fail(self, job_id, reason):
        self._reachable()
        try:
            self._settle(self._scripts["FAIL"], job_id, reason)
        except redis.RedisError as error:
            raise self._unavailable(error) from error

    def _settle(self, script, job_id, *args):
        chunk, offset = keys.status_chunk(job_id)
        return script(keys=[chunk, keys.RUNNING, keys.SETTLED],
                      args=[job_id, keys.JOB, keys.OWNED, *args, offset, self.ttl_ms, time.time()])

    # -- reading ---------------------------------------------------------

    def lookup(self, job_id):
        return self._lookup(job_id, with_answer=True)

    def status(self, job_id):
        return self._lookup(job_id, with_answer=False).status

    def _lookup(self, job_id, with_answer):
        if with_answer:
            with self._lock:
                # None: the job is being recorded; this poll reads Redis, and is its first.
                kept = self._first_polls.pop(job_id, None)
            if kept is not None and time.monotonic() - kept[1] < self._first_poll_s:
                # The poll that finds a job done mostly comes to the process
                # that ran it, a moment later (its client's connection is
                # still to it): answered from here, once; later polls read
                # Redis. A job then costs two round trips: create and finish.
                return Lookup(JobStatus.DONE, answer=kept[0])
        self._reachable()
        chunk, offset = keys.status_chunk(job_id)
        try:
            found = self._scripts["LOOKUP"](keys=[chunk, keys.NEXT_ID],
                                            args=[job_id, keys.JOB, keys.ANSWER, offset,
                                                  "1" if with_answer else "0"])
        except redis.RedisError as error:
            raise self._unavailable(error) from error
        status = STATUS_OF_CODE.get(found[0][0])
        if status is None:
            if 0 < job_id <= int(found[1]):
                raise JobExpired(f"{job_name(job_id)} expired")
            return Lookup(None)
        if status is JobStatus.DONE:
            if found[1] is None or found[1] == 0:
                raise AnswerRemoved(f"the result of {job_name(job_id)} is no longer in Redis")
            return Lookup(status, answer=found[1] if with_answer else None)
        if status is JobStatus.ERROR:
            return Lookup(status, reason=found[1].decode("utf-8", "replace"))
        return Lookup(status)

    def record(self, job_id):
        """The job's JobRecord, from its status byte and its hash read at one instant (one round trip)."""
        self._reachable()
        chunk, offset = keys.status_chunk(job_id)
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.getrange(chunk, offset, offset)
                pipe.hmget(keys.job(job_id), RECORD_FIELDS)
                pipe.get(keys.NEXT_ID)
                code, fields, last = pipe.execute()
        except redis.RedisError as error:
            raise self._unavailable(error) from error
        return _job_record(job_id, STATUS_OF_CODE.get(code[0]) if code else None, fields, int(last or 0))

    def id_bounds(self):
        self._reachable()
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.hkeys(keys.LIVE_CHUNKS)
                pipe.get(keys.NEXT_ID)
                chunks, last = pipe.execute()
        except redis.RedisError as error:
            raise self._unavailable(error) from error
        last = int(last or 0)
        first = min((int(chunk) for chunk in chunks), default=None)
        return (max(1, first * CHUNK_SIZE) if first is not None else last + 1), last

    def status_range(self, start, stop):
        self._reachable()
        if stop <= start:
            return []
        try:
            chunks = sorted(chunk for chunk in map(int, self.client.hkeys(keys.LIVE_CHUNKS))
                            if start // CHUNK_SIZE <= chunk <= (stop - 1) // CHUNK_SIZE)
            with self.client.pipeline(transaction=False) as pipe:
                for chunk in chunks:
                    first = max(start, chunk * CHUNK_SIZE)
                    end = min(stop, (chunk + 1) * CHUNK_SIZE) - 1
                    pipe.getrange(f"{keys.STATUS_CHUNK}{chunk}", first % CHUNK_SIZE, end % CHUNK_SIZE)
                found = pipe.execute()
        except redis.RedisError as error:
            raise self._unavailable(error) from error
        return [(max(start, chunk * CHUNK_SIZE), codes) for chunk, codes in zip(chunks, found) if codes]

    def kept_count(self):
        self._reachable()
        try:
            return sum(int(count) for count in self.client.hvals(keys.LIVE_CHUNKS))
        except redis.RedisError as error:
            raise self._unavailable(error) from error

    def maintain(self):
        """Sweep the expired jobs out of the status chunks, until none is left or the limit is reached."""
        self._reachable()
        try:
            while self._scripts["SWEEP"](keys=[keys.SETTLED, keys.LIVE_CHUNKS],
                                         args=[keys.JOB, keys.STATUS_CHUNK, SWEEP_LIMIT]) == SWEEP_LIMIT:
                pass
        except redis.RedisError as error:
            raise self._unavailable(error) from error

    @property
    def running_count(self):
        self._reachable()
        try:
            return int(self.client.get(keys.RUNNING) or 0)
        except redis.RedisError as error:
            raise self._unavailable(error) from error

    # -- the cluster -----------------------------------------------------

    def beat(self, claim=True):
        try:
            epoch, claimed = self._scripts["BEAT"](
                keys=[keys.SHUTDOWN_EPOCH, keys.PROCESSES, keys.heartbeat(self.process_id),
                      keys.owned(self.process_id)],
                args=[self.process_id, self.heartbeat_ttl_ms, "1" if claim else "0", keys.HEARTBEAT,
                      keys.OWNED, keys.JOB])
        except redis.RedisError as error:
            raise self._unavailable(error) from error
        self._failed_at = 0.0
        epoch = int(epoch)
        if self._epoch is None:
            self._epoch = epoch
        specs = {int(claimed[index]): json.loads(claimed[index + 1])
                 for index in range(0, len(claimed), 2)}
        return Heartbeat(shutdown=epoch != self._epoch, claimed=specs)

    def owned_ids(self):
        """The ids of the unfinished jobs this process owns."""
        self._reachable()
        try:
            return {int(job_id) for job_id in self.client.smembers(keys.owned(self.process_id))}
        except redis.RedisError as error:
            raise self._unavailable(error) from error

    def specs(self, job_ids):
        """{job id: spec} of jobs the store has."""
        self._reachable()
        job_ids = sorted(job_ids)
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for job_id in job_ids:
                    pipe.hget(keys.job(job_id), "spec")
                found = pipe.execute()
        except redis.RedisError as error:
            raise self._unavailable(error) from error
        return {job_id: json.loads(spec) for job_id, spec in zip(job_ids, found) if spec}

    def request_shutdown(self):
        self._reachable()
        epoch = self._serving_epoch()
        try:
            self._scripts["REQUEST_SHUTDOWN"](keys=[keys.SHUTDOWN_EPOCH], args=[epoch])
        except redis.RedisError as error:
            raise self._unavailable(error) from error

    def ping(self):
        self._reachable()
        try:
            self.client.ping()
        except redis.RedisError as error:
            raise self._unavailable(error) from error

    def close(self):
        try:
            self._scripts["LEAVE"](keys=[keys.PROCESSES, keys.heartbeat(self.process_id),
                                         keys.owned(self.process_id)], args=[self.process_id])
        except redis.RedisError:
            # Its heartbeat then expires by itself, and what it owns is claimed.
            pass
        self.client.close()

    def _serving_epoch(self):
        if self._epoch is None:
            try:
                self._epoch = int(self.client.get(keys.SHUTDOWN_EPOCH) or 0)
            except redis.RedisError as error:
                raise self._unavailable(error) from error
        return self._epoch
