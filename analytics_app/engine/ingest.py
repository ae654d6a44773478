"""Turning an uploaded CSV into a typed Parquet file, in one DuckDB pass when the sample's types hold."""
import codecs
import logging
import re
import uuid
from collections import Counter
from pathlib import Path

import duckdb

from .errors import EngineError
from .execution import ProgressFn, no_progress, run_with_progress
from .sniff import INVALID, Dialect, python_codec
from .sql import Limits, Sql, connect, quote_ident
from .results import Result
from .writer import write_query

NULL_TOKENS = ["", "na", "n/a", "nan", "null", "none", "#n/a"]
TOKENS, TOKEN_CHARS = frozenset(NULL_TOKENS), max(map(len, NULL_TOKENS))
TOKEN_PATTERN = "|".join(re.escape(token) for token in NULL_TOKENS)
INT_RE = r"[+-]?(0|[1-9][0-9]*)"
FLOAT_RE = r"[+-]?(0|[1-9][0-9]*)?(\.[0-9]+)?([eE][+-]?[0-9]+)?"
# In a ;-separated file, numbers may be written with a decimal comma (377,20): the kind "float:comma".
DECIMAL_COMMA_RE = r"[+-]?(0|[1-9][0-9]*),[0-9]+"
DECIMAL_COMMA = "float:comma"
ISO_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
ISO_DATETIME_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?"
# A date-time column whose sampled values carry no zone and share one of these shapes is read as TIMESTAMP with
# that exact format: DuckDB parses that in half to two thirds of a TIMESTAMPTZ read's time (5 M rows). A later value
# that does not fit the format sends the column to the TIMESTAMPTZ read, as a misfit does.
NAIVE_SHAPES = {
    f"%Y-%m-%d{sep}%H:%M{sec}{frac}": f"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}{sep}[0-9]{{2}}:[0-9]{{2}}{sec_re}{frac_re}"
    for sep in (" ", "T")
    for sec, sec_re in (("", ""), (":%S", ":[0-9]{2}"))
    for frac, frac_re in (("", ""), (".%f", r"\.[0-9]{1,6}"))
    if sec or not frac
}
DATE_FORMATS = ["%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y", "%b %d %Y", "%d %b %Y", "%B %d, %Y"]
DATETIME_FORMATS = ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S"]
SAMPLE_ROWS = 20_000
# ... and at most this many values: a wide file's sample is fewer rows (500 columns: 4,000), or the sample alone,
# as Python strings, took more than a GB.
SAMPLE_CELLS = 2_000_000
logger = logging.getLogger("ravid.engine.ingest")
MAX_LINE_BYTES = 16 * 1024 * 1024
# DuckDB sizes its read buffer from max_line_size unless told; a fixed buffer keeps memory flat.
READ_BUFFER_BYTES = 2 * MAX_LINE_BYTES
TRANSCODE_CHUNK = 4 * 1024 * 1024


def _read_csv(path: Path, delimiter: str, columns: dict[str, str], *options: Sql) -> Sql:
    """DuckDB's read_csv of a sniffed file with these column types, strictly, with a bounded buffer."""
    V = Sql.value
    return Sql.of(
        "read_csv({}, delim = {}, quote = '\"', escape = '\"', header = true, auto_detect = false, columns = {}, "
        "strict_mode = true, max_line_size = {}, buffer_size = {}, encoding = 'utf-8'{})",
        V(str(path)), V(delimiter), V(columns), V(MAX_LINE_BYTES), V(READ_BUFFER_BYTES),
        Sql.join("", [Sql.of(", {}", option) for option in options]),
    )


def _csv_source(path: Path, delimiter: str, names: list[str]) -> Sql:
    """An all-text read of the CSV, for sampling."""
    return _read_csv(path, delimiter, {name: "VARCHAR" for name in names}, Sql("all_varchar = true"))


