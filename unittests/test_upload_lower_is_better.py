"""An upload names its lower-is-better questions (repeated multipart field "lower_is_better").

The statistics on the upload rank a named question lowest first, GET
/api/questions and GET /api/datasets say so, the choice is part of the data
set's id, and it survives a restart and reaches every app on one Redis. Each
test runs on the file store and on the Redis store (unittests/conftest.py).
Expected rankings are the reference's means (checker/reference.py) sorted here.
"""
import io
import json
import os

import pytest

from app.stores import redis_keys as keys
from checker.reference import Reference, compare
from unittests.conftest import STORES, run_job
from unittests.dataset_support import OBESITY, csv_text, write_csv

SCREEN = "Minutes of screen time a day, adults"
STEPS = "Steps walked a day by adults"
STATES = ("Ohio", "Utah", "Guam", "Vermont", "Texas", "Maine", "Iowa")


def _rows():
    """Seven states, so that the best and worst five leave some out; OBESITY is the survey's own."""
    rows = []
    for place, state in enumerate(STATES):
        # Each question places the states in an order of its own.
        for question, base, spread in ((SCREEN, 150.0, 3), (STEPS, 5000.0, 2), (OBESITY, 20.0, 5)):
            value = base + 17.5 * ((place * spread) % len(STATES))
            rows.append((state, question, f"{value:.2f}", "Sex", "Female"))
            rows.append((state, question, f"{value + 4:.2f}", "Sex", "Male"))
    return rows


TEXT = csv_text(_rows())


def _upload(client, lower_is_better=(), text=TEXT, filename="habits.csv"):
    fields = {"file": (io.BytesIO(text.encode()), filename), "lower_is_better": list(lower_is_better)}
    return client.post("/api/datasets", data=fields, content_type="multipart/form-data")


def _stored(client, lower_is_better=(), status=201):
    response = _upload(client, lower_is_better)
    assert response.status_code == status, response.get_json()
    return response.get_json()["data"]


def _means(tmp_path, question):
    """{state: mean} of the reference, lowest first (by name among equals)."""
    means = Reference(write_csv(tmp_path / "reference.csv", TEXT)).states_mean(question)
    return {state: means[state] for state in sorted(means, key=lambda state: (means[state], state))}


def _answer(client, endpoint, question, dataset):
    answer = run_job(client, endpoint, {"question": question, "dataset": dataset})
    assert answer["status"] == "done", answer
    return answer["data"]


def _assert_ranked(client, dataset, question, means, lowest_first):
    """best5, worst5, states_mean and the ranking of a question against means sorted lowest first."""
    best_first = list(means.items()) if lowest_first else list(means.items())[::-1]
    for endpoint, expected in (("best5", best_first[:5]), ("worst5", best_first[::-1][:5]),
                               ("states_mean", list(means.items()))):
        answer = _answer(client, endpoint, question, dataset)
        assert list(answer) == [state for state, _ in expected], endpoint
        assert compare(dict(expected), answer) is None, endpoint
    ranking = client.get("/api/ranking", query_string={"question": question, "dataset": dataset}).get_json()
    assert [entry["state"] for entry in ranking["data"]] == [state for state, _ in best_first]


def _directions(client, dataset):
    listed = client.get(f"/api/questions?dataset={dataset}").get_json()["data"]
    return {item["question"]: item["lower_is_better"] for item in listed}


def _listing(client):
    return client.get("/api/datasets").get_json()["data"]


def test_a_question_named_lower_is_better_is_ranked_lowest_first(client, tmp_path):
    stored = _stored(client, [SCREEN])
    assert stored["lower_is_better"] == [SCREEN, OBESITY]
    _assert_ranked(client, stored["id"], SCREEN, _means(tmp_path, SCREEN), lowest_first=True)
    # A question left out keeps higher-is-better; the survey's own keeps lower-is-better.
    _assert_ranked(client, stored["id"], STEPS, _means(tmp_path, STEPS), lowest_first=False)
    _assert_ranked(client, stored["id"], OBESITY, _means(tmp_path, OBESITY), lowest_first=True)
    assert _directions(client, stored["id"]) == {SCREEN: True, STEPS: False, OBESITY: True}
    assert _listing(client)[1] == stored


def test_without_the_field_only_the_survey_questions_are_lower_is_better(client, tmp_path):
    stored = _stored(client)
    assert stored["lower_is_better"] == [OBESITY]
    assert _directions(client, stored["id"]) == {SCREEN: False, STEPS: False, OBESITY: True}
    _assert_ranked(client, stored["id"], SCREEN, _means(tmp_path, SCREEN), lowest_first=False)
    # The bundled data set says which of its questions are lower-is-better, too.
    bundled = _listing(client)[0]
    assert bundled["id"] == "default"
    assert bundled["lower_is_better"] == [question for question, lower in _directions(client, "default").items()
                                          if lower]


def test_the_choice_is_part_of_the_id(client):
    plain = _stored(client)
    screen = _stored(client, [SCREEN])
    both = _stored(client, [STEPS, SCREEN])
    assert len({plain["id"], screen["id"], both["id"]}) == 3
    # The same file with the same choice, in any order, repeated, with blank values: uploaded again.
    assert _stored(client, [SCREEN, " ", SCREEN], status=200) == screen
    assert _stored(client, [SCREEN, STEPS], status=200) == both
    assert _stored(client, [""], status=200) == plain
    # Naming the survey's own changes nothing: it is lower-is-better in any file.
    assert _stored(client, [OBESITY], status=200) == plain
    assert _stored(client, [OBESITY, SCREEN], status=200) == screen
    assert [item["id"] for item in _listing(client)[1:]] == [plain["id"], screen["id"], both["id"]]


