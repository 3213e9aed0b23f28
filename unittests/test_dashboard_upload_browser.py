"""Uploading a CSV through the dashboard, with its questions marked lower-is-better in the page.

The file is read in the browser, its questions offered with a checkbox each,
and sent with those ticked; the answers on the upload must then rank a
ticked question lowest first. Expected rankings are worked out here from the
rows the test writes.
"""
import json
import statistics
import urllib.request

from unittests.browser_support import (  # pylint: disable=unused-import
    PHONE, fixture_browser, fixture_dashboard, fixture_phone, fixture_server)
from unittests.dataset_support import csv_text, write_csv

# A comma in a question: the page must read quoted fields as the server does.
SCREEN = "Minutes of screen time a day, adults"
STEPS = "Steps walked a day by adults"
# state -> (screen minutes of two rows, steps of two rows)
ROWS = {
    "Ohio": ((190, 230), (5200, 5600)),
    "Utah": ((150, 170), (7100, 6900)),
    "Guam": ((260, 250), (4100, 4500)),
    "Vermont": ((120, 140), (8000, 7600)),
    "Texas": ((210, 215), (5000, 5300)),
    "Maine": ((175, 185), (6600, 6200)),
    "Iowa": ((230, 240), (6000, 5800)),
}


def _rows():
    rows = []
    for state, (screen, steps) in ROWS.items():
        for question, values in ((SCREEN, screen), (STEPS, steps)):
            rows.extend((state, question, str(value), "Sex", sex) for value, sex in zip(values, ("Female", "Male")))
    return rows


def _means(question):
    column = 0 if question == SCREEN else 1
    return {state: statistics.mean(values[column]) for state, values in ROWS.items()}


def _lowest_first(means):
    return sorted(means, key=lambda state: (means[state], state))


def _write(tmp_path):
    return str(write_csv(tmp_path / "habits.csv", csv_text(_rows())))


def _offered(page):
    return page.eval_on_selector_all("#upload-questions input", "boxes => boxes.map(b => [b.value, b.checked])")


def test_a_question_ticked_in_the_page_is_ranked_lowest_first(dashboard, tmp_path):
    page = dashboard.page
    dashboard.open()
    page.set_input_files("#upload-file", _write(tmp_path))
    page.wait_for_selector("#upload-choices:not([hidden])")
    assert "habits.csv" in page.locator("#upload-choices legend").text_content()
    assert _offered(page) == [[SCREEN, False], [STEPS, False]]
    # From the keyboard: the first question has the focus once the file is read.
    assert page.evaluate("document.activeElement.value") == SCREEN
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "upload-send"
    page.keyboard.press("Enter")
    status = page.locator("#upload-status.ok")
    status.wait_for()
    assert status.text_content().startswith(f"Added habits.csv: {len(_rows())} rows, 2 questions. "
                                            "Lower is better for 1 of them.")
    assert page.locator("#upload-choices").is_hidden()
    listed = json.loads(urllib.request.urlopen(dashboard.url + "/api/datasets").read())["data"]
    assert [(item["name"], item["lower_is_better"]) for item in listed[1:]] == [("habits.csv", [SCREEN])]

    screen = _means(SCREEN)
    dashboard.run("best5", SCREEN)
    shown, order = dashboard.table()
    assert order == _lowest_first(screen)[:5]
    assert shown == {state: screen[state] for state in order}
    assert page.locator("#direction").text_content() == "For this question lower is better."
    assert "lower is better" in page.locator(".answer-head .pill.direction").text_content()

    dashboard.run("states_mean", SCREEN)
    shown, order = dashboard.table()
    assert order == _lowest_first(screen)
    assert shown == screen
    dashboard.screenshot("dashboard-upload-lower-is-better-desktop")

    # The question left unticked stays higher-is-better.
    steps = _means(STEPS)
    dashboard.run("states_mean", STEPS)
    _, order = dashboard.table()
    assert order == _lowest_first(steps)[::-1]
    assert page.locator("#direction").text_content() == "For this question higher is better."
    dashboard.assert_healthy()


def test_a_file_over_the_limit_is_refused_before_it_is_sent(dashboard, server, tmp_path):
    limit = server[1].config["MAX_UPLOAD_BYTES"]
    text = csv_text(_rows())
    path = write_csv(tmp_path / "large.csv", text + "\n" * (limit - len(text) + 1))
    dashboard.open()
    posted = []
    dashboard.page.on("request", lambda request: request.method == "POST" and posted.append(request.url))
    dashboard.page.set_input_files("#upload-file", str(path))
    status = dashboard.page.locator("#upload-status.error")
    status.wait_for()
    assert status.text_content().startswith("Refused: the file is larger than the limit of")
    assert dashboard.page.locator("#upload-choices").is_hidden()
    assert not posted
    dashboard.assert_healthy()


def test_the_choice_fits_a_phone(phone, tmp_path):
    phone.open()
    phone.page.set_input_files("#upload-file", _write(tmp_path))
    phone.page.wait_for_selector("#upload-choices:not([hidden])")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.page.get_by_role("checkbox", name=SCREEN).check()
    phone.screenshot("dashboard-upload-choice-phone")
    phone.page.get_by_role("button", name="Upload", exact=True).click()
    phone.page.locator("#upload-status.ok").wait_for()
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.page.select_option("#question", SCREEN)
    assert phone.page.locator("#direction").text_content() == "For this question lower is better."
    phone.assert_healthy()
