"""Bounded uploads: the quota of data sets kept, deleting one, the limits of one file,
answers bounded in size, a start that parses no upload, and readable reasons for
files that are not text CSV. Where the store matters, on both stores."""
import io
import json
import os
import threading
import time

import pytest

from app import datasets as catalog_module
from app.data_ingestor import AnswerCache, DataIngestor, UploadLimits
from app.dataset_folder import STALE_TEMPORARY_S
from app.stores import redis_keys as keys
from app.task_runner import WorkItem
from unittests.conftest import LOW, STORES, wait_for
from unittests.dataset_support import HEADER, OBESITY, csv_text, own_rows, upload

HEADER_LINE = ",".join(HEADER) + "\n"


def _listing(client):
    return client.get("/api/datasets").get_json()["data"]


def _files(app):
    return sorted(os.listdir(app.config["DATASETS_DIR"]))


def _redis_datasets(redis_server):
    """What Redis holds of the data sets: their ids, and every CSV key."""
    client = redis_server.client()
    return sorted(client.hkeys(keys.DATASETS)), sorted(client.keys(keys.DATASET_CSV + "*"))


def _kept(store, app, request):
    """Everything a store keeps of the data sets, to compare before and after."""
    kept = {"files": _files(app), "listing": _listing(app.test_client())}
    if store == "redis":
        kept["redis"] = _redis_datasets(request.getfixturevalue("redis_server"))
    return kept


def _uploaded(client, text, filename="mine.csv"):
    response = upload(client, text, filename)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def _run(client, endpoint, body):
    """Submit a job and return its final get_results JSON."""
    return wait_for(client, client.post(f"/api/{endpoint}", json=body).get_json()["job_id"])


def _unknown(dataset_id):
    return f'unknown data set "{dataset_id}"; GET /api/datasets lists them'


def _hold_workers(app):
    """Keep every worker busy until the returned event is set: jobs submitted meanwhile wait in the queue."""
    gate = threading.Event()
    pool = app.extensions["le_stats_sportif"].pool
    for _ in range(pool.num_threads):
        pool.submit(lambda: WorkItem(gate.wait, lambda *_: None))
    return gate


# -- the quota ---------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_the_count_quota_refuses_with_507_and_keeps_nothing(make_app, store, request):
    app = make_app(store=store, MAX_DATASETS=2)
    client = app.test_client()
    first = _uploaded(client, csv_text(own_rows()))
    _uploaded(client, csv_text(own_rows(scale=2)))
    before = _kept(store, app, request)
    refused = upload(client, csv_text(own_rows(scale=3)))
    assert refused.status_code == 507
    assert refused.get_json() == {"status": "error", "reason": (
        "the data set is not kept: 2 data sets are kept, and at most 2 may be; "
        "DELETE /api/datasets/<id> frees room")}
    assert _kept(store, app, request) == before
    # A file kept already is no new data set: its upload is answered as before.
    again = upload(client, csv_text(own_rows()))
    assert again.status_code == 200 and again.get_json()["data"] == first


@pytest.mark.parametrize("store", STORES)
def test_the_bytes_quota_refuses_with_507_and_keeps_nothing(make_app, store, request):
    small = csv_text(own_rows())
    app = make_app(store=store, MAX_DATASETS_BYTES=len(small) + 100)
    client = app.test_client()
    _uploaded(client, small)
    before = _kept(store, app, request)
    larger = csv_text(own_rows(scale=2) * 2)
    refused = upload(client, larger)
    assert refused.status_code == 507
    assert refused.get_json()["reason"] == (
        f"the data set is not kept: the data sets kept take {len(small)} bytes and this file {len(larger)} "
        f"more, over the {len(small) + 100} bytes they may take together; "
        "DELETE /api/datasets/<id> frees room")
    assert _kept(store, app, request) == before


def test_two_apps_on_one_redis_share_one_quota(make_app, tmp_path, redis_server):
    first = make_app(store="redis", MAX_DATASETS=1, DATASETS_DIR=str(tmp_path / "first")).test_client()
    second = make_app(store="redis", MAX_DATASETS=1, DATASETS_DIR=str(tmp_path / "second")).test_client()
    kept = _uploaded(first, csv_text(own_rows()))
    refused = upload(second, csv_text(own_rows(scale=2)))
    assert refused.status_code == 507
    assert os.listdir(tmp_path / "second") == []
    assert _redis_datasets(redis_server)[0] == [kept["id"].encode()]
    # Room made on the first is room on the second.
    assert first.delete(f"/api/datasets/{kept['id']}").status_code == 200
    assert upload(second, csv_text(own_rows(scale=2))).status_code == 201


