"""The nine statistics on small CSVs whose answers were worked out by hand."""
import pytest

from app.data_ingestor import DataError, DataIngestor
from unittests.conftest import HIGH, LOW, SMALL_CSV


@pytest.fixture(name="ingestor")
def fixture_ingestor(small_csv):
    return DataIngestor(small_csv)


def test_states_mean_is_ascending_and_skips_empty_values(ingestor):
    assert list(ingestor.states_mean(LOW).items()) == [("Ohio", 15.0), ("Texas", 30.0), ("Utah", 40.0)]


def test_state_mean(ingestor):
    assert ingestor.state_mean(LOW, "Texas") == {"Texas": 30.0}
    assert ingestor.state_mean(HIGH, "Guam") == {"Guam": 70.0}


def test_global_mean_averages_rows_not_states(ingestor):
    # (10 + 20 + 30 + 40) / 4, where the mean of state means would be 28.33
    assert ingestor.global_mean(LOW) == {"global_mean": 25.0}


def test_best_and_worst_follow_the_question_direction(ingestor):
    assert list(ingestor.best5(LOW)) == ["Ohio", "Texas", "Utah"]
    assert list(ingestor.worst5(LOW)) == ["Utah", "Texas", "Ohio"]
    assert ingestor.best5(HIGH) == {"Guam": 70.0, "Ohio": 50.0}
    assert ingestor.worst5(HIGH) == {"Ohio": 50.0, "Guam": 70.0}


def test_the_lower_is_better_questions_are_a_parameter(small_csv):
    # HIGH named lower-is-better, LOW not: each is ranked the other way round.
    turned = DataIngestor(small_csv, lower_is_better=frozenset({HIGH}))
    assert turned.questions == {LOW: False, HIGH: True}
    assert list(turned.best5(HIGH)) == ["Ohio", "Guam"]
    assert list(turned.worst5(HIGH)) == ["Guam", "Ohio"]
    assert list(turned.best5(LOW)) == ["Utah", "Texas", "Ohio"]
    assert [entry["state"] for entry in turned.ranking(HIGH)] == ["Ohio", "Guam"]


def test_ranking_places_every_state_best_first(ingestor):
    # Lower is better for LOW: Ohio 15 beats Texas 30 and Utah 40.
    assert ingestor.ranking(LOW) == [
        {"state": "Ohio", "mean": 15.0, "rank": 1, "percentile": 100.0},
        {"state": "Texas", "mean": 30.0, "rank": 2, "percentile": 50.0},
        {"state": "Utah", "mean": 40.0, "rank": 3, "percentile": 0.0}]
    assert [(entry["state"], entry["rank"]) for entry in ingestor.ranking(HIGH)] == [("Guam", 1), ("Ohio", 2)]


def test_ranking_gives_equal_means_one_rank(tmp_path):
    values = {"A": 5, "B": 3, "C": 3, "D": 1}
    rows = "".join(f"{i},{state},{HIGH},{value},Gender,Male\n" for i, (state, value) in enumerate(values.items()))
    path = tmp_path / "ties.csv"
    path.write_text(",LocationDesc,Question,Data_Value,StratificationCategory1,Stratification1\n" + rows)
    ranking = {entry["state"]: (entry["rank"], entry["percentile"]) for entry in DataIngestor(path).ranking(HIGH)}
    # B and C share second place; each beats one of the three others (D).
    assert ranking == {"A": (1, 100.0), "B": (2, 33.3), "C": (2, 33.3), "D": (4, 0.0)}


