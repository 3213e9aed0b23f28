"""Who may do what: the operator's token, requests other sites make browsers send, and rate limits.

The course contract lets anyone who reaches the server stop it (a GET, so
that a browser can) and upload data sets. That is fine on a trusted
loopback and nowhere else, so three checks run before any route:

- A request that changes something and that a browser marks as coming from
  another site is refused (403), token or not: a page the user happens to
  visit must not be able to use the user's browser to reach this server.
  Clients that are not browsers (curl, requests, the grading scripts) send
  neither header and are not affected.
- With LSS_ADMIN_TOKEN set, stopping the server and changing the data sets
  need it as a Bearer token (401 otherwise); statistics and reads stay open.
- With LSS_RATE_LIMIT set, each client address may send only so many
  requests that start jobs or change data (429, with Retry-After).

The same hook refuses uploads after a graceful shutdown, as the statistics
are, and answers OPTIONS in JSON like everything else. Each app gets its own
Limiter, built here, so that no state outlives the app.
"""
import hmac
import ipaddress
import logging
import math
import socket
import sys
import time
from urllib.parse import urlsplit

import click
import redis
from flask import current_app, jsonify, request
from flask.cli import run_command
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.config import ConfigError

# Methods that only read; every other one changes something.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A GET that changes something anyway: the contract made it one.
SHUTDOWN_PATH = "/api/graceful_shutdown"
DATASETS_PATH = "/api/datasets"
# What Sec-Fetch-Site says for a request that another origin made the browser send.
# "same-site" counts too: a site ignores the port, so a page on any other port
# of this host (another local web service, say) is "same-site", and the only
# pages that need to change anything here are this server's own, which are
# "same-origin". "none" is the user's own act (an address typed or bookmarked).
OTHER_SITE = frozenset({"cross-site", "same-site"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# A token shorter than this could be guessed by a client trying tokens in a loop.
MIN_TOKEN_CHARS = 16
REALM = 'Bearer realm="Le Stats Sportif"'
# The rate limits' keys, beside the job store's (app.stores.redis_keys) in the same Redis.
RATE_KEY_PREFIX = "lss:rate"


def changes_something(method, path):
    """Whether a request may change the server's state: every method but the reading ones,
    and the GET that stops the server (its HEAD runs the same view)."""
    return method not in SAFE_METHODS or path == SHUTDOWN_PATH


def needs_token(method, path):
    """Whether a request is the operator's to make: stopping the server, and any change to
    the data sets (uploads, deletions), whatever the route is named. `path` may be a
    request's path or a route's pattern (/api/datasets/{id} of the API description)."""
    if path == SHUTDOWN_PATH:
        return True
    return method not in SAFE_METHODS and (path == DATASETS_PATH or path.startswith(DATASETS_PATH + "/"))


def _origin(scheme, netloc):
    """(scheme, host, port) of an origin, the default port filled in; raises ValueError."""
    parts = urlsplit(f"{scheme}://{netloc}")
    if not parts.hostname:
        raise ValueError(f"no host in {netloc!r}")
    return parts.scheme, parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme)


def _same_origin(origin, scheme, host):
    """Whether an Origin header names this server as the request reached it."""
    try:
        parts = urlsplit(origin)
        return _origin(parts.scheme, parts.netloc) == _origin(scheme, host)
    except ValueError:
        # "null" (a sandboxed frame, a file), or no origin at all: not this server.
        return False


def cross_site_reason(headers, scheme, host):
    """Why a request that changes something is refused as coming from another site, or None.

    A browser says where a request comes from: Sec-Fetch-Site (every current
    browser, to HTTPS and loopback addresses), Origin (with every POST, and
    by older browsers) and, failing both, Referer. Clients that are not
    browsers send none of them, so curl and scripts pass as before.
    """
    fetch_site = headers.get("Sec-Fetch-Site", "").strip().lower()
    if fetch_site in OTHER_SITE:
        return (f"the browser says this request comes from another site (Sec-Fetch-Site: "
                f"{fetch_site}); only this server's own pages may change anything here")
    origin = headers.get("Origin")
    if origin is None and not fetch_site:
        # Browsers send neither header to a plain-HTTP address other than
        # loopback with an <img> GET, but they do send where the page was,
        # unless the page forbids it: a refusal for the careless attacker.
        referer = headers.get("Referer")
        origin = _origin_of_page(referer) if referer else None
    if origin is not None and not _same_origin(origin.strip(), scheme, host):
        return (f"the request comes from a page of {origin[:100]!r}, not of this server; "
                f"only this server's own pages may change anything here")
    return None


def _origin_of_page(url):
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        # Not a URL: compared as it is, it names no origin, let alone this server.
        return url
    return f"{parts.scheme}://{parts.netloc}"


def token_refusal(authorization, token):
    """Why a request without the operator's token is refused, or None when it has it."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return "this operation is the operator's: send the header Authorization: Bearer <LSS_ADMIN_TOKEN>"
    # In constant time, so that how long a refusal takes tells nothing about
    # how much of the token was right.
    if not hmac.compare_digest(credentials.strip().encode("utf-8"), token.encode("utf-8")):
        return "the token sent is not the operator's token"
    return None


def check_guard_settings(config):
    """Stop at start, before anything runs, on a token or a rate limit the guard cannot use."""
    token = config["ADMIN_TOKEN"]
    if token and (len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable()
                  or " " in token):
        raise ConfigError(f"LSS_ADMIN_TOKEN must be at least {MIN_TOKEN_CHARS} printable ASCII characters "
                          f"without spaces (python3 -c 'import secrets; print(secrets.token_urlsafe(32))' "
                          f"makes one)")
    limit = config["RATE_LIMIT"]
    if limit:
        try:
            parsed = parse_many(limit)
        except ValueError:
            raise ConfigError(f"LSS_RATE_LIMIT must be a rate limit such as 100/second;2000/minute, "
                              f"not {limit!r}") from None
        if any(item.amount < 1 for item in parsed):
            raise ConfigError(f"LSS_RATE_LIMIT must allow at least one request in each period, not {limit!r}")


def _refuse(reason, status):
    # A missing token or another site's page may be someone trying; a flood
    # over the rate limit or an upload while draining is only noise.
    level = logging.WARNING if status in (401, 403) else logging.INFO
    current_app.extensions["le_stats_sportif.logger"].log(level, "refused with %d: %s", status, reason)
    return jsonify({"status": "error", "reason": reason}), status


def _options_answer():
    """OPTIONS in JSON, like every other answer, with Allow; no CORS headers, since no other
    site is meant to call this API from a browser, which therefore refuses to."""
    allowed = current_app.make_default_options_response().allow
    response = jsonify({"status": "done", "data": {"allow": sorted(allowed)}})
    response.allow.update(allowed)
    return response


def guard_requests(app):
    """Check every request before its route: OPTIONS, other sites, the token, intake, the rates."""
    token = app.config["ADMIN_TOKEN"]
    service = app.extensions["le_stats_sportif"]

    @app.before_request
    def guard():
        current = request._get_current_object()  # pylint: disable=protected-access
        if current.method == "OPTIONS" and current.url_rule is not None:
            return _options_answer()
        method, path = current.method, current.path
        if changes_something(method, path):
            reason = cross_site_reason(current.headers, current.scheme, current.host)
            if reason:
                return _refuse(reason, 403)
        if current.url_rule is None:
            # No such route, or not with this method: its 404 or 405 says so.
            return None
        if token and needs_token(method, path):
            reason = token_refusal(request.headers.get("Authorization"), token)
            if reason:
                response, status = _refuse(reason, 401)
                sent = request.headers.get("Authorization") is not None
                response.headers["WWW-Authenticate"] = REALM + (', error="invalid_token"' if sent else "")
                return response, status
        if method == "POST" and path == DATASETS_PATH and service.pool.is_shutting_down:
            # Like a statistics POST: after a graceful shutdown nothing new is taken.
            return _refuse("shutting down", 503)
        return None

    # Registered after the guard, so that requests it refuses are not counted.
    _limit_rates(app)


def _limit_rates(app):
    """Flask-Limiter, per client address, on every request that starts a job or changes data.

    Reads are left alone: a client polls get_results many times for each
    job, and the dashboard polls the job list every 2 s, so a limit low
    enough to matter for writes would refuse ordinary polling, while reads
    store nothing. With the Redis store the counts are kept in the same
    Redis, so that every process of a cluster counts against one limit.
    """
    limit = app.config["RATE_LIMIT"]
    if not limit:
        return
    storage, options = "memory://", {}
    if app.config["REDIS_URL"]:
        timeout_s = app.config["REDIS_TIMEOUT_S"]
        # As the store's own client: a Redis out of reach costs a request at
        # most a few seconds, never a wait without end.
        storage, options = app.config["REDIS_URL"], {
            "key_prefix": RATE_KEY_PREFIX, "socket_timeout": timeout_s, "socket_connect_timeout": timeout_s,
            "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))}
    limiter = Limiter(
        get_remote_address, application_limits=[limit],
        application_limits_exempt_when=lambda: request.method in SAFE_METHODS,
        storage_uri=storage, storage_options=options,
        # While Redis is out of reach, count in this process rather than
        # refuse or fail: the job store answers 503 itself where it must.
        swallow_errors=True, in_memory_fallback_enabled=True)
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def too_many(error):
        retry_after = _seconds_to_reset(limiter, error)
        response, status = _refuse(f"too many requests from {request.remote_addr}: at most "
                                   f"{error.limit.limit} that start jobs or change data; "
                                   f"try again in {retry_after} s", 429)
        response.headers["Retry-After"] = str(retry_after)
        return response, status


def _seconds_to_reset(limiter, error):
    """Whole seconds until the breached limit lets a request through again."""
    try:
        reset_time, _ = limiter.current_limit.window
    except Exception:  # pylint: disable=broad-exception-caught
        # The storage failed since it counted: its whole period is a safe wait.
        return int(error.limit.limit.get_expiry())
    return max(1, math.ceil(reset_time - time.time()))


def flask_run_host():
    """The address `flask run` listens on (--host or FLASK_RUN_HOST), or None outside it."""
    context = click.get_current_context(silent=True)
    if context is None or context.command is not run_command:
        return None
    return context.params.get("host")


def is_loopback(host):
    """Whether only this machine can reach `host`: a loopback address, or a name of one."""
    host = host.strip().strip("[]").lower()
    try:
        return ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(address.partition("%")[0]).is_loopback
                                   for address in addresses)


def warn_if_exposed(app, hosts):
    """Say loudly, on stderr and in the log, when a server without a token listens beyond loopback.

    `hosts` are the addresses it listens on; returns whether it warned.
    """
    exposed = [host for host in hosts if not is_loopback(host)]
    if app.config["ADMIN_TOKEN"] or not exposed:
        return False
    message = (f"listening on {', '.join(exposed)} without LSS_ADMIN_TOKEN: anyone who can reach this "
               f"address can stop the server (GET /api/graceful_shutdown) and fill its disk with uploads. "
               f"Set LSS_ADMIN_TOKEN, or listen on 127.0.0.1 only (FLASK_RUN_HOST).")
    app.extensions["le_stats_sportif.logger"].warning(message)
    print(f"WARNING: {message}", file=sys.stderr, flush=True)
    return True