def test_uploads_at_once_to_two_apps_pass_the_quota_once(make_app, tmp_path, redis_server):
    apps = [make_app(store="redis", MAX_DATASETS=1, DATASETS_DIR=str(tmp_path / name)) for name in "ab"]
    start = threading.Barrier(6)
    statuses = []

    def send(index):
        client = apps[index % 2].test_client()
        start.wait()
        statuses.append(upload(client, csv_text(own_rows(scale=index + 1))).status_code)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [507] * 5
    ids, csvs = _redis_datasets(redis_server)
    assert len(ids) == 1 and len(csvs) == 1


# -- deleting ----------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_a_deleted_data_set_is_gone_everywhere(make_app, store, request):
    app = make_app(store=store, MAX_DATASETS=1)
    client = app.test_client()
    stored = _uploaded(client, csv_text(own_rows()), filename="gone.csv")
    # Loaded in this process, and an answer of it in the cache.
    assert _run(client, "global_mean", {"question": OBESITY, "dataset": stored["id"]})["status"] == "done"
    deleted = client.delete(f"/api/datasets/{stored['id']}")
    assert deleted.status_code == 200
    assert deleted.get_json() == {"status": "done", "data": {"id": stored["id"], "name": "gone.csv"}}
    assert [item["id"] for item in _listing(client)] == ["default"]
    assert _files(app) == []
    if store == "redis":
        assert _redis_datasets(request.getfixturevalue("redis_server")) == ([], [])
    assert app.extensions["le_stats_sportif"].catalog.answers.size == 0
    for response in (client.post("/api/global_mean", json={"question": OBESITY, "dataset": stored["id"]}),
                     client.get(f"/api/questions?dataset={stored['id']}")):
        assert response.status_code == 400
        assert response.get_json()["reason"] == _unknown(stored["id"])
    again = client.delete(f"/api/datasets/{stored['id']}")
    assert again.status_code == 404
    assert again.get_json()["reason"] == f'no data set has the id "{stored["id"]}"; ' \
                                         "GET /api/datasets lists them"
    # Its room is free again.
    assert upload(client, csv_text(own_rows(scale=2))).status_code == 201


@pytest.mark.parametrize("store", STORES)
def test_the_bundled_data_set_cannot_be_deleted_and_unknown_ids_are_404(make_app, store):
    client = make_app(store=store).test_client()
    bundled = client.delete("/api/datasets/default")
    assert bundled.status_code == 400
    assert bundled.get_json() == {"status": "error", "reason": "the bundled data set cannot be deleted"}
    for unknown in ("0123456789ab", "nope", "..%2F..%2Fetc"):
        response = client.delete(f"/api/datasets/{unknown}")
        assert response.status_code == 404, unknown
        assert response.get_json()["status"] == "error"
    assert client.get("/api/states").status_code == 200


def test_a_deletion_on_one_app_stops_another_that_loaded_it(make_app, tmp_path):
    first = make_app(store="redis", DATASETS_DIR=str(tmp_path / "first")).test_client()
    second_app = make_app(store="redis", DATASETS_DIR=str(tmp_path / "second"))
    second = second_app.test_client()
    stored = _uploaded(first, csv_text(own_rows()))
    body = {"question": OBESITY, "dataset": stored["id"]}
    assert _run(second, "states_mean", body)["status"] == "done"
    assert sorted(os.listdir(tmp_path / "second")) == [f"{stored['id']}.csv", f"{stored['id']}.json"]
    assert first.delete(f"/api/datasets/{stored['id']}").status_code == 200
    refused = second.post("/api/states_mean", json=body)
    assert refused.status_code == 400
    assert refused.get_json()["reason"] == _unknown(stored["id"])
    assert [item["id"] for item in _listing(second)] == ["default"]
    # The copy it held is removed, and so are the answers it kept.
    assert os.listdir(tmp_path / "second") == []
    assert second_app.extensions["le_stats_sportif"].catalog.answers.size == 0


