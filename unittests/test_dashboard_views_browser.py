"""The dashboard's views in a real browser: addresses, history, the job list, exports, comparisons, the picker.

Numbers are checked against checker/reference.py's independent computation,
never against what the server answered before.
"""
import json
import re
import struct
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from checker.reference import LOWER_IS_BETTER, compare
from unittests.browser_support import (  # pylint: disable=unused-import
    fixture_browser, fixture_dashboard, fixture_phone, fixture_reference, fixture_server, number)
from unittests.dataset_support import MUSCLE, OBESITY

SVG = "{http://www.w3.org/2000/svg}"
ACHIEVE = [
    "Percent of adults who achieve at least 150 minutes a week of moderate-intensity aerobic physical activity or "
    "75 minutes a week of vigorous-intensity aerobic activity (or an equivalent combination)",
    "Percent of adults who achieve at least 150 minutes a week of moderate-intensity aerobic physical activity or "
    "75 minutes a week of vigorous-intensity aerobic physical activity and engage in muscle-strengthening "
    "activities on 2 or more days a week",
    "Percent of adults who achieve at least 300 minutes a week of moderate-intensity aerobic physical activity or "
    "150 minutes a week of vigorous-intensity aerobic activity (or an equivalent combination)",
]


def _address(**query):
    return "/?" + urllib.parse.urlencode(query, doseq=True)


def _query(page):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)


