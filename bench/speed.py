"""Speed against the real ceiling: every server kind on every candidate HTTP server, driven by wrk.

`python -m bench.speed [--rounds 6] [--seconds 3] [--quick] [--port-base 5900]`

Each candidate HTTP server serves the three servers of the benchmark (ours,
the ceiling probe, the naive baseline), so every ratio compares like with
like. Every server first answers each distinct request of the mix once, and
those answers are checked against the independent reference (bench.wrk);
then the rounds are interleaved (each round runs every server once, in a
rotating order) so that a busy spell of the shared machine falls on all of
them alike. The figures of a server are summed over its rounds; the spread
is the lowest and highest round.

The section "What each duty costs" serves ours on `make serve`'s server with
one duty switched off at a time (bench.breakdown), in one interleaved run.
The report goes to bench/out/speed.md.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone

from bench.loadgen import build_mix
from bench.run_bench import BUNDLED, PortPicker, ServerProcess, load_average, machine, write_report
from bench.wrk import WrkResult, run_wrk, write_mix
from checker.reference import Reference

# (label, kind, HTTP server) of the speed section. "granian" is `make serve`.
CANDIDATES = ("granian", "granian-wsgi", "waitress", "gunicorn")
KINDS = ("ours", "ceiling", "naive")
MAKE_SERVE = "granian"
# Today's `make serve` before granian: the baseline of the p99 target.
BEFORE = "waitress"
# The duties of the breakdown, off one at a time, then all four.
DUTIES = ("log", "journal", "files", "pool")
TARGET_SHARE = 0.5
TARGET_REQUESTS = 2.1


class Tally:
    """A server's results over its rounds."""

    def __init__(self, server):
        self.server = server
        self.total = WrkResult()
        self.rates = []
        self.p50s = []
        self.p99s = []
        self.cpu = 0.0
        self.switches = 0

    def add(self, result, cpu, switches):
        """Count one round."""
        for name in ("seconds", "jobs", "submits", "polls", "errors", "wrong", "socket_errors", "non_2xx"):
            setattr(self.total, name, getattr(self.total, name) + getattr(result, name))
        self.total.samples.extend(result.samples[:3])
        self.rates.append(result.jobs_per_second)
        self.p50s.append(result.p50_ms)
        self.p99s.append(result.p99_ms)
        self.cpu += cpu
        self.switches += switches

    @property
    def rate(self):
        """Jobs per second over every round."""
        return self.total.jobs_per_second

    @property
    def p50_ms(self):
        """The median of the rounds' p50."""
        return statistics.median(self.p50s)

    @property
    def p99_ms(self):
        """The median of the rounds' p99 (wrk keeps each round's latencies apart)."""
        return statistics.median(self.p99s)

    def cell(self):
        """jobs/s and the spread of the rounds."""
        return f"{self.rate:,.0f} ({min(self.rates):,.0f} to {max(self.rates):,.0f})"

    def per_job(self, value):
        """`value` divided over the jobs, or nan."""
        return value / self.total.jobs if self.total.jobs else float("nan")


def interleaved(servers, options, scratch):
    """{label: Tally} of `servers` over options.rounds interleaved rounds."""
    reference = Reference(BUNDLED)
    mix, expected = build_mix(reference)
    tallies, mix_files = {}, {}
    for server in servers:
        mix_files[server.label] = os.path.join(scratch, f"mix-{server.port}.tsv")
        distinct = write_mix(server.url, mix, expected, mix_files[server.label])
        print(f"  {server.label}: {distinct} distinct answers right", flush=True)
        # Warm-up, not counted.
        run_wrk(server.url, mix_files[server.label], options.warmup, options.connections)
        tallies[server.label] = Tally(server)
    for number in range(options.rounds):
        order = servers[number % len(servers):] + servers[:number % len(servers)]
        for server in order:
            cpu, switches = server.cpu_seconds(), server.context_switches()
            result = run_wrk(server.url, mix_files[server.label], options.seconds, options.connections)
            tallies[server.label].add(result, server.cpu_seconds() - cpu, server.context_switches() - switches)
            print(f"  round {number + 1} {server.label:>28}: {result.jobs_per_second:7.0f} jobs/s "
                  f"{result.requests_per_job:.2f} requests/job p99 {result.p99_ms:.1f} ms "
                  f"{result.failures} failures", flush=True)
    return tallies


