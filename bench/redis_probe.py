"""The benchmark's own redis-server, what Redis counts of the load, and what one Redis carries on paper.

The redis-server is started fresh, on a port and in a folder of its own,
with the settings `make redis` uses (an append-only file synced every
second, no snapshots), and stopped at the end.

Round trips are counted by Redis, not by the client: `total_writes_processed`
grows by one for every reply written to a client socket, so with clients
that do not pipeline (redis-py does not, outside a pipeline) it is the
number of client round trips. Per command counts (INFO commandstats) would
not do alone: Redis counts the calls a Lua script makes inside it under
their own commands, beside the EVALSHA that ran the script. Those inner
calls tell the scripts apart instead, each by a command no other script of
the hot path makes (see script_calls).
"""
import hashlib
import os
import shutil
import signal
import subprocess
import time

import redis

from app.stores import redis_keys as keys
from app.stores import redis_scripts as scripts
from app.stores.redis_store import RedisStore, connect

REDIS_SERVER = "redis-server"
REDIS_BENCHMARK = "redis-benchmark"
# The database redis-benchmark runs in, away from the servers' jobs.
PAPER_DB = 15


class RedisProcess:
    """A redis-server on `port`, its data in a new folder under `scratch`."""

    def __init__(self, scratch, port):
        self.port = port
        self.folder = os.path.join(scratch, f"redis-{port}")
        self.process = None
        self.client = None
        # Round trips redis-py makes to open a connection, before its first command.
        self.handshake = 0
        # Round trips of the benchmark's own (INFO, waiting for jobs to settle) and its
        # connections for the waiting, so far.
        self._own_calls = 0
        self._own_connections = 0
        self._settlers = {}

    def url(self, database=0):
        """The LSS_REDIS_URL of one of its databases."""
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self, timeout=20.0):
        """Start it and wait until it answers; raises RuntimeError if it does not."""
        if shutil.which(REDIS_SERVER) is None:
            raise RuntimeError("redis-server is not installed; `make bench` installs it "
                               "(Debian's redis-server)")
        os.makedirs(self.folder, exist_ok=True)
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.folder,
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--logfile", os.path.join(self.folder, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port, socket_timeout=10)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                # Another server that took the port meanwhile would answer too.
                ours = self.client.info("server")["process_id"] == self.process.pid
            except redis.RedisError:
                ours = False
            if not ours:
                time.sleep(0.05)
                continue
            self.handshake = self._measure_handshake()
            return self
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}; see {self.folder}/redis.log")

    def _measure_handshake(self):
        """Round trips of opening a connection as the store does, measured.

        They depend on the versions of redis-py and Redis (HELLO, SELECT,
        then CLIENT subcommands that a Redis older than 7.2 refuses, each a
        round trip all the same), so they are counted rather than assumed.
        """
        before = self.client.info("stats")["total_writes_processed"]
        # A database other than 0, as the servers use, costs a SELECT more.
        probe = connect(self.url(1), 5.0)
        try:
            probe.ping()
        finally:
            probe.close()
        # Less the PING and the reply to the first INFO.
        return self.client.info("stats")["total_writes_processed"] - before - 2

    def counters(self, settle=None):
        """Cumulative counts: replies written, connections opened, error replies, calls of each command.

        With `settle` (a database), first wait until no job of that database
        is running and none has come for a moment, so that a difference of
        two readings holds whole jobs only. "redis own calls" counts the
        round trips of these readings: the INFO's reply is written after its
        figures are taken, so a difference of two readings holds the first
        one's INFO and the second one's waiting, as many as it counts.
        """
        if settle is not None:
            self._own_calls += self._settle(settle)
        info = self.client.info("everything")
        self._own_calls += 1
        counts = {"redis own calls": self._own_calls, "redis own connections": self._own_connections,
                  "redis replies": info["total_writes_processed"],
                  "redis connections": info["total_connections_received"],
                  "redis error replies": info["total_error_replies"]}
        for name, value in info.items():
            if name.startswith("cmdstat_"):
                counts[f"redis {name.removeprefix('cmdstat_')}"] = value["calls"]
        return counts

    def _settle(self, database, timeout=10.0):
        """Wait until the jobs of `database` stop changing, none running; return the round trips it took.

        A load that has stopped may still have a submission on its way.
        """
        calls, last, deadline = 0, None, time.monotonic() + timeout
        client = self._settlers.get(database)
        if client is None:
            client = self._settlers[database] = redis.Redis(port=self.port, db=database, socket_timeout=10)
            # Opened once per database, at the cost of a handshake and this PING.
            client.ping()
            self._own_connections += 1
            calls += self.handshake + 1
        while time.monotonic() < deadline:
            now = client.mget(keys.NEXT_ID, keys.RUNNING)
            calls += 1
            if now == last and int(now[1] or 0) == 0:
                break
            last = now
            time.sleep(0.05)
        return calls

    def stop(self):
        """SIGTERM (it syncs its append-only file), then wait."""
        for client in [self.client, *self._settlers.values()]:
            if client is not None:
                client.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def script_calls(deltas):
    """{script: calls} of the store's scripts, from the commands Redis ran inside them.

    Each script of the hot path makes a call no other one does: CREATE two
    INCR, FINISH (and FAIL, which the load never causes) one DECR, LOOKUP a
    GETRANGE beside the one of FINISH; BEAT, the heartbeat, one SMEMBERS.
    """
    settles = deltas.get("redis decr", 0)
    return {"CREATE": deltas.get("redis incr", 0) / 2, "FINISH": settles,
            "LOOKUP": deltas.get("redis getrange", 0) - settles, "BEAT": deltas.get("redis smembers", 0)}


