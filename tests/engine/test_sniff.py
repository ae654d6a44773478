"""The quick upload check: what it accepts, what it rejects and why."""
import codecs

import pytest

from analytics_app.engine.errors import EngineError
from analytics_app.engine.sniff import INVALID, sniff


def reason(raw: bytes, complete: bool = True, not_csv: bool = False) -> str:
    """Why the file is refused: a file that is not CSV text at all is INVALID, a CSV's own problem is its reason."""
    with pytest.raises(EngineError) as caught:
        sniff(raw, complete=complete, max_columns=50)
    why = caught.value.details["file"][0]
    assert caught.value.message == (INVALID if not_csv else why)
    return why


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_detected(delimiter):
    raw = f"a{delimiter}b{delimiter}c\n1{delimiter}2{delimiter}3\n4{delimiter}5{delimiter}6\n".encode()
    dialect = sniff(raw, complete=True, max_columns=50)
    assert dialect.delimiter == delimiter
    assert dialect.columns == ("a", "b", "c")


def test_semicolon_file_with_decimal_commas_is_not_read_as_comma_separated():
    raw = "name;price\n\"x\";1,5\n\"y\";2,25\n".encode()
    assert sniff(raw, complete=True, max_columns=50).delimiter == ";"


@pytest.mark.parametrize(
    "raw,encoding",
    [
        ("a,b\n1,é\n".encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + "a,b\n1,é\n".encode("utf-8"), "utf-8-sig"),
        ("a,b\n1,é\n".encode("utf-16"), "utf-16-le-bom"),
        ("a,b\n1,é\n".encode("utf-16-le"), "utf-16-le"),
        ("a,b\n1,€\n".encode("cp1252"), "cp1252"),
    ],
)
def test_encodings_are_detected(raw, encoding):
    dialect = sniff(raw, complete=True, max_columns=50)
    assert dialect.encoding == encoding
    assert dialect.columns == ("a", "b")


def test_empty_file():
    assert reason(b"", not_csv=True) == "The file is empty."


def test_png_renamed_csv():
    assert "PNG image" in reason(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", not_csv=True)


def test_zip_file():
    assert "ZIP archive" in reason(b"PK\x03\x04\x14\x00\x00\x00", not_csv=True)


def test_nul_bytes_mean_binary():
    assert "NUL" in reason(b"a,b\n1,\x002\n", not_csv=True)


def test_header_only_has_no_data_rows():
    assert "no data rows" in reason(b"a,b,c\n")


def test_duplicate_header_names():
    assert "appears twice" in reason(b"a,b,a\n1,2,3\n")


def test_blank_header_name():
    assert "Column 2 of the header row has no name" in reason(b"a,,c\n1,2,3\n")


def test_ragged_row_reports_its_line():
    with pytest.raises(EngineError) as caught:
        sniff(b"a,b\n1,2\n3,4,5\n", complete=True, max_columns=50)
    assert caught.value.details["line"] == ["3"]
    assert "3 fields but the header has 2" in caught.value.details["file"][0]


def test_too_many_columns():
    header = ",".join(f"c{i}" for i in range(60))
    assert "60 columns" in reason(f"{header}\n".encode() + b"1\n")