def start_all(specs, scratch, ports):
    """ServerProcesses of (label, kind, wsgi, without) specs, started and answering."""
    servers = [ServerProcess(kind, BUNDLED, scratch, ports.pick(), wsgi, label, without)
               for label, kind, wsgi, without in specs]
    for server in servers:
        server.start()
    for server in servers:
        server.first_answer(Reference(BUNDLED).questions()[0])
    return servers


def stop_all(servers):
    """Stop every server; the labels of ours that did not exit 0 (the comparison servers have no drain)."""
    return [server.label for server in servers if server.stop() != 0 and server.kind == "ours"]


def speed_section(options, scratch, ports):
    """(report lines, {label: Tally}) of every kind on every candidate."""
    specs = [(f"{kind}, {wsgi}", kind, wsgi, ()) for wsgi in options.candidates for kind in KINDS]
    servers = start_all(specs, scratch, ports)
    try:
        tallies = interleaved(servers, options, scratch)
    finally:
        unclean = stop_all(servers)
    lines = ["| server | ours jobs/s | ceiling jobs/s | naive jobs/s | ours / ceiling | requests/job (ours) "
             "| p50 / p99 ms (ours) | server CPU ms/job (ours) | context switches/job (ours) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for wsgi in options.candidates:
        ours, ceiling, naive = (tallies[f"{kind}, {wsgi}"] for kind in KINDS)
        name = f"{wsgi} (`make serve`)" if wsgi == MAKE_SERVE else wsgi
        lines.append(f"| {name} | {ours.cell()} | {ceiling.cell()} | {naive.cell()} "
                     f"| {ours.rate / ceiling.rate:.2f} | {ours.total.requests_per_job:.2f} "
                     f"| {ours.p50_ms:.1f} / {ours.p99_ms:.1f} "
                     f"| {ours.per_job(ours.cpu) * 1000:.3f} | {ours.per_job(ours.switches):.1f} |")
    lines += ["", *targets(tallies, options), *failures(tallies, unclean)]
    return lines, tallies


def targets(tallies, options):
    """The issue's targets, each with its figure."""
    ours = tallies[f"ours, {MAKE_SERVE}"]
    ceilings = {wsgi: tallies[f"ceiling, {wsgi}"].rate for wsgi in ("granian", "granian-wsgi")
                if wsgi in options.candidates}
    best_wsgi, best = max(ceilings.items(), key=lambda item: item[1])
    lines = [f"- `make serve` / the ceiling probe on granian with one worker (the higher of its two "
             f"interfaces, {best_wsgi}: {best:,.0f} jobs/s): **{ours.rate / best:.2f}** "
             f"(target at least {TARGET_SHARE}): {'met' if ours.rate / best >= TARGET_SHARE else 'NOT met'}.",
             f"- Requests per job: **{ours.total.requests_per_job:.2f}** (target at most {TARGET_REQUESTS}): "
             f"{'met' if ours.total.requests_per_job <= TARGET_REQUESTS else 'NOT met'}."]
    if BEFORE in options.candidates:
        before = tallies[f"ours, {BEFORE}"]
        verdict = "met" if ours.p99_ms <= before.p99_ms else "NOT met"
        lines.append(f"- p99 from submit to done: **{ours.p99_ms:.1f} ms** against {before.p99_ms:.1f} ms on "
                     f"{BEFORE}, `make serve` before (target: no worse): {verdict}.")
    return lines


def failures(tallies, unclean):
    """Lines on errors, wrong answers and servers that did not stop cleanly."""
    lines = []
    for label, tally in tallies.items():
        total = tally.total
        if total.failures:
            lines.append(f"- {label}: {total.errors} errors, {total.wrong} wrong, {total.socket_errors} socket "
                         f"errors, {total.non_2xx} non-2xx; e.g. {total.samples[:2]}")
    if not lines:
        lines.append(f"- Errors and wrong answers: 0 in {sum(t.total.jobs for t in tallies.values()):,} jobs.")
    if unclean:
        lines.append(f"- Did not exit 0 on SIGTERM: {', '.join(unclean)}.")
    return lines


def breakdown_section(options, scratch, ports):
    """(report lines, {label: Tally}) of ours on `make serve` with each duty switched off."""
    variants = [("all duties", ()), *((f"without {duty}", (duty,)) for duty in DUTIES),
                ("without all four", DUTIES)]
    specs = [(label, "ours", MAKE_SERVE, without) for label, without in variants]
    specs.append(("ceiling", "ceiling", MAKE_SERVE, ()))
    servers = start_all(specs, scratch, ports)
    try:
        tallies = interleaved(servers, options, scratch)
    finally:
        unclean = stop_all(servers)
    whole = tallies["all duties"]
    lines = ["| ours on `make serve` | jobs/s | CPU ms/job | what the duty costs (CPU per job) "
             "| ratio to the ceiling |", "|---|---|---|---|---|"]
    for label, _ in variants:
        tally = tallies[label]
        cost = whole.per_job(whole.cpu) - tally.per_job(tally.cpu)
        lines.append(f"| {label} | {tally.cell()} | {tally.per_job(tally.cpu) * 1000:.3f} "
                     f"| {'' if tally is whole else f'{cost * 1e6:.0f} us'} "
                     f"| {tally.rate / tallies['ceiling'].rate:.2f} |")
    lines.append(f"| ceiling probe | {tallies['ceiling'].cell()} "
                 f"| {tallies['ceiling'].per_job(tallies['ceiling'].cpu) * 1000:.3f} | | 1.00 |")
    return ["", *lines, "", *failures(tallies, unclean)], tallies


def parse_options(argv):
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round of 1 s")
    parser.add_argument("--port-base", type=int, default=0)
    parser.add_argument("--candidates", default=",".join(CANDIDATES),
                        help=f"HTTP servers to compare, from {', '.join(CANDIDATES)}")
    parser.add_argument("--only", choices=("speed", "breakdown"), action="append")
    options = parser.parse_args(argv)
    options.candidates = [name for name in options.candidates.split(",") if name]
    unknown = set(options.candidates) - set(CANDIDATES)
    if unknown or MAKE_SERVE not in options.candidates:
        parser.error(f"--candidates: from {', '.join(CANDIDATES)}, with {MAKE_SERVE}")
    if options.quick:
        options.rounds, options.seconds = 1, 1
    options.warmup = 1
    options.only = set(options.only or ("speed", "breakdown"))
    return options


def main(argv=None):
    """Run the sections; exit 1 if a server answered wrong or failed."""
    options = parse_options(argv)
    started = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [f"Machine: {machine()}.", f"Date: {stamp}. Load average at start: {load_average()}.",
              f"wrk: {options.connections} connections, each a closed loop of submit, poll until done, next; "
              f"{options.rounds} interleaved rounds of {options.seconds} s."]
    print("\n".join(header), flush=True)
    report = ["# Speed report", "", *header, "",
              f"Command: python -m bench.speed {' '.join(sys.argv[1:] if argv is None else argv)}", ""]
    failed = False
    ports = PortPicker(options.port_base)
    with tempfile.TemporaryDirectory(prefix="lss-speed-") as scratch:
        if "speed" in options.only:
            lines, tallies = speed_section(options, scratch, ports)
            failed |= any(tally.total.failures for tally in tallies.values())
            report += ["## Every server on every candidate", "", *lines, ""]
        if "breakdown" in options.only:
            lines, tallies = breakdown_section(options, scratch, ports)
            failed |= any(tally.total.failures for tally in tallies.values())
            report += ["## What each duty costs", *lines, ""]
    write_report(report, started, "speed.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
