"""`make stress`: the long reliability runs, against real server processes.

    python -m unittests.stress.run [--quick]

Each run starts servers of its own over a results folder in a temporary
directory, drives them with concurrent clients (load.py) that check every
answer against checker/reference.py, injects its faults, and checks the
promises of RELIABILITY.md. It prints the figures of every run as a
Markdown table and exits 1 if any promise was broken. --quick runs every
scenario small, to try the runner itself.
"""
import argparse
import collections
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

from bench import history
from checker.reference import compare

from . import schemathesis_run
from .load import (Client, Expectations, Tally, jobs_listing, job_number, run_clients, strict_json,
                   wait_until_idle)
from .servers import ROOT, ServerProcess
from ..redis_server import RedisServer

# Small, so that a killed process's jobs are claimed within seconds.
CLUSTER_TAKEOVER_S = 2


class Scenario:
    """One run: its figures, and the promises it found broken."""

    def __init__(self, name):
        self.name = name
        self.figures = {}
        self.broken = []
        self.started = time.monotonic()

    def check(self, holds, promise):
        """Record `promise` as broken unless it `holds`."""
        if not holds:
            self.broken.append(promise)

    def absorb(self, tally, allowed=(), prefix=""):
        """Take a tally's counts as figures (names after `prefix`), and its defects as broken promises."""
        for name, count in tally.counts.items():
            self.figures[prefix + name] = self.figures.get(prefix + name, 0) + count
        faults = tally.faults(allowed)
        self.check(not faults, f"clients saw {faults}: {tally.problems[:5]}")

    def finish(self):
        """Stop the clock."""
        self.figures["seconds"] = round(time.monotonic() - self.started, 1)


# The servers the kill and signal loops take turns with: `flask run`,
# `python api_server.py` (make run_server) and `make serve`.
LAUNCHED_BY = ("flask", "script", "production")


def join_all(clients, seconds=600):
    """Wait for every client; stop those still running after `seconds`."""
    deadline = time.monotonic() + seconds
    for client in clients:
        client.join(max(0.0, deadline - time.monotonic()))
    for client in clients:
        client.stopped.set()


def accepted_of(clients):
    """Every job id handed out to the clients, with its request."""
    return {job_id: request for client in clients for job_id, request in client.accepted.items()}


def check_ids_unique(scenario, clients):
    """Every id handed out once, whichever client got it."""
    handed_out = [job_id for client in clients for job_id in client.accepted]
    scenario.check(len(handed_out) == len(set(handed_out)), "an id was handed out twice")


def check_final_listing(scenario, url, expected_count=None):
    """/api/jobs lists job_id_1..N oldest first, all finished; num_jobs is 0."""
    scenario.check(wait_until_idle(url), "num_jobs never got back to 0")
    listing, running = jobs_listing(url)
    numbers = [job_number(job_id) for job_id, _ in listing]
    scenario.check(numbers == list(range(1, len(numbers) + 1)), "/api/jobs is not job_id_1..N in order")
    scenario.check(running == 0, f"num_jobs is {running} at the end")
    scenario.check(all(status != "running" for _, status in listing), "/api/jobs still lists running jobs")
    if expected_count is not None:
        scenario.check(len(listing) == expected_count,
                       f"/api/jobs lists {len(listing)} jobs, {expected_count} were accepted")
    return listing


def verify_jobs(scenario, url, expectations, jobs):
    """Poll each of {job id: (endpoint, body)} until finished, and check its answer."""
    tally = Tally()
    verifier = Client(url, expectations, tally, jobs=0, seed=0)
    for job_id, request in jobs.items():
        verifier.accepted[job_id] = request
        verifier.poll(job_id)
    scenario.absorb(tally, prefix="after_restart_")


def result_files_whole(results_dir):
    """(number of result files, names of those that are not whole JSON)."""
    count, partial = 0, []
    for name in os.listdir(results_dir):
        if re.fullmatch(r"job_id_\d+\.json", name):
            count += 1
            try:
                with open(os.path.join(results_dir, name), encoding="utf-8") as file:
                    strict_json(file.read())
            except ValueError:
                partial.append(name)
    return count, partial


