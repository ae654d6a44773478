"""dedup and filter results are selections of their source's rows: paged, exported, chained and written out
exactly as a copied table would be, across row-group boundaries."""
import csv
import io

import pyarrow.parquet as pq
import pytest

from analytics_app.engine.dedup import deduplicate
from analytics_app.engine.export import export_table
from analytics_app.engine.filtering import filter_rows
from analytics_app.engine.predicates import Condition
from analytics_app.engine.rows import SortKey, read_page
from analytics_app.engine.summary import summarize
from analytics_app.engine.rows import head
from analytics_app.engine.selections import materialise
from analytics_app.engine.tables import ROWS_PER_GROUP

from .conftest import rows_of

ROWS = 3 * ROWS_PER_GROUP + 1234  # four row groups, the last one short


@pytest.fixture
def numbers(ingest):
    lines = (f"{n},{n // 3},{'even' if n % 2 == 0 else 'odd'},r{n}" for n in range(ROWS))
    source, result = ingest("n,triple,parity,label\n" + "\n".join(lines) + "\n")
    return source, result.columns


def test_dedup_is_a_selection_that_shares_the_source_file(con, tmp_path, numbers):
    source, schema = numbers
    result = deduplicate(con, source, ["triple"], "last", tmp_path / "dedup")
    table = result.table()
    assert table.selection is not None
    assert table.path.stat().st_ino == source.path.stat().st_ino, "linked, not copied"
    assert result.row_count == table.row_count() == (ROWS + 2) // 3
    assert [c["name"] for c in result.columns] == ["n", "triple", "parity", "label"]
    assert rows_of(table)["n"].tolist() == [min(3 * t + 2, ROWS - 1) for t in range((ROWS + 2) // 3)]


def test_pages_of_a_selection_at_any_depth_match_the_kept_rows(con, tmp_path, numbers):
    source, schema = numbers
    result = filter_rows(con, source, schema, [Condition("parity", "eq", "odd")], "all", tmp_path / "odd")
    table = result.table()
    odd = list(range(1, ROWS, 2))
    assert result.row_count == len(odd)
    # A page that straddles the first row-group boundary, one deep in the last group, and one past the end.
    for page, size in [(ROWS_PER_GROUP // 2 // 100, 100), (len(odd) // 7 - 1, 7), (len(odd) // 1000 + 1, 1000)]:
        got = read_page(con, table, schema, ["n"], [], [], page, size, result.row_count)
        start = (page - 1) * size
        assert [r["n"] for r in got.items] == odd[start:start + size]
        assert got.total == len(odd)
    assert head(con, table, 3, ["n", "label"]) == [{"n": 1, "label": "r1"}, {"n": 3, "label": "r3"}, {"n": 5, "label": "r5"}]


def test_filters_and_sort_over_a_selection(con, tmp_path, numbers):
    source, schema = numbers
    table = filter_rows(con, source, schema, [Condition("n", "lt", 1000)], "all", tmp_path / "small").table()
    page = read_page(con, table, schema, ["n"], [Condition("parity", "eq", "even")], [SortKey("n", True)], 1, 3)
    assert page.total == 500
    assert [r["n"] for r in page.items] == [998, 996, 994]


def test_chained_selections_point_at_the_original_rows(con, tmp_path, numbers):
    source, schema = numbers
    tail = filter_rows(con, source, schema, [Condition("n", "gte", ROWS_PER_GROUP - 10)], "all",
                       tmp_path / "tail").table()
    result = deduplicate(con, tail, ["parity"], "first", tmp_path / "again")
    again = result.table()
    assert result.row_count == 2
    assert rows_of(again)["n"].tolist() == [ROWS_PER_GROUP - 10, ROWS_PER_GROUP - 9]
    assert pq.read_metadata(again.selection).num_rows == ROWS, "one mask over the original file, not nested"
    profile = summarize(con, again, schema, ["n"])
    assert profile["row_count"] == 2 and profile["columns"]["n"]["max"] == ROWS_PER_GROUP - 9


def test_export_and_materialise_keep_order_and_content(con, tmp_path, numbers):
    source, schema = numbers
    table = filter_rows(con, source, schema, [Condition("n", "between", [ROWS_PER_GROUP - 2, ROWS_PER_GROUP + 1])],
                        "all", tmp_path / "edge").table()
    exported = export_table(con, table, "csv", tmp_path / "edge.csv")
    lines = list(csv.reader(io.StringIO(exported.read_text())))
    expected = [[str(n), str(n // 3), "even" if n % 2 == 0 else "odd", f"r{n}"]
                for n in range(ROWS_PER_GROUP - 2, ROWS_PER_GROUP + 2)]
    assert lines == [["n", "triple", "parity", "label"], *expected]
    written = materialise(con, table, tmp_path / "copy.parquet")
    assert written.row_count == 4
    copy = pq.read_table(tmp_path / "copy.parquet")
    assert copy.column("__ravid_row").to_pylist() == [0, 1, 2, 3], "dense row numbers of its own"
    assert copy.column("n").to_pylist() == [int(r[0]) for r in expected]


def test_an_empty_selection(con, tmp_path, numbers):
    source, schema = numbers
    result = filter_rows(con, source, schema, [Condition("n", "lt", 0)], "all", tmp_path / "none")
    table = result.table()
    assert result.row_count == 0 == table.row_count()
    assert read_page(con, table, schema, None, [], [], 1, 10, 0).items == []
    assert rows_of(table).empty
