"""The quick check of an upload's first bytes: encoding, delimiter, header. Rejects what is not a CSV."""
import codecs
import csv
import io
from dataclasses import dataclass

from .errors import EngineError
from .sql import RESERVED_PREFIX, name_key

DELIMITERS = (",", ";", "\t", "|")
HEAD_BYTES = 256 * 1024
INVALID = "Invalid file format. Only CSV files are allowed."

_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PK\x03\x04": "a ZIP archive (or an Excel/Office document)",
    b"\x1f\x8b": "a gzip archive",
    b"%PDF": "a PDF document",
    b"BZh": "a bzip2 archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document",
    b"SQLite format 3": "an SQLite database",
    b"PAR1": "a Parquet file",
}


@dataclass(frozen=True)
class Dialect:
    encoding: str  # a Python codec name: utf-8, utf-8-sig, utf-16-le, utf-16-be, cp1252, latin-1
    delimiter: str
    columns: tuple[str, ...]


def reject(reason: str, line: int | None = None, not_csv: bool = False) -> EngineError:
    """The upload cannot be used. A file that is not CSV text at all is the contract's INVALID sentence with the
    reason in the details; a CSV with a problem (a duplicate column name, no data rows) is that reason itself."""
    details = {"file": [reason]}
    if line is not None:
        details["line"] = [str(line)]
    return EngineError(INVALID if not_csv else reason, details)


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le-bom"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be-bom"
    sample = head[:4096]
    if len(sample) >= 4:
        even_nuls = sample[0::2].count(0)
        odd_nuls = sample[1::2].count(0)
        half = len(sample) // 2
        if odd_nuls > 0.3 * half and even_nuls < 0.05 * half:
            return "utf-16-le"
        if even_nuls > 0.3 * half and odd_nuls < 0.05 * half:
            return "utf-16-be"
    if 0 in head:
        raise reject("The file contains NUL bytes, so it is binary, not text.", not_csv=True)
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def python_codec(encoding: str) -> str:
    return {"utf-16-le-bom": "utf-16", "utf-16-be-bom": "utf-16"}.get(encoding, encoding)


def _decode_head(head: bytes, encoding: str, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder(python_codec(encoding))("strict")
    try:
        text = decoder.decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise reject(f"The file is not valid {encoding} text (byte offset {exc.start}).", not_csv=True) from None
    if "\x00" in text:
        raise reject("The file contains NUL characters, so it is binary, not text.", not_csv=True)
    controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > 0.01 * max(1, min(len(text), 20000)):
        raise reject("The file contains control characters, so it is binary, not text.", not_csv=True)
    return text


def _complete_lines(text: str, complete: bool) -> str:
    if complete:
        return text
    cut = max(text.rfind("\n"), text.rfind("\r"))
    return text[: cut + 1] if cut >= 0 else ""


def _rows(text: str, delimiter: str, limit: int = 200) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    rows = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        pass
    return rows


def detect_delimiter(text: str) -> str:
    """The candidate whose field count is largest and most consistent across the first rows."""
    best, best_score = ",", (-1, -1.0)
    for delimiter in DELIMITERS:
        rows = _rows(text, delimiter)
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        consistent = sum(1 for r in rows if len(r) == width) / len(rows)
        score = (1 if consistent >= 0.9 else 0, consistent * width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def check_names(header: list[str], max_columns: int, max_name_chars: int, line: int | None = None) -> None:
    """A table's column names: at most `max_columns`, none blank, none longer than `max_name_chars`, none
    reserved, none twice; EngineError naming the column otherwise (`line`: the header's line, for a CSV)."""
    if len(header) > max_columns:
        raise reject(f"The file has {len(header)} columns; at most {max_columns} are allowed.", line=line)
    seen: dict[str, tuple[str, int]] = {}
    for index, name in enumerate(header, start=1):
        if name == "":
            raise reject(f"Column {index} of the header row has no name.", line=line)
        if len(name) > max_name_chars:
            raise reject(f"The name of column {index} is {len(name)} characters long; at most {max_name_chars} are "
                         "allowed.", line=line)
        key = name_key(name)
        if key.startswith(RESERVED_PREFIX):  # ravid's own columns (the row number, the ingest's checks)
            raise reject(f"The column name '{name}' is reserved (names starting with '{RESERVED_PREFIX}' are).",
                         line=line)
        if key in seen:
            first, at = seen[key]
            if first == name:
                raise reject(f"The column name '{name}' appears twice (columns {at} and {index}).", line=line)
            raise reject(f"The column names '{first}' and '{name}' (columns {at} and {index}) differ only in letter "
                         "case, and column names are told apart regardless of case: rename one.", line=line)
        seen[key] = (name, index)


def sniff(head: bytes, complete: bool, max_columns: int, max_name_chars: int = 256) -> Dialect:
    """The dialect of a CSV from its first bytes (`complete` when they are the whole file), or EngineError."""
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise reject("The file is empty.", not_csv=True)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise reject(f"The file is {what}, not a CSV text file.", not_csv=True)
    encoding = detect_encoding(head)
    text = _decode_head(head, encoding, complete).lstrip("\ufeff")
    text = _complete_lines(text, complete)
    if not text.strip():
        raise reject("The header row is longer than the part of the file that is checked; no header row was found.")
    delimiter = detect_delimiter(text)
    rows = _rows(text, delimiter)
    if not rows:
        raise reject("No header row was found.", line=1)
    header = [name.strip() for name in rows[0]]
    check_names(header, max_columns, max_name_chars, line=1)
    if len(rows) == 1 and complete:
        raise reject("The file has a header row but no data rows.", line=2)
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header) and not (len(row) == 1 and row[0] == ""):
            raise reject(
                f"Row {number} has {len(row)} fields but the header has {len(header)}.", line=number
            )
    return Dialect(encoding=encoding, delimiter=delimiter, columns=tuple(header))