def _post(url, statistic, body):
    request = urllib.request.Request(f"{url}/api/{statistic}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request).read())["job_id"]


def _job_count(url):
    return json.loads(urllib.request.urlopen(url + "/api/jobs?limit=1").read())["total"]


def _shown_job(dashboard):
    dashboard.page.wait_for_selector("#job-status.done")
    return dashboard.page.locator(".job-id").text_content()


def _ranks(means, lower_is_better):
    """{state: rank} with equal means sharing a rank, best first."""
    better = (lambda a, b: a < b) if lower_is_better else (lambda a, b: a > b)
    return {state: 1 + sum(1 for other in means.values() if better(other, value)) for state, value in means.items()}


def test_a_view_opens_from_its_address_and_reload_keeps_it(dashboard, reference):
    before = _job_count(dashboard.url)
    dashboard.open(_address(analysis="states_mean", question=OBESITY))
    job_id = _shown_job(dashboard)
    shown, _ = dashboard.table()
    assert compare(reference.states_mean(OBESITY), shown) is None
    # The job that answered it joins the address, so that a reload shows it again without a new job.
    assert _query(dashboard.page) == {"analysis": ["states_mean"], "question": [OBESITY], "job": [job_id]}
    assert dashboard.page.input_value("#analysis") == "states_mean"
    assert dashboard.page.input_value("#question") == OBESITY
    dashboard.page.reload()
    dashboard.page.wait_for_selector("body[data-ready=true]")
    assert _shown_job(dashboard) == job_id
    assert _job_count(dashboard.url) == before + 1
    dashboard.assert_healthy()


def test_the_state_read_and_the_segment_mapped_by_category_stay_in_the_address(dashboard, reference):
    dashboard.open().run("mean_by_category", OBESITY)
    job_id = dashboard.page.locator(".job-id").text_content()
    dashboard.page.select_option("#shown-state", "Ohio")
    segment = dashboard.page.eval_on_selector_all("#mapped-segment option", "items => items[2].value")
    dashboard.page.select_option("#mapped-segment", segment)
    assert _query(dashboard.page)["state"] == ["Ohio"] and _query(dashboard.page)["segment"] == [segment]
    dashboard.page.reload()
    dashboard.page.wait_for_selector("body[data-ready=true]")
    assert _shown_job(dashboard) == job_id
    assert dashboard.page.input_value("#shown-state") == "Ohio"
    assert dashboard.page.input_value("#mapped-segment") == segment
    expected = reference.state_mean_by_category(OBESITY, "Ohio")["Ohio"]
    shown = {str(tuple(json.loads(key))): number(value) for key, value in dashboard.grouped_table().items()}
    assert compare(expected, shown) is None
    dashboard.assert_healthy()


def test_an_address_whose_job_is_gone_runs_the_view_again(dashboard, reference):
    dashboard.open(_address(analysis="state_mean", question=MUSCLE, state="Ohio", job="job_id_999999"))
    job_id = _shown_job(dashboard)
    assert job_id != "job_id_999999"
    assert _query(dashboard.page)["job"] == [job_id]
    assert compare(reference.state_mean(MUSCLE, "Ohio"), {"Ohio": dashboard.stat()}) is None
    assert dashboard.page.input_value("#state") == "Ohio"
    dashboard.assert_healthy(refusals=True)


def test_an_address_the_server_refuses_says_why(dashboard):
    dashboard.open(_address(analysis="states_mean", question="Percent of cats"))
    assert "no question" in dashboard.page.locator("#refusal").text_content()
    dashboard.assert_healthy()


def test_back_and_forward_walk_the_views(dashboard, reference):
    dashboard.open().run("states_mean", OBESITY)
    first = dashboard.page.locator(".job-id").text_content()
    dashboard.run("state_mean", MUSCLE, "Texas")
    second = dashboard.page.locator(".job-id").text_content()
    assert _query(dashboard.page)["state"] == ["Texas"]
    dashboard.page.go_back()
    dashboard.page.wait_for_function("(id) => document.querySelector('.job-id')?.textContent === id", arg=first)
    _shown_job(dashboard)
    assert dashboard.page.input_value("#analysis") == "states_mean"
    assert compare(reference.states_mean(OBESITY), dashboard.table()[0]) is None
    dashboard.page.go_forward()
    dashboard.page.wait_for_function("(id) => document.querySelector('.job-id')?.textContent === id", arg=second)
    _shown_job(dashboard)
    assert dashboard.page.input_value("#state") == "Texas"
    assert compare(reference.state_mean(MUSCLE, "Texas"), {"Texas": dashboard.stat()}) is None
    dashboard.assert_healthy()


def test_a_job_started_elsewhere_opens_as_a_view(dashboard, reference):
    dashboard.open()
    job_id = _post(dashboard.url, "state_mean_by_category", {"question": OBESITY, "state": "Ohio"})
    entry = dashboard.page.locator(f'#job-list button[data-job="{job_id}"]')
    entry.wait_for()
    dashboard.page.wait_for_function(
        "(id) => document.querySelector(`#job-list button[data-job='${id}'] .job-what`).textContent.includes('Ohio')",
        arg=job_id)
    assert "One state by category" in entry.text_content()
    entry.click()
    dashboard.page.wait_for_function("(id) => document.querySelector('.job-id')?.textContent === id", arg=job_id)
    _shown_job(dashboard)
    assert dashboard.page.locator("#answer-title").text_content() == OBESITY
    expected = reference.state_mean_by_category(OBESITY, "Ohio")["Ohio"]
    shown = {str(tuple(json.loads(key))): number(value) for key, value in dashboard.grouped_table().items()}
    assert compare(expected, shown) is None
    assert _query(dashboard.page) == {"analysis": ["state_mean_by_category"], "question": [OBESITY],
                                      "state": ["Ohio"], "job": [job_id]}
    dashboard.assert_healthy()


def test_the_job_list_reaches_every_job_a_page_at_a_time(dashboard):
    dashboard.open()
    for _ in range(35):
        _post(dashboard.url, "global_mean", {"question": OBESITY})
    newest = json.loads(urllib.request.urlopen(dashboard.url + "/api/jobs?limit=1").read())["data"][0]
    total = _job_count(dashboard.url)
    dashboard.page.wait_for_selector(f'#job-list button[data-job="{next(iter(newest))}"]')
    seen = []
    while True:
        dashboard.page.wait_for_function("() => document.querySelectorAll('#job-list button.job').length > 0")
        ids = dashboard.page.eval_on_selector_all("#job-list button.job", "items => items.map(item => item.dataset.job)")
        seen.extend(ids)
        older = dashboard.page.locator("#jobs-older")
        if not older.count() or older.is_disabled():
            break
        older.click()
        dashboard.page.wait_for_function("(first) => document.querySelector('#job-list button.job')?.dataset.job !== first",
                                         arg=ids[0])
    numbers = [int(job_id.rsplit("_", 1)[1]) for job_id in seen]
    # Newest first, every job once, down to the first.
    assert numbers == sorted(numbers, reverse=True) and len(set(numbers)) == len(numbers) == total
    assert numbers[-1] == 1
    dashboard.page.click("#jobs-newer")
    dashboard.page.wait_for_selector("#jobs-newer[disabled]")
    dashboard.assert_healthy()


def _bars(svg_text):
    root = ElementTree.fromstring(svg_text)
    return {bar.get("data-label"): float(bar.get("data-value")) for bar in root.iter(f"{SVG}rect")
            if bar.get("data-label")}


def _png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_chart_and_the_map_download_as_svg_and_png(dashboard, reference):
    dashboard.open().run("states_mean", OBESITY)
    expected = reference.states_mean(OBESITY)
    files = {}
    for name in ("chart-svg", "chart-png", "map-svg", "map-png"):
        with dashboard.page.expect_download() as caught:
            dashboard.page.click(f"#export-{name}")
        files[name] = (caught.value.suggested_filename, caught.value.path())
        assert files[name][0].endswith("." + name.split("-")[1])
    chart = Path(files["chart-svg"][1]).read_text(encoding="utf-8")
    assert compare(expected, _bars(chart)) is None
    # It stands alone: the page's style sheet is not there to colour it, and it says what it shows.
    assert OBESITY in chart and "style=" in chart
    map_root = ElementTree.fromstring(Path(files["map-svg"][1]).read_text(encoding="utf-8"))
    tiles = {tile.get("data-location"): tile for tile in map_root.iter(f"{SVG}g") if tile.get("data-location")}
    for state, value in expected.items():
        if state in tiles:
            shown = [text.text for text in tiles[state].iter(f"{SVG}text")]
            assert any(text and abs(number(re.sub(r"[^\d.\u2212+-]", "", text)) - value) <= 0.05
                       for text in shown[1:]), (state, shown)
    # What the page says around them comes along: the chart's key, the map's legend, the whole credit.
    map_text = " ".join(text.text or "" for text in map_root.iter(f"{SVG}text"))
    assert "State mean" in map_text and "lower is better" in map_text and "2011–2022" in map_text
    assert len(list(map_root.iter(f"{SVG}stop"))) > 2
    chart_text = " ".join(text.text or "" for text in ElementTree.fromstring(chart).iter(f"{SVG}text"))
    assert "Key:" in chart_text and "global mean" in chart_text
    for name in ("chart", "map"):
        root = ElementTree.fromstring(Path(files[f"{name}-svg"][1]).read_text(encoding="utf-8"))
        width, height = _png_size(files[f"{name}-png"][1])
        # Drawn at twice the SVG's size.
        assert (width, height) == (2 * round(float(root.get("width"))), 2 * round(float(root.get("height"))))
    dashboard.assert_healthy()


def test_a_segment_map_and_a_state_chart_say_what_they_show_in_their_files(dashboard):
    dashboard.open().run("mean_by_category", OBESITY)
    dashboard.page.select_option("#shown-state", "Ohio")
    segment = dashboard.page.eval_on_selector_all("#mapped-segment option", "items => items[1].value")
    dashboard.page.select_option("#mapped-segment", segment)
    category, name = json.loads(segment)
    texts = {}
    for kind in ("chart", "map"):
        with dashboard.page.expect_download() as caught:
            dashboard.page.click(f"#export-{kind}-svg")
        root = ElementTree.fromstring(Path(caught.value.path()).read_text(encoding="utf-8"))
        texts[kind] = " ".join(text.text or "" for text in root.iter(f"{SVG}text"))
    assert "State shown: Ohio" in texts["chart"]
    assert f"{category}: {name}" in texts["map"]
    dashboard.assert_healthy()


def test_states_compared_side_by_side(dashboard, reference):
    chosen = ["Ohio", "Texas", "Colorado"]
    dashboard.open()
    dashboard.page.select_option("#analysis", "compare")
    dashboard.page.select_option("#question", OBESITY)
    dashboard.page.wait_for_selector("#compare-states input[value=Ohio]")
    dashboard.page.check("#compare-states input[value=Ohio]")
    dashboard.page.click("#submit")
    assert "two states or more" in dashboard.page.locator("#refusal").text_content()
    for state in chosen[1:]:
        dashboard.page.check(f"#compare-states input[value={state}]")
    dashboard.page.click("#submit")
    _shown_job(dashboard)
    means = reference.states_mean(OBESITY)
    ranks = _ranks(means, OBESITY in LOWER_IS_BETTER)
    global_mean = reference.global_mean(OBESITY)["global_mean"]
    rows = dashboard.page.eval_on_selector_all(
        "#view-table tbody tr", "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))")
    assert sorted(row[0] for row in rows) == sorted(chosen)
    for state, mean, rank, _, gap in rows:
        assert abs(number(mean) - means[state]) <= 0.005
        assert int(rank) == ranks[state]
        assert abs(number(gap) - (means[state] - global_mean)) <= 0.005
    assert sorted(_query(dashboard.page)["state"]) == sorted(chosen)
    assert _query(dashboard.page)["analysis"] == ["compare"]
    assert dashboard.page.locator("#view-chart rect.bar").count() == 3
    dashboard.screenshot("compare")
    dashboard.assert_healthy()


def test_questions_are_told_apart_and_searchable(dashboard):
    dashboard.open()
    labels = dashboard.page.eval_on_selector_all(
        "#question option", "items => Object.fromEntries(items.map(item => [item.value, item.textContent]))")
    achieve = [labels[question] for question in ACHIEVE]
    # Short, and different where the questions differ.
    assert len(set(achieve)) == 3 and all(len(label) <= 72 for label in labels.values())
    dashboard.page.select_option("#question", ACHIEVE[1])
    assert dashboard.page.locator("#question-full").text_content() == ACHIEVE[1]
    dashboard.page.fill("#question-search", "muscle")
    offered = dashboard.page.eval_on_selector_all("#question option", "items => items.map(item => item.value)")
    assert sorted(offered) == sorted([ACHIEVE[1], MUSCLE])
    dashboard.page.fill("#question-search", "vegetables daily")
    dashboard.page.wait_for_function("() => document.querySelectorAll('#question option').length === 1")
    assert "vegetables" in dashboard.page.input_value("#question")
    dashboard.page.fill("#question-search", "")
    assert dashboard.page.locator("#question option").count() == len(labels)
    dashboard.assert_healthy()
