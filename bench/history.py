"""Start-up time and memory after a long history of jobs, against a fresh start.

    python -m bench.history                      # 1,000,000 jobs, 5 starts of each kind
    python -m bench.history --jobs 100000 --runs 3
    python -m bench.history --root /path/to/another/checkout --kinds kept

The history is made by driving the file store of the checkout measured
directly, as its workers and housekeeping thread would (create and finish
each job with the same answer, maintain() every 1,000 jobs but for the last
`--tail`, so that a start finds as long a journal beyond the snapshot as it
ever does), not over HTTP:
a million jobs take about a minute that way instead of twenty. Three
results folders:

- fresh: empty;
- kept: N jobs finished just now, all within the retention time;
- expired: N jobs, all but the last 1,000 finished eight days ago, so that
  the default retention time (a week) has forgotten them.

Each folder is then served by `create_app` (the bundled survey, like `make
run_server`) in `--runs` fresh processes, one after the other, each timed
from its first import to the app being built (wall clock and CPU), with its
resident memory then and at its peak, and the size and time of a first GET /api/jobs and of a
page of the 30 newest jobs; the medians are printed as a Markdown table. `--root` measures another
checkout (its history made by its own store; `maintain` and the clock are
used only when that store has them), so that the same figures can be taken
of an older version.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = ("fresh", "kept", "expired")
# Jobs finished at the end of the "expired" history, still within the retention time.
RECENT = 1000
WEEK_AND_A_DAY_S = 8 * 24 * 3600
# Jobs run after the last compaction, about 1 MiB of journal: as long a
# journal as a start reads beyond the snapshot (LSS_JOURNAL_COMPACT_BYTES).
TAIL = 7000

BUILD = """
import inspect, json, sys, time
from app.stores.file_store import FileStore
folder, jobs, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
recent, age, tail = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
now = time.time()
clock = [now - age if kind == "expired" else now]
options = {}
parameters = inspect.signature(FileStore).parameters
if "clock" in parameters:
    options = {"clock": lambda: clock[0], "ttl_s": 7 * 24 * 3600.0}
store = FileStore(folder, **options)
maintain = getattr(store, "maintain", lambda: None)
spec = {"statistic": "state_mean", "question": "Percent of adults aged 18 years and older who have obesity",
        "state": "Ohio"}
answer = b'{"Ohio": 32.4}'
started = time.perf_counter()
for number in range(1, jobs + 1):
    if number == jobs - recent + 1:
        clock[0] = now
    store.finish(store.create(spec), answer)
    if number % 1000 == 0 and number <= jobs - tail:
        maintain()
store.close()
print(json.dumps({"seconds": time.perf_counter() - started}))
"""

START = """
import json, sys, time
started = time.perf_counter()
from app import create_app
folder, work = sys.argv[1], sys.argv[2]
app = create_app({"RESULTS_DIR": folder, "LOG_FILE": work + "/webserver.log",
                  "DATASETS_DIR": work + "/datasets"})
seconds = time.perf_counter() - started
cpu_seconds = time.process_time()
with open("/proc/self/status", encoding="ascii") as status:
    memory = {line.split(":")[0]: int(line.split()[1])
              for line in status if line.startswith(("VmRSS:", "VmHWM:"))}
client = app.test_client()
listings = {}
for query in ("", "?limit=30"):
    began = time.perf_counter()
    body = client.get("/api/jobs" + query).get_data()
    listings[query] = (len(body), time.perf_counter() - began)
app.extensions["le_stats_sportif"].shutdown(wait=True, timeout=60)
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "rss_mib": memory["VmRSS"] / 1024,
                  "peak_mib": memory["VmHWM"] / 1024,
                  "list_bytes": listings[""][0], "list_s": listings[""][1],
                  "page_bytes": listings["?limit=30"][0], "page_s": listings["?limit=30"][1]}))
