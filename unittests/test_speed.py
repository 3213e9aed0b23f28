"""What makes a job a lookup: answers encoded once, a cheap job list, a lean journal and log."""
import errno
import functools
import json
import os
import shutil
import time

import pytest

from app.data_ingestor import STATISTICS, DataIngestor
from app.job_listing import JobListing
from app.stores.base import JobStatus
from app.stores.file_store import JOURNAL_NAME, FileStore as JobStore
from app.logs import BATCH_BYTES, make_logger

LOW = "Percent of adults aged 18 years and older who have obesity"
HIGH = "Percent of adults who engage in muscle-strengthening activities on 2 or more days a week"
CSV = f""",LocationDesc,Question,Data_Value,StratificationCategory1,Stratification1
0,Ohio,{LOW},10,Age (years),18 - 24
1,Ohio,{LOW},20.5,Gender,Male
2,Texas,{LOW},30,Age (years),18 - 24
3,Utah,{LOW},40,,
4,Ohio,{HIGH},50,Gender,Female
5,Guam,{HIGH},70,Gender,Female
"""


@pytest.fixture(name="csv_path")
def fixture_csv_path(csv_file):
    return csv_file(CSV)


@pytest.fixture(name="make_app")
def fixture_make_app(make_app, csv_path):
    """conftest's make_app, on this module's CSV."""
    return functools.partial(make_app, CSV_PATH=str(csv_path))


def test_an_encoded_answer_is_the_json_of_its_statistic_and_is_kept(csv_path):
    ingestor = DataIngestor(csv_path)
    for statistic, needs_state in STATISTICS.items():
        for question, state in ((LOW, "Ohio"), (HIGH, "Guam")):
            method = getattr(ingestor, statistic)
            expected = json.dumps(method(question, state) if needs_state else method(question)).encode()
            encoded = ingestor.encoded(statistic, question, state if needs_state else None)
            assert encoded == expected
            assert ingestor.encoded(statistic, question, state if needs_state else None) is encoded


def test_an_answer_that_fails_is_not_kept(csv_path):
    ingestor = DataIngestor(csv_path)
    ingestor.best5 = lambda question: 1 / 0
    with pytest.raises(ZeroDivisionError):
        ingestor.encoded("best5", LOW)
    del ingestor.best5
    assert json.loads(ingestor.encoded("best5", LOW)) == {"Ohio": 15.25, "Texas": 30.0, "Utah": 40.0}


def test_each_data_set_keeps_its_own_answers(tmp_path, csv_path):
    other = tmp_path / "other.csv"
    other.write_text(CSV.replace("10,Age", "100,Age"))
    first, second = DataIngestor(csv_path), DataIngestor(other)
    assert json.loads(first.encoded("state_mean", LOW, "Ohio")) == {"Ohio": 15.25}
    assert json.loads(second.encoded("state_mean", LOW, "Ohio")) == {"Ohio": 60.25}


def _expected_listing(store):
    return [{f"job_id_{job_id}": store.status(job_id).value} for job_id in range(1, store.last_id + 1)]


def test_the_job_list_follows_every_change_of_status(tmp_path):
    store = JobStore(tmp_path)
    listing = JobListing(store, block_size=16)
    assert json.loads(listing.encode()) == []
    ids = [store.create({"statistic": "best5", "question": LOW}) for _ in range(100)]
    assert json.loads(listing.encode()) == _expected_listing(store)
    for job_id in ids[::3]:
        store.finish(job_id, b"{}")
    store.fail(ids[1], "it broke")
    decoded = json.loads(listing.encode())
    assert decoded == _expected_listing(store)
    assert decoded[0] == {"job_id_1": "done"} and decoded[1] == {"job_id_2": "error"}
    assert decoded[2] == {"job_id_3": "running"}
    for job_id in ids:
        if store.status(job_id) is JobStatus.RUNNING:
            store.finish(job_id, b"{}")
    expected = [{f"job_id_{job_id}": "error" if job_id == 2 else "done"} for job_id in range(1, 101)]
    assert json.loads(listing.encode()) == expected


