"""The dashboard and the API page in a real browser (the system's Chromium, headless).

A server runs in a thread on a free port with its own temporary folders
(unittests.browser_support). The tests use the page as a person would and check what it shows against the
independent reference of checker/reference.py. Screenshots of the main views
are saved under screenshots/.
"""
import ast
import csv
import io
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app.task_runner import WorkItem
from checker.reference import Reference, compare
from unittests.browser_support import (  # pylint: disable=unused-import
    DESKTOP, PHONE, SCREENSHOTS, as_tuple_keys, fixture_browser, fixture_dashboard, fixture_phone,
    fixture_reference, fixture_server, number)
from unittests.dataset_support import MUSCLE, OBESITY, csv_text, own_rows, write_csv


def _jobs_on(url):
    return len(json.loads(urllib.request.urlopen(url + "/api/jobs").read())["data"])


def test_states_mean_shows_the_reference_numbers_in_a_table_a_chart_and_a_map(dashboard, reference):
    jobs_before = _jobs_on(dashboard.url)
    dashboard.open().run("states_mean", OBESITY)
    # One run, one job: the global mean on the chart comes with the question, not from a job of its own.
    assert _jobs_on(dashboard.url) == jobs_before + 1
    expected = reference.states_mean(OBESITY)
    shown, order = dashboard.table()
    assert compare(expected, shown) is None
    # Lower is better for this question: the best state is the lowest, first.
    assert order == sorted(expected, key=lambda state: (expected[state], state))
    assert dashboard.bars() == len(expected)
    best = dashboard.page.eval_on_selector_all("#view-chart .bar-row.best", "rows => rows.map(r => r.dataset.label)")
    worst = dashboard.page.eval_on_selector_all("#view-chart .bar-row.worst", "rows => rows.map(r => r.dataset.label)")
    assert best == order[:5] and worst == order[-5:]
    assert dashboard.page.locator("#view-chart .reference-line").count() == 1
    mean_text = dashboard.page.locator(".chart-key").text_content()
    assert f"global mean {reference.global_mean(OBESITY)['global_mean']:.2f}" in mean_text
    assert dashboard.page.locator("#view-map g.tile:not(.empty)").count() == len(expected)
    assert "lower is better" in dashboard.page.locator("#view-map .legend").text_content()
    dashboard.screenshot("dashboard-states-mean-desktop")
    dashboard.assert_healthy()


def test_the_answer_downloads_as_csv_and_json_with_the_reference_numbers(dashboard, reference):
    dashboard.open().run("mean_by_category", OBESITY)
    expected = reference.mean_by_category(OBESITY)
    with dashboard.page.expect_download() as caught:
        dashboard.page.click("#download-csv")
    rows = list(csv.reader(io.StringIO(Path(caught.value.path()).read_text(encoding="utf-8"))))
    assert caught.value.suggested_filename.endswith(".csv")
    assert rows[0] == ["state", "category", "segment", "value"]
    assert compare(expected, {str(tuple(row[:3])): float(row[3]) for row in rows[1:]}) is None
    with dashboard.page.expect_download() as caught:
        dashboard.page.click("#download-json")
    answer = json.loads(Path(caught.value.path()).read_text(encoding="utf-8"))
    assert answer["status"] == "done" and compare(expected, answer["data"]) is None
    dashboard.assert_healthy()


def test_a_table_sorts_from_the_keyboard(dashboard, reference):
    dashboard.open().run("states_mean", MUSCLE)
    expected = reference.states_mean(MUSCLE)
    _, order = dashboard.table()
    # Higher is better for this question: the highest first.
    assert order == sorted(expected, key=lambda state: (-expected[state], state))
    dashboard.page.locator("#view-table th button", has_text="State").focus()
    dashboard.page.keyboard.press("Enter")
    _, order = dashboard.table()
    assert order == sorted(expected)
    dashboard.page.keyboard.press("Enter")
    _, order = dashboard.table()
    assert order == sorted(expected, reverse=True)
    dashboard.assert_healthy()


@pytest.mark.parametrize("analysis", ["best5", "worst5", "diff_from_mean"])
def test_rankings_and_differences(dashboard, reference, analysis):
    dashboard.open().run(analysis, MUSCLE)
    expected = reference.answer(analysis, {"question": MUSCLE})
    shown, order = dashboard.table()
    assert compare(expected, shown) is None
    assert dashboard.bars() == len(expected)
    if analysis != "diff_from_mean":
        assert order == list(expected)
    dashboard.assert_healthy()


