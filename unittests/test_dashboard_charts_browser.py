"""The dashboard's charts, maps and tables in a real browser, at a desktop's size and a phone's.

A one-state view places its state among every place; a map's colours are centred where its legend
says; text on a tile stays readable whatever its fill; a reference line covers no label and no label
is cut; values carry their unit; a tap on a tile shows its value. Numbers are checked against
checker/reference.py's independent computation, colours, contrasts and overlaps are measured from
what the browser rendered.
"""
import ast
import json
import re

import pytest

from checker.reference import LOWER_IS_BETTER
from unittests.browser_support import (  # pylint: disable=unused-import
    fixture_browser, fixture_dashboard, fixture_phone, fixture_reference, fixture_server, number)
from unittests.dataset_support import MUSCLE, OBESITY, csv_text, own_rows, upload

DEVICES = ["dashboard", "phone"]
ONE_STATE = ["state_mean", "state_diff_from_mean", "state_mean_by_category"]
# The pale colour every diverging scale starts from, at its centre.
NEUTRAL = (241, 243, 245)
AA = 4.5

# Every bar chart: its box, its labels (the text of each line, and the whole label of its row) and
# the stretches of its reference lines with their stroke.
CHART_BOXES = """() => [...document.querySelectorAll('svg.bar-chart')].map(chart => {
  const box = (node) => { const r = node.getBoundingClientRect();
                          return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const wrap = chart.closest('.chart-wrap');
  return {
    box: box(chart),
    scrolls: wrap.scrollWidth > wrap.clientWidth + 1,
    labels: [...chart.querySelectorAll('text.bar-label, text.bar-value')].map(text => ({
      ...box(text), kind: text.getAttribute('class'), whole: text.closest('.bar-row')?.dataset.label ?? null,
      text: text.querySelectorAll('tspan').length
        ? [...text.querySelectorAll('tspan')].map(line => line.textContent).join(' ') : text.textContent})),
    lines: [...chart.querySelectorAll('.reference-line')].map(line => [...line.querySelectorAll('line')]
      .map(part => ({...box(part), stroke: parseFloat(getComputedStyle(part).strokeWidth)}))),
  };
})"""

# The text of every tile with the colour it is drawn in and the fill of its tile, as rendered.
TILE_TEXTS = """() => [...document.querySelectorAll('#view-map g.tile')].flatMap(tile =>
  [...tile.querySelectorAll('text')].map(text => ({
    location: tile.dataset.location, text: text.textContent,
    ink: getComputedStyle(text).fill, fill: getComputedStyle(tile.querySelector('rect')).fill})))"""

TILE_FILLS = """() => Object.fromEntries([...document.querySelectorAll('#view-map g.tile:not(.empty)')]
  .map(tile => [tile.dataset.location, getComputedStyle(tile.querySelector('rect')).fill]))"""