"""


def _run(root, code, *arguments, timeout=3600):
    """Run `code` in a fresh interpreter over the checkout at `root`; its JSON output."""
    completed = subprocess.run([sys.executable, "-c", code, *map(str, arguments)], cwd=root,
                               env={**os.environ, "PYTHONPATH": root}, capture_output=True, text=True,
                               timeout=timeout, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"failed in {root}:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _size(folder):
    """(bytes of the journal, bytes of the snapshot, entries in the folder)."""
    names = os.listdir(folder)
    sizes = {name: os.path.getsize(os.path.join(folder, name)) for name in (".journal", ".snapshot")
             if name in names}
    return sizes.get(".journal", 0), sizes.get(".snapshot", 0), len(names)


def measure(root, jobs, runs, kinds, scratch, tail):
    """{kind: figures} for each kind of history."""
    figures = {}
    for kind in kinds:
        folder = os.path.join(scratch, kind, "results")
        os.makedirs(folder)
        built = None
        if kind != "fresh":
            built = _run(root, BUILD, folder, jobs, kind, RECENT, WEEK_AND_A_DAY_S, tail)["seconds"]
        journal, snapshot, entries = _size(folder)
        starts = [_run(root, START, folder, os.path.join(scratch, kind)) for _ in range(runs)]
        figures[kind] = {
            "built_s": built, "journal_bytes": journal, "snapshot_bytes": snapshot, "folder_entries": entries,
            "start_s": statistics.median(start["seconds"] for start in starts),
            "start_max_s": max(start["seconds"] for start in starts),
            "cpu_s": statistics.median(start["cpu_seconds"] for start in starts),
            "rss_mib": statistics.median(start["rss_mib"] for start in starts),
            "peak_mib": statistics.median(start.get("peak_mib", 0) for start in starts),
            **{name: statistics.median(start.get(name, 0) for start in starts)
               for name in ("list_bytes", "list_s", "page_bytes", "page_s")},
        }
        print(f"{kind}: {figures[kind]}", file=sys.stderr, flush=True)
    return figures


def report(figures, jobs, runs, root):
    """The figures as a Markdown table."""
    fresh = figures.get("fresh")
    lines = [f"Start-up of create_app over a results folder, median of {runs} fresh processes "
             f"({jobs:,} jobs of history; checkout {root}):", "",
             "| history | start-up s (max) | vs fresh s | CPU s | resident (peak) MiB | journal bytes "
             "| snapshot bytes | folder entries | built in s | /api/jobs bytes, ms | ?limit=30 bytes, ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind, figure in figures.items():
        versus = f"{figure['start_s'] - fresh['start_s']:+.3f}" if fresh else ""
        built = f"{figure['built_s']:.0f}" if figure["built_s"] is not None else ""
        lines.append(f"| {kind} | {figure['start_s']:.3f} ({figure['start_max_s']:.3f}) | {versus} "
                     f"| {figure['cpu_s']:.3f} | {figure['rss_mib']:.0f} ({figure['peak_mib']:.0f}) "
                     f"| {figure['journal_bytes']:,} "
                     f"| {figure['snapshot_bytes']:,} "
                     f"| {figure['folder_entries']:,} | {built} "
                     f"| {figure['list_bytes']:,.0f}, {figure['list_s'] * 1000:.1f} "
                     f"| {figure['page_bytes']:,.0f}, {figure['page_s'] * 1000:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    """Build the histories, time the starts, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tail", type=int, default=TAIL,
                        help="jobs after the last maintenance: the journal a start reads beyond the snapshot")
    parser.add_argument("--root", default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"some of {','.join(KINDS)}")
    parser.add_argument("--scratch", default=None,
                        help="where to build the folders (default: a temporary one)")
    options = parser.parse_args(argv)
    kinds = [kind for kind in options.kinds.split(",") if kind]
    if set(kinds) - set(KINDS):
        parser.error(f"--kinds takes {','.join(KINDS)}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=options.scratch, prefix="lss-history-") as scratch:
        figures = measure(os.path.abspath(options.root), options.jobs, options.runs, kinds, scratch,
                          min(options.tail, options.jobs))
    print(report(figures, options.jobs, options.runs, options.root))
    print(f"\n({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
