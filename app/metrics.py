"""The service's metrics, in Prometheus's text format at GET /metrics.

Each app has a registry of its own. When several worker processes serve
(gunicorn with PROMETHEUS_MULTIPROC_DIR set, as gunicorn.conf.py does for
more than one worker), prometheus_client keeps every process's values in
files of that folder and /metrics adds them up, whichever process answers.
"""
import os
import time

from flask import request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:  # pylint: disable=too-few-public-methods
    """The counters, gauge and histogram the service updates."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.submitted = Counter("lss_jobs_submitted", "Jobs accepted", registry=self.registry)
        self.finished = Counter("lss_jobs_finished", "Jobs that ended done", registry=self.registry)
        self.failed = Counter("lss_jobs_failed", "Jobs that ended in error", registry=self.registry)
        self.waiting = Gauge("lss_jobs_waiting", "Jobs queued or running in a pool",
                             multiprocess_mode="livesum", registry=self.registry)
        self.takeovers = Counter("lss_takeover_jobs", "Jobs of stopped processes claimed and run again",
                                 registry=self.registry)
        self.latency = Histogram("lss_request_seconds", "Time from a request to its answer, by route",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)

    def exposition(self):
        """The text of GET /metrics: this process's values, or every worker's."""
        if os.environ.get(MULTIPROCESS_DIR):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def time_requests(app, metrics):
    """Observe each request's time in the histogram, under the route that served it."""
    # (method, route): its series of the histogram; labels() takes a lock each call.
    series = {}

    @app.before_request
    def start_clock():
        request.environ["le_stats_sportif.clock"] = time.perf_counter()

    @app.after_request
    def observe(response):
        current = request._get_current_object()  # pylint: disable=protected-access
        started = current.environ.get("le_stats_sportif.clock")
        if started is not None:
            # The route's pattern, not the path: one series per route, whatever
            # the ids; each statistic is a route of its own.
            route = current.url_rule.rule if current.url_rule else "unmatched"
            if current.view_args and "statistic" in current.view_args:
                route = f"/api/{current.view_args['statistic']}"
            key = (current.method, route)
            found = series.get(key)
            if found is None:
                found = series[key] = metrics.latency.labels(*key)
            found.observe(time.perf_counter() - started)
        return response