def handshakes(deltas, per_connection):
    """Round trips of the servers opening connections, each `per_connection` (RedisProcess.handshake).

    The benchmark's own connections, one per database it waits on, are
    among its own calls already.
    """
    own_connections = deltas.get("redis own connections", 0)
    return (deltas.get("redis connections", 0) - own_connections) * per_connection


def client_round_trips(deltas, background=0.0):
    """Round trips of the servers' calls to Redis: replies written, less heartbeats and the benchmark's.

    `background` (calls a second) is what idle servers send besides their
    heartbeats, measured apart: left out for the time `deltas` span.
    """
    return (deltas.get("redis replies", 0) - deltas.get("redis own calls", 0) - script_calls(deltas)["BEAT"]
            - background * deltas.get("wall", 0))


def hot_path_round_trips(deltas, per_connection, background=0.0):
    """Redis round trips per finished job, less the LOOKUPs of polls that found their job running.

    Polls that found their job running are counted by the load generator
    ("polls running"; without it, LOOKUPs beyond one per FINISH). Counted per FINISH, so that the jobs
    still running when a round ends weigh nothing. Opening a connection
    (once per thread and connection, not per job) is left out too.
    """
    calls = script_calls(deltas)
    # The load generator's count when given: a process answers a job's first
    # done poll from its own memory, so LOOKUPs in Redis may be fewer than FINISHes.
    early_polls = deltas.get("polls running", calls["LOOKUP"] - calls["FINISH"])
    return ((client_round_trips(deltas, background) - early_polls - handshakes(deltas, per_connection))
            / max(calls["FINISH"], 1))


def parse_csv_output(text):
    """{test: requests per second} of redis-benchmark --csv.

    A test of a command given on the command line is named by that command,
    unescaped, quotes and commas included: the figures are taken from the right.
    """
    lines = text.strip().splitlines()
    header = lines[0].split(",") if lines else []
    if header[:2] != ['"test"', '"rps"']:
        raise RuntimeError(f"redis-benchmark printed no figures: {text[-300:]!r}")
    rates = {}
    for line in lines[1:]:
        fields = line.rsplit(",", len(header) - 1)
        rates[fields[0].strip('"')] = float(fields[1].strip('"'))
    return rates


def _benchmark(port, requests, pipeline, arguments):
    completed = subprocess.run(
        [REDIS_BENCHMARK, "-p", str(port), "-n", str(requests), "-P", str(pipeline), "--dbnum", str(PAPER_DB),
         "--csv", *arguments], capture_output=True, text=True, timeout=600, check=False)
    if completed.returncode:
        raise RuntimeError(f"redis-benchmark failed: {completed.stderr[-300:]}")
    return parse_csv_output(completed.stdout)


# A CREATE and then a FINISH of the job it made, in one call: FINISH replayed
# alone would meet a job already done and stop at its first check. Each
# script runs as a function whose KEYS and ARGV are its own part of the call's.
CREATE_THEN_FINISH = """
local function create(KEYS, ARGV)
%s
end
local function finish(KEYS, ARGV)
%s
end
local sizes = {tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])}
local function part(list, first, count)
  local found = {}
  for index = 1, count do found[index] = list[first + index] end
  return found
end
local create_keys, finish_keys = part(KEYS, 0, sizes[1]), part(KEYS, sizes[1], sizes[2])
local create_argv, finish_argv = part(ARGV, 5, sizes[3]), part(ARGV, 5 + sizes[3], sizes[4])
finish_argv[tonumber(ARGV[5])] = tostring(create(create_keys, create_argv))
return finish(finish_keys, finish_argv)
"""


def _argument(item):
    """A command's argument as redis-benchmark takes it: bytes as they are, anything else as text."""
    return item if isinstance(item, bytes) else str(item)


