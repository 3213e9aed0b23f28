"""Synthetic data sets: the bundled CSV replicated `factor` times, values perturbed.

Copy 0 is the bundled file itself; copy k > 0 repeats every row with its
Data_Value moved by a small deterministic amount (empty values stay empty).
Locations, questions and categories are kept, so every answer has the same
keys and size as on the bundled file and only the amount of data grows:
what changes with the factor is the cost of loading and aggregating it, not
the size of the answers.
`python -m bench.synth 10 /tmp/x10.csv`
"""
import csv
import sys

VALUE = "Data_Value"


def perturbation(copy, row):
    """The amount, between -1.0 and 1.0 in steps of 0.1, added to a row's value in a copy."""
    return ((copy * 7 + row * 13) % 21 - 10) / 10


def write_synthetic(source, target, factor):
    """Write `factor` copies of the rows of the CSV `source` to `target`; return the row count."""
    with open(source, newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        rows = list(reader)
    value_column = [name.strip() for name in header].index(VALUE)
    written = 0
    with open(target, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for copy in range(factor):
            for index, row in enumerate(rows):
                row = list(row)
                # The first column is the unnamed row index of the bundled file.
                row[0] = str(written)
                text = row[value_column].strip()
                if copy and text:
                    row[value_column] = f"{float(text) + perturbation(copy, index):.1f}"
                writer.writerow(row)
                written += 1
    return written


def main(argv=None):
    """Write a synthetic CSV: FACTOR TARGET [SOURCE]."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (2, 3):
        print("usage: python -m bench.synth FACTOR TARGET [SOURCE]", file=sys.stderr)
        return 2
    source = argv[2] if len(argv) == 3 else "nutrition_activity_obesity_usa_subset.csv"
    print(write_synthetic(source, argv[1], int(argv[0])), "rows written to", argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
