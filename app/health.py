"""What a load balancer and a monitoring system ask: /livez, /readyz and /metrics."""
from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from app.stores.base import StoreUnavailable

health = Blueprint("health", __name__)


def _service():
    return current_app.extensions["le_stats_sportif"]


@health.get("/livez")
def livez():
    """The process runs and answers."""
    return jsonify({"status": "alive"})


@health.get("/readyz")
def readyz():
    """The process can take work: its store is reachable and it is not draining."""
    service = _service()
    if service.pool.is_shutting_down:
        return jsonify({"status": "error", "reason": "shutting down"}), 503
    try:
        service.store.ping()
    except StoreUnavailable as error:
        return jsonify({"status": "error", "reason": str(error)}), 503
    return jsonify({"status": "ready"})


@health.get("/metrics")
def metrics():
    """Prometheus's text format."""
    return Response(_service().metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