def _store_calls(redis_process, answer):
    """(job id, {name: (EVALSHA arguments, reply)}) of the store creating, finishing and looking up a job.

    Taken from the store itself as it calls Redis, so that the figures
    follow whatever its scripts and keys are. The job is the store's second:
    its FINISH finds the answer stored already, as on the hot path once
    every answer has been seen.
    """
    store = RedisStore(redis_process.url(PAPER_DB))
    calls = []
    execute = store.client.execute_command

    def recorded(*args, **options):
        reply = execute(*args, **options)
        if str(args[0]).upper() == "EVALSHA":
            calls.append((tuple(_argument(item) for item in args), reply))
        return reply

    store.client.execute_command = recorded
    try:
        found = {}
        for _ in range(2):
            job_id = store.create({"statistic": "states_mean", "question": "q"})
            found["CREATE"] = calls[-1]
            store.finish(job_id, answer)
            found["FINISH"] = calls[-1]
            # The first poll is answered from the store's memory; the second reads Redis.
            if store.lookup(job_id).answer != answer or store.lookup(job_id).answer != answer:
                raise RuntimeError("the store's lookup does not give back the answer it stored")
            found["LOOKUP"] = calls[-1]
    finally:
        store.close()
    return job_id, found


def _create_then_finish(client, calls, job_id):
    """The EVALSHA arguments of CREATE_THEN_FINISH for the store's own calls; raises RuntimeError."""
    sources = {hashlib.sha1(source.encode()).hexdigest(): source
               for source in vars(scripts).values() if isinstance(source, str)}
    # name -> (source, KEYS, ARGV)
    parts = {}
    for name in ("CREATE", "FINISH"):
        sha, count, *rest = calls[name][0][1:]
        if str(sha) not in sources:
            raise RuntimeError(f"{name} runs a script that app.stores.redis_scripts does not hold")
        parts[name] = (sources[str(sha)], list(rest[:int(count)]), list(rest[int(count):]))
    create, finish = parts["CREATE"], parts["FINISH"]
    if str(job_id) not in finish[2]:
        raise RuntimeError("FINISH does not name its job among its arguments")
    script = client.script_load(CREATE_THEN_FINISH % (create[0], finish[0]))
    sizes = [len(create[1]), len(finish[1]), len(create[2]), len(finish[2]), finish[2].index(str(job_id)) + 1]
    return ["EVALSHA", script, str(len(create[1]) + len(finish[1])), *create[1], *finish[1],
            *map(str, sizes), *create[2], *finish[2]]


def on_paper(redis_process, answer, requests, pipelines=(1, 16)):  # pylint: disable=too-many-locals
    """({(test, pipeline): requests per second} of redis-benchmark against `redis_process`, notes).

    SET, GET and INCR, then the store's own calls, replayed as it made them:
    CREATE of a new job, LOOKUP of a done one with `answer` (bytes) as its
    answer, and CREATE_THEN_FINISH (a CREATE and a FINISH in one call) when
    FINISH names its job by its id alone. The answer is known to Redis when
    FINISH runs, as once every answer has been seen. 50 connections, as
    redis-benchmark has by default; in a database of their own.
    """
    if shutil.which(REDIS_BENCHMARK) is None:
        raise RuntimeError("redis-benchmark is not installed (Debian's redis-tools, with redis-server)")
    client = redis.Redis(port=redis_process.port, db=PAPER_DB, socket_timeout=10)
    notes = []
    try:
        client.flushdb()
        job_id, calls = _store_calls(redis_process, answer)
        commands = {name: list(calls[name][0]) for name in ("CREATE", "LOOKUP")}
        # redis-benchmark counts a call that fails as one served: each must do its whole work.
        if (client.execute_command(*commands["LOOKUP"]) != calls["LOOKUP"][1]
                or int(client.execute_command(*commands["CREATE"])) <= job_id):
            raise RuntimeError("the store's calls, replayed, do not do what they did")
        try:
            both = _create_then_finish(client, calls, job_id)
            if client.execute_command(*both) != calls["FINISH"][1]:
                raise RuntimeError("FINISH names its job by more than its id")
            commands["CREATE+FINISH"] = both
        except RuntimeError as error:
            notes.append(f"FINISH not replayed ({error}): counted as costing what a CREATE does.")
        rates = {}
        for pipeline in pipelines:
            plain = _benchmark(redis_process.port, requests, pipeline, ["-t", "set,get,incr"])
            for test, rate in plain.items():
                rates[test, pipeline] = rate
            for name, command in commands.items():
                rates[name, pipeline] = next(iter(_benchmark(redis_process.port, requests, pipeline,
                                                             command).values()))
        client.flushdb()
    finally:
        client.close()
    return rates, notes


def jobs_per_second(rates, pipeline):
    """Jobs a second one Redis carries when each job costs a CREATE, a FINISH and a LOOKUP.

    CREATE and FINISH measured in one call leave out the cost of reading and
    answering one request: a little above what Redis would carry with them
    apart. Without that figure, a FINISH is counted as costing a CREATE.
    """
    if ("CREATE+FINISH", pipeline) in rates:
        return 1 / (1 / rates["CREATE+FINISH", pipeline] + 1 / rates["LOOKUP", pipeline])
    return 1 / (2 / rates["CREATE", pipeline] + 1 / rates["LOOKUP", pipeline])
