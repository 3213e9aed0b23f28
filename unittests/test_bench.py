"""The benchmark's own tools: the load generator counts and checks right, the synthetic data is sound,
Redis's own counts give a job's round trips."""
import csv
import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from bench.ceiling_server import create_ceiling_app
from bench.loadgen import LoadRun, build_mix
from bench.naive_server import create_naive_app
from bench.redis_probe import (RedisProcess, hot_path_round_trips, jobs_per_second, on_paper,
                               parse_csv_output, script_calls)
from bench.run_bench import PortPicker
from bench.synth import write_synthetic
from bench.wrk import MixError, run_wrk, write_mix
from checker.reference import Reference
from unittests.test_speed import CSV, LOW


@pytest.fixture(name="csv_path")
def fixture_csv_path(csv_file):
    return csv_file(CSV)


@pytest.fixture(name="serve")
def fixture_serve():
    """Serve a WSGI app over real HTTP on a free port; return its URL."""
    servers = []

    def serve(app):
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()


@pytest.fixture(name="ours")
def fixture_ours(tmp_path, csv_path):
    app = create_app({"CSV_PATH": str(csv_path), "RESULTS_DIR": str(tmp_path / "results"),
                      "LOG_FILE": str(tmp_path / "webserver.log"), "NUM_THREADS": 2})
    yield app
    app.extensions["le_stats_sportif"].shutdown(wait=True, timeout=10)


def _jobs_on_server(app):
    return app.extensions["le_stats_sportif"].store.last_id


def test_the_load_counts_every_job_and_finds_every_answer_right(ours, serve, csv_path):
    mix, expected = build_mix(Reference(csv_path))
    result = LoadRun(serve(ours), mix, expected, clients=3).run(60, max_jobs=40)
    assert result.errors == 0 and result.wrong == 0, result.samples
    assert 40 <= result.jobs <= _jobs_on_server(ours)
    # Clients stop with at most one job each in flight.
    assert _jobs_on_server(ours) <= result.jobs + 3
    assert len(result.latencies) == result.jobs
    assert result.requests >= 2 * result.jobs


def test_a_wrong_answer_is_counted_for_every_job_that_gets_it(ours, serve, csv_path):
    ours.extensions["le_stats_sportif"].catalog.get().global_mean = lambda question: {"global_mean": -1.0}
    mix, expected = build_mix(Reference(csv_path))
    # One client, so that the jobs alternate: best5, global_mean, best5, ...
    mix = [item for item in mix if item.endpoint in ("global_mean", "best5")]
    assert [item.endpoint for item in mix[:2]] == ["best5", "global_mean"]
    result = LoadRun(serve(ours), mix, expected, clients=1).run(60, max_jobs=20)
    assert result.errors == 0 and result.jobs == 20
    assert result.wrong == 10
    assert all("global_mean" in sample for sample in result.samples)


def test_refused_requests_are_errors(ours, serve, csv_path):
    mix, expected = build_mix(Reference(csv_path))
    broken = [type(item)("no_such_statistic", item.body, item.answer_key) for item in mix]
    result = LoadRun(serve(ours), broken, expected, clients=2).run(0.5)
    assert result.jobs == 0 and result.errors > 0
    assert "404" in result.samples[0]


def test_the_comparison_servers_answer_right(tmp_path, serve, csv_path):
    mix, expected = build_mix(Reference(csv_path))
    for app in (create_ceiling_app(str(csv_path)),
                create_naive_app(str(csv_path), str(tmp_path / "naive"), str(tmp_path / "naive.log"), 2)):
        result = LoadRun(serve(app), mix, expected, clients=2).run(60, max_jobs=len(mix))
        assert result.errors == 0 and result.wrong == 0, result.samples
        assert result.jobs >= len(mix)


def test_a_synthetic_data_set_repeats_the_rows_with_values_moved_a_little(tmp_path, csv_path):
    target = tmp_path / "x3.csv"
    assert write_synthetic(csv_path, target, 3) == 18
    with open(csv_path, newline="", encoding="utf-8") as file:
        original = list(csv.reader(file))
    with open(target, newline="", encoding="utf-8") as file:
        copied = list(csv.reader(file))
    assert copied[0] == original[0] and len(copied) == 1 + 3 * 6
    for copy in range(3):
        for row, source in zip(copied[1 + copy * 6:1 + (copy + 1) * 6], original[1:]):
            assert row[1:3] == source[1:3] and row[4:] == source[4:]
            assert abs(float(row[3]) - float(source[3])) <= (1.0 if copy else 0.0)
    assert Reference(target).questions() == Reference(csv_path).questions()
    assert Reference(target).states(LOW) == Reference(csv_path).states(LOW)


@pytest.fixture(name="bench_redis")
def fixture_bench_redis(tmp_path):
    """The benchmark's own redis-server, fresh, on a free port."""
    server = RedisProcess(str(tmp_path), PortPicker().pick()).start()
    yield server
    server.stop()