def test_a_listing_or_a_start_lets_go_of_what_another_app_deleted(make_app, tmp_path):
    first = make_app(store="redis", DATASETS_DIR=str(tmp_path / "first")).test_client()
    second_app = make_app(store="redis", DATASETS_DIR=str(tmp_path / "second"))
    stored = _uploaded(first, csv_text(own_rows()))
    body = {"question": OBESITY, "dataset": stored["id"]}
    second = second_app.test_client()
    assert _run(second, "global_mean", body)["status"] == "done"
    # A copy that no process will use again, as one that stopped before its next use would leave.
    (tmp_path / "third").mkdir()
    for name in os.listdir(tmp_path / "second"):
        (tmp_path / "third" / name).write_bytes((tmp_path / "second" / name).read_bytes())
    assert first.delete(f"/api/datasets/{stored['id']}").status_code == 200
    assert [item["id"] for item in _listing(second)] == ["default"]
    assert second_app.extensions["le_stats_sportif"].catalog.answers.size == 0
    assert os.listdir(tmp_path / "second") == []
    make_app(store="redis", DATASETS_DIR=str(tmp_path / "third"))
    assert os.listdir(tmp_path / "third") == []


@pytest.mark.parametrize("store", STORES)
def test_a_job_accepted_before_the_deletion_fails_saying_so(make_app, store):
    app = make_app(store=store)
    client = app.test_client()
    stored = _uploaded(client, csv_text(own_rows()))
    gate = _hold_workers(app)
    body = {"question": OBESITY, "dataset": stored["id"]}
    job_id = client.post("/api/global_mean", json=body).get_json()["job_id"]
    assert client.delete(f"/api/datasets/{stored['id']}").status_code == 200
    gate.set()
    assert wait_for(client, job_id) == {
        "status": "error", "reason": f"the data set {stored['id']} was deleted before the job ran"}


# -- what one file may hold --------------------------------------------------


def _rows(count, row):
    return "".join(f"{index},{row(index)}\n" for index in range(count))


# Each about 2 to 4 MB, over one limit from its first rows on.
HOSTILE = {
    "questions": (lambda: HEADER_LINE + _rows(60000, lambda i: f"Ohio,Question {i},1,Sex,Male"),
                  "the file holds more than 1000 distinct questions, the most a data set may have"),
    "locations": (lambda: HEADER_LINE + _rows(200000, lambda i: f"Place {i},{LOW},1,Sex,Male"),
                  "the file holds more than 10000 distinct locations, the most a data set may have"),
    "pairs": (lambda: HEADER_LINE + _rows(120000, lambda i: f"Ohio,{LOW},1,Category {i},Segment {i}"),
              "the file holds more than 10000 distinct (category, segment) pairs, "
              "the most a data set may have"),
    "field": (lambda: HEADER_LINE + _rows(15, lambda i: f"Ohio,{'Q' * 200000}{chr(65 + i)},1,Sex,Male"),
              "a Question of 200001 characters is longer than the 1000 a text may have"),
}


@pytest.mark.parametrize("limit", HOSTILE)
@pytest.mark.parametrize("store", STORES)
def test_a_file_over_a_limit_is_refused_with_its_reason(make_app, store, limit, request):
    app = make_app(store=store)
    client = app.test_client()
    before = _kept(store, app, request)
    text, reason = HOSTILE[limit]
    response = upload(client, text())
    assert response.status_code == 400
    assert response.get_json() == {"status": "error",
                                   "reason": f"the file cannot be used as a data set: {reason}"}
    assert _kept(store, app, request) == before


def test_a_limit_passed_only_at_the_end_of_a_long_file_is_found():
    # Over two chunks, the new questions in the last rows.
    rows = own_rows() * 2500
    text = csv_text(rows + [("Ohio", f"Late question {index}", "1", "Sex", "Male") for index in range(1000)])
    with pytest.raises(ValueError, match="more than 1000 distinct questions"):
        DataIngestor(io.StringIO(text), UploadLimits())


def test_a_file_is_refused_at_the_chunk_that_passes_a_limit_before_the_rest_is_read():
    # Past the first chunk, a line no CSV parser accepts: reaching it would give another reason.
    text = (HEADER_LINE + _rows(70000, lambda i: f"Place {i},{LOW},1,Sex,Male")
            + '1,"unclosed,' + "x" * 1000 + "\n")
    with pytest.raises(ValueError, match="more than 10000 distinct locations"):
        DataIngestor(io.StringIO(text), UploadLimits())