@pytest.mark.parametrize("analysis", ["global_mean", "state_mean", "state_diff_from_mean"])
def test_single_numbers(dashboard, reference, analysis):
    body = {"question": OBESITY, "state": "Guam"}
    dashboard.open().run(analysis, OBESITY, "Guam" if analysis != "global_mean" else None)
    (expected,) = reference.answer(analysis, body).values()
    assert abs(dashboard.stat() - expected) <= 0.01
    if analysis != "global_mean":
        assert dashboard.page.locator("#view-map g.tile.marked").get_attribute("data-location") == "Guam"
    dashboard.assert_healthy()


def test_one_state_by_category(dashboard, reference):
    dashboard.open().run("state_mean_by_category", OBESITY, "Virgin Islands")
    expected = reference.state_mean_by_category(OBESITY, "Virgin Islands")["Virgin Islands"]
    assert compare(expected, as_tuple_keys(dashboard.grouped_table())) is None
    categories = {ast.literal_eval(key)[0] for key in expected}
    assert dashboard.page.locator("#view-chart figure.category-chart").count() == len(categories)
    assert dashboard.bars("#view-chart rect.bar") == len(expected)
    dashboard.assert_healthy()


def test_ordinal_segments_come_in_their_natural_order(dashboard):
    dashboard.open().run("state_mean_by_category", OBESITY, "Ohio")
    order = dashboard.page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#view-table tbody')]
        .map(group => [group.querySelector('tr.group th').textContent,
                       [...group.querySelectorAll('tr:not(.group)')].map(row => row.cells[0].textContent)]))""")
    assert order["Education"] == ["Less than high school", "High school graduate",
                                  "Some college or technical school", "College graduate"]
    assert order["Age (years)"] == ["18 - 24", "25 - 34", "35 - 44", "45 - 54", "55 - 64", "65 or older"]
    assert order["Income"][:2] == ["Less than $15,000", "$15,000 - $24,999"]
    assert order["Income"].index("$75,000 or greater") == order["Income"].index("$50,000 - $74,999") + 1
    dashboard.assert_healthy()


def test_every_state_by_category_with_a_state_picker(dashboard, reference):
    dashboard.open().run("mean_by_category", MUSCLE)
    every = reference.mean_by_category(MUSCLE)
    for state in ("National", "Ohio"):
        if state != "National":
            dashboard.page.select_option("#shown-state", state)
        expected = {str(ast.literal_eval(key)[1:]): value
                    for key, value in every.items() if ast.literal_eval(key)[0] == state}
        assert compare(expected, as_tuple_keys(dashboard.grouped_table())) is None
        assert dashboard.bars("#view-chart rect.bar") == len(expected)
    dashboard.screenshot("dashboard-by-category-desktop")
    dashboard.page.select_option("#mapped-segment", index=1)
    category, segment = json.loads(dashboard.page.eval_on_selector("#mapped-segment", "select => select.value"))
    having = [key for key in map(ast.literal_eval, every) if key[1:] == (category, segment)]
    assert dashboard.page.locator("#view-map g.tile:not(.empty)").count() == len(having)
    dashboard.assert_healthy()


def test_each_page_has_one_h1_and_a_run_leaves_focus_on_its_answer(dashboard, reference):
    dashboard.open()
    assert dashboard.page.locator("#data-credit").text_content().startswith("Data: US CDC")
    assert dashboard.page.locator("h1").count() == 1
    assert dashboard.page.locator("h1").text_content().strip() == "Le Stats Sportif"
    question = reference.questions()[0]
    dashboard.run("global_mean", question)
    assert dashboard.page.evaluate("document.activeElement.id") == "answer-title"
    assert dashboard.page.locator("#answer-title").text_content() == question
    dashboard.open("/docs")
    assert dashboard.page.locator("h1").count() == 1
    dashboard.assert_healthy()


def test_the_state_picker_offers_only_the_states_with_data_and_chooses_none(dashboard, reference):
    question = next(q for q in reference.questions() if "Virgin Islands" not in reference.states(q))
    other = next(q for q in reference.questions() if "Virgin Islands" in reference.states(q))
    dashboard.open()
    jobs_before = urllib.request.urlopen(dashboard.url + "/api/jobs").read()
    dashboard.page.select_option("#analysis", "state_mean")
    dashboard.page.select_option("#question", other)
    dashboard.page.wait_for_selector("#state option[value='Virgin Islands']", state="attached")
    dashboard.page.select_option("#question", question)
    dashboard.page.wait_for_selector("#state option[value='Virgin Islands']", state="detached")
    offered = dashboard.page.eval_on_selector_all("#state option", "options => options.map(o => o.value)")
    assert offered == ["", *sorted(reference.states(question))]
    assert dashboard.page.input_value("#state") == ""
    # Nothing chosen: the page asks for a state, sends nothing and no job is made.
    dashboard.page.click("#submit")
    refusal = dashboard.page.locator("#refusal")
    refusal.wait_for(state="visible")
    assert refusal.text_content() == "Refused: choose a state first: this analysis is about one state."
    assert dashboard.page.evaluate("document.activeElement.id") == "state"
    assert urllib.request.urlopen(dashboard.url + "/api/jobs").read() == jobs_before
    dashboard.assert_healthy()


def test_a_refused_request_shows_the_server_reason(dashboard, reference):
    question = next(q for q in reference.questions() if "Virgin Islands" not in reference.states(q))
    dashboard.open()
    jobs_before = urllib.request.urlopen(dashboard.url + "/api/jobs").read()
    other = next(q for q in reference.questions() if "Virgin Islands" in reference.states(q))
    dashboard.page.select_option("#analysis", "state_mean")
    dashboard.page.select_option("#question", other)
    dashboard.page.wait_for_selector("#state option[value='Virgin Islands']", state="attached")
    dashboard.page.select_option("#question", question)
    # The question's own list has come: nothing will replace the options below.
    dashboard.page.wait_for_selector("#state option[value='Virgin Islands']", state="detached")
    # A choice the picker no longer offers (a page left open while the data changed, say).
    dashboard.page.eval_on_selector("#state", "select => { select.append(new Option('Virgin Islands')); "
                                              "select.value = 'Virgin Islands'; }")
    dashboard.page.click("#submit")
    refusal = dashboard.page.locator("#refusal")
    refusal.wait_for(state="visible")
    request = urllib.request.Request(dashboard.url + "/api/state_mean", method="POST",
                                     data=json.dumps({"question": question, "state": "Virgin Islands"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    reason = json.loads(refused.value.read())["reason"]
    assert reason.startswith("Virgin Islands has no data for the question")
    assert refusal.text_content() == f"Refused: {reason}"
    assert urllib.request.urlopen(dashboard.url + "/api/jobs").read() == jobs_before
    dashboard.screenshot("dashboard-refused-desktop")
    dashboard.assert_healthy(refusals=True)


def test_the_job_list_and_pending_count_follow_the_server(dashboard, server):
    _, app = server
    dashboard.open()
    gate = threading.Event()
    pool = app.extensions["le_stats_sportif"].pool
    for _ in range(pool.num_threads):
        pool.submit(lambda: WorkItem(gate.wait, lambda *_: None))
    try:
        dashboard.page.select_option("#analysis", "global_mean")
        dashboard.page.select_option("#question", OBESITY)
        dashboard.page.click("#submit")
        dashboard.page.wait_for_selector("#job-status.running")
        job_id = dashboard.page.locator(".job-id").text_content()
        dashboard.page.wait_for_selector(f'#job-list button[data-job="{job_id}"] .chip.running')
        dashboard.page.wait_for_function("() => document.querySelector('#num-jobs').textContent !== '0 pending'")
    finally:
        gate.set()
    dashboard.page.wait_for_selector("#job-status.done")
    dashboard.page.wait_for_selector(f'#job-list button[data-job="{job_id}"] .chip.done')
    dashboard.page.wait_for_function("() => document.querySelector('#num-jobs').textContent === '0 pending'")
    assert "Global mean" in dashboard.page.locator(f'#job-list button[data-job="{job_id}"]').text_content()
    dashboard.assert_healthy()


def test_everything_from_the_keyboard(dashboard, reference):
    dashboard.open()
    page = dashboard.page
    for target in ("dataset", "upload-file", "analysis"):
        while page.evaluate("document.activeElement.id") != target:
            page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") == "best5"
    for target in ("question-search", "question", "submit"):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == target
    page.keyboard.press("Enter")
    dashboard.wait_for_answer("")
    question = page.eval_on_selector("#question", "select => select.value")
    assert compare(reference.best5(question), dashboard.table()[0]) is None
    dashboard.assert_healthy()


def test_an_upload_is_analysed_like_the_survey(dashboard, tmp_path):
    text = csv_text(own_rows(scale=1.25))
    path = write_csv(tmp_path / "my-survey.csv", text)
    reference = Reference(path)
    dashboard.open()
    dashboard.page.set_input_files("#upload-file", str(path))
    dashboard.page.click("#upload-send")
    status = dashboard.page.locator("#upload-status.ok")
    status.wait_for()
    assert status.text_content().startswith(f"Added my-survey.csv: {len(own_rows())} rows, 2 questions.")
    assert dashboard.page.eval_on_selector("#dataset option:checked", "option => option.textContent") == "my-survey.csv"
    # The same file again is the same data set, and the page says so.
    kept = dashboard.page.locator("#dataset option").count()
    dashboard.page.set_input_files("#upload-file", str(path))
    dashboard.page.click("#upload-send")
    dashboard.page.wait_for_function(
        "() => document.querySelector('#upload-status').textContent.startsWith('Kept already my-survey.csv')")
    assert dashboard.page.locator("#dataset option").count() == kept
    offered = dashboard.page.eval_on_selector_all("#question option", "options => options.map(o => o.value)")
    assert sorted(offered) == reference.questions()
    # The places with data for the chosen question, none of them chosen.
    chosen = dashboard.page.input_value("#question")
    states = dashboard.page.eval_on_selector_all("#state option", "options => options.map(o => o.value)")
    assert states == ["", *sorted(reference.states(chosen))]
    question = "Percent of adults who enjoy tests"
    dashboard.run("states_mean", question)
    assert compare(reference.states_mean(question), dashboard.table()[0]) is None
    assert dashboard.bars() == 4
    assert "my-survey.csv" in dashboard.page.locator(".eyebrow").text_content()
    # The footer credits the upload, not the CDC survey, under its answers.
    credit = dashboard.page.locator("#data-credit").text_content()
    assert "my-survey.csv" in credit and "CDC" in credit and credit.startswith("Data: my-survey.csv")
    dashboard.screenshot("dashboard-upload-desktop")
    dashboard.run("state_mean_by_category", question, "Utah")
    assert compare(reference.state_mean_by_category(question, "Utah")["Utah"],
                   as_tuple_keys(dashboard.grouped_table())) is None
    dashboard.assert_healthy()


def test_a_bad_upload_shows_the_reason_and_changes_nothing(dashboard, tmp_path):
    path = write_csv(tmp_path / "wrong.csv", "LocationDesc,Question,Value\nOhio,Q,1\n")
    dashboard.open()
    before = dashboard.page.eval_on_selector_all("#dataset option", "options => options.map(o => o.value)")
    dashboard.page.set_input_files("#upload-file", str(path))
    dashboard.page.click("#upload-send")
    status = dashboard.page.locator("#upload-status.error")
    status.wait_for()
    assert status.text_content() == ("Refused: the file cannot be used as a data set: missing column(s): "
                                     "Data_Value, StratificationCategory1, Stratification1")
    after = dashboard.page.eval_on_selector_all("#dataset option", "options => options.map(o => o.value)")
    assert after == before
    dashboard.assert_healthy(refusals=True)


def test_phone_width(phone, reference):
    phone.open()
    phone.screenshot("dashboard-start-phone")
    phone.run("states_mean", OBESITY)
    assert compare(reference.states_mean(OBESITY), phone.table()[0]) is None
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot("dashboard-states-mean-phone")
    phone.run("state_mean_by_category", MUSCLE, "Ohio")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot("dashboard-by-category-phone")
    phone.assert_healthy()


def test_the_api_page_lists_every_operation(dashboard, phone):
    spec = dashboard.open("/docs").page.evaluate("fetch('/api/openapi.json').then(r => r.json())")
    shown = dashboard.page.eval_on_selector_all(
        "article.operation", "items => items.map(i => i.querySelector('.method').textContent + ' ' + i.querySelector('h3').textContent)")
    assert sorted(shown) == sorted(f"{method.upper()} {path}" for path, operations in spec["paths"].items()
                                   for method in operations)
    assert "job_id_N, or N alone." in dashboard.page.locator("#reference").text_content()
    dashboard.screenshot("docs-desktop")
    phone.open("/docs")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot("docs-phone")
    dashboard.assert_healthy()
    phone.assert_healthy()