def test_api_jobs_lists_thousands_of_jobs_in_order(make_app):
    app = make_app()
    client = app.test_client()
    count = 5000
    for _ in range(count):
        assert client.post("/api/global_mean", json={"question": LOW}).status_code == 200
    app.extensions["le_stats_sportif"].shutdown(wait=True, timeout=60)
    listing = client.get("/api/jobs").get_json()
    assert listing["status"] == "done"
    assert listing["data"] == [{f"job_id_{job_id}": "done"} for job_id in range(1, count + 1)]
    assert client.get("/api/num_jobs").get_json() == {"num_jobs": 0}


def test_done_jobs_share_one_journal_line_and_stay_done_after_a_restart(tmp_path):
    store = JobStore(tmp_path)
    done = [store.create({"statistic": "global_mean", "question": LOW}) for _ in range(3)]
    failed = store.create({"statistic": "global_mean", "question": LOW})
    for job_id in done:
        store.finish(job_id, b'{"global_mean": 25.0}')
    store.fail(failed, "it broke")
    store.close()
    entries = [json.loads(line) for line in (tmp_path / JOURNAL_NAME).read_text().splitlines()]
    assert [entry.get("status") for entry in entries] == [None, None, None, None, "error", None]
    assert entries[-1]["done"] == done
    again = JobStore(tmp_path)
    assert again.status(done[0]) is JobStatus.DONE and again.result(done[0]) == b'{"global_mean": 25.0}'
    assert again.status(failed) is JobStatus.ERROR and again.reason(failed) == "it broke"
    assert again.take_unfinished() == {}


def test_a_journal_deleted_while_running_is_started_again(tmp_path):
    store = JobStore(tmp_path / "results")
    store.create({"statistic": "global_mean", "question": LOW})
    shutil.rmtree(tmp_path / "results")
    second = store.create({"statistic": "best5", "question": LOW})
    store.close()
    again = JobStore(tmp_path / "results")
    assert again.take_unfinished() == {second: {"statistic": "best5", "question": LOW}}


def test_a_large_result_is_read_whole(tmp_path):
    store = JobStore(tmp_path)
    job_id = store.create({})
    answer = json.dumps({f"key {index}": index for index in range(20000)}).encode()
    assert len(answer) > 3 * 64 * 1024
    store.finish(job_id, answer)
    assert store.result(job_id) == answer


def test_the_log_rotates_by_size_and_keeps_every_line(tmp_path):
    logger = make_logger(str(tmp_path / "webserver.log"), 2000, 100)
    for number in range(200):
        logger.info("line %d of the test", number)
    for handler in logger.handlers:
        handler.close()
    files = sorted(path for path in os.listdir(tmp_path) if path.startswith("webserver.log"))
    assert len(files) > 5
    numbers = []
    for name in files:
        text = (tmp_path / name).read_text()
        assert len(text) <= 2000
        numbers += [int(line.split("line ")[1].split()[0]) for line in text.splitlines()]
    assert sorted(numbers) == list(range(200))


def test_jobs_with_the_same_answer_share_one_file_on_disk(tmp_path):
    store = JobStore(tmp_path)
    first, second, other = (store.create({}) for _ in range(3))
    store.finish(first, b'{"Ohio": 15.25}')
    store.finish(second, b'{"Ohio": 15.25}')
    store.finish(other, b'{"Utah": 40.0}')
    paths = [tmp_path / f"job_id_{job_id}.json" for job_id in (first, second, other)]
    assert [path.read_bytes() for path in paths] == [b'{"Ohio": 15.25}', b'{"Ohio": 15.25}', b'{"Utah": 40.0}']
    assert os.path.samefile(paths[0], paths[1]) and not os.path.samefile(paths[0], paths[2])
    assert sorted(os.listdir(tmp_path)) == [JOURNAL_NAME] + sorted(path.name for path in paths)
    os.remove(paths[0])
    assert store.result(second) == b'{"Ohio": 15.25}'


def test_an_answer_whose_file_was_removed_is_written_again(tmp_path):
    store = JobStore(tmp_path / "results")
    store.finish(store.create({}), b"[1]")
    shutil.rmtree(tmp_path / "results")
    again = store.create({})
    store.finish(again, b"[1]")
    later = store.create({})
    store.finish(later, b"[1]")
    results = tmp_path / "results"
    assert store.result(again) == store.result(later) == b"[1]"
    assert os.path.samefile(results / f"job_id_{again}.json", results / f"job_id_{later}.json")
    assert sorted(os.listdir(results)) == sorted([JOURNAL_NAME, f"job_id_{again}.json", f"job_id_{later}.json"])