def test_the_limits_are_settings(make_app):
    client = make_app(MAX_UPLOAD_QUESTIONS=1, MAX_UPLOAD_LOCATIONS=3, MAX_UPLOAD_PAIRS=2,
                      MAX_UPLOAD_FIELD_CHARS=8).test_client()
    reasons = [upload(client, csv_text(rows)).get_json()["reason"] for rows in (
        [("Ohio", "Q1", "1", "", ""), ("Ohio", "Q2", "1", "", "")],
        [(state, "Q", "1", "", "") for state in ("A", "B", "C", "D")],
        [("Ohio", "Q", "1", "S", segment) for segment in ("a", "b", "c")],
        [("Ohio", "Q", "1", "Sex", "123456789")])]
    assert reasons == ["the file cannot be used as a data set: " + reason for reason in (
        "the file holds more than 1 distinct questions, the most a data set may have",
        "the file holds more than 3 distinct locations, the most a data set may have",
        "the file holds more than 2 distinct (category, segment) pairs, the most a data set may have",
        "a Stratification1 of 9 characters is longer than the 8 a text may have")]
    assert upload(client, csv_text([("Ohio", "Q", "1", "Sex", "Male")])).status_code == 201


def test_the_bundled_file_is_read_without_the_upload_limits(make_app):
    client = make_app(MAX_UPLOAD_QUESTIONS=1, MAX_UPLOAD_FIELD_CHARS=5).test_client()
    assert len(client.get("/api/questions").get_json()["data"]) == 2


# -- files that are not text CSV ---------------------------------------------


NOT_TEXT = {
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
            "the file is not a text CSV: it looks like a PNG image"),
    "xlsx": (b"PK\x03\x04\x14\x00\x06\x00" + bytes(200),
             "the file is not a text CSV: it looks like a ZIP archive"),
    "utf-16": (csv_text(own_rows()).encode("utf-16"),
               "the file is not a text CSV in UTF-8: it is UTF-16 text; save it as a CSV file in UTF-8"),
    "utf-16 without a mark": (csv_text(own_rows()).encode("utf-16-le"),
                              "the file is not a text CSV: it holds NUL bytes"),
    "a NUL byte far in": (csv_text(own_rows() * 400).encode() + b"0,Ohio,Q,\x00,,\n",
                          "the file is not a text CSV: it holds NUL bytes"),
    "latin-1": (csv_text([("Québec", "Q", "1", "", "")]).encode("latin-1"),
                "the file is not a text CSV in UTF-8: it holds bytes that are not UTF-8 (0xe9); "
                "save it as a CSV file in UTF-8"),
}


@pytest.mark.parametrize("case", NOT_TEXT)
def test_a_file_that_is_not_text_csv_gets_a_readable_reason(make_app, case):
    app = make_app()
    client = app.test_client()
    data, reason = NOT_TEXT[case]
    response = upload(client, data)
    assert response.status_code == 400
    assert response.get_json()["reason"].startswith(f"the file cannot be used as a data set: {reason}")
    assert "codec" not in response.get_json()["reason"]
    assert _files(app) == []


# -- answers bounded in size -------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_an_answer_over_the_limit_fails_the_job_with_its_size(make_app, store):
    client = make_app(store=store, MAX_ANSWER_BYTES=100).test_client()
    answer = _run(client, "mean_by_category", {"question": LOW})
    assert answer["status"] == "error"
    expected = len(json.dumps({"('Ohio', 'Age (years)', '18 - 24')": 10.0, "('Ohio', 'Gender', 'Male')": 20.0,
                               "('Texas', 'Age (years)', '18 - 24')": 30.0}).encode())
    assert answer["reason"] == f"the answer is {expected} bytes, more than the 100 an answer may have"
    small = _run(client, "global_mean", {"question": LOW})
    assert small == {"status": "done", "data": {"global_mean": 25.0}}


def test_an_answer_of_too_many_entries_is_refused_before_it_is_built(small_csv, monkeypatch):
    ingestor = DataIngestor(small_csv, max_answer_bytes=29)

    def never(*_):
        raise AssertionError("the answer was built")

    monkeypatch.setattr(ingestor, "states_mean", never)
    with pytest.raises(RuntimeError, match="the answer would have 3 entries, more than fit in the 29 bytes"):
        ingestor.encoded("states_mean", LOW)


def test_the_answer_cache_keeps_the_most_recent_answers_within_its_budget():
    cache = AnswerCache(budget=100)
    owner = object()
    for number in range(10):
        cache.put((owner, number), bytes(30))
    assert cache.size == 90
    assert [number for number in range(10) if cache.get((owner, number))] == [7, 8, 9]
    cache.get((owner, 7))
    cache.put((owner, 10), bytes(30))
    assert cache.get((owner, 8)) is None and cache.get((owner, 7)) is not None
    cache.put((owner, 11), bytes(101))
    assert cache.get((owner, 11)) is None and cache.size <= 100
    other = object()
    cache.put((other, 1), bytes(5))
    cache.forget(owner)
    assert cache.size == 5 and cache.get((other, 1)) == bytes(5)


