"""Pages of rows at any depth, typed filters and sort; downloads with formula cells escaped."""
import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from analytics_app.engine.errors import EngineError
from analytics_app.engine.export import export_table
from analytics_app.engine.predicates import Condition
from analytics_app.engine.rows import SortKey, read_page


@pytest.fixture
def numbers(ingest):
    text = "n,parity,label\n" + "\n".join(f"{i},{'even' if i % 2 == 0 else 'odd'},r{i}" for i in range(300_000)) + "\n"
    return ingest(text)


def test_deep_page_without_filters_reads_by_row_number(con, numbers):
    path, result = numbers
    page = read_page(con, path, result.columns, ["n"], [], [], page=2500, page_size=100)
    assert page.total == 300_000
    assert [r["n"] for r in page.items] == list(range(249_900, 250_000))


def test_filters_sort_and_columns(con, numbers):
    path, result = numbers
    page = read_page(
        con, path, result.columns, ["n", "label"],
        [Condition("parity", "eq", "odd"), Condition("n", "lt", "100")],
        [SortKey("n", descending=True)], page=2, page_size=10,
    )
    assert page.total == 50
    assert page.items[0] == {"n": 79, "label": "r79"}
    assert [r["n"] for r in page.items] == list(range(79, 59, -2))


def test_unknown_names_are_rejected(con, numbers):
    path, result = numbers
    with pytest.raises(EngineError, match="Unknown column 'x'"):
        read_page(con, path, result.columns, ["x"], [], [], 1, 10)
    with pytest.raises(EngineError, match="Unknown sort column 'y'"):
        read_page(con, path, result.columns, None, [], [SortKey("y")], 1, 10)


