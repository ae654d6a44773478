"""Ingest: CSV text in, typed Parquet out, every value round-tripped exactly."""
import datetime as dt

import pyarrow.parquet as pq
import pytest

from analytics_app.engine.errors import EngineError


def rows(path):
    return [{k: v for k, v in r.items() if k != "__ravid_row"} for r in pq.read_table(path.path).to_pylist()]


def test_types_and_tricky_values_round_trip(ingest):
    text = (
        "zip,name,amount,day,at,flag,count\n"
        '08123,"Smith, John",1.5,2024-01-02,2024-01-02 10:00:00,true,7\n'
        '00001,"He said ""hi""",NA,2024-02-29,2024-01-02T10:00:00+02:00,FALSE,-3\n'
        '12345,"two\r\nlines",,,,,\n'
    )
    path, result = ingest(text)
    assert result.row_count == 3
    assert {c["name"]: c["type"] for c in result.columns} == {
        "zip": "string", "name": "string", "amount": "float", "day": "date",
        "at": "datetime", "flag": "boolean", "count": "integer",
    }
    assert rows(path) == [
        {"zip": "08123", "name": "Smith, John", "amount": 1.5, "day": dt.date(2024, 1, 2),
         "at": dt.datetime(2024, 1, 2, 10, 0), "flag": True, "count": 7},
        {"zip": "00001", "name": 'He said "hi"', "amount": None, "day": dt.date(2024, 2, 29),
         "at": dt.datetime(2024, 1, 2, 8, 0), "flag": False, "count": -3},
        {"zip": "12345", "name": "two\r\nlines", "amount": None, "day": None, "at": None, "flag": None, "count": None},
    ]


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "cp1252"])
def test_encodings_round_trip(ingest, codec):
    text = "city;price\nZürich;1,5\nSão Paulo;€2\n"
    path, result = ingest(text.encode(codec))
    assert [r["city"] for r in rows(path)] == ["Zürich", "São Paulo"]
    assert [r["price"] for r in rows(path)] == ["1,5", "€2"]


def test_tab_and_pipe_delimiters(ingest):
    path, _ = ingest("a\tb\n1\tx|y\n")
    assert rows(path) == [{"a": 1, "b": "x|y"}]
    path, _ = ingest("a|b\n1|x,y\n", name="pipe.csv")
    assert rows(path) == [{"a": 1, "b": "x,y"}]


def test_a_late_value_that_breaks_the_sampled_type_widens_the_column(ingest):
    lines = ["id,code"] + [f"{i},{i}" for i in range(30000)] + ["30000,A7"]
    path, result = ingest("\n".join(lines) + "\n")
    types = {c["name"]: c["type"] for c in result.columns}
    assert types == {"id": "integer", "code": "string"}
    assert rows(path)[-1] == {"id": 30000, "code": "A7"}
    assert rows(path)[5] == {"id": 5, "code": "5"}


def test_integer_column_with_a_late_float_becomes_float(ingest):
    lines = ["v"] + [str(i) for i in range(25000)] + ["2.5"]
    path, result = ingest("\n".join(lines) + "\n")
    assert result.columns == [{"name": "v", "type": "float"}]
    assert rows(path)[-1] == {"v": 2.5}


def test_ragged_row_deep_in_the_file_fails_with_its_line(ingest):
    lines = ["a,b"] + ["1,2"] * 300 + ["1,2,3"]
    with pytest.raises(EngineError) as caught:
        ingest("\n".join(lines) + "\n")
    assert caught.value.details["line"] == ["302"]
    assert "302 has 3 fields but the header has 2" in caught.value.message
    assert "/" not in caught.value.message.replace("N/A", "")


def test_invalid_utf8_after_the_sample_fails_cleanly(ingest):
    raw = b"a,b\n" + b"1,x\n" * 100 + b"2,\xff\xfe\n"
    with pytest.raises(EngineError) as caught:
        ingest(raw, head=200)
    assert "not valid" in caught.value.message
    assert caught.value.details["line"] == ["102"]


def test_row_numbers_are_dense_and_ordered(ingest):
    path, _ = ingest("v\n" + "\n".join(str(i) for i in range(1000)) + "\n")
    table = pq.read_table(path.path)
    assert table.column("__ravid_row").to_pylist() == list(range(1000))


def test_a_null_token_after_the_sample_keeps_a_native_column_numeric(ingest):
    lines = ["v,when"] + [f"{i}.5,2024-01-{1 + i % 28:02d}" for i in range(25000)] + ["NA,N/A", "7.25,null"]
    path, result = ingest("\n".join(lines) + "\n")
    assert result.columns == [{"name": "v", "type": "float"}, {"name": "when", "type": "date"}]
    assert rows(path)[-2:] == [{"v": None, "when": None}, {"v": 7.25, "when": None}]