def test_without_hard_links_each_job_gets_a_file_of_its_own(tmp_path, monkeypatch):
    def no_links(source, target):
        raise PermissionError(1, "Operation not permitted", source)

    monkeypatch.setattr(os, "link", no_links)
    store = JobStore(tmp_path)
    ids = [store.create({}) for _ in range(2)]
    for job_id in ids:
        store.finish(job_id, b'{"a": 1}')
    assert [store.result(job_id) for job_id in ids] == [b'{"a": 1}', b'{"a": 1}']
    assert not os.path.samefile(tmp_path / "job_id_1.json", tmp_path / "job_id_2.json")


def _log_lines(path):
    return [line.split(" ", 3)[3] for line in path.read_text().splitlines()] if path.exists() else []


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_log_lines_wait_for_the_interval_then_are_written_in_one_batch(tmp_path):
    path = tmp_path / "webserver.log"
    logger = make_logger(str(path), 10_000_000, 2, flush_ms=300)
    logger.info("first")
    logger.info("second")
    assert _log_lines(path) == []
    assert _wait_for(lambda: _log_lines(path) == ["first", "second"], timeout=5)
    logger.info("third")
    for handler in logger.handlers:
        handler.close()
    assert _log_lines(path) == ["first", "second", "third"]


def test_a_batch_of_64_kb_is_written_without_waiting_for_the_interval(tmp_path):
    path = tmp_path / "webserver.log"
    logger = make_logger(str(path), 10_000_000, 2, flush_ms=600_000)
    logger.info("short")
    time.sleep(0.2)
    assert _log_lines(path) == []
    for number in range(BATCH_BYTES // 100 + 1):
        logger.info("%d %s", number, "x" * 100)
    assert _wait_for(lambda: len(_log_lines(path)) >= BATCH_BYTES // 200, timeout=5)
    for handler in logger.handlers:
        handler.close()
    assert len(_log_lines(path)) == BATCH_BYTES // 100 + 2


def test_a_batch_that_crosses_the_size_limit_is_split_between_files_in_order(tmp_path):
    logger = make_logger(str(tmp_path / "webserver.log"), 300, 5, flush_ms=600_000)
    for number in range(20):
        logger.info("enter %d", number)
        logger.info("answer %d", number)
    for handler in logger.handlers:
        handler.close()
    files = sorted((path for path in os.listdir(tmp_path) if path.startswith("webserver.log")),
                   key=lambda name: -int(name.rsplit(".", 1)[1]) if name[-1].isdigit() else 0)
    text = [line.split(" ", 3)[3] for name in files for line in (tmp_path / name).read_text().splitlines()]
    assert len(files) == 6
    assert text[-12:] == [f"{kind} {number}" for number in range(14, 20) for kind in ("enter", "answer")]
    assert all(len((tmp_path / name).read_text()) < 300 for name in files)


def test_a_request_s_lines_are_on_disk_once_it_is_answered(make_app, tmp_path):
    client = make_app().test_client()
    client.get("/api/num_jobs")
    lines = (tmp_path / "webserver.log").read_text().splitlines()
    assert "enter GET /api/num_jobs" in lines[-2] and "answer GET /api/num_jobs 200" in lines[-1]


def test_a_file_with_all_the_links_it_can_have_is_followed_by_a_new_one(tmp_path, monkeypatch):
    store = JobStore(tmp_path)
    ids = [store.create({}) for _ in range(3)]
    store.finish(ids[0], b"[2]")
    real_link = os.link

    def too_many_links(source, target):
        monkeypatch.setattr(os, "link", real_link)
        raise OSError(errno.EMLINK, "Too many links", source)

    monkeypatch.setattr(os, "link", too_many_links)
    store.finish(ids[1], b"[2]")
    store.finish(ids[2], b"[2]")
    paths = [tmp_path / f"job_id_{job_id}.json" for job_id in ids]
    assert [path.read_bytes() for path in paths] == [b"[2]"] * 3
    assert not os.path.samefile(paths[0], paths[1]) and os.path.samefile(paths[1], paths[2])