def test_formula_cells_are_escaped_in_csv_but_not_in_parquet(con, tmp_path, ingest):
    path, _ = ingest('a,b\n"=HYPERLINK(""http://x"")",1\n+1,2\n-2,3\n@SUM(A1),4\n"\tx",5\nplain,6\n')
    csv_path = export_table(con, path, "csv", tmp_path / "out.csv")
    cells = [row[0] for row in csv.reader(io.StringIO(csv_path.read_text()))]
    assert cells == ["a", "'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "plain"]
    parquet_path = export_table(con, path, "parquet", tmp_path / "out.parquet")
    assert pq.read_table(parquet_path).column_names == ["a", "b"]
    assert pq.read_table(parquet_path).column("a").to_pylist()[1] == "+1"


def test_json_export(con, tmp_path, ingest):
    path, _ = ingest("a,d\n1,2024-01-02\n2,\n")
    out = export_table(con, path, "json", tmp_path / "out.json")
    assert json.loads(out.read_text()) == [{"a": 1, "d": "2024-01-02"}, {"a": 2, "d": None}]


def test_a_results_first_rows_read_with_pyarrow_are_those_duckdb_reads(con, tmp_path):
    """A finished task's first rows come from pyarrow when every column is plain: the same JSON values, type for
    type, as the DuckDB path gives (dates and times as ISO text, decimals as numbers, NaN as null)."""
    from pathlib import Path

    from analytics_app.engine.rows import head, rows_at
    from analytics_app.engine.tables import Table
    from analytics_app.engine.writer import write_query

    written = write_query(con, """
        SELECT i AS n, i * 1.5 AS f, 'x' || i AS s, i % 2 = 0 AS b, DATE '2024-01-01' + CAST(i AS INTEGER) AS d,
               TIMESTAMP '2024-01-01 10:00:00' + INTERVAL (i) HOUR AS ts, CAST(i AS DECIMAL(10, 2)) AS dec,
               CASE WHEN i = 3 THEN NULL ELSE i END AS maybe, CAST('NaN' AS DOUBLE) AS nan,
               CAST(i AS HUGEINT) AS huge, TIMESTAMPTZ '2024-01-01 10:00:00+02' AS tz, [i, i + 1] AS l
        FROM range(300) t(i)""", [], Path(tmp_path / "r.parquet"))
    table, names = Table(written.path("table")), [c["name"] for c in written.columns]
    plain = [n for n in names if n != "l"]
    first = head(con, table, 5, plain)
    assert first == rows_at(con, table, 0, 5, plain)
    assert [type(v) for v in first[3].values()] == [type(v) for v in rows_at(con, table, 3, 4, plain)[0].values()]
    assert first[3] == {"n": 3, "f": 4.5, "s": "x3", "b": False, "d": "2024-01-04", "ts": "2024-01-01T13:00:00",
                        "dec": 3.0, "maybe": None, "nan": None, "huge": 3.0, "tz": "2024-01-01T08:00:00+00:00"}
    assert head(con, table, 2, names) == rows_at(con, table, 0, 2, names)  # a list column: DuckDB reads them
    assert len(head(con, table, 1000, plain)) == 300 and head(con, table, 1000, ["n"])[-1] == {"n": 299}


def _column_chunks(dest) -> dict:
    """The first row group's column chunks of a Parquet file, by column name (their encodings, compression)."""
    group = pq.ParquetFile(dest).metadata.row_group(0)
    return {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}


def test_text_columns_whose_values_repeat_are_dictionary_encoded_and_others_plain(con, tmp_path):
    """A repetitive text column is written with a dictionary (a small file, fast to group); a column of mostly
    distinct values is written plain, which costs a third less to write and is no larger. Values are the same."""
    from analytics_app.engine.writer import write_query

    dest = tmp_path / "t.parquet"
    written = write_query(con, "SELECT 'cat_' || (i % 50) AS category, 'id_' || i AS code, "
                               "CASE WHEN i % 5 = 0 THEN 'z' || (i % 3) END AS sparse FROM range(200000) t(i)", [], dest)
    assert written.row_count == 200000
    encodings = {name: chunk.encodings for name, chunk in _column_chunks(dest).items()}
    assert "RLE_DICTIONARY" in encodings["category"] and "RLE_DICTIONARY" in encodings["sparse"]
    assert "RLE_DICTIONARY" not in encodings["code"]
    got = con.execute("SELECT category, code, sparse FROM read_parquet(?) WHERE __ravid_row IN (0, 7, 199999) "
                      "ORDER BY __ravid_row", [str(dest)]).fetchall()
    assert got == [("cat_0", "id_0", "z0"), ("cat_7", "id_7", None), ("cat_49", "id_199999", None)]


def test_integers_dates_and_times_are_stored_as_deltas_and_read_back_exactly(con, tmp_path):
    """Integer, date and time columns are bit-packed deltas (smaller and quicker to scan than plain + snappy);
    extremes, negatives and nulls come back exactly, through DuckDB and through pyarrow."""
    from analytics_app.engine.writer import write_query

    dest = tmp_path / "d.parquet"
    write_query(con, """
        SELECT CASE i WHEN 0 THEN -9223372036854775808 WHEN 1 THEN 9223372036854775807 WHEN 2 THEN NULL
                      ELSE (i * 7919) % 1000 - 500 END AS n,
               CAST(i % 3 AS TINYINT) AS small, DATE '1900-01-01' + CAST(i * 37 AS INTEGER) AS d,
               TIMESTAMP '1969-12-31 23:59:59.999999' + INTERVAL (i * 1000003) SECOND AS ts, i * 0.5 AS f
        FROM range(1000) t(i)""", [], dest)
    columns = _column_chunks(dest)
    for name in ("n", "small", "d", "ts", "__ravid_row"):
        assert "DELTA_BINARY_PACKED" in columns[name].encodings and columns[name].compression == "UNCOMPRESSED"
    assert "DELTA_BINARY_PACKED" not in columns["f"].encodings
    expected = con.execute("""
        SELECT CASE i WHEN 0 THEN -9223372036854775808 WHEN 1 THEN 9223372036854775807 WHEN 2 THEN NULL
                      ELSE (i * 7919) % 1000 - 500 END, CAST(i % 3 AS TINYINT), DATE '1900-01-01' + CAST(i * 37 AS INTEGER),
               TIMESTAMP '1969-12-31 23:59:59.999999' + INTERVAL (i * 1000003) SECOND, i * 0.5, i
        FROM range(1000) t(i) ORDER BY i""").fetchall()
    assert con.execute("SELECT * FROM read_parquet(?) ORDER BY __ravid_row", [str(dest)]).fetchall() == expected
    assert [tuple(r.values()) for r in pq.read_table(dest).to_pylist()] == expected


def test_floats_are_stored_plain_and_uncompressed_and_read_back_exactly(con, tmp_path):
    """Float columns are plain and uncompressed (every scan of them skips a decompression); text keeps snappy.
    Extremes, NaN, infinities, -0.0 and nulls come back exactly."""
    from analytics_app.engine.writer import write_query

    dest = tmp_path / "f.parquet"
    query = """
        SELECT CAST(v AS DOUBLE) AS x, TRY_CAST(v AS FLOAT) AS y, 'text ' || i AS t
        FROM (SELECT unnest(CAST(? AS DOUBLE[])) AS v, unnest(range(8)) AS i)"""
    values = [1.7976931348623157e308, -5e-324, float("nan"), float("inf"), float("-inf"), -0.0, None, 0.1]
    write_query(con, query, [values], dest)
    columns = _column_chunks(dest)
    for name in ("x", "y"):
        assert columns[name].compression == "UNCOMPRESSED" and "PLAIN" in columns[name].encodings, columns[name]
    assert columns["t"].compression == "SNAPPY"
    got = pq.read_table(dest).to_pydict()
    assert [repr(v) for v in got["x"]] == ["1.7976931348623157e+308", "-5e-324", "nan", "inf", "-inf", "-0.0", "None",
                                           "0.1"]
    expected_y = [repr(row[0]) for row in con.execute(f"SELECT y FROM ({query})", [values]).fetchall()]
    assert [repr(v) for v in got["y"]] == expected_y and expected_y[2:7] == ["nan", "inf", "-inf", "-0.0", "None"]


def test_a_result_with_two_columns_of_one_name_is_refused_and_nothing_is_written(con, tmp_path):
    from analytics_app.engine.writer import write_query

    with pytest.raises(EngineError) as caught:
        write_query(con, "SELECT 1 AS value, 2 AS value, 3 AS n", [], tmp_path / "out.parquet")
    assert caught.value.message == ("The result would hold columns named 'value', 'value', and column names must "
                                    "differ (regardless of letter case).")
    with pytest.raises(EngineError, match="columns named 'Value', 'value', and column names must differ"):
        write_query(con, "SELECT 1 AS \"Value\", 2 AS n, 3 AS \"value\"", [], tmp_path / "out.parquet")
    assert list(tmp_path.iterdir()) == []
