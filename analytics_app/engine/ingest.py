"""Turning an uploaded CSV into a typed Parquet file, in one DuckDB pass when the sample's types hold."""
import codecs
import logging
import re
import uuid
from pathlib import Path

import duckdb

from .errors import EngineError
from .execution import ProgressFn, no_progress, run_with_progress
from .sniff import INVALID, Dialect, python_codec
from .sql import Limits, connect, quote_ident
from .results import Result
from .writer import write_query

NULL_TOKENS = ["", "na", "n/a", "nan", "null", "none", "#n/a"]
INT_RE = r"[+-]?(0|[1-9][0-9]*)"
FLOAT_RE = r"[+-]?(0|[1-9][0-9]*)?(\.[0-9]+)?([eE][+-]?[0-9]+)?"
ISO_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
ISO_DATETIME_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?"
DATE_FORMATS = ["%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y", "%b %d %Y", "%d %b %Y", "%B %d, %Y"]
DATETIME_FORMATS = ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S"]
SAMPLE_ROWS = 20_000
logger = logging.getLogger("ravid.engine.ingest")
MAX_LINE_BYTES = 16 * 1024 * 1024
# DuckDB sizes its read buffer from max_line_size unless told; a fixed buffer keeps memory flat.
READ_BUFFER_BYTES = 2 * MAX_LINE_BYTES
TRANSCODE_CHUNK = 4 * 1024 * 1024


def _csv_source(names: list[str]) -> tuple[str, list]:
    """An all-text read of the CSV, for sampling."""
    sql = (
        "read_csv(?, delim = ?, quote = '\"', escape = '\"', header = true, auto_detect = false, "
        "columns = ?, all_varchar = true, strict_mode = true, max_line_size = ?, buffer_size = ?, encoding = 'utf-8')"
    )
    return sql, [{name: "VARCHAR" for name in names}]


def _typed_source(path: Path, delimiter: str, read_types: dict[str, str], rejects: str | None = None) -> tuple[str, list]:
    """A native typed read; only empty fields are null here (tokens like NA are handled per column).

    With `rejects`, values that do not parse are recorded in the tables <rejects>_errors and <rejects>_scans.
    """
    sql = (
        "read_csv(?, delim = ?, quote = '\"', escape = '\"', header = true, auto_detect = false, columns = ?, "
        "strict_mode = true, max_line_size = ?, buffer_size = ?, encoding = 'utf-8'"
        + (", store_rejects = true, rejects_table = ?, rejects_scan = ?" if rejects else "")
        + ")"
    )
    params = [str(path), delimiter, read_types, MAX_LINE_BYTES, READ_BUFFER_BYTES]
    return sql, params + ([f"{rejects}_errors", f"{rejects}_scans"] if rejects else [])


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
    return EngineError(f"{INVALID} {reason}", details)


def _candidate(values: list[str | None]) -> str:
    """The narrowest type that every sampled value fits."""
    present = [v.strip() for v in values if v is not None and v.strip().lower() not in NULL_TOKENS]
    if not present:
        return "string"
    if all(re.fullmatch(INT_RE, v) for v in present) and all(-(2**63) <= int(v) < 2**63 for v in present):
        return "integer"
    if all(re.fullmatch(FLOAT_RE, v) and re.search(r"[0-9]", v) for v in present):
        return "float"
    if all(v.lower() in ("true", "false") for v in present):
        return "boolean"
    if all(re.fullmatch(ISO_DATE_RE, v) for v in present):
        return "date:iso"
    if all(re.fullmatch(ISO_DATETIME_RE, v) for v in present):
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
    return any(v is not None and v.strip() != "" and v.strip().lower() in NULL_TOKENS for v in values)


def _odd_sql(col: str, kind: str, params: list) -> str:
    """True for a present text value that is not plainly of `kind` (a token, a leading zero, junk)."""
    if kind == "integer":  # plain digits (no sign but '-', no leading zero) print back as themselves
        return f"CAST(TRY_CAST({col} AS BIGINT) AS VARCHAR) IS DISTINCT FROM {col} AND {col} <> '-0'"
    if kind in CASTS:
        return f"TRY_CAST({col} AS {CASTS[kind]}) IS NULL"
    params.append(kind.split(":", 1)[1])
    return f"try_strptime({col}, ?) IS NULL"