def test_the_answers_of_every_data_set_share_one_bounded_cache(make_app):
    app = make_app(ANSWER_CACHE_BYTES=300)
    client = app.test_client()
    stored = _uploaded(client, csv_text(own_rows()))
    for dataset in ("default", stored["id"]):
        for statistic in ("states_mean", "mean_by_category", "diff_from_mean", "best5"):
            body = {"question": LOW if dataset == "default" else OBESITY, "dataset": dataset}
            assert _run(client, statistic, body)["status"] == "done"
    cache = app.extensions["le_stats_sportif"].catalog.answers
    assert cache.budget == 300
    assert 0 < cache.size <= 300


# -- the start ---------------------------------------------------------------


def _count_parses(monkeypatch):
    """Count the files the catalog parses from now on."""
    parsed = []
    real = catalog_module.DataIngestor

    def counting(source, *arguments, **settings):
        parsed.append(os.path.basename(os.fspath(source)))
        return real(source, *arguments, **settings)

    monkeypatch.setattr(catalog_module, "DataIngestor", counting)
    return parsed


@pytest.mark.parametrize("store", STORES)
def test_a_start_lists_the_uploads_without_parsing_them(make_app, store, monkeypatch, small_csv):
    first = make_app(store=store)
    stored = _uploaded(first.test_client(), csv_text(own_rows()))
    parsed = _count_parses(monkeypatch)
    second = make_app(store=store).test_client()
    assert _listing(second)[1:] == [stored]
    assert parsed == [small_csv.name]
    # Loaded at its first use, once.
    for _ in range(2):
        assert second.get(f"/api/states?dataset={stored['id']}").get_json()["data"] == [
            "Guam", "Ohio", "Utah", "Vermont"]
    assert parsed == [small_csv.name, f"{stored['id']}.csv"]


def test_a_damaged_file_with_its_summary_is_listed_and_fails_only_on_use(make_app):
    first = make_app()
    stored = _uploaded(first.test_client(), csv_text(own_rows()))
    damaged = os.path.join(first.config["DATASETS_DIR"], f"{stored['id']}.csv")
    with open(damaged, "w", encoding="utf-8") as file:
        file.write("LocationDesc,Question\nOhio,Q\n")
    client = make_app().test_client()
    assert _listing(client)[1:] == [stored]
    reason = f"the data set {stored['id']} cannot be used: missing column(s): Data_Value, "
    for response in (client.post("/api/global_mean", json={"question": OBESITY, "dataset": stored["id"]}),
                     client.get(f"/api/questions?dataset={stored['id']}")):
        assert response.status_code == 400
        assert response.get_json()["reason"].startswith(reason)
    assert client.get("/api/jobs").get_json()["data"] == []


def test_an_old_folder_is_summarised_once(make_app, monkeypatch, small_csv, tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    text = csv_text(own_rows())
    (folder / "0123456789ab.csv").write_text(text)
    (folder / "0123456789ab.json").write_text(json.dumps({"name": "old.csv",
                                                          "uploaded": "2024-01-01T00:00:00.000000+00:00"}))
    parsed = _count_parses(monkeypatch)
    client = make_app().test_client()
    assert parsed == [small_csv.name, "0123456789ab.csv"]
    listed = _listing(client)[1]
    assert (listed["id"], listed["name"], listed["rows"]) == ("0123456789ab", "old.csv", len(own_rows()))
    about = json.loads((folder / "0123456789ab.json").read_text())
    assert about["uploaded"] == "2024-01-01T00:00:00.000000+00:00" and about["rows"] == len(own_rows())
    make_app()
    assert parsed == [small_csv.name, "0123456789ab.csv", small_csv.name]


@pytest.mark.parametrize("store", STORES)
def test_files_left_by_interrupted_uploads_are_cleared_at_start(make_app, store, tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    left = [".upload-0a1b.tmp", ".fetch-0a1b.tmp", ".upload-0a1b.tmp.json", "0123456789ab.json"]
    old = time.time() - STALE_TEMPORARY_S - 10
    for name in [*left, ".upload-busy.tmp", "notes.txt"]:
        (folder / name).write_bytes(b"x" * 1000)
        if name in left or name == "notes.txt":
            os.utime(folder / name, (old, old))
    app = make_app(store=store)
    # A fresh one may be another process's upload in progress; what is not the service's stays.
    assert _files(app) == [".upload-busy.tmp", "notes.txt"]
    with open(app.config["LOG_FILE"], encoding="utf-8") as log:
        assert "removed 4 files left by interrupted uploads" in log.read()
