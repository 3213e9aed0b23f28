"""app.answer_csv on shapes the bundled data never shows: quoting, and names that look like tuples."""
import csv
import io

from app.answer_csv import answer_csv


def _rows(text):
    return list(csv.reader(io.StringIO(text)))


def test_names_with_commas_and_quotes_are_quoted_and_read_back_whole():
    text = answer_csv(b'{"St. \\"A\\", North": 1.5, "B": 0.1}')
    assert _rows(text) == [["state", "value"], ['St. "A", North', "1.5"], ["B", "0.1"]]


def test_a_location_whose_name_looks_like_a_tuple_stays_a_location():
    assert _rows(answer_csv(b'{"(Zone 1)": 2.0, "Ohio": 3.0}')) == [["state", "value"], ["(Zone 1)", "2.0"],
                                                                  ["Ohio", "3.0"]]


def test_by_category_keys_with_commas_are_split_as_the_tuples_they_are():
    encoded = b'{"(\'Ohio\', \'Income\', \'$15,000 - $24,999\')": 35.25}'
    assert _rows(answer_csv(encoded)) == [["state", "category", "segment", "value"],
                                          ["Ohio", "Income", "$15,000 - $24,999", "35.25"]]