def _breaks_sql(col: str, kind: str, params: list) -> str:
    """True for a present value, not a null token, that `kind` cannot hold."""
    if kind == "integer":  # DuckDB's cast would round 2.5 and accept 1e3, 1_000 or 0x1F
        params.append("[+-]?[0-9]+")
        return f"(NOT regexp_full_match(trim({col}), ?) OR TRY_CAST(trim({col}) AS BIGINT) IS NULL)"
    if kind in CASTS:
        return f"TRY_CAST(trim({col}) AS {CASTS[kind]}) IS NULL"
    params.append(kind.split(":", 1)[1])
    return f"try_strptime(trim({col}), ?) IS NULL"


def _detail_sql(names: list[str], kinds: dict[str, str]) -> tuple[list[str], list, list[tuple[str, str]]]:
    """For columns that looked odd: tokens seen, values that break the type, and for integers leading zeros
    and whether every value would still be a float."""
    parts, params, layout = [], [], []

    def add(what: str, name: str, sql: str) -> None:
        parts.append(f"count(*) FILTER (WHERE {sql})")
        layout.append((name, what))

    for name in names:
        col, kind = quote_ident(name), kinds[name]
        token = f"list_contains(?, lower(trim({col})))"
        params.append(NULL_TOKENS)
        add("tokens", name, f"{col} IS NOT NULL AND {token}")
        params.append(NULL_TOKENS)
        add("breaks", name, f"{col} IS NOT NULL AND NOT {token} AND {_breaks_sql(col, kind, params)}")
        if kind == "integer":
            params.append(NULL_TOKENS)
            add("leading_zeros", name, f"{col} IS NOT NULL AND NOT {token} AND length(trim({col})) > 1 "
                                      f"AND (trim({col})[1] = '0' OR trim({col})[1:2] IN ('-0', '+0'))")
            params.append(NULL_TOKENS)
            add("not_float", name, f"{col} IS NOT NULL AND NOT {token} AND TRY_CAST(trim({col}) AS DOUBLE) IS NULL")
    return parts, params, layout


def _select_expr(name: str, kind: str, as_text: bool, params: list, strict: bool = True) -> str:
    """The write pass's expression for a column: native, or text cast with nulls for tokens.

    Not `strict`, a value that does not convert becomes null instead of failing the pass (the caller
    flags such values separately).
    """
    col = quote_ident(name)
    if kind == "string":
        return col
    if not as_text:
        return f"CAST({col} AS TIMESTAMP) AS {col}" if kind == "datetime:iso" else col
    params.append(NULL_TOKENS)
    guard = f"CASE WHEN list_contains(?, lower(trim({col}))) THEN NULL ELSE "
    cast, parse = ("CAST", "strptime") if strict else ("TRY_CAST", "try_strptime")
    if kind in CASTS:
        value = f"{cast}(trim({col}) AS {CASTS[kind]})"
        if kind == "datetime:iso":
            value = f"CAST({value} AS TIMESTAMP)"
    else:
        params.append(kind.split(":", 1)[1])
        value = f"{parse}(trim({col}), ?)" + ("::DATE" if kind.startswith("date:") else "")
    return f"{guard}{value} END AS {col}"


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


def _aggregate(con, path: Path, dialect: Dialect, read_types: dict, parts: list[str], params: list,
               on_progress: ProgressFn) -> tuple:
    source, source_params = _typed_source(path, dialect.delimiter, read_types)
    sql = f"SELECT {', '.join(['count(*)', *parts])} FROM {source}"
    try:
        return run_with_progress(
            con, lambda c: c.execute(sql, params + source_params).fetchall()[0], "inferring types", on_progress
        )
    except duckdb.Error as exc:
        raise _friendly_csv_error(exc) from None