def _typed_source(path: Path, delimiter: str, read_types: dict[str, str], rejects: str | None = None,
                  timestamp_format: str | None = None) -> Sql:
    """A native typed read; only empty fields are null here (tokens like NA are handled per column).

    With `rejects`, values that do not parse are recorded in the tables <rejects>_errors and <rejects>_scans.
    With `timestamp_format`, TIMESTAMP columns (not TIMESTAMPTZ ones) take only values written exactly so.
    """
    options = [Sql.of("timestampformat = {}", Sql.value(timestamp_format))] if timestamp_format else []
    if rejects:
        options += [Sql("store_rejects = true"), Sql.of("rejects_table = {}", Sql.value(f"{rejects}_errors")),
                    Sql.of("rejects_scan = {}", Sql.value(f"{rejects}_scans"))]
    return _read_csv(path, delimiter, read_types, *options)


def transcode_to_utf8(src: Path, dest: Path, encoding: str, on_progress: ProgressFn = no_progress) -> None:
    """Re-encode a UTF-16 or cp1252/Latin-1 file as UTF-8, streaming, reporting progress by bytes."""
    total = max(1, src.stat().st_size)
    done = 0
    decoder = codecs.getincrementaldecoder(python_codec(encoding).replace("-bom", ""))("strict")
    try:
        with open(src, "rb") as fin, open(dest, "w", encoding="utf-8", newline="") as fout:
            first = True
            while chunk := fin.read(TRANSCODE_CHUNK):
                text = decoder.decode(chunk)
                if first:
                    text, first = text.lstrip("\ufeff"), False
                fout.write(text)
                done += len(chunk)
                if not on_progress("decoding", 100.0 * done / total):
                    from .errors import Cancelled

                    raise Cancelled()
            fout.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise EngineError(
            INVALID, {"file": [f"The file is not valid {encoding} text near byte {done + exc.start}."]}
        ) from None


def _friendly_csv_error(exc: duckdb.Error) -> EngineError:
    text = str(exc)
    line = re.search(r"CSV Error on Line:\s*(\d+)", text)
    line_no = int(line.group(1)) if line else None
    found = re.search(r"Expected Number of Columns:\s*(\d+)\s*Found:\s*(\d+)", text)
    if found:
        reason = f"Line {line_no} has {found.group(2)} fields but the header has {found.group(1)}."
    elif "Invalid unicode" in text or "not utf-8" in text:
        reason = f"Line {line_no} is not valid text in the detected encoding."
    elif "quote" in text.lower() and "unterminated" in text.lower():
        reason = f"Line {line_no} opens a quoted field that is never closed."
    elif "Maximum line size" in text or "max_line_size" in text:
        reason = f"Line {line_no} is longer than {MAX_LINE_BYTES // (1024 * 1024)} MB."
    else:
        logger.warning("CSV read failed: %s", text.splitlines()[0] if text else exc.__class__.__name__)
        reason = "The file could not be read as CSV" + (f" at line {line_no}." if line_no else ".")
    details = {"file": [reason]}
    if line_no is not None:
        details["line"] = [str(line_no)]
    return EngineError(reason, details)


def _all_match(pattern: str, values: list[str]) -> bool:
    """Whether every value matches `pattern` whole: one regular expression over the values joined by NUL, which
    none of these patterns matches (a value holding a NUL fails), instead of a call per value."""
    joined = "\x00".join(values)
    if joined.count("\x00") != len(values) - 1:
        return False
    return re.fullmatch(f"(?:{pattern})(?:\x00(?:{pattern}))*", joined) is not None


def _present(values: list[str | None]) -> list[str]:
    """The sampled values that are there: stripped, neither empty nor a null token."""
    stripped = [v.strip() for v in values if v is not None]
    return [v for v in stripped if len(v) > TOKEN_CHARS or v.lower() not in TOKENS]