@pytest.mark.parametrize("late", ["", "NA", "x"], ids=["native read", "late token", "late misfit"])
def test_date_times_with_offsets_are_stored_as_naive_utc_on_every_path(ingest, late):
    # A date-time column read natively, read as text after a late null token, and widened to text in a second pass:
    # an offset is applied, the file holds naive times (no zone), and the row with a token is null.
    base = ["2024-01-02 10:00:00+02:00", "2024-01-02T23:30:00Z", "2024-01-03 01:00:00-0530", "2024-01-04 00:00:00"]
    lines = ["at,n"] + [f"{base[i % 4]},{i}" for i in range(25000)] + [f"{late},25000"]
    path, result = ingest("\n".join(lines) + "\n")
    assert str(pq.read_schema(path.path).field("at").type) == ("string" if late == "x" else "timestamp[us]")
    got = rows(path)
    if late == "x":
        assert [r["at"] for r in got[:2]] == base[:2] and got[-1]["at"] == "x"
        return
    assert [r["at"] for r in got[:4]] == [dt.datetime(2024, 1, 2, 8), dt.datetime(2024, 1, 2, 23, 30),
                                          dt.datetime(2024, 1, 3, 6, 30), dt.datetime(2024, 1, 4)]
    assert got[-1] == {"at": None, "n": 25000}


@pytest.mark.parametrize("late, expected", [
    ("2024-03-01 10:00:00+02:00", dt.datetime(2024, 3, 1, 8)),
    ("2024-03-01T10:00:00Z", dt.datetime(2024, 3, 1, 10)),
    ("2024-03-01 10:00:00 Europe/Paris", dt.datetime(2024, 3, 1, 9)),
    ("2024-03-01 10:00", dt.datetime(2024, 3, 1, 10)),
    ("2024-03-01 10:00:00.25", dt.datetime(2024, 3, 1, 10, 0, 0, 250000)),
    ("2024-03-01 24:00:00", dt.datetime(2024, 3, 2)),
], ids=["offset", "Z", "zone name", "no seconds", "fraction", "24:00"])
def test_a_late_date_time_in_another_shape_than_the_samples_keeps_its_zone(ingest, late, expected):
    # The sample's zone-less date-times are read in their one exact format; a later value written otherwise (with a
    # zone above all, which a plain TIMESTAMP read would drop) sends the column to the zone-aware read.
    lines = ["at,n"] + [f"2024-01-{1 + i % 28:02d} 10:{i % 60:02d}:00,{i}" for i in range(25000)] + [f"{late},25000"]
    path, result = ingest("\n".join(lines) + "\n")
    assert result.columns == [{"name": "at", "type": "datetime"}, {"name": "n", "type": "integer"}]
    got = rows(path)
    assert got[-1] == {"at": expected, "n": 25000}
    assert got[:2] == [{"at": dt.datetime(2024, 1, 1, 10), "n": 0}, {"at": dt.datetime(2024, 1, 2, 10, 1), "n": 1}]


def test_date_time_columns_in_different_shapes_are_each_read_exactly(ingest):
    lines = ["a,b,c"] + [f"2024-01-02 10:00:0{i % 10},2024-01-02T10:00:00.{i % 1000:03d},2024-01-02 10:{i % 60:02d}"
                         for i in range(25000)] + ["2024-05-06 07:08:09,2024-05-06T07:08:09.5,2024-05-06 07:08"]
    path, _ = ingest("\n".join(lines) + "\n")
    assert str(pq.read_schema(path.path).field("b").type) == "timestamp[us]"
    assert rows(path)[-1] == {"a": dt.datetime(2024, 5, 6, 7, 8, 9), "b": dt.datetime(2024, 5, 6, 7, 8, 9, 500000),
                              "c": dt.datetime(2024, 5, 6, 7, 8)}
    assert rows(path)[1] == {"a": dt.datetime(2024, 1, 2, 10, 0, 1), "b": dt.datetime(2024, 1, 2, 10, 0, 0, 1000),
                             "c": dt.datetime(2024, 1, 2, 10, 1)}


def test_a_leading_zero_after_the_sample_makes_the_column_text(ingest):
    lines = ["zip"] + [str(10000 + i) for i in range(25000)] + ["01234"]
    path, result = ingest("\n".join(lines) + "\n")
    assert result.columns == [{"name": "zip", "type": "string"}]
    assert rows(path)[0] == {"zip": "10000"} and rows(path)[-1] == {"zip": "01234"}