# -- the scenarios ---------------------------------------------------------------------


def concurrency(workdir, expectations, size):
    """32 clients x 1,000 jobs on one server; a watcher reads /api/jobs and /api/num_jobs meanwhile."""
    scenario = Scenario(f"concurrency: {size['clients']} clients x {size['jobs']} jobs")
    # On `make serve`, the production path.
    server = ServerProcess(workdir, launcher="production").start()
    tally = Tally()
    clients = run_clients(server.url, expectations, tally, clients=size["clients"], jobs=size["jobs"])
    watched = {"listings": 0, "inconsistent": 0}
    while any(client.is_alive() for client in clients):
        listing, running = jobs_listing(server.url)
        numbers = [job_number(job_id) for job_id, _ in listing]
        running_listed = sum(status == "running" for _, status in listing)
        watched["listings"] += 1
        # The two reads are not one snapshot; what must hold across them:
        # ids 1..N in order, and no more running jobs than jobs.
        if numbers != list(range(1, len(numbers) + 1)) or running > len(listing) or \
                running_listed > len(listing):
            watched["inconsistent"] += 1
        time.sleep(0.5)
    join_all(clients)
    scenario.absorb(tally)
    check_ids_unique(scenario, clients)
    total = size["clients"] * size["jobs"]
    scenario.check(tally.counts["accepted"] == total, f"{tally.counts['accepted']} of {total} jobs accepted")
    scenario.check(tally.counts["checked"] == total, f"{tally.counts['checked']} of {total} answers right")
    listing = check_final_listing(scenario, server.url, total)
    scenario.check(sorted(job_id for job_id, _ in listing) == sorted(accepted_of(clients)),
                   "/api/jobs and the ids handed out differ")
    scenario.check(watched["inconsistent"] == 0, f"{watched['inconsistent']} inconsistent listings")
    scenario.figures.update(jobs_listings_read=watched["listings"])
    scenario.check(server.stop() == 0, "the server did not exit 0 on SIGTERM")
    scenario.finish()
    scenario.figures["requests_per_second"] = round(
        (tally.counts["sent"] + tally.counts["polls"]) / scenario.figures["seconds"])
    return scenario


def kill_loop(workdir, expectations, size):
    """kill -9 under load, again and again, over one results folder."""
    scenario = Scenario(f"kill -9 under load, {size['rounds']} rounds")
    rng = random.Random(9)
    done_before_kills = {}
    highest_id = 0
    kills = reruns = pending_at_kill = 0
    for round_number in range(size["rounds"]):
        # One worker; half the clients send windows of 50 jobs, so that
        # jobs queue up and are pending at the kill, half poll every 2 jobs,
        # so that jobs are seen done before it.
        server = ServerProcess(workdir, launcher=LAUNCHED_BY[round_number % 3], threads=1).start()
        reruns_before = server.log_lines("unfinished at the last stop")
        tally = Tally()
        clients = [*run_clients(server.url, expectations, tally, clients=8, jobs=10**6, window=50,
                                seed=round_number),
                   *run_clients(server.url, expectations, tally, clients=8, jobs=10**6, window=2,
                                seed=50 + round_number)]
        time.sleep(rng.uniform(0.5, 2.0))
        _, running = jobs_listing(server.url)
        pending_at_kill += running
        server.kill()
        kills += 1
        join_all(clients, 60)
        scenario.absorb(tally, allowed=("disconnected",))
        check_ids_unique(scenario, clients)
        _, partial = result_files_whole(server.results_dir)
        scenario.check(not partial, f"partial result files after a kill: {partial[:5]}")
        for client in clients:
            done_before_kills.update(client.answers)

        server = ServerProcess(workdir, launcher="flask").start()
        reruns += server.log_lines("unfinished at the last stop") - reruns_before
        accepted = accepted_of(clients)
        verify_jobs(scenario, server.url, expectations, accepted)
        first_new = requests.post(f"{server.url}/api/global_mean",
                                  json={"question": expectations.reference.questions()[0]}, timeout=30)
        new_id = job_number(first_new.json()["job_id"])
        scenario.check(new_id > max([highest_id, *map(job_number, accepted)]),
                       f"job_id_{new_id} after the restart is not above every earlier id")
        highest_id = new_id
        check_final_listing(scenario, server.url)
        scenario.check(server.stop() == 0, "the server did not exit 0 on SIGTERM")

    server = ServerProcess(workdir).start()
    same = 0
    for job_id, data in done_before_kills.items():
        answer = strict_json(requests.get(f"{server.url}/api/get_results/{job_id}", timeout=30).text)
        same += answer.get("status") == "done" and json.dumps(answer["data"], sort_keys=True) == data
    scenario.check(same == len(done_before_kills),
                   f"{len(done_before_kills) - same} jobs done before a kill answer differently after")
    check_final_listing(scenario, server.url)
    server.stop()
    scenario.figures.update(faults_injected=kills, jobs_pending_at_kills=pending_at_kill,
                            jobs_rerun_after_restart=reruns, done_before_kill_reread_same=same)
    scenario.finish()
    return scenario