def test_a_single_state_is_at_the_top(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text(",LocationDesc,Question,Data_Value,StratificationCategory1,Stratification1\n"
                    f"0,Ohio,{HIGH},5,Gender,Male\n")
    assert DataIngestor(path).ranking(HIGH) == [{"state": "Ohio", "mean": 5.0, "rank": 1, "percentile": 100.0}]


def test_best5_keeps_five_of_many(tmp_path):
    rows = "".join(f"{i},S{i},{HIGH},{i},Gender,Male\n" for i in range(1, 9))
    path = tmp_path / "many.csv"
    path.write_text(",LocationDesc,Question,Data_Value,StratificationCategory1,Stratification1\n" + rows)
    ingestor = DataIngestor(path)
    assert list(ingestor.best5(HIGH)) == ["S8", "S7", "S6", "S5", "S4"]
    assert list(ingestor.worst5(HIGH)) == ["S1", "S2", "S3", "S4", "S5"]


def test_diff_from_mean(ingestor):
    assert ingestor.diff_from_mean(LOW) == {"Ohio": 10.0, "Texas": -5.0, "Utah": -15.0}
    assert ingestor.state_diff_from_mean(LOW, "Utah") == {"Utah": -15.0}


def test_mean_by_category_leaves_out_the_row_without_category(ingestor):
    assert ingestor.mean_by_category(LOW) == {
        "('Ohio', 'Age (years)', '18 - 24')": 10.0,
        "('Ohio', 'Gender', 'Male')": 20.0,
        "('Texas', 'Age (years)', '18 - 24')": 30.0,
    }


def test_state_mean_by_category(ingestor):
    assert ingestor.state_mean_by_category(LOW, "Ohio") == {
        "Ohio": {"('Age (years)', '18 - 24')": 10.0, "('Gender', 'Male')": 20.0}}
    assert ingestor.state_mean_by_category(LOW, "Utah") == {"Utah": {}}


def test_a_state_without_rows_for_a_question(ingestor):
    assert ingestor.has_state("Texas")
    assert not ingestor.has_rows(HIGH, "Texas")
    assert "Texas" not in ingestor.states_mean(HIGH)
    assert "Texas" not in ingestor.diff_from_mean(HIGH)


def test_questions_and_locations(ingestor):
    assert ingestor.questions == {HIGH: False, LOW: True}
    assert ingestor.locations == ["Guam", "Ohio", "Texas", "Utah"]
    assert ingestor.row_count == 8


WIDE_HEADER = [
    "YearStart", "YearEnd", "LocationAbbr", "LocationDesc", "Datasource", "Class", "Topic",
    "Question", "Data_Value_Unit", "Data_Value_Type", "Data_Value", "Data_Value_Alt",
    "Data_Value_Footnote_Symbol", "Data_Value_Footnote", "Low_Confidence_Limit",
    "High_Confidence_Limit ", "Sample_Size", "Total", "Age(years)", "Education", "Gender", "Income",
    "Race/Ethnicity", "GeoLocation", "ClassID", "TopicID", "QuestionID", "DataValueTypeID",
    "LocationID", "StratificationCategory1", "Stratification1", "StratificationCategoryId1",
    "StratificationID1", "Extra1", "Extra2",
]


def test_the_full_width_file_gives_the_same_answers(tmp_path, ingestor):
    lines = [",".join(WIDE_HEADER)]
    for row in SMALL_CSV.splitlines()[1:]:
        _, location, question, value, category, segment = row.split(",")
        fields = dict.fromkeys(WIDE_HEADER, "x")
        fields.update({"LocationDesc": location, "Question": question, "Data_Value": value,
                       "Data_Value_Alt": "999", "StratificationCategory1": category,
                       "Stratification1": segment, "GeoLocation": '"(32.8, -86.6)"'})
        lines.append(",".join(fields[name] for name in WIDE_HEADER))
    assert len(WIDE_HEADER) == 35
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")
    wide = DataIngestor(path)
    for question in (LOW, HIGH):
        assert wide.states_mean(question) == ingestor.states_mean(question)
        assert wide.global_mean(question) == ingestor.global_mean(question)
        assert wide.mean_by_category(question) == ingestor.mean_by_category(question)


@pytest.mark.parametrize("text, reason", [
    (",LocationDesc,Question,Data_Value\n0,Ohio,Q,1\n", "missing column"),
    (SMALL_CSV.replace(",10,", ",ten,"), "numeric"),
    (SMALL_CSV.replace(",10,", ",inf,"), "finite"),
])
def test_unusable_files_are_refused_with_a_reason(tmp_path, text, reason):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=reason):
        DataIngestor(path)


def test_a_column_named_twice_is_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(SMALL_CSV.replace("Question,", "Question,Question ,", 1).replace(
        ",Ohio,", ",Ohio,x,"))
    with pytest.raises(DataError, match="more than once: Question"):
        DataIngestor(path)


def test_values_whose_sum_could_overflow_are_refused(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text(SMALL_CSV.replace(",10,", ",1e308,"))
    with pytest.raises(DataError, match="between"):
        DataIngestor(path)