@pytest.mark.parametrize("named", [["Minutes of screen time"], [SCREEN, "Hours of sleep", "Cups of tea"],
                                   ["Percent of adults who engage in no leisure-time physical activity"]])
def test_a_name_that_is_not_a_question_of_the_file_is_refused(client, app, named):
    kept = _stored(client)
    files = sorted(os.listdir(app.config["DATASETS_DIR"]))
    response = _upload(client, named)
    assert response.status_code == 400
    unknown = sorted(set(named) - {SCREEN})
    more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
    assert response.get_json() == {
        "status": "error",
        "reason": f'"lower_is_better" names a question the file does not have: "{unknown[0]}"{more}; '
                  "each value must be the text of a Question the file gives a numeric Data_Value"}
    assert _listing(client)[1:] == [kept]
    assert sorted(os.listdir(app.config["DATASETS_DIR"])) == files


def test_a_question_with_no_value_is_not_a_question_of_the_file(client):
    text = csv_text([*_rows(), ("Ohio", "Hours of sleep", "", "Sex", "Male")])
    response = _upload(client, ["Hours of sleep"], text=text)
    assert response.status_code == 400
    assert '"Hours of sleep"' in response.get_json()["reason"]


def test_the_values_are_bounded_by_what_a_file_may_hold(make_app):
    client = make_app(MAX_UPLOAD_QUESTIONS=3, MAX_UPLOAD_FIELD_CHARS=len(OBESITY)).test_client()
    too_long = _upload(client, [OBESITY + "!"])
    assert too_long.status_code == 400
    assert too_long.get_json()["reason"] == (f'a "lower_is_better" value of {len(OBESITY) + 1} characters is '
                                             f"longer than the {len(OBESITY)} a question may have")
    assert _upload(client, [SCREEN, STEPS, OBESITY]).status_code == 201
    too_many = _upload(client, [SCREEN, STEPS, OBESITY, SCREEN])
    assert too_many.status_code == 413
    assert too_many.get_json()["reason"] == (
        'the upload has more than 4 fields, or a field other than the file of more than 500000 bytes; '
        'send the file and at most 3 "lower_is_better" values, one question each')
    assert len(_listing(client)) == 2


def test_a_restart_keeps_the_choice(make_app, tmp_path):
    first = make_app(store="file")
    stored = _stored(first.test_client(), [SCREEN])
    first.extensions["le_stats_sportif"].shutdown(wait=True, timeout=10)
    with open(os.path.join(first.config["DATASETS_DIR"], f"{stored['id']}.json"), encoding="utf-8") as file:
        assert json.load(file)["lower_is_better"] == [SCREEN, OBESITY]
    second = make_app(store="file").test_client()
    assert _listing(second)[1:] == [stored]
    assert _directions(second, stored["id"])[SCREEN] is True
    _assert_ranked(second, stored["id"], SCREEN, _means(tmp_path, SCREEN), lowest_first=True)


def test_another_app_on_the_same_redis_has_the_choice(make_app, tmp_path):
    first = make_app(store="redis", DATASETS_DIR=str(tmp_path / "first")).test_client()
    second = make_app(store="redis", DATASETS_DIR=str(tmp_path / "second")).test_client()
    stored = _stored(first, [SCREEN])
    assert _listing(second)[1:] == [stored]
    assert _directions(second, stored["id"]) == {SCREEN: True, STEPS: False, OBESITY: True}
    _assert_ranked(second, stored["id"], SCREEN, _means(tmp_path, SCREEN), lowest_first=True)
    # Uploaded again to the second app with the same choice, it is the same data set.
    assert _stored(second, [SCREEN], status=200) == stored


def _drop_the_choice(app, store, request, dataset_id):
    """Make the description of a data set one written before uploads could name their questions."""
    if store == "redis":
        redis_client = request.getfixturevalue("redis_server").client()
        about = json.loads(redis_client.hget(keys.DATASETS, dataset_id))
        del about["lower_is_better"]
        redis_client.hset(keys.DATASETS, dataset_id, json.dumps(about))
    path = os.path.join(app.config["DATASETS_DIR"], f"{dataset_id}.json")
    with open(path, encoding="utf-8") as file:
        about = json.load(file)
    del about["lower_is_better"]
    with open(path, "w", encoding="utf-8") as file:
        json.dump(about, file)


@pytest.mark.parametrize("store", STORES)
def test_a_description_without_the_choice_has_the_survey_questions(make_app, store, request, tmp_path):
    first = make_app(store=store)
    stored = _stored(first.test_client())
    _drop_the_choice(first, store, request, stored["id"])
    second = make_app(store=store).test_client()
    assert _listing(second)[1:] == [stored]
    assert _directions(second, stored["id"]) == {SCREEN: False, STEPS: False, OBESITY: True}
    _assert_ranked(second, stored["id"], OBESITY, _means(tmp_path, OBESITY), lowest_first=True)
    assert _stored(second, status=200) == stored