def test_redis_counts_at_most_three_round_trips_for_each_job_of_the_load(tmp_path, serve, csv_path, bench_redis):
    app = create_app({"CSV_PATH": str(csv_path), "RESULTS_DIR": str(tmp_path / "results"),
                      "LOG_FILE": str(tmp_path / "webserver.log"), "DATASETS_DIR": str(tmp_path / "datasets"),
                      "REDIS_URL": bench_redis.url(1), "NUM_THREADS": 2})
    try:
        url = serve(app)
        mix, expected = build_mix(Reference(csv_path))
        # The first job reads the shutdown epoch once: not part of any later job's path.
        LoadRun(url, mix, expected, clients=1).run(60, max_jobs=1)
        before = bench_redis.counters(settle=1)
        result = LoadRun(url, mix, expected, clients=2).run(60, max_jobs=40)
        after = bench_redis.counters(settle=1)
    finally:
        app.extensions["le_stats_sportif"].shutdown(wait=True, timeout=10)
    assert result.errors == 0 and result.wrong == 0, result.samples
    deltas = {name: value - before.get(name, 0) for name, value in after.items()}
    calls = script_calls(deltas)
    assert calls["CREATE"] == calls["FINISH"] >= result.jobs >= 40
    # Most first done polls are answered by the process that ran the job, without Redis.
    assert calls["LOOKUP"] < calls["FINISH"]
    # Requests beyond a submission and a done poll a job: polls that found their job running,
    # and the submissions of jobs still running when the load stopped (a CREATE each).
    deltas["polls running"] = max(0, result.requests - result.jobs - calls["CREATE"])
    assert 2 <= hot_path_round_trips(deltas, bench_redis.handshake) < 3, (deltas, result.requests, result.jobs)


def test_the_paper_figures_run_the_stores_scripts(bench_redis):
    rates, notes = on_paper(bench_redis, b'{"Ohio": 12.5}', requests=200, pipelines=(1,))
    tests = {"SET", "GET", "INCR", "CREATE", "LOOKUP"} | ({"CREATE+FINISH"} if not notes else set())
    assert set(rates) == {(test, 1) for test in tests}
    assert all(rate > 0 for rate in rates.values())
    assert 0 < jobs_per_second(rates, 1) < rates["LOOKUP", 1]


def test_redis_benchmark_figures_are_read_whatever_the_command_holds():
    text = ('"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",'
            '"p99_latency_ms","max_latency_ms"\n'
            '"SET","54054.05","0.581","0.144","0.575","0.855","1.015","3.551"\n'
            '"EVALSHA abc 1 k {"q":"a, b"}","31000.00","0.6","0.1","0.5","0.8","1.0","4.8"\n')
    assert parse_csv_output(text) == {"SET": 54054.05, 'EVALSHA abc 1 k {"q":"a, b"}': 31000.0}


def test_wrk_counts_every_job_and_compares_every_answer(ours, serve, csv_path, tmp_path):
    mix, expected = build_mix(Reference(csv_path))
    url = serve(ours)
    mix_file = tmp_path / "mix.tsv"
    assert write_mix(url, mix, expected, mix_file) == len(expected)
    before = _jobs_on_server(ours)
    result = run_wrk(url, str(mix_file), 1, connections=2)
    assert result.failures == 0, result.samples
    assert result.jobs > 10 and result.requests_per_job >= 2
    # Every answered submission made a job; the run's end may cut off one a connection,
    # and leave one a connection unfinished.
    created = _jobs_on_server(ours) - before
    assert result.submits <= created <= result.submits + 2
    assert result.jobs <= result.submits <= result.jobs + 2
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms


def test_wrk_counts_an_answer_that_differs_from_the_checked_one_as_wrong(ours, serve, csv_path, tmp_path):
    mix, expected = build_mix(Reference(csv_path))
    url = serve(ours)
    mix_file = tmp_path / "mix.tsv"
    write_mix(url, mix, expected, mix_file)
    lines = mix_file.read_text().splitlines()
    # Every request of the file expects a different answer than the server gives.
    mix_file.write_text("".join(line.replace('"data": ', '"data": [0, ') + "\n" for line in lines))
    result = run_wrk(url, str(mix_file), 1, connections=2)
    assert result.wrong == result.jobs > 0 and result.errors == 0
    assert any(sample.startswith("wrong: ") for sample in result.samples)


def test_the_mix_is_refused_when_the_server_answers_other_than_the_reference(ours, serve, csv_path, tmp_path):
    mix, expected = build_mix(Reference(csv_path))
    key = next(iter(expected))
    expected[key] = {"not": "the answer"}
    with pytest.raises(MixError):
        write_mix(serve(ours), [item for item in mix if item.answer_key == key], expected, tmp_path / "mix.tsv")