def _candidate(values: list[str | None], decimal_comma: bool = False) -> str:
    """The narrowest type that every sampled value fits (with `decimal_comma`, 377,20 is a number)."""
    present = _present(values)
    if not present:
        return "string"
    # Only a value of 19 digits or more can be outside the integers' range.
    if _all_match(INT_RE, present) and all(-(2**63) <= int(v) < 2**63 for v in present if len(v) > 18):
        return "integer"
    if _all_match(FLOAT_RE, present) and "+" not in present and "-" not in present:  # ... and each has a digit
        return "float"
    if decimal_comma and _all_match(f"{DECIMAL_COMMA_RE}|{INT_RE}", present):
        return DECIMAL_COMMA
    if all(v.lower() in ("true", "false") for v in present):
        return "boolean"
    if _all_match(ISO_DATE_RE, present):
        return "date:iso"
    if _all_match(ISO_DATETIME_RE, present):
        return "datetime:iso"
    import datetime as dt

    for fmt in DATE_FORMATS:
        try:
            for v in present:
                dt.datetime.strptime(v, fmt)
            return f"date:{fmt}"
        except ValueError:
            continue
    for fmt in DATETIME_FORMATS:
        try:
            for v in present:
                dt.datetime.strptime(v, fmt)
            return f"datetime:{fmt}"
        except ValueError:
            continue
    return "string"


NATIVE = {"float": "DOUBLE", "boolean": "BOOLEAN", "date:iso": "DATE", "datetime:iso": "TIMESTAMPTZ"}
CASTS = {"integer": "BIGINT", **NATIVE}


def _has_tokens(values: list[str | None]) -> bool:
    """Whether a sampled value is a null token other than an empty one (NA, null, ...)."""
    stripped = [v.strip() for v in values if v is not None]
    return any(v.lower() in TOKENS for v in stripped if 0 < len(v) <= TOKEN_CHARS)


def _is_token(col: str | Sql) -> Sql:
    """True for a value that is a null token (NA, null, ...) whatever its case and spaces. A regular expression,
    not list_contains over the tokens: DuckDB's memory for a constant list grew with every column tested, so a
    file of 200 integer columns passed a job's 600 MB even with one row (and ~1.5x the time per 5 M values, only
    where every value is tested: an integer column tests only the values that are not integers)."""
    return Sql.of("regexp_full_match(lower(trim({})), {})", col, Sql.value(TOKEN_PATTERN))


def _odd_sql(col: str, kind: str) -> Sql:
    """True for a present text value that is not plainly of `kind` (a token, a leading zero, junk)."""
    if kind == DECIMAL_COMMA:
        return Sql.of("NOT regexp_full_match(trim({}), {})", col, Sql.value(f"{DECIMAL_COMMA_RE}|{INT_RE}"))
    if kind == "integer":  # plain digits (no sign but '-', no leading zero) print back as themselves
        return Sql.of("CAST(TRY_CAST({} AS BIGINT) AS VARCHAR) IS DISTINCT FROM {} AND {} <> '-0'", col, col, col)
    if kind in CASTS:
        return Sql.of(f"TRY_CAST({{}} AS {CASTS[kind]}) IS NULL", col)
    return Sql.of("try_strptime({}, {}) IS NULL", col, Sql.value(kind.split(":", 1)[1]))


def _breaks_sql(col: str, kind: str) -> Sql:
    """True for a present value, not a null token, that `kind` cannot hold."""
    if kind == DECIMAL_COMMA:
        return _odd_sql(col, kind)
    if kind == "integer":  # DuckDB's cast would round 2.5 and accept 1e3, 1_000 or 0x1F
        return Sql.of("(NOT regexp_full_match(trim({}), {}) OR TRY_CAST(trim({}) AS BIGINT) IS NULL)",
                      col, Sql.value("[+-]?[0-9]+"), col)
    if kind in CASTS:
        return Sql.of(f"TRY_CAST(trim({{}}) AS {CASTS[kind]}) IS NULL", col)
    return Sql.of("try_strptime(trim({}), {}) IS NULL", col, Sql.value(kind.split(":", 1)[1]))