def cluster_kill_loop(workdir, expectations, size):
    """Processes sharing one Redis under load: kill -9 one each round, and Redis itself halfway.

    Each round adds a process whose jobs wait at a gate that never opens and
    kills it, so that it surely dies with jobs unfinished; every other round
    one of the two ordinary processes is killed too and replaced.
    """
    scenario = Scenario(f"cluster on Redis: kill -9 of a process under load, {size['rounds']} rounds")
    rng = random.Random(21)
    redis = RedisServer(os.path.join(workdir, "redis")).start()
    started = []

    def start(**options):
        folder = os.path.join(workdir, f"server-{len(started)}")
        os.makedirs(folder)
        environment = {"LSS_REDIS_URL": redis.url, "LSS_TAKEOVER_S": CLUSTER_TAKEOVER_S}
        started.append(ServerProcess(folder, environment=environment, **options).start())
        return started[-1]

    servers = [start(), start()]
    accepted, takeover_seconds = {}, []
    try:
        for round_number in range(size["rounds"]):
            doomed = [start(launcher="gated", gate=os.path.join(workdir, "never"))]
            if round_number % 2:
                doomed.append(servers.pop(rng.randrange(len(servers))))
            tally = Tally()
            clients = {server.url: run_clients(server.url, expectations, tally, clients=3, jobs=10**6,
                                               window=20, seed=round_number * 10 + index)
                       for index, server in enumerate([*servers, *doomed])}
            time.sleep(rng.uniform(0.5, 2.0))
            if round_number == size["rounds"] // 2:
                redis.kill()
                time.sleep(rng.uniform(0.5, 3.0))
                redis.start()
                time.sleep(0.5)
            killed_at = time.monotonic()
            for server in doomed:
                server.kill()
                for client in clients[server.url]:
                    client.stopped.set()
            # The dead processes' jobs, read from a survivor: each done and right.
            verify_jobs(scenario, servers[0].url, expectations,
                        {job_id: request for server in doomed
                         for job_id, request in accepted_of(clients[server.url]).items()})
            takeover_seconds.append(time.monotonic() - killed_at)
            every = [client for group in clients.values() for client in group]
            for client in every:
                client.stopped.set()
            join_all(every, 60)
            scenario.absorb(tally, allowed=("disconnected", "store_unreachable"))
            check_ids_unique(scenario, every)
            accepted.update(accepted_of(every))
            while len(servers) < 2:
                servers.append(start())
        verify_jobs(scenario, servers[-1].url, expectations, accepted)
        listing = check_final_listing(scenario, servers[0].url)
        scenario.check(set(accepted) <= {job_id for job_id, _ in listing},
                       "/api/jobs misses jobs that were handed out")
        scenario.check(max(takeover_seconds) < CLUSTER_TAKEOVER_S + 10,
                       f"a killed process's jobs took {max(takeover_seconds):.1f} s to be done elsewhere")
        claimed = sum(server.log_lines("claimed from a process that stopped beating") for server in started)
        scenario.check(claimed > 0, "no job was ever claimed from a killed process")
        scenario.figures.update(faults_injected=size["rounds"] + (size["rounds"] // 2) + 1,
                                processes_killed=size["rounds"] + size["rounds"] // 2, redis_killed=1,
                                jobs_accepted=len(accepted), jobs_claimed=claimed,
                                slowest_takeover_seconds=round(max(takeover_seconds), 1))
        for server in servers:
            scenario.check(server.stop() == 0, "a server did not exit 0 on SIGTERM")
    finally:
        for server in started:
            server.kill()
        redis.stop()
    scenario.finish()
    return scenario


def long_history(workdir, _expectations, size):
    """A history of a million jobs: a start within 0.2 s of a fresh one, its memory bounded."""
    scenario = Scenario(f"start-up after {size['history']:,} jobs of history")
    figures = history.measure(ROOT, size["history"], 3, ("fresh", "kept"), workdir, 7000)
    slower = figures["kept"]["start_s"] - figures["fresh"]["start_s"]
    scenario.check(slower <= 0.2, f"a start after {size['history']:,} jobs took {slower:+.2f} s more than "
                                  f"a fresh one")
    scenario.check(figures["kept"]["page_bytes"] < 4096, "a page of the 30 newest jobs is not small")
    scenario.figures.update(start_fresh_seconds=round(figures["fresh"]["start_s"], 3),
                            start_after_history_seconds=round(figures["kept"]["start_s"], 3),
                            resident_mib=round(figures["kept"]["rss_mib"]),
                            peak_mib=round(figures["kept"]["peak_mib"]),
                            snapshot_bytes=figures["kept"]["snapshot_bytes"],
                            journal_bytes=figures["kept"]["journal_bytes"])
    scenario.finish()
    return scenario


def idle_and_slow_clients(workdir, expectations, size):
    """`make serve` with 1,000 idle connections and 30 clients sending a byte a second: others answered in 1 s."""
    scenario = Scenario(f"make serve with {size['idle']} idle and 30 slow connections")
    server = ServerProcess(workdir, launcher="production").start()
    connections = []
    stop = threading.Event()
    try:
        for _ in range(size["idle"]):
            connections.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        slow = []
        for _ in range(30):
            connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            connection.sendall(b"POST /api/states_mean HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
            slow.append(connection)
        connections += slow

        def trickle():
            while not stop.wait(1):
                for connection in slow:
                    connection.sendall(b" ")

        threading.Thread(target=trickle, daemon=True).start()
        tally = Tally()
        slowest = 0.0
        for request in expectations.requests[:200]:
            started = time.monotonic()
            client = Client(server.url, expectations, tally, jobs=0, seed=0)
            job_id = client.submit(*request)
            if job_id:
                client.poll(job_id)
            slowest = max(slowest, time.monotonic() - started)
        scenario.absorb(tally)
        scenario.check(tally.counts["checked"] == 200, f"{tally.counts['checked']} of 200 answers right")
        scenario.check(slowest < 1.0, f"a client waited {slowest:.2f} s")
        scenario.figures.update(idle_connections=size["idle"], slow_connections=30,
                                slowest_job_seconds=round(slowest, 3))
    finally:
        stop.set()
        for connection in connections:
            connection.close()
        scenario.check(server.stop() == 0, "the server did not exit 0 on SIGTERM")
    scenario.finish()
    return scenario


def upload_flood(workdir, _expectations, size):
    """Clients uploading distinct files as fast as they can: the quota holds, nothing past it is kept."""
    scenario = Scenario(f"a flood of {size['uploads']} uploads of 1 MiB against a quota of 10 data sets")
    server = ServerProcess(workdir, environment={"LSS_MAX_DATASETS": 10}).start()
    question = "Percent of adults aged 18 years and older who have obesity"
    statuses = collections.Counter()
    lock = threading.Lock()

    def upload(first):
        with requests.Session() as session:
            for number in range(first, size["uploads"], 4):
                rows = "".join(f"{row},State {number},{question},{row % 97},,\n" for row in range(16000))
                text = ",LocationDesc,Question,Data_Value,StratificationCategory1,Stratification1\n" + rows
                response = session.post(f"{server.url}/api/datasets", timeout=60,
                                        files={"file": (f"flood-{number}.csv", text.encode())})
                with lock:
                    statuses[response.status_code] += 1

    uploaders = [threading.Thread(target=upload, args=(first,)) for first in range(4)]
    for uploader in uploaders:
        uploader.start()
    for uploader in uploaders:
        uploader.join()
    listed = requests.get(f"{server.url}/api/datasets", timeout=60).json()["data"]
    kept = [name for name in os.listdir(os.path.join(workdir, "datasets")) if name.endswith(".csv")]
    scenario.check(statuses[201] == 10 and statuses[507] == size["uploads"] - 10,
                   f"answers {dict(statuses)}: 10 kept and the rest refused with 507 expected")
    scenario.check(len(listed) == 11 and len(kept) == 10, f"{len(listed)} listed, {len(kept)} files kept")
    scenario.check(not any(status >= 500 and status != 507 for status in statuses),
                   f"answers {dict(statuses)}")
    scenario.figures.update(uploads=size["uploads"], kept=len(kept),
                            **{f"answered_{status}": count for status, count in sorted(statuses.items())})
    scenario.check(server.stop() == 0, "the server did not exit 0 on SIGTERM")
    scenario.finish()
    return scenario


def signal_loop(workdir, expectations, size):
    """SIGTERM or SIGINT under load: intake stops, everything accepted finishes, exit 0."""
    scenario = Scenario(f"SIGTERM/SIGINT under load, {size['rounds']} rounds")
    rng = random.Random(15)
    exits, longest_drain, pending = [], 0.0, 0
    for round_number in range(size["rounds"]):
        signum = (signal.SIGTERM, signal.SIGINT)[round_number % 2]
        # Every launcher meets both signals over six rounds.
        server = ServerProcess(workdir, launcher=LAUNCHED_BY[round_number % 3], threads=1).start()
        tally = Tally()
        clients = run_clients(server.url, expectations, tally, clients=16, jobs=10**6, window=50,
                              seed=100 + round_number)
        time.sleep(rng.uniform(0.5, 1.5))
        signalled = time.monotonic()
        server.send(signum)
        status = server.wait(120)
        longest_drain = max(longest_drain, time.monotonic() - signalled)
        exits.append(status)
        if status is None:
            server.kill()
        join_all(clients, 60)
        scenario.absorb(tally, allowed=("disconnected",))
        check_ids_unique(scenario, clients)
        with open(server.log_file, encoding="utf-8") as log:
            drained = re.findall(r"draining (\d+) jobs", log.read())
        pending += int(drained[-1]) if drained else 0
        unanswered = [job_id for job_id in accepted_of(clients)
                      if not os.path.exists(os.path.join(server.results_dir, f"{job_id}.json"))]
        scenario.check(not unanswered, f"accepted jobs without a result after the drain: {unanswered[:5]}")
        _, partial = result_files_whole(server.results_dir)
        scenario.check(not partial, f"partial result files: {partial[:5]}")
        for job_id, (endpoint, body) in accepted_of(clients).items():
            path = os.path.join(server.results_dir, f"{job_id}.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as file:
                    difference = compare(expectations.expected(endpoint, body), strict_json(file.read()))
                scenario.check(difference is None, f"{job_id}: {difference}")
    restarted = ServerProcess(workdir).start()
    scenario.check(restarted.log_lines("unfinished at the last stop") == 0,
                   "jobs were left unfinished by a drain")
    check_final_listing(scenario, restarted.url)
    restarted.stop()
    scenario.check(exits == [0] * len(exits), f"exit statuses {exits}")
    scenario.figures.update(faults_injected=len(exits), exit_statuses=" ".join(map(str, exits)),
                            jobs_pending_at_signals=pending, longest_drain_seconds=round(longest_drain, 2))
    scenario.finish()
    return scenario


def wipe_loop(workdir, expectations, size):
    """results/ removed or emptied again and again while clients work."""
    scenario = Scenario("results/ removed or emptied under load")
    server = ServerProcess(workdir, launcher="production").start()
    tally = Tally()
    # Windows of one job, polled at once: most answers are read before the next wipe.
    clients = run_clients(server.url, expectations, tally, clients=16, jobs=size["jobs"], window=1)
    wipes, rng = 0, random.Random(3)
    while any(client.is_alive() for client in clients):
        time.sleep(rng.uniform(0.1, 0.4))
        if wipes % 2:
            shutil.rmtree(server.results_dir, ignore_errors=True)
        else:
            for name in _listdir(server.results_dir):
                _remove(os.path.join(server.results_dir, name))
        wipes += 1
    join_all(clients)
    shutil.rmtree(server.results_dir, ignore_errors=True)
    wipes += 1
    after = Tally()
    join_all(run_clients(server.url, expectations, after, clients=1, jobs=10, seed=11))
    # A job whose answer was wiped before it was read is gone (410), as it should be.
    scenario.absorb(tally, allowed=("gone",))
    scenario.absorb(after, prefix="after_last_wipe_")
    check_ids_unique(scenario, clients)
    check_final_listing(scenario, server.url, tally.counts["accepted"] + after.counts["accepted"])
    scenario.check(os.path.isdir(server.results_dir), "the results folder was not made again")
    scenario.check(server.stop() == 0, "the server did not exit 0 on SIGTERM")
    scenario.figures["faults_injected"] = wipes
    scenario.finish()
    return scenario


def _listdir(path):
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def disk_faults(workdir, expectations, size):
    """The results folder turned into a file, or the disk full, while clients work."""
    scenario = Scenario("unwritable or full results folder under load")
    server = ServerProcess(workdir, launcher="production", threads=2).start()
    tally = Tally()
    clients = run_clients(server.url, expectations, tally, clients=8, jobs=size["jobs"], window=10)
    swaps = fulls = 0
    while any(client.is_alive() for client in clients):
        time.sleep(0.3)
        if (swaps + fulls) % 2 == 0:
            # A file where the folder was: nothing can be written under it.
            shutil.rmtree(server.results_dir, ignore_errors=True)
            try:
                with open(server.results_dir, "x", encoding="ascii") as blocker:
                    blocker.write("not a folder")
            except OSError:
                continue
            time.sleep(0.3)
            os.remove(server.results_dir)
            swaps += 1
        else:
            # The kernel refuses to grow any file past 512 bytes: a full disk.
            resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (512, resource.RLIM_INFINITY))
            time.sleep(0.3)
            resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
            fulls += 1
    join_all(clients)
    scenario.absorb(tally, allowed=("job_error", "refused_storage", "gone", "unreadable"))
    check_ids_unique(scenario, clients)
    check_final_listing(scenario, server.url, tally.counts["accepted"])
    recovered = Tally()
    join_all(run_clients(server.url, expectations, recovered, clients=4, jobs=50, seed=7))
    scenario.absorb(recovered, prefix="after_recovery_")
    scenario.check(recovered.counts["checked"] == 200, "the server did not recover")
    scenario.check(server.log_lines("Traceback") == 0, "the log holds a stack trace")
    scenario.check(server.stop() == 0, "the server did not exit 0 on SIGTERM")
    scenario.figures.update(faults_injected=swaps + fulls, folder_turned_file=swaps, disk_full=fulls)
    scenario.finish()
    return scenario


def overload(workdir, expectations, size):
    """Clients flood a server whose jobs are held: 503 + Retry-After beyond the bound, nothing lost."""
    scenario = Scenario(f"overload: bound {size['bound']}, {size['clients']} clients flooding")
    gate = os.path.join(workdir, "gate")
    server = ServerProcess(workdir, launcher="gated", gate=gate, threads=2, max_pending=size["bound"]).start()
    memory_start = server.memory_kib()
    tally = Tally()
    clients = run_clients(server.url, expectations, tally, clients=size["clients"], jobs=size["flood_jobs"],
                          window=size["flood_jobs"], retry_cap=0.01)
    memory_peak, highest_pending = memory_start, 0
    deadline = time.monotonic() + size["seconds"]
    while time.monotonic() < deadline:
        memory_peak = max(memory_peak, server.memory_kib())
        highest_pending = max(highest_pending, strict_json(
            requests.get(f"{server.url}/api/num_jobs", timeout=30).text)["num_jobs"])
        time.sleep(0.1)
    refused_while_held = tally.counts["refused_busy"]
    open(gate, "w", encoding="ascii").close()
    join_all(clients)
    scenario.absorb(tally)
    check_ids_unique(scenario, clients)
    total = size["clients"] * size["flood_jobs"]
    scenario.check(tally.counts["checked"] == total, f"{tally.counts['checked']} of {total} answers right")
    scenario.check(highest_pending <= size["bound"], f"{highest_pending} jobs pending, bound {size['bound']}")
    scenario.check(refused_while_held > 0, "no POST was refused while the jobs were held")
    check_final_listing(scenario, server.url, total)
    scenario.check(server.stop() == 0, "the server did not exit 0 on SIGTERM")
    scenario.figures.update(refused_while_held=refused_while_held, highest_num_jobs=highest_pending,
                            memory_start_mib=round(memory_start / 1024),
                            memory_peak_mib=round(memory_peak / 1024))
    scenario.check(memory_peak - memory_start < 100 * 1024, "memory grew by more than 100 MiB")
    scenario.finish()
    return scenario


def http_fuzz(workdir, expectations, size):
    """Valid bodies, mutated byte by byte, sent over HTTP; the server must answer as the model says."""
    scenario = Scenario(f"mutated bodies over HTTP, {size['fuzz']} requests")
    server = ServerProcess(workdir).start()
    rng = random.Random(5)
    session = requests.Session()
    counts = {"sent": 0, "accepted": 0, "refused": 0}
    tally = Tally()
    verifier = Client(server.url, expectations, tally, jobs=0, seed=0)
    for _ in range(size["fuzz"]):
        endpoint, body = rng.choice(expectations.requests)
        raw = _mutate(rng, json.dumps(body).encode())
        response = session.post(f"{server.url}/api/{endpoint}", data=raw,
                                headers={"Content-Type": "application/json"}, timeout=30)
        counts["sent"] += 1
        try:
            answer = strict_json(response.text)
        except ValueError:
            scenario.check(False, f"not JSON for {raw[:80]!r}: {response.text[:80]}")
            continue
        valid = _model_accepts(expectations, endpoint, raw)
        if response.status_code == 200:
            counts["accepted"] += 1
            scenario.check(valid, f"accepted a body the model refuses: {raw[:120]!r}")
            if valid:
                verifier.accepted[answer["job_id"]] = (endpoint, json.loads(raw))
                verifier.poll(answer["job_id"])
        else:
            counts["refused"] += 1
            scenario.check(400 <= response.status_code < 500 and answer.get("reason"),
                           f"HTTP {response.status_code} for {raw[:80]!r}: {answer}")
            scenario.check(not valid, f"refused a body the model accepts: {raw[:120]!r}: {answer}")
    scenario.absorb(tally, prefix="accepted_jobs_")
    scenario.figures.update(counts)
    scenario.check(server.log_lines("Traceback") == 0, "the log holds a stack trace")
    scenario.check(server.stop() == 0, "the server did not exit 0 on SIGTERM")
    scenario.finish()
    return scenario


def _mutate(rng, raw):
    """`raw` cut, flipped, grown or nested at random."""
    raw = bytearray(raw)
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        choice = rng.randrange(6)
        where = rng.randrange(len(raw) + 1)
        if choice == 0:
            raw = raw[:where]
        elif choice == 1 and raw:
            raw[min(where, len(raw) - 1)] = rng.randrange(256)
        elif choice == 2:
            raw[where:where] = rng.choice([b"\\u0000", "é😀".encode(), b"\xff", b'"', b"{", b"]", b",",
                                           b"NaN", b"1e999", b"-", b" " * 100])
        elif choice == 3:
            raw = bytearray(b'{"question": ' * rng.randint(1, 3000)) + raw
        elif choice == 4:
            raw = raw.replace(b'"question"', rng.choice([b'"Question"', b'"question "', b'"state"']))
        else:
            raw = raw[:where] + raw[where:where + rng.randint(1, 40)] * rng.randint(1, 50) + raw[where:]
    return bytes(raw)


def _model_accepts(expectations, endpoint, raw):
    """Whether the contract says `raw` is a valid body for `endpoint` (Python's json, as the server)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    if not isinstance(body, dict) or body.get("dataset") not in (None, "default"):
        return False
    question = body.get("question")
    if not isinstance(question, str) or question not in expectations.reference.questions():
        return False
    if endpoint in ("state_mean", "state_diff_from_mean", "state_mean_by_category"):
        state = body.get("state")
        return isinstance(state, str) and state in expectations.reference.states(question)
    return True


def property_tests(_workdir, _expectations, size):
    """The hypothesis and hostile-input tests of `make test`, with many more examples."""
    scenario = Scenario(f"property-based and hostile-input tests, {size['examples']} examples per property")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "unittests/test_properties.py",
         "unittests/test_hostile_input.py"],
        cwd=ROOT, env=dict(os.environ, LSS_FUZZ_EXAMPLES=str(size["examples"])), capture_output=True,
        text=True, check=False)
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else completed.stderr
    scenario.check(completed.returncode == 0, f"pytest failed: {summary}\n{completed.stdout[-3000:]}")
    passed = re.search(r"(\d+) passed", summary)
    scenario.figures.update(tests_passed=int(passed.group(1)) if passed else 0,
                            properties=5, examples_per_property=size["examples"])
    scenario.finish()
    return scenario


def schemathesis_fuzz(workdir, _expectations, size):
    """Schemathesis against the OpenAPI description, at length (the passes of schemathesis_run.py)."""
    scenario = Scenario(f"schemathesis, {size['schemathesis']} examples per operation")
    run = schemathesis_run.run(workdir, size["schemathesis"])
    for problem in run.problems():
        scenario.check(False, problem)
    scenario.figures.update(run.figures())
    scenario.finish()
    return scenario


SCENARIOS = [concurrency, kill_loop, cluster_kill_loop, long_history, idle_and_slow_clients, upload_flood,
             signal_loop, wipe_loop, disk_faults, overload, http_fuzz, property_tests,
             schemathesis_fuzz]
FULL = {"clients": 32, "jobs": 1000, "rounds": 10, "bound": 100, "seconds": 5, "flood_jobs": 100,
        "fuzz": 5000, "examples": 2000, "schemathesis": 1000, "history": 1_000_000, "idle": 1000, "uploads": 120}
QUICK = {"clients": 4, "jobs": 20, "rounds": 2, "bound": 10, "seconds": 1, "flood_jobs": 20, "fuzz": 100,
         "examples": 20, "schemathesis": 10, "history": 20_000, "idle": 100, "uploads": 16}


def main():
    """Run every scenario; print the figures; exit 1 if a promise was broken."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="run every scenario small")
    parser.add_argument("--only", help="run only the scenarios whose function name contains this")
    options = parser.parse_args()
    size = QUICK if options.quick else FULL
    expectations = Expectations()
    scenarios = []
    for run in SCENARIOS:
        if options.only and options.only not in run.__name__:
            continue
        with tempfile.TemporaryDirectory(prefix="lss-stress-") as workdir:
            scenario = run(workdir, expectations, dict(size, name=run.__name__))
        scenarios.append(scenario)
        verdict = "ok" if not scenario.broken else "BROKEN: " + "; ".join(scenario.broken)
        print(f"{scenario.name}: {verdict}\n    {scenario.figures}", flush=True)
    print("\n| run | figures | promises |\n|---|---|---|")
    for scenario in scenarios:
        figures = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in scenario.figures.items())
        print(f"| {scenario.name} | {figures} | {'kept' if not scenario.broken else 'BROKEN'} |")
    return 1 if any(scenario.broken for scenario in scenarios) else 0


if __name__ == "__main__":
    sys.exit(main())
