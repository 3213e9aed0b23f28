"""The guard in front of every route (app.guard): the operator's token, requests that
pages of other sites make browsers send, rate limits per client, uploads after a
shutdown, OPTIONS in JSON, and the warning of a server that listens beyond loopback."""
import contextlib
import hmac
import io
import json
import os
import threading

import pytest
import redis
import requests
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from app import guard
from app.config import ConfigError
from app.guard import cross_site_reason, is_loopback, needs_token, token_refusal, warn_if_exposed
from unittests.conftest import LOW, STORES, wait_for
from unittests.dataset_support import csv_text, own_rows
from unittests.stress.servers import ServerProcess
from unittests.test_openapi import Exchanges

TOKEN = "s3cret-token-of-the-operator-0123"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
STATISTIC = {"question": LOW}
# What a browser adds to a request that a page of another site makes it send.
OTHER_SITES = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://localhost:8080"},
    {"Origin": "https://localhost"},
    {"Referer": "http://evil.example/page.html"},
]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _upload(client, headers=None, name="mine.csv"):
    return client.post("/api/datasets", data={"file": (io.BytesIO(csv_text(own_rows()).encode()), name)},
                       content_type="multipart/form-data", headers=headers or {})


def _datasets(client):
    return [dataset["id"] for dataset in client.get("/api/datasets").get_json()["data"]]


def _nothing_was_done(app, client):
    """No job, no data set, and intake still open."""
    assert client.get("/api/jobs").get_json()["data"] == []
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 0}
    assert _datasets(client) == ["default"]
    assert not os.path.exists(app.config["DATASETS_DIR"]) or not os.listdir(app.config["DATASETS_DIR"])
    assert not app.extensions["le_stats_sportif"].pool.is_shutting_down
    assert client.get("/readyz").status_code == 200


def _cors_headers(response):
    return [name for name in response.headers.keys() if name.lower().startswith("access-control-")]


def _refused(response, status):
    assert response.status_code == status, response.data[:300]
    body = response.get_json()
    assert body["status"] == "error" and body["reason"], body
    return body["reason"]


# The operator's token.