def _detail_sql(names: list[str], kinds: dict[str, str]) -> tuple[list[Sql], list[tuple[str, str]]]:
    """For columns that looked odd: tokens seen, values that break the type, and for integers leading zeros
    and whether every value would still be a float."""
    parts, layout = [], []

    def add(what: str, name: str, condition: Sql) -> None:
        parts.append(Sql.of("count(*) FILTER (WHERE {})", condition))
        layout.append((name, what))

    for name in names:
        col, kind = quote_ident(name), kinds[name]
        add("tokens", name, Sql.of("{} IS NOT NULL AND {}", col, _is_token(col)))
        add("breaks", name, Sql.of("{} IS NOT NULL AND NOT {} AND {}", col, _is_token(col), _breaks_sql(col, kind)))
        if kind == "integer":
            add("leading_zeros", name, Sql.of(
                "{} IS NOT NULL AND NOT {} AND length(trim({})) > 1 AND (trim({})[1] = '0' OR trim({})[1:2] IN "
                "('-0', '+0'))", col, _is_token(col), col, col, col))
            add("not_float", name, Sql.of("{} IS NOT NULL AND NOT {} AND TRY_CAST(trim({}) AS DOUBLE) IS NULL",
                                          col, _is_token(col), col))
    return parts, layout


def _select_expr(name: str, kind: str, as_text: bool, strict: bool = True) -> Sql:
    """The write pass's expression for a column: native, or text cast with nulls for tokens. A date-time keeps
    its zone here (TIMESTAMPTZ): the writer stores it as naive UTC (`_zoned`).

    Not `strict`, a value that does not convert becomes null instead of failing the pass (the caller
    flags such values separately).
    """
    col = quote_ident(name)
    if kind == "string":
        return Sql(col)
    if not as_text:
        return Sql(col)
    cast, parse = ("CAST", "strptime") if strict else ("TRY_CAST", "try_strptime")
    if kind == DECIMAL_COMMA:
        value = Sql.of(f"{cast}(replace(trim({{}}), ',', '.') AS DOUBLE)", col)
    elif kind in CASTS:
        value = Sql.of(f"{cast}(trim({{}}) AS {CASTS[kind]})", col)
    else:
        value = Sql.of(f"{parse}(trim({{}}), {{}})" + ("::DATE" if kind.startswith("date:") else ""),
                       col, Sql.value(kind.split(":", 1)[1]))
    return Sql.of("CASE WHEN {} THEN NULL ELSE {} END AS {}", _is_token(col), value, col)