def test_text_columns_keep_na_and_blanks_are_null(ingest):
    path, result = ingest("country,n\nNA,1\nFR,2\n,3\n")
    assert result.columns == [{"name": "country", "type": "string"}, {"name": "n", "type": "integer"}]
    assert [r["country"] for r in rows(path)] == ["NA", "FR", None]


@pytest.mark.parametrize("odd", ["1_000", "0x1F", "1e3", "2.5"])
def test_only_plain_digits_make_an_integer_column(ingest, odd):
    lines = ["v"] + [str(i) for i in range(25000)] + [odd]
    path, result = ingest("\n".join(lines) + "\n")
    assert result.columns[0]["type"] in ("float", "string")
    last = rows(path)[-1]["v"]
    assert (last == odd) if result.columns[0]["type"] == "string" else (last == float(odd))


def test_a_failed_ingest_leaves_nothing_behind_for_the_next_one(ingest):
    lines = ["a,b"] + ["1,2"] * 25000 + ["1,2,3"]
    with pytest.raises(EngineError):
        ingest("\n".join(lines) + "\n", name="bad.csv")
    lines = ["a,b"] + [f"{i},x" for i in range(25000)] + ["NA,y"]
    path, result = ingest("\n".join(lines) + "\n", name="good.csv")
    assert result.row_count == 25001 and result.columns[0] == {"name": "a", "type": "integer"}


def _stages(tmp_path, text: str) -> tuple[list[str], list[dict], list[dict]]:
    from analytics_app.engine.ingest import ingest_csv
    from analytics_app.engine.sniff import sniff
    from analytics_app.engine.sql import Limits
    from analytics_app.engine.tables import Table

    src = tmp_path / "staged.csv"
    src.write_text(text)
    seen: list[str] = []

    def record(stage: str, percent: float) -> bool:
        if stage not in seen:
            seen.append(stage)
        return True

    dialect = sniff(text.encode(), complete=True, max_columns=10)
    result = ingest_csv(src, tmp_path / "staged.parquet", dialect, Limits(memory_limit="256MB", threads=1),
                        tmp_path / "work", record)
    return seen, result.columns, rows(Table(tmp_path / "staged.parquet"))


def test_a_file_whose_sampled_types_hold_is_read_once(tmp_path):
    lines = ["id,amount,code,when"] + [f"{i},{i}.25,{'NA' if i == 24000 else i},2024-01-02" for i in range(25000)]
    stages, columns, got = _stages(tmp_path, "\n".join(lines) + "\n")
    assert stages == ["reading"], "one pass: a late null token does not need a second look"
    assert [c["type"] for c in columns] == ["integer", "float", "integer", "date"]
    assert got[24000]["code"] is None and got[24001]["code"] == 24001


def test_a_late_misfit_settles_types_in_a_second_pass_and_keeps_other_columns_right(tmp_path):
    # `code` gets a null token after the sample (fine on its own), `zip` a leading zero (not an integer).
    lines = ["code,zip"] + [f"{'NA' if i == 24000 else i},{10000 + i}" for i in range(25000)] + ["5,00501"]
    stages, columns, got = _stages(tmp_path, "\n".join(lines) + "\n")
    assert stages == ["reading", "inferring types", "writing"]
    assert columns == [{"name": "code", "type": "integer"}, {"name": "zip", "type": "string"}]
    assert got[24000] == {"code": None, "zip": "34000"} and got[-1] == {"code": 5, "zip": "00501"}
    assert len(got) == 25001


def test_decimal_commas_in_a_semicolon_file_are_numbers(ingest, con):
    table, result = ingest("name;price;code\nx;377,20;1,2,3\ny;12,5;a\nz;1000;b\nw;-0,75;NA\nv;;c\n")
    assert {c["name"]: c["type"] for c in result.columns} == {"name": "string", "price": "float", "code": "string"}
    rows = con.execute("SELECT price FROM read_parquet(?) ORDER BY __ravid_row", [str(table.path)]).fetchall()
    assert [r[0] for r in rows] == [377.2, 12.5, 1000.0, -0.75, None]


def test_a_late_value_that_is_not_a_decimal_comma_number_makes_the_column_text(ingest):
    lines = "".join(f"r{i};{i},5\n" for i in range(25_000)) + "late;12.5.1\n"
    _, result = ingest("name;amount\n" + lines)
    assert {c["name"]: c["type"] for c in result.columns}["amount"] == "string"


def test_commas_in_a_comma_file_are_never_decimal(ingest):
    _, result = ingest('name,price\nx,"377,20"\ny,"12,5"\n')
    assert {c["name"]: c["type"] for c in result.columns}["price"] == "string"