@pytest.mark.parametrize("store", STORES)
def test_stopping_the_server_needs_the_token(make_app, store):
    app = make_app(store, ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    missing = client.get("/api/graceful_shutdown")
    assert "Authorization: Bearer" in _refused(missing, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    for wrong in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer", TOKEN):
        response = client.get("/api/graceful_shutdown", headers={"Authorization": wrong})
        _refused(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # HEAD runs the same view: it must not stop the server either.
    assert client.head("/api/graceful_shutdown").status_code == 401
    assert not app.extensions["le_stats_sportif"].pool.is_shutting_down
    assert client.post("/api/states_mean", json=STATISTIC).status_code == 200

    response = client.get("/api/graceful_shutdown", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200 and response.get_json()["status"] in ("running", "done")
    assert app.extensions["le_stats_sportif"].pool.is_shutting_down


@pytest.mark.parametrize("store", STORES)
def test_uploading_needs_the_token_and_nothing_is_kept_without_it(make_app, store):
    app = make_app(store, ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    _refused(_upload(client), 401)
    _refused(_upload(client, {"Authorization": "Bearer not-the-token-at-all-no"}), 401)
    _nothing_was_done(app, client)
    assert _upload(client, BEARER).status_code == 201
    assert len(_datasets(client)) == 2


def test_deleting_a_data_set_needs_the_token(make_app):
    assert needs_token("DELETE", "/api/datasets/3f2a9c1b7d4e")
    assert needs_token("DELETE", "/api/datasets/{dataset_id}")
    assert needs_token("POST", "/api/datasets") and needs_token("GET", "/api/graceful_shutdown")
    assert not needs_token("GET", "/api/datasets") and not needs_token("POST", "/api/states_mean")
    app = make_app(ADMIN_TOKEN=TOKEN)
    deleted = []
    if not any("DELETE" in rule.methods and rule.rule.startswith("/api/datasets/")
               for rule in app.url_map.iter_rules()):
        # Where the data sets' routes have no deletion, a stand-in at its address.
        def stand_in(dataset_id):
            deleted.append(dataset_id)
            return {"status": "done"}
        app.add_url_rule("/api/datasets/<dataset_id>", "stand_in_delete", stand_in, methods=["DELETE"])
    client = app.test_client()
    dataset = _upload(client, BEARER).get_json()["data"]["id"]
    _refused(client.delete(f"/api/datasets/{dataset}"), 401)
    _refused(client.delete(f"/api/datasets/{dataset}", headers={"Authorization": "Bearer nope"}), 401)
    assert dataset in _datasets(client) and not deleted
    assert client.delete(f"/api/datasets/{dataset}", headers=BEARER).status_code == 200


@pytest.mark.parametrize("store", STORES)
def test_statistics_and_reads_stay_open_with_a_token(make_app, store):
    app = make_app(store, ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    job_id = client.post("/api/states_mean", json=STATISTIC).get_json()["job_id"]
    assert client.post("/api/start", json={"task": "best5", **STATISTIC}).status_code == 200
    assert wait_for(client, job_id)["status"] == "done"
    for route in (f"/api/get_results/{job_id}", f"/api/results/{job_id}", f"/api/status/{job_id}",
                  "/api/jobs",
                  "/api/num_jobs", "/api/questions", "/api/states", "/api/datasets", "/livez", "/readyz",
                  "/metrics", "/api/openapi.json", "/", "/docs"):
        assert client.get(route).status_code == 200, route


def test_the_token_is_compared_in_constant_time(monkeypatch):
    compared = []
    real = hmac.compare_digest

    def recording(sent, expected):
        compared.append((sent, expected))
        return real(sent, expected)

    monkeypatch.setattr(guard.hmac, "compare_digest", recording)
    assert token_refusal(f"Bearer {TOKEN}", TOKEN) is None
    assert token_refusal("Bearer wrong", TOKEN) is not None
    # Bytes: compare_digest on str is constant-time only for ASCII.
    assert compared == [(TOKEN.encode(), TOKEN.encode()), (b"wrong", TOKEN.encode())]


@pytest.mark.parametrize("settings", [{"ADMIN_TOKEN": "short"}, {"ADMIN_TOKEN": "a token with spaces inside"},
                                      {"RATE_LIMIT": "lots"}, {"RATE_LIMIT": "0/second"},
                                      {"RATE_LIMIT": "5/second;"}])
def test_settings_the_guard_cannot_use_stop_the_start(make_app, settings):
    (name,) = settings
    with pytest.raises(ConfigError, match=f"LSS_{name}"):
        make_app(**settings)


# Requests that pages of other sites make browsers send.

@pytest.mark.parametrize("headers", OTHER_SITES, ids=lambda headers: "-".join(headers.values()))
def test_requests_from_other_sites_change_nothing(app, client, headers):
    for response in (client.post("/api/states_mean", json=STATISTIC, headers=headers),
                     client.post("/api/state_mean", data=json.dumps({**STATISTIC, "state": "Ohio"}),
                                 content_type="text/plain", headers=headers),
                     client.post("/api/start", json={"task": "best5", **STATISTIC}, headers=headers),
                     _upload(client, headers),
                     client.get("/api/graceful_shutdown", headers=headers)):
        assert "only this server's own pages" in _refused(response, 403)
    assert client.head("/api/graceful_shutdown", headers=headers).status_code == 403
    _nothing_was_done(app, client)


def test_a_token_does_not_let_another_site_in(make_app):
    app = make_app(ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    headers = {**BEARER, "Sec-Fetch-Site": "cross-site"}
    _refused(client.get("/api/graceful_shutdown", headers=headers), 403)
    _refused(_upload(client, headers), 403)
    _nothing_was_done(app, client)


def test_the_servers_own_pages_are_let_in(client):
    own = [{"Origin": "http://localhost"}, {"Origin": "http://localhost:80"}, {"Origin": "HTTP://LocalHost"},
           {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"},
           {"Referer": "http://localhost/"}]
    for headers in own:
        assert client.post("/api/states_mean", json=STATISTIC, headers=headers).status_code == 200, headers
    assert _upload(client, {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}).status_code == 201
    # The origin is compared with the address the request was sent to, whatever it is.
    response = client.post("/api/states_mean", json=STATISTIC, base_url="https://127.0.0.1:8443",
                           headers={"Origin": "https://127.0.0.1:8443"})
    assert response.status_code == 200
    assert client.get("/api/graceful_shutdown", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_reads_from_other_sites_are_answered(client):
    # They change nothing, and without CORS headers the other site cannot read the answer.
    for route in ("/api/jobs", "/api/num_jobs", "/api/datasets", "/api/questions", "/livez"):
        response = client.get(route, headers={**OTHER_SITES[0], **OTHER_SITES[2]})
        assert response.status_code == 200, route
        assert not _cors_headers(response)


def test_the_cross_site_decision():
    assert cross_site_reason({}, "http", "127.0.0.1:5000") is None
    assert cross_site_reason({"Origin": "http://127.0.0.1:5000"}, "http", "127.0.0.1:5000") is None
    assert cross_site_reason({"Origin": "http://[::1]:5000"}, "http", "[::1]:5000") is None
    assert cross_site_reason({"Origin": "https://example.com"}, "https", "example.com:443") is None
    for headers in ({"Origin": "http://127.0.0.1:5001"}, {"Origin": "http://127.0.0.2:5000"},
                    {"Origin": "https://127.0.0.1:5000"}, {"Origin": "http://127.0.0.1:99999"},
                    {"Origin": "http://[bad"}, {"Referer": "http://[bad/"}, {"Referer": "/relative"},
                    {"Sec-Fetch-Site": "Cross-Site"}):
        assert cross_site_reason(headers, "http", "127.0.0.1:5000"), headers
    # A browser that says it is this server's own page is believed over a Referer.
    assert cross_site_reason({"Sec-Fetch-Site": "same-origin", "Referer": "http://evil.example/"},
                             "http", "127.0.0.1:5000") is None


def test_clients_that_are_not_browsers_work_as_before(app, client):
    for _ in range(30):
        response = client.post("/api/states_mean", json=STATISTIC)
        assert response.status_code == 200
        assert "Retry-After" not in response.headers
    job_id = client.post("/api/best5", json=STATISTIC).get_json()["job_id"]
    assert wait_for(client, job_id)["status"] == "done"
    assert _upload(client).status_code == 201
    assert client.get("/api/graceful_shutdown").status_code == 200
    assert _refused(client.post("/api/states_mean", json=STATISTIC), 503) == "shutting down"
    assert app.extensions["le_stats_sportif"].pool.is_shutting_down


def _attack_page(target_url):
    """A page that, opened in a browser, tries to stop, fill and use the server at `target_url`."""
    return f"""<!doctype html><meta charset="utf-8"><body><script>
const target = {json.dumps(target_url)};
const sent = [];
sent.push(new Promise((resolve) => {{
  const image = new Image();
  image.onload = image.onerror = resolve;
  image.src = target + "/api/graceful_shutdown";
}}));
sent.push(fetch(target + "/api/states_mean", {{method: "POST", mode: "no-cors",
  headers: {{"Content-Type": "text/plain"}}, body: {json.dumps(json.dumps(STATISTIC))}}}).catch(() => null));
const form = new FormData();
form.append("file", new Blob([{json.dumps(csv_text(own_rows()))}], {{type: "text/csv"}}), "planted.csv");
sent.push(fetch(target + "/api/datasets", {{method: "POST", mode: "no-cors", body: form}}).catch(() => null));
Promise.all(sent).then(() => {{ document.body.dataset.done = "yes"; }});
</script></body>"""


@contextlib.contextmanager
def _serving(*servers):
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
        for thread in threads:
            thread.join(10)


@pytest.mark.parametrize("page_host", ["127.0.0.2", "127.0.0.1"], ids=["cross-site", "same-site"])
def test_a_page_of_another_site_in_a_browser_cannot_stop_or_fill_the_server(make_app, page_host):
    """An <img> and two no-cors fetches, from a page of another site (127.0.0.2) or of another
    port of this host (same-site), in Chromium: all refused, nothing changed."""
    app = make_app()
    target = make_server("127.0.0.1", 0, app, threaded=True)
    page = _attack_page(f"http://127.0.0.1:{target.server_port}").encode()

    def attacker(_environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [page]

    other = make_server(page_host, 0, attacker, threaded=True)
    with _serving(target, other), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.goto(f"http://{page_host}:{other.server_port}/")
            tab.wait_for_selector("body[data-done=yes]", state="attached", timeout=20000)
        finally:
            browser.close()
    _nothing_was_done(app, app.test_client())
    # The browser did send all three, and each was refused.
    with open(app.config["LOG_FILE"], encoding="utf-8") as log:
        text = log.read()
    for request_line in ("GET /api/graceful_shutdown 403", "POST /api/states_mean 403",
                         "POST /api/datasets 403"):
        assert f"answer {request_line}" in text, request_line


# Rate limits per client.

@pytest.mark.parametrize("store", STORES)
def test_a_client_over_the_rate_limit_gets_429_and_no_job(make_app, store):
    app = make_app(store, RATE_LIMIT="3/hour")
    client = app.test_client()
    assert client.post("/api/states_mean", json=STATISTIC).status_code == 200
    assert _upload(client).status_code == 201
    assert client.post("/api/start", json={"task": "best5", **STATISTIC}).status_code == 200
    for response in (client.post("/api/states_mean", json=STATISTIC), _upload(client, name="again.csv"),
                     client.post("/api/start", json={"task": "best5", **STATISTIC})):
        reason = _refused(response, 429)
        assert "3 per 1 hour" in reason and "127.0.0.1" in reason
        assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert len(client.get("/api/jobs").get_json()["data"]) == 2
    # Reads are not counted: a client polls many times for each job.
    for _ in range(20):
        assert client.get("/api/jobs").status_code == 200
        assert client.get("/api/get_results/1").status_code == 200
    # Another client address has its own count.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert other.post("/api/states_mean", json=STATISTIC).status_code == 200


def test_processes_on_one_redis_share_the_count(make_app, redis_url):
    first, second = (make_app("redis", RATE_LIMIT="3/hour").test_client() for _ in range(2))
    assert first.post("/api/states_mean", json=STATISTIC).status_code == 200
    assert second.post("/api/states_mean", json=STATISTIC).status_code == 200
    assert first.post("/api/states_mean", json=STATISTIC).status_code == 200
    _refused(second.post("/api/states_mean", json=STATISTIC), 429)
    _refused(first.post("/api/states_mean", json=STATISTIC), 429)
    # Counted beside the job store's keys, under its prefix.
    assert redis.Redis.from_url(redis_url).keys("lss:rate:*")


def test_processes_with_the_file_store_count_each_for_itself(make_app):
    first, second = (make_app(RATE_LIMIT="2/hour").test_client() for _ in range(2))
    for client in (first, first, second, second):
        assert client.post("/api/states_mean", json=STATISTIC).status_code == 200
    _refused(first.post("/api/states_mean", json=STATISTIC), 429)


# The smaller promises.

def test_an_upload_after_a_shutdown_is_refused_and_not_kept(app, client):
    assert client.get("/api/graceful_shutdown").status_code == 200
    assert _refused(_upload(client), 503) == "shutting down"
    assert _datasets(client) == ["default"]
    assert not os.path.exists(app.config["DATASETS_DIR"]) or not os.listdir(app.config["DATASETS_DIR"])


def test_options_answers_json_without_cors(client):
    reads = {"GET", "HEAD", "OPTIONS"}
    for route, methods in (("/api/jobs", reads), ("/api/states_mean", {"POST", "OPTIONS"}),
                           ("/api/datasets", reads | {"POST"}), ("/api/get_results/job_id_1", reads),
                           ("/", reads)):
        for headers in ({}, {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}):
            response = client.options(route, headers=headers)
            assert response.status_code == 200, route
            assert response.mimetype == "application/json"
            body = response.get_json()
            assert body["status"] == "done" and methods <= set(body["data"]["allow"]), body
            assert set(body["data"]["allow"]) == set(response.allow)
            assert not _cors_headers(response)
    assert "reason" in client.options("/api/nothing").get_json()


def test_the_guards_answers_fit_the_api_description(make_app):
    app = make_app(ADMIN_TOKEN=TOKEN, RATE_LIMIT="1/hour")
    client = app.test_client()
    talk = Exchanges(client, client.get("/api/openapi.json").get_json())
    other_site = {"Sec-Fetch-Site": "cross-site"}
    talk.send("post", "/api/states_mean", "/api/states_mean", 403, json=STATISTIC, headers=other_site)
    talk.send("post", "/api/start", "/api/start", 403, json={"task": "best5", **STATISTIC},
              headers=other_site)
    talk.send("get", "/api/graceful_shutdown", "/api/graceful_shutdown", 403, headers=other_site)
    talk.send("get", "/api/graceful_shutdown", "/api/graceful_shutdown", 401)
    talk.send("post", "/api/datasets", "/api/datasets", 401, content_type="multipart/form-data",
              data={"file": (io.BytesIO(b"x"), "x.csv")})
    talk.send("post", "/api/datasets", "/api/datasets", 403, content_type="multipart/form-data",
              data={"file": (io.BytesIO(b"x"), "x.csv")}, headers={**BEARER, **other_site})
    talk.send("post", "/api/states_mean", "/api/states_mean", 200, json=STATISTIC)
    talk.send("post", "/api/states_mean", "/api/states_mean", 429, json=STATISTIC)
    talk.send("post", "/api/start", "/api/start", 429, json={"task": "best5", **STATISTIC})
    talk.send("post", "/api/datasets", "/api/datasets", 429, content_type="multipart/form-data",
              data={"file": (io.BytesIO(b"x"), "x.csv")}, headers=BEARER)


# The warning of a server that anyone may reach.

def test_which_addresses_are_loopback():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LocalHost", "api.localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "192.0.2.1", "[2001:db8::1]", "no-such-host.invalid"):
        assert not is_loopback(host), host


def test_the_warning_goes_to_stderr_and_the_log(make_app, capsys):
    app = make_app()
    assert not warn_if_exposed(app, ["127.0.0.1", "localhost", "::1"])
    assert capsys.readouterr().err == ""
    assert warn_if_exposed(app, ["127.0.0.1", "0.0.0.0"])
    assert "WARNING: listening on 0.0.0.0 without LSS_ADMIN_TOKEN" in capsys.readouterr().err
    with open(app.config["LOG_FILE"], encoding="utf-8") as log:
        assert "WARNING MainThread listening on 0.0.0.0 without LSS_ADMIN_TOKEN" in log.read()
    assert not warn_if_exposed(make_app(ADMIN_TOKEN=TOKEN), ["0.0.0.0"])


WARNING = ("listening on 0.0.0.0 without LSS_ADMIN_TOKEN: anyone who can reach this address "
           "can stop the server")


def _server_output(server):
    with open(os.path.join(server.workdir, "server.out"), encoding="utf-8", errors="replace") as output:
        return output.read()


# `make run_server` (flask run), the script, and `make serve` (the production server).
@pytest.mark.parametrize("launcher", ["flask", "script", "production"])
def test_a_server_listening_on_every_address_without_a_token_says_so(tmp_path, launcher):
    server = ServerProcess(tmp_path, launcher,
                           environment={"FLASK_RUN_HOST": "0.0.0.0", "LSS_ADMIN_TOKEN": ""})
    server.start()
    try:
        assert requests.get(f"{server.url}/livez", timeout=5).status_code == 200
    finally:
        server.stop()
    assert f"WARNING: {WARNING}" in _server_output(server)
    assert server.log_lines(f"WARNING MainThread {WARNING}") == 1


def test_a_server_with_a_token_or_on_loopback_says_nothing(tmp_path):
    quiet = [ServerProcess(tmp_path / "token",
                           environment={"FLASK_RUN_HOST": "0.0.0.0", "LSS_ADMIN_TOKEN": TOKEN}),
             ServerProcess(tmp_path / "loopback", environment={"FLASK_RUN_HOST": "127.0.0.1",
                                                              "LSS_ADMIN_TOKEN": ""})]
    for server in quiet:
        os.makedirs(server.workdir)
        server.start()
        server.stop()
        assert "without LSS_ADMIN_TOKEN" not in _server_output(server)
        assert server.log_lines("without LSS_ADMIN_TOKEN") == 0
        assert server.log_lines("started:") == 1
