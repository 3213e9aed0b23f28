"""Regenerate the HTTP test cases in tests/<endpoint>/{input,output} from the reference.

Question-only endpoints get one case per question. State endpoints get one case per
question and state of SAMPLED_STATES that has rows for it: the five locations that
are not states proper, which are the usual suspects for special-casing bugs, and a
few ordinary states (New Jersey holds the one row without a category). Case 1 of
every endpoint is the request of the specification's example, and the reference
must reproduce that example's answer or nothing is written.

Run from anywhere: python tests/generate_cases.py
"""

import json
import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
SPEC_EXAMPLES_DIR = REPO_ROOT.parent / "shared" / "spec" / "examples"
CSV_PATH = REPO_ROOT / "nutrition_activity_obesity_usa_subset.csv"

sys.path.insert(0, str(REPO_ROOT))
# The import needs the repository root on the path, so it cannot come first.
from checker.reference import (  # pylint: disable=wrong-import-position
    ENDPOINTS, STATE_ENDPOINTS, Reference, compare)

SAMPLED_STATES = (
    "National",
    "Guam",
    "Virgin Islands",
    "District of Columbia",
    "Puerto Rico",
    "Alabama",
    "California",
    "Maryland",
    "New Jersey",
    "Texas",
    "Wyoming",
)


def read_json(path):
    """The parsed content of a JSON file."""
    with open(path, encoding="utf-8") as json_file:
        return json.load(json_file)


def write_json(path, content):
    """Write ``content`` as JSON, keeping the key order it has."""
    with open(path, "w", encoding="utf-8") as json_file:
        json.dump(content, json_file)
        json_file.write("\n")


def verified_example_request(reference, endpoint):
    """The specification's example request, after checking the reference's answer."""
    example_dir = SPEC_EXAMPLES_DIR / endpoint
    if not example_dir.is_dir():
        raise SystemExit(f"missing specification example {example_dir}")
    request = read_json(example_dir / "in-1.json")
    difference = compare(read_json(example_dir / "out-1.json"),
                         reference.answer(endpoint, request))
    if difference:
        raise SystemExit(f"reference disagrees with {example_dir}: {difference}")
    return request


def requests_for(reference, endpoint):
    """Every request body to test for ``endpoint``, without the example's."""
    for question in reference.questions():
        if endpoint not in STATE_ENDPOINTS:
            yield {"question": question}
            continue
        states_with_rows = set(reference.states(question))
        for state in SAMPLED_STATES:
            if state in states_with_rows:
                yield {"question": question, "state": state}


def write_cases(reference, endpoint, example):
    """Replace the cases of ``endpoint``, ``example`` first; return how many there are."""
    requests = [example] + [request for request in requests_for(reference, endpoint)
                            if request != example]
    input_dir = TESTS_DIR / endpoint / "input"
    output_dir = TESTS_DIR / endpoint / "output"
    for directory, pattern in ((input_dir, "in-*.json"), (output_dir, "out-*.json")):
        directory.mkdir(parents=True, exist_ok=True)
        # Old cases would outlive a shorter run and be checked against stale data.
        for stale in directory.glob(pattern):
            stale.unlink()
    for number, request in enumerate(requests, start=1):
        write_json(input_dir / f"in-{number}.json", request)
        write_json(output_dir / f"out-{number}.json", reference.answer(endpoint, request))
    return len(requests)


def main():
    """Regenerate the cases of all nine endpoints and print how many each has."""
    reference = Reference(CSV_PATH)
    # All examples are checked before any file is touched.
    examples = {endpoint: verified_example_request(reference, endpoint)
                for endpoint in ENDPOINTS}
    print(f"the reference matches all {len(examples)} specification examples")
    for endpoint, example in examples.items():
        print(f"{endpoint}: {write_cases(reference, endpoint, example)} cases")


if __name__ == "__main__":
    main()