def _zoned(names: list[str], kinds: dict[str, str], naive: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The columns the write pass reads as TIMESTAMPTZ (all ISO date-times but the `naive` ones), to be written as
    naive UTC times."""
    return tuple(n for n in names if kinds[n] == "datetime:iso" and n not in naive)


def _naive_format(values: list[str | None]) -> str | None:
    """The one format (of NAIVE_SHAPES) every sampled value is written in, without a zone, or None. DuckDB's
    TIMESTAMP read of a value with a zone would drop the zone silently; with this exact format such a value is
    rejected instead, and the column read again as TIMESTAMPTZ (as is a value with spaces around it)."""
    present = _present(values)
    shape = next((fmt for fmt, pattern in NAIVE_SHAPES.items() if present and re.fullmatch(pattern, present[0])), None)
    return shape if shape and _all_match(NAIVE_SHAPES[shape], present) else None


def _raise_rejects(con: duckdb.DuckDBPyConnection, rejects: str) -> set[str]:
    """Columns whose values did not parse as their type; any structural problem becomes EngineError."""
    rows = con.execute(
        f"SELECT line, column_name, error_type, error_message FROM {quote_ident(rejects + '_errors')} "
        "ORDER BY line LIMIT 1000"
    ).fetchall()
    broken = set()
    for line, column, error_type, message in rows:
        if str(error_type).upper() == "CAST":
            broken.add(column)
            continue
        raise _friendly_csv_error(duckdb.InvalidInputException(f"CSV Error on Line: {line}\n{message}"))
    return broken


def _aggregate(con, path: Path, dialect: Dialect, read_types: dict, parts: list[Sql],
               on_progress: ProgressFn) -> tuple:
    query = Sql.of("SELECT {} FROM {}", Sql.join(", ", [Sql("count(*)"), *parts]),
                   _typed_source(path, dialect.delimiter, read_types))
    try:
        return run_with_progress(
            con, lambda c: c.execute(query.text, list(query.params)).fetchall()[0], "inferring types", on_progress
        )
    except duckdb.Error as exc:
        raise _friendly_csv_error(exc) from None


def _write_checked(con, path: Path, dialect: Dialect, names: list[str], kinds: dict[str, str], text_read: set[str],
                   naive: tuple[str | None, frozenset[str]], dest: Path,
                   on_progress: ProgressFn) -> tuple[Result, set[str]]:
    """Write `dest` with the sample's types in one pass, checking every value on the way.

    Native columns are parsed by DuckDB, and a value that does not parse lands in a rejects table; the
    columns read as text are converted leniently beside a flag that is true for a present value, not a null
    token, that is not plainly of the type. `naive` is a timestamp format and the date-time columns read as
    TIMESTAMP in it (see `_naive_format`). Returns the result and the columns where something did not fit:
    when there are none, the file written is the final one.
    """
    timestamp_format, naive_columns = naive
    read_types = {n: ("VARCHAR" if n in text_read or kinds[n] == "string"
                      else "TIMESTAMP" if n in naive_columns else CASTS[kinds[n]]) for n in names}
    select, flags = [], {}
    for i, name in enumerate(names):
        col, kind = quote_ident(name), kinds[name]
        if name not in text_read:
            select.append(_select_expr(name, kind, False))
            continue
        if kind in CASTS:  # a null token, like any text that is not a number, casts to null
            select.append(Sql.of(f"TRY_CAST({{}} AS {CASTS[kind]}) AS {{}}", col, col))
        else:
            select.append(_select_expr(name, kind, True, strict=False))
        flag = f"__ravid_odd_{i}"
        # A token never reads as an integer: only values that do not are tested for one (a third of the pass else).
        token = (Sql.of("coalesce({}, false)", _is_token(Sql.of("CASE WHEN TRY_CAST({} AS BIGINT) IS NULL THEN {} END",
                                                                 col, col)))
                 if kind == "integer" else _is_token(col))
        select.append(Sql.of("({} IS NOT NULL AND {} AND NOT {}) AS {}", col, _odd_sql(col, kind), token,
                             quote_ident(flag)))
        flags[flag] = name
    rejects = f"ravid_rejects_{uuid.uuid4().hex}"
    query = Sql.of("SELECT {} FROM {}", Sql.join(", ", select),
                   _typed_source(path, dialect.delimiter, read_types, rejects, timestamp_format))
    try:
        result = run_with_progress(
            con, lambda c: write_query(c, query.text, list(query.params), dest, tuple(flags),
                                       _zoned(names, kinds, naive_columns)), "reading", on_progress
        )
        odd = {flags[f] for f in result.flagged} | _raise_rejects(con, rejects)
    except duckdb.Error as exc:
        raise _friendly_csv_error(exc) from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(rejects + '_errors')}; "
                    f"DROP TABLE IF EXISTS {quote_ident(rejects + '_scans')}")
    return result, odd


def _settle(con, path: Path, dialect: Dialect, names: list[str], kinds: dict[str, str], odd: set[str],
            on_progress: ProgressFn) -> set[str]:
    """Look at the columns where something did not fit in detail, over every row: narrow `kinds` where a value
    breaks them. Returns the columns the write pass must read as text (null tokens, custom date formats,
    integers that turned out to be floats)."""
    as_text = {n for n in names if (kinds[n].startswith(("date:", "datetime:")) and kinds[n] not in NATIVE)
               or kinds[n] == DECIMAL_COMMA}
    detail = sorted(odd, key=names.index)
    parts, layout = _detail_sql(detail, kinds)
    counts = _aggregate(con, path, dialect, {n: "VARCHAR" for n in names}, parts, on_progress)
    found: dict[str, dict[str, int]] = {}
    for (name, what), value in zip(layout, counts[1:]):
        found.setdefault(name, {})[what] = value
    for name, seen in found.items():
        if seen["tokens"]:
            as_text.add(name)
        if kinds[name] == "integer" and (seen["leading_zeros"] or seen["not_float"]):
            kinds[name] = "string"
        elif kinds[name] == "integer" and seen["breaks"]:
            kinds[name] = "float"
            as_text.add(name)
        elif seen["breaks"]:
            kinds[name] = "string"
    return {n for n in as_text if kinds[n] != "string"}


def ingest_csv(
    src: Path,
    dest: Path,
    dialect: Dialect,
    limits: Limits,
    work_dir: Path,
    on_progress: ProgressFn = no_progress,
) -> Result:
    """Read the CSV at `src` (already sniffed) and write a typed Parquet file at `dest`.

    Types are proposed from the first rows and checked over every row while the file is written, in one
    pass. Only when a value does not fit (a leading zero, a token, a float among integers) are the columns
    concerned looked at in detail and the file written once more with the settled types.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    names = list(dialect.columns)
    utf8_path = src
    transcoded = None
    if dialect.encoding not in ("utf-8", "utf-8-sig"):
        transcoded = work_dir / f"{uuid.uuid4().hex}.utf8.csv"
        transcode_to_utf8(src, transcoded, dialect.encoding, on_progress)
        utf8_path = transcoded
    con = connect(limits)
    try:
        sample_rows = max(1000, min(SAMPLE_ROWS, SAMPLE_CELLS // max(1, len(names))))
        sampling = Sql.of(f"SELECT * FROM {{}} LIMIT {sample_rows}", _csv_source(utf8_path, dialect.delimiter, names))
        try:
            sample = con.execute(sampling.text, list(sampling.params)).fetchall()
        except duckdb.Error as exc:
            raise _friendly_csv_error(exc) from None
        if not sample:
            raise EngineError("The file has a header row but no data rows.", {"file": ["no data rows"]})
        kinds, text_read, formats = {}, set(), {}
        for i, name in enumerate(names):
            values = [row[i] for row in sample]
            kinds[name] = _candidate(values, decimal_comma=dialect.delimiter == ";")
            if kinds[name] != "string" and (kinds[name] not in NATIVE or _has_tokens(values)):
                text_read.add(name)
            elif kinds[name] == "datetime:iso" and (fmt := _naive_format(values)):
                formats[name] = fmt
        # One timestamp format per read: the one most such columns share.
        common = next((fmt for fmt, _ in Counter(formats.values()).most_common(1)), None)
        naive = (common, frozenset(n for n, fmt in formats.items() if fmt == common))
        result, odd = _write_checked(con, utf8_path, dialect, names, kinds, text_read, naive, dest, on_progress)
        if not odd:
            return result
        logger.info("types settled in a second pass", extra={"columns": sorted(odd)})
        as_text = _settle(con, utf8_path, dialect, names, kinds, odd | text_read, on_progress)

        read_types = {n: ("VARCHAR" if n in as_text or kinds[n] == "string" else CASTS[kinds[n]]) for n in names}
        query = Sql.of("SELECT {} FROM {}", Sql.join(", ", [_select_expr(n, kinds[n], n in as_text) for n in names]),
                       _typed_source(utf8_path, dialect.delimiter, read_types))
        try:
            return run_with_progress(
                con, lambda c: write_query(c, query.text, list(query.params), dest, naive=_zoned(names, kinds)),
                "writing", on_progress)
        except duckdb.Error as exc:
            raise _friendly_csv_error(exc) from None
    finally:
        con.close()
        if transcoded is not None:
            transcoded.unlink(missing_ok=True)