def _rgb(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _luminance(rgb):
    """WCAG 2's relative luminance."""
    def linear(channel):
        channel /= 255
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4
    red, green, blue = map(linear, rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(first, second):
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _leaning(rgb):
    """How far a tile's colour is from the scale's pale centre, towards "better" (teal, more green than
    red: above zero) or "worse" (orange: below zero)."""
    side = 1 if rgb[1] > rgb[0] else -1
    return side * (_luminance(NEUTRAL) - _luminance(rgb))


def _ordinal(rank):
    suffix = "th" if 11 <= rank % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return f"{rank}{suffix}"


def _standing(means, state, lower_is_better):
    """(rank, percentile): equal means share a rank; the percentile is the share of the other places
    with a worse mean, in percent."""
    def better(first, second):
        return first < second if lower_is_better else first > second
    ahead = sum(1 for other in means.values() if better(other, means[state]))
    behind = sum(1 for other in means.values() if better(means[state], other))
    return ahead + 1, round(100 * behind / (len(means) - 1), 1)


def _best_first(means, question):
    return sorted(means, key=lambda state: means[state] if question in LOWER_IS_BETTER else -means[state])


def _segment(reference, question, category, segment):
    """{state: mean} of one segment across the states."""
    return {key[0]: value for key, value in ((ast.literal_eval(key), value)
                                             for key, value in reference.mean_by_category(question).items())
            if key[1:] == (category, segment)}


def _texts(page, selector):
    return page.eval_on_selector_all(selector, "nodes => nodes.map(node => node.textContent)")


def _overlaps(label, line):
    half = line["stroke"] / 2
    return (line["left"] - half < label["right"] and label["left"] < line["right"] + half
            and line["top"] < label["bottom"] and label["top"] < line["bottom"])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("analysis", ONE_STATE)
def test_a_one_state_view_ranks_the_state_among_every_place(request, reference, analysis, device):
    board = request.getfixturevalue(device)
    board.open().run(analysis, OBESITY, "Texas")
    means = reference.states_mean(OBESITY)
    rank, percentile = _standing(means, "Texas", OBESITY in LOWER_IS_BETTER)
    card = board.page.locator(".stat", has=board.page.locator(".stat-label", has_text=re.compile("^Rank$")))
    assert card.locator(".stat-value").text_content() == f"{_ordinal(rank)} of {len(means)}"
    detail = card.locator(".stat-detail").text_content()
    assert float(re.search(r"percentile ([\d.]+)", detail)[1]) == percentile
    # The whole ranking, best first, every value printed, the state's bar marked with its rank.
    bars = board.page.eval_on_selector_all(
        "#view-ranking svg.bar-chart rect.bar", "bars => bars.map(bar => Number(bar.dataset.value))")
    assert bars == pytest.approx([means[state] for state in _best_first(means, OBESITY)], abs=0.01)
    assert board.page.locator("#view-ranking .bar-value").count() == len(means)
    marked = board.page.locator("#view-ranking .bar-row.marked")
    assert marked.count() == 1
    value = float(marked.locator("rect.bar").get_attribute("data-value"))
    assert value == pytest.approx(means["Texas"], abs=0.01)
    assert marked.locator(".bar-label").text_content().replace(" ", "") == f"Texas,{_ordinal(rank)}"
    assert board.page.locator("#view-map g.tile.marked").get_attribute("data-location") == "Texas"
    if analysis == "state_mean":
        board.screenshot(f"dashboard-one-state-{'desktop' if device == 'dashboard' else 'phone'}")
    board.assert_healthy()


@pytest.mark.parametrize("analysis", ONE_STATE)
def test_the_one_state_map_colours_every_state_against_all_of_them(dashboard, reference, analysis):
    dashboard.open().run(analysis, MUSCLE, "Ohio")
    means = reference.states_mean(MUSCLE)
    fills = {state: _rgb(fill) for state, fill in dashboard.page.evaluate(TILE_FILLS).items()}
    assert sorted(fills) == sorted(means)
    # Best first: from the deepest "better" colour through the palest to the deepest "worse".
    leanings = [_leaning(fills[state]) for state in _best_first(means, MUSCLE)]
    assert leanings[0] > 0 > leanings[-1]
    assert all(first >= second - 1e-3 for first, second in zip(leanings, leanings[1:])), leanings
    assert dashboard.page.locator("#view-map g.tile.marked").get_attribute("data-location") == "Ohio"
    legend = dashboard.page.locator("#view-map .legend")
    low, high = (number(legend.locator(end).text_content()) for end in (".legend-min", ".legend-max"))
    assert (low, high) == pytest.approx((min(means.values()), max(means.values())), abs=0.05)
    centre = legend.locator(".legend-centre-label").text_content()
    assert centre.startswith("global mean ")
    global_mean = reference.global_mean(MUSCLE)["global_mean"]
    assert number(centre.rsplit(" ", 1)[1]) == pytest.approx(global_mean, abs=0.05)
    dashboard.assert_healthy()


def test_the_segment_map_is_centred_on_the_segments_own_mean(dashboard, reference):
    dashboard.open().run("mean_by_category", OBESITY)
    # The picker's values are JSON.stringify([category, segment]).
    young = json.dumps(["Age (years)", "18 - 24"], separators=(",", ":"))
    dashboard.page.select_option("#mapped-segment", young)
    values = _segment(reference, OBESITY, "Age (years)", "18 - 24")
    centre = sum(values.values()) / len(values)
    # Every state's young adults are below the question's global mean: centred there, all would read "better".
    assert max(values.values()) < reference.global_mean(OBESITY)["global_mean"]
    label = dashboard.page.locator("#view-map .legend-centre-label").text_content()
    assert label.startswith("mean of the segment ")
    assert number(label.rsplit(" ", 1)[1]) == pytest.approx(centre, abs=0.05)
    fills = {state: _rgb(fill) for state, fill in dashboard.page.evaluate(TILE_FILLS).items()}
    assert sorted(fills) == sorted(values)
    # Lower is better: below the segment's mean is "better", above it "worse".
    sides = {state: _leaning(fills[state]) > 0 for state in values if abs(values[state] - centre) > 0.05}
    assert sides == {state: values[state] < centre for state in sides}
    assert set(sides.values()) == {True, False}
    dashboard.assert_healthy()


@pytest.mark.parametrize("device", DEVICES)
def test_text_on_every_tile_reaches_4_5_to_1_whatever_its_fill(request, device):
    board = request.getfixturevalue(device)
    board.open()
    checked = 0
    for analysis, question, state in (("states_mean", OBESITY, None), ("diff_from_mean", MUSCLE, None),
                                      ("state_mean", MUSCLE, "Ohio"), ("mean_by_category", OBESITY, None)):
        board.run(analysis, question, state)
        segments = [None]
        if analysis == "mean_by_category":
            segments = board.page.eval_on_selector_all("#mapped-segment option", "os => os.map(o => o.value)")
        for segment in segments:
            if segment:
                board.page.select_option("#mapped-segment", segment)
            for text in board.page.evaluate(TILE_TEXTS):
                ratio = _contrast(_rgb(text["ink"]), _rgb(text["fill"]))
                assert ratio >= AA, (analysis, segment, text, ratio)
                checked += 1
    assert checked > 1000
    board.assert_healthy()


@pytest.mark.parametrize("device", DEVICES)
def test_reference_lines_cover_no_label_and_no_label_is_cut(request, device):
    board = request.getfixturevalue(device)
    board.open()
    broken = 0
    for analysis, question, state in (("states_mean", OBESITY, None), ("diff_from_mean", MUSCLE, None),
                                      ("state_mean", OBESITY, "Texas"),
                                      ("state_mean_by_category", OBESITY, "District of Columbia")):
        board.run(analysis, question, state)
        charts = board.page.evaluate(CHART_BOXES)
        assert charts and all(chart["lines"] for chart in charts)
        for chart in charts:
            assert not chart["scrolls"], analysis
            box = chart["box"]
            for label in chart["labels"]:
                assert not label["text"].endswith("…"), label
                if label["kind"] == "bar-label":
                    assert label["text"] == label["whole"], label
                inside = (box["left"] - 0.5 <= label["left"] and label["right"] <= box["right"] + 0.5
                          and box["top"] - 0.5 <= label["top"] and label["bottom"] <= box["bottom"] + 0.5)
                assert inside, (label, box)
                for line in chart["lines"]:
                    for part in line:
                        assert not _overlaps(label, part), (analysis, label, part)
            broken += sum(1 for line in chart["lines"] if len(line) > 1)
    # The lines did pass where labels sit, and were broken there.
    assert broken > 0
    board.assert_healthy()


def test_a_percentage_reads_with_its_unit(dashboard, reference):
    page = dashboard.open().page
    dashboard.run("states_mean", OBESITY)
    means = reference.states_mean(OBESITY)
    shown = {"table": _texts(page, "#view-table tbody td:nth-child(3)"),
             "bars": _texts(page, "#view-chart .bar-value"), "ticks": _texts(page, "#view-chart .grid text"),
             "tiles": _texts(page, "#view-map .tile-value"),
             "legend": _texts(page, "#view-map .legend-scale span"),
             "card": [page.locator(".stat-value").first.text_content()]}
    for where, texts in shown.items():
        assert texts and all(text.endswith("%") for text in texts), (where, texts)
    assert dashboard.table()[0] == pytest.approx(means, abs=0.01)
    assert sorted(map(number, shown["tiles"])) == pytest.approx(sorted(means.values()), abs=0.05)
    # Differences of percentages are in percentage points.
    dashboard.run("diff_from_mean", OBESITY)
    assert "percentage points" in page.locator("#view-table thead").text_content()
    assert "percentage points" in page.locator("#view-map .legend-title").text_content()
    for texts in (_texts(page, "#view-table tbody td:nth-child(3)"), _texts(page, "#view-chart .bar-value")):
        assert texts and all(text.endswith(" pts") for text in texts), texts
    assert dashboard.table()[0] == pytest.approx(reference.diff_from_mean(OBESITY), abs=0.01)
    dashboard.run("state_diff_from_mean", OBESITY, "Ohio")
    assert page.locator(".stat-value").first.text_content().endswith(" pts")
    expected = reference.state_diff_from_mean(OBESITY, "Ohio")["Ohio"]
    assert dashboard.stat() == pytest.approx(expected, abs=0.01)
    dashboard.assert_healthy()


def test_a_question_that_is_not_a_percentage_reads_as_bare_numbers(dashboard, server):
    question = "Minutes of brisk walking a day"
    rows = [(state, question if asked == OBESITY else asked, *rest) for state, asked, *rest in own_rows()]
    stored = upload(server[1].test_client(), csv_text(rows), "minutes.csv").get_json()["data"]
    page = dashboard.open().page
    page.select_option("#dataset", stored["id"])
    page.wait_for_selector(f'#question option[value="{question}"]', state="attached")
    dashboard.run("states_mean", question)
    texts = _texts(page, "#view-table tbody td:nth-child(3), .bar-value, .grid text, .tile-value, "
                         ".legend-scale span, .stat-value")
    assert texts and not any("%" in text or "pts" in text for text in texts), texts
    dashboard.run("state_diff_from_mean", question, "Utah")
    assert re.fullmatch(r"[+\u2212]?\d+\.\d\d", page.locator(".stat-value").first.text_content())
    dashboard.assert_healthy()


def test_a_tap_on_a_tile_shows_its_value_on_a_phone(phone, reference):
    phone.open().run("state_mean", OBESITY, "Ohio")
    means = reference.states_mean(OBESITY)
    # Too small on a phone for their values, the tiles print their codes only.
    assert not phone.page.locator('#view-map g.tile[data-location="Utah"] .tile-value').is_visible()
    phone.page.locator('#view-map g.tile[data-location="Utah"]').tap()
    readout = phone.page.locator("#view-map .map-readout")
    name, value = readout.text_content().split(": ")
    assert name == "Utah" and value.endswith("%")
    assert number(value) == pytest.approx(means["Utah"], abs=0.05)
    assert readout.is_visible()
    assert phone.page.locator('#view-map g.tile.picked').get_attribute("data-location") == "Utah"
    phone.assert_healthy()


def test_without_the_ranking_a_one_state_view_still_shows_its_answer(dashboard, reference):
    dashboard.page.route("**/api/ranking*", lambda route: route.abort())
    dashboard.open().run("state_mean", OBESITY, "Ohio")
    assert dashboard.stat() == pytest.approx(reference.state_mean(OBESITY, "Ohio")["Ohio"], abs=0.01)
    assert dashboard.page.locator("#view-ranking").count() == 0
    assert dashboard.page.locator(".stat-label", has_text=re.compile("^Rank$")).count() == 0
    assert dashboard.page.locator("#view-map g.tile.marked").get_attribute("data-location") == "Ohio"
    # The browser logs the request it was made to drop; nothing else may go wrong.
    assert not [problem for problem in dashboard.problems if not problem.startswith("Failed to load")]
