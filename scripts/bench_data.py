"""Writes the benchmark's deterministic CSV: mixed integer, float, text and datetime columns, ~10% duplicate keys."""
import argparse
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv

QUERY = """
SELECT
    i AS id,
    CAST(CASE WHEN hash(i, 'dup') % 10 = 0 THEN hash(i, 'k') % greatest(?, 1) ELSE i END AS BIGINT) AS key,
    'cat_' || CAST(hash(i, 'c') % 50 AS VARCHAR) AS category,
    lpad(CAST(hash(i, 'z') % 100000 AS VARCHAR), 5, '0') AS zip,
    round(CAST(hash(i, 'a') % 1000000 AS DOUBLE) / 100.0, 2) AS amount,
    CAST(hash(i, 'q') % 100 AS BIGINT) AS quantity,
    TIMESTAMP '2020-01-01' + to_seconds(CAST(hash(i, 't') % 126144000 AS BIGINT)) AS created_at
FROM range(?) t(i)
"""


def write_csv(path: Path, rows: int) -> Path:
    """Deterministic for a given row count: the same file every time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    reader = con.sql(QUERY, params=[rows, rows]).to_arrow_reader(500_000)
    tmp = path.with_suffix(".tmp")
    with pacsv.CSVWriter(tmp, reader.schema, write_options=pacsv.WriteOptions(quoting_style="needed")) as writer:
        for batch in reader:
            writer.write_batch(batch)
    tmp.replace(path)
    con.close()
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    print(write_csv(args.path, args.rows))