def _write_checked(con, path: Path, dialect: Dialect, names: list[str], kinds: dict[str, str], text_read: set[str],
                   dest: Path, on_progress: ProgressFn) -> tuple[Result, set[str]]:
    """Write `dest` with the sample's types in one pass, checking every value on the way.

    Native columns are parsed by DuckDB, and a value that does not parse lands in a rejects table; the
    columns read as text are converted leniently beside a flag that is true for a present value, not a null
    token, that is not plainly of the type. Returns the result and the columns where something did not fit:
    when there are none, the file written is the final one.
    """
    read_types = {n: ("VARCHAR" if n in text_read or kinds[n] == "string" else CASTS[kinds[n]]) for n in names}
    params: list = []
    select, flags = [], {}
    for i, name in enumerate(names):
        col, kind = quote_ident(name), kinds[name]
        if name not in text_read:
            select.append(_select_expr(name, kind, False, params))
            continue
        if kind in CASTS:  # a null token, like any text that is not a number, casts to null
            select.append(f"TRY_CAST({col} AS {CASTS[kind]}) AS {col}" if kind != "datetime:iso" else
                          f"CAST(TRY_CAST({col} AS TIMESTAMPTZ) AS TIMESTAMP) AS {col}")
        else:
            select.append(_select_expr(name, kind, True, params, strict=False))
        flag = f"__ravid_odd_{i}"
        odd = _odd_sql(col, kind, params)
        params.append(NULL_TOKENS)
        select.append(f"({col} IS NOT NULL AND {odd} AND NOT list_contains(?, lower(trim({col})))) AS {quote_ident(flag)}")
        flags[flag] = name
    rejects = f"ravid_rejects_{uuid.uuid4().hex}"
    source, source_params = _typed_source(path, dialect.delimiter, read_types, rejects)
    sql = f"SELECT {', '.join(select)} FROM {source}"
    try:
        result = run_with_progress(
            con, lambda c: write_query(c, sql, params + source_params, dest, tuple(flags)), "reading", on_progress
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
    as_text = {n for n in names if kinds[n].startswith(("date:", "datetime:")) and kinds[n] not in NATIVE}
    detail = sorted(odd, key=names.index)
    parts, params, layout = _detail_sql(detail, kinds)
    counts = _aggregate(con, path, dialect, {n: "VARCHAR" for n in names}, parts, params, on_progress)
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
        source_sql, source_params = _csv_source(names)
        sample_params = [str(utf8_path), dialect.delimiter, *source_params, MAX_LINE_BYTES, READ_BUFFER_BYTES]
        try:
            sample = con.execute(f"SELECT * FROM {source_sql} LIMIT {SAMPLE_ROWS}", sample_params).fetchall()
        except duckdb.Error as exc:
            raise _friendly_csv_error(exc) from None
        if not sample:
            raise EngineError(f"{INVALID} The file has a header row but no data rows.", {"file": ["no data rows"]})
        kinds, text_read = {}, set()
        for i, name in enumerate(names):
            values = [row[i] for row in sample]
            kinds[name] = _candidate(values)
            if kinds[name] != "string" and (kinds[name] not in NATIVE or _has_tokens(values)):
                text_read.add(name)
        result, odd = _write_checked(con, utf8_path, dialect, names, kinds, text_read, dest, on_progress)
        if not odd:
            return result
        logger.info("types settled in a second pass", extra={"columns": sorted(odd)})
        as_text = _settle(con, utf8_path, dialect, names, kinds, odd | text_read, on_progress)

        read_types = {n: ("VARCHAR" if n in as_text or kinds[n] == "string" else CASTS[kinds[n]]) for n in names}
        select_params: list = []
        select = ", ".join(_select_expr(n, kinds[n], n in as_text, select_params) for n in names)
        source, params = _typed_source(utf8_path, dialect.delimiter, read_types)
        sql = f"SELECT {select} FROM {source}"
        try:
            return run_with_progress(
                con, lambda c: write_query(c, sql, select_params + params, dest), "writing", on_progress
            )
        except duckdb.Error as exc:
            raise _friendly_csv_error(exc) from None
    finally:
        con.close()
        if transcoded is not None:
            transcoded.unlink(missing_ok=True)
