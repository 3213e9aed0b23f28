"""What the data set, description and dashboard tests share: apps on temporary folders,
small CSV files, and waiting for a job."""
import csv
import io
import os

from app import create_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED_CSV = os.path.join(ROOT, "nutrition_activity_obesity_usa_subset.csv")
OBESITY = "Percent of adults aged 18 years and older who have obesity"
MUSCLE = "Percent of adults who engage in muscle-strengthening activities on 2 or more days a week"
HEADER = ["", "LocationDesc", "Question", "Data_Value", "StratificationCategory1", "Stratification1"]


def make_app(folder, **settings):
    """A fresh app whose results, uploads and log live under `folder`."""
    config = {"RESULTS_DIR": os.path.join(folder, "results"),
              "DATASETS_DIR": os.path.join(folder, "datasets"),
              "LOG_FILE": os.path.join(folder, "webserver.log"),
              # Tests read the log right after a request.
              "NUM_THREADS": 2, "LOG_FLUSH_MS": 0}
    config.update(settings)
    return create_app(config)


def stop(app):
    """Let the app's workers finish and end."""
    app.extensions["le_stats_sportif"].shutdown(wait=True, timeout=30)


def csv_text(rows, header=None):
    """A CSV file of `rows` (state, question, value, category, segment) under `header`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header or HEADER)
    for index, row in enumerate(rows):
        writer.writerow([index, *row])
    return out.getvalue()


def own_rows(scale=1.0):
    """The rows of a small data set: two questions, four places, a few categories.

    `scale` changes every value, so that two data sets of the same shape
    give different answers.
    """
    rows = []
    places = {"Ohio": 30.0, "Utah": 24.5, "Guam": 33.25, "Vermont": 27.0}
    for offset, (state, base) in enumerate(places.items()):
        for question, shift in ((OBESITY, 0.0), ("Percent of adults who enjoy tests", 41.0)):
            rows.append((state, question, f"{(base + shift) * scale:.2f}", "Total", "Total"))
            rows.append((state, question, f"{(base + shift + 3.5 + offset) * scale:.2f}", "Sex", "Female"))
            rows.append((state, question, f"{(base + shift - 2.25) * scale:.2f}", "Sex", "Male"))
            rows.append((state, question, "", "Sex", "Male"))
    rows.append(("Ohio", OBESITY, f"{12.0 * scale:.2f}", "", ""))
    return rows


def write_csv(path, text):
    """Write `text` to `path` and return the path."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(text)
    return path


def upload(client, data, filename="mine.csv"):
    """POST `data` (str or bytes) to /api/datasets as the field "file"."""
    payload = data.encode() if isinstance(data, str) else data
    return client.post("/api/datasets", data={"file": (io.BytesIO(payload), filename)},
                       content_type="multipart/form-data")
