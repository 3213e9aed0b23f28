"""What the browser tests share: a server in a thread, the system's Chromium, and a page of the dashboard.

A server runs in a thread on a free port with its own temporary folders (one
per test module). Test modules import the fixtures they use from here.
"""
import json
import os
import re
import threading

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from checker.reference import Reference
from unittests.dataset_support import BUNDLED_CSV, ROOT, make_app, stop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS = os.path.join(ROOT, "screenshots")
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 20000


@pytest.fixture(name="reference", scope="module")
def fixture_reference():
    return Reference(BUNDLED_CSV)


@pytest.fixture(name="server", scope="module")
def fixture_server(tmp_path_factory):
    """(base URL, app) of a server on a free port."""
    app = make_app(str(tmp_path_factory.mktemp("browser")), MAX_UPLOAD_BYTES=200_000)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}", app
    http.shutdown()
    thread.join(10)
    stop(app)


@pytest.fixture(name="browser", scope="module")
def fixture_browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Dashboard:
    """A page of the dashboard, and what it can be asked to do."""

    def __init__(self, page, url):
        self.page = page
        self.url = url
        self.problems = []
        self.requested = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", lambda message: message.type == "error" and self.problems.append(message.text))
        page.on("request", lambda request: self.requested.append(request.url))
        page.set_default_timeout(WAIT_MS)

    def open(self, path="/"):
        self.page.goto(self.url + path)
        self.page.wait_for_selector("body[data-ready=true]")
        return self

    def run(self, analysis, question, state=None):
        """Submit through the form and wait until the new job's answer is shown."""
        before = self.page.locator(".job-id").first.text_content() if self.page.locator(".job-id").count() else ""
        self.page.select_option("#analysis", analysis)
        self.page.select_option("#question", question)
        if state:
            self.page.select_option("#state", state)
        self.page.click("#submit")
        self.wait_for_answer(before)

    def wait_for_answer(self, before):
        self.page.wait_for_function(
            """(before) => {
                 const id = document.querySelector('.job-id');
                 const status = document.querySelector('#job-status');
                 return id && id.textContent !== before && status && status.textContent === 'done';
               }""", arg=before)

    def table(self):
        """{state: value} of the answer's ranked table, and the states in the order shown."""
        rows = self.page.eval_on_selector_all(
            "#view-table tbody tr", "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))")
        return {state: number(value) for _, state, value in rows}, [state for _, state, _ in rows]

    def grouped_table(self):
        """{"('Category', 'Segment')": value} of the by-category table."""
        return self.page.evaluate("""() => {
            const found = {};
            for (const group of document.querySelectorAll('#view-table tbody')) {
              const category = group.querySelector('tr.group th').textContent;
              for (const row of group.querySelectorAll('tr:not(.group)')) {
                found[JSON.stringify([category, row.cells[0].textContent])] = row.cells[1].textContent;
              }
            }
            return found;
          }""")

    def stat(self, index=0):
        return number(self.page.locator(".stat-value").nth(index).text_content())

    def bars(self, selector="#view-chart svg.bar-chart rect.bar"):
        return self.page.locator(selector).count()

    def screenshot(self, name):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        self.page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)

    def assert_healthy(self, refusals=False):
        """No script error, no console error and nothing fetched from elsewhere.

        The browser logs every 4xx answer to the console; with `refusals`
        those are expected.
        """
        refused = "Failed to load resource: the server responded with a status of 4"
        problems = [problem for problem in self.problems if not (refusals and problem.startswith(refused))]
        assert not problems, problems
        # A file the page makes to save (an exported drawing) is a blob: of this origin.
        outside = [url for url in self.requested
                   if not url.startswith(self.url) and not url.startswith(f"blob:{self.url}/")]
        assert not outside, f"the page fetched from elsewhere: {outside}"


@pytest.fixture(name="dashboard")
def fixture_dashboard(browser, server):
    context = browser.new_context(viewport=DESKTOP)
    yield Dashboard(context.new_page(), server[0])
    context.close()


@pytest.fixture(name="phone")
def fixture_phone(browser, server):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    yield Dashboard(context.new_page(), server[0])
    context.close()


def number(text):
    """A number as the page prints it: a real minus sign, a + for gains, and its unit after it
    ("31.42%", "+1.20 pts") when the question is a percentage."""
    return float(re.sub(r"\s*(%|pts)$", "", text.strip()).replace("\u2212", "-").replace("+", ""))


def as_tuple_keys(grouped):
    return {str(tuple(json.loads(key))): number(value) for key, value in grouped.items()}
