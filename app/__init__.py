"""Le Stats Sportif: statistics of the CDC nutrition and activity survey over HTTP."""
import functools

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from app.config import load_config
from app.dashboard import pages
from app.dataset_folder import DatasetFolder
from app.dataset_routes import datasets_api
from app.datasets import DatasetCatalog
from app.guard import check_guard_settings, guard_requests
from app.health import health
from app.jobs import JobService
from app.logs import log_requests, make_logger
from app.metrics import ServiceMetrics, time_requests
from app.openapi import api_description
from app.routes import api
from app.stores import open_store
from app.stores.redis_datasets import SharedDatasetFolder
from app.task_runner import ThreadPool


def create_app(config=None):
    """Build the app: load the data, open the job store, start the workers.

    `config` overrides the settings of app.config (which otherwise come
    from the environment), for example {"RESULTS_DIR": ..., "NUM_THREADS": 2}.
    """
    app = Flask(__name__)
    # Flask asks of every view and hook, at every request, whether it is a
    # coroutine function; the answer never changes.
    app.ensure_sync = functools.cache(app.ensure_sync)
    app.config.update(load_config(config))
    check_guard_settings(app.config)
    app.json.sort_keys = False
    # Werkzeug answers a path with "//" by a redirect with an HTML body;
    # a JSON API answers it 404 like any other unknown path.
    app.url_map.merge_slashes = False

    logger = make_logger(app.config["LOG_FILE"], app.config["LOG_MAX_BYTES"],
                         app.config["LOG_BACKUPS"], app.config["LOG_FLUSH_MS"])
    store = open_store(app.config)
    folder = (SharedDatasetFolder(app.config["DATASETS_DIR"], store.client) if store.shared
              else DatasetFolder(app.config["DATASETS_DIR"]))
    catalog = DatasetCatalog(app.config["CSV_PATH"], folder, logger)
    pool = ThreadPool(app.config["NUM_THREADS"], app.config["MAX_PENDING_JOBS"], logger)
    metrics = ServiceMetrics()
    app.extensions["le_stats_sportif"] = JobService(store, pool, catalog, logger, metrics)
    app.extensions["le_stats_sportif.logger"] = logger

    app.register_blueprint(api)
    app.register_blueprint(health)
    app.register_blueprint(datasets_api)
    app.register_blueprint(api_description)
    app.register_blueprint(pages)
    log_requests(app, logger)
    time_requests(app, metrics)
    # After the log and the clock, so that refused requests are logged and timed too.
    guard_requests(app)
    _answer_errors_in_json(app, logger)
    logger.info("started: %d threads, data %s, jobs in %s", pool.num_threads, app.config["CSV_PATH"],
                f"Redis ({store.process_id} of the cluster)" if store.shared else app.config["RESULTS_DIR"])
    return app


def _answer_errors_in_json(app, logger):
    """Every error a client can meet is JSON with a reason, never an HTML page."""

    @app.errorhandler(HTTPException)
    def http_error(error):
        response = error.get_response()
        response.data = jsonify({"status": "error", "reason": error.description}).get_data()
        response.content_type = "application/json"
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error):
        logger.exception("unexpected error: %r", error)
        return jsonify({"status": "error", "reason": "internal error"}), 500
