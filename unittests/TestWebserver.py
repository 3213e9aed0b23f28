"""The nine statistics on the bundled data, against the stored expected answers.

The expected answers in tests/<endpoint>/output were computed by the
independent reference (checker/reference.py: the csv module and math.fsum),
so these tests compare the server with a computation it shares no code with.
"""
import json
import shutil
import tempfile
import unittest
from pathlib import Path

from app import create_app
from app.data_ingestor import STATISTICS, DataIngestor
from checker.reference import compare
from unittests.conftest import wait_for
from unittests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
CSV = ROOT / "nutrition_activity_obesity_usa_subset.csv"


def stored_cases(endpoint):
    """(name, request body, expected data) of every stored case of an endpoint."""
    folder = ROOT / "tests" / endpoint
    for request in sorted((folder / "input").glob("in-*.json")):
        expected = folder / "output" / request.name.replace("in-", "out-")
        yield request.name, json.loads(request.read_text()), json.loads(expected.read_text())


class TestWebserver(unittest.TestCase):
    """Each statistic through the DataIngestor and through the HTTP routes, on the file store."""

    redis = None

    @classmethod
    def store_settings(cls):
        """The settings that choose the job store: none for the file store."""
        return {}

    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp()
        cls.app = create_app({"CSV_PATH": str(CSV), "RESULTS_DIR": f"{cls.scratch}/results",
                              "LOG_FILE": f"{cls.scratch}/webserver.log",
                              "DATASETS_DIR": f"{cls.scratch}/datasets", "NUM_THREADS": 2,
                              **cls.store_settings()})
        cls.client = cls.app.test_client()
        cls.ingestor = DataIngestor(CSV)

    @classmethod
    def tearDownClass(cls):
        cls.app.extensions["le_stats_sportif"].shutdown(wait=True, timeout=10)
        if cls.redis:
            cls.redis.stop()
        shutil.rmtree(cls.scratch)

    def check_endpoint(self, endpoint):
        """Every stored case of `endpoint`, directly and over the routes."""
        cases = list(stored_cases(endpoint))
        self.assertGreaterEqual(len(cases), 9)
        for name, body, expected in cases:
            with self.subTest(case=name):
                arguments = [body["question"]] + ([body["state"]] if STATISTICS[endpoint] else [])
                direct = getattr(self.ingestor, endpoint)(*arguments)
                self.assertIsNone(compare(expected, direct))
                job = self.client.post(f"/api/{endpoint}", json=body).get_json()["job_id"]
                answer = wait_for(self.client, job)
                self.assertEqual(answer["status"], "done")
                self.assertIsNone(compare(expected, answer["data"]))

    def test_states_mean(self):
        self.check_endpoint("states_mean")

    def test_state_mean(self):
        self.check_endpoint("state_mean")

    def test_best5(self):
        self.check_endpoint("best5")

    def test_worst5(self):
        self.check_endpoint("worst5")

    def test_global_mean(self):
        self.check_endpoint("global_mean")

    def test_diff_from_mean(self):
        self.check_endpoint("diff_from_mean")

    def test_state_diff_from_mean(self):
        self.check_endpoint("state_diff_from_mean")

    def test_mean_by_category(self):
        self.check_endpoint("mean_by_category")

    def test_state_mean_by_category(self):
        self.check_endpoint("state_mean_by_category")

    def test_ranking_order(self):
        """best5 and worst5 are ordered, and states_mean ascends."""
        for _, body, expected in stored_cases("best5"):
            self.assertEqual(list(self.ingestor.best5(body["question"])), list(expected))
        for _, body, expected in stored_cases("worst5"):
            self.assertEqual(list(self.ingestor.worst5(body["question"])), list(expected))
        for _, body, _ in stored_cases("states_mean"):
            means = list(self.ingestor.states_mean(body["question"]).values())
            self.assertEqual(means, sorted(means))

    def test_the_data_facts(self):
        """9 questions and 55 locations, as the contract says."""
        self.assertEqual(len(self.ingestor.questions), 9)
        self.assertEqual(len(self.ingestor.locations), 55)
        self.assertEqual(self.ingestor.row_count, 18650)


class TestWebserverOnRedis(TestWebserver):
    """The same cases on the Redis store, with a redis-server of its own."""

    @classmethod
    def store_settings(cls):
        cls.redis = RedisServer(f"{cls.scratch}/redis").start()
        return {"REDIS_URL": cls.redis.url}


if __name__ == "__main__":
    unittest.main()
