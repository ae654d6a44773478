"""Turning an uploaded CSV into a typed Parquet file in two DuckDB passes: infer types, then write."""
import codecs
import os
import re
import uuid
from pathlib import Path

import duckdb

from .errors import EngineError
from .execution import ProgressFn, no_progress, run_with_progress
from .sniff import INVALID, Dialect, python_codec
from .sql import Limits, connect, quote_ident
from .tables import TableResult, write_query

NULL_TOKENS = ["", "na", "n/a", "nan", "null", "none", "#n/a"]
INT_RE = r"[+-]?(0|[1-9][0-9]*)"
FLOAT_RE = r"[+-]?(0|[1-9][0-9]*)?(\.[0-9]+)?([eE][+-]?[0-9]+)?"
ISO_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
ISO_DATETIME_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?"
DATE_FORMATS = ["%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y", "%b %d %Y", "%d %b %Y", "%B %d, %Y"]
DATETIME_FORMATS = ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S"]
SAMPLE_ROWS = 20_000
MAX_LINE_BYTES = 64 * 1024 * 1024
TRANSCODE_CHUNK = 4 * 1024 * 1024


def _csv_source(names: list[str]) -> tuple[str, list]:
    columns = {name: "VARCHAR" for name in names}
    sql = (
        "read_csv(?, delim = ?, quote = '\"', escape = '\"', header = true, auto_detect = false, "
        "columns = ?, all_varchar = true, strict_mode = true, max_line_size = ?, encoding = 'utf-8')"
    )
    return sql, [columns]


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


def _friendly_csv_error(exc: duckdb.Error, columns: int) -> EngineError:
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
        reason = "The file could not be read as CSV" + (f" at line {line_no}." if line_no else ".")
    details = {"file": [reason]}
    if line_no is not None:
        details["line"] = [str(line_no)]
    return EngineError(f"{INVALID} {reason}", details)


def _infer_sql(names: list[str], candidates: dict[str, str], source: str) -> tuple[str, list]:
    """One aggregate that counts, per column, the values its candidate type cannot hold."""
    parts, params = [], []
    for name in names:
        col = quote_ident(name)
        kind = candidates[name]
        value_present = f"{col} IS NOT NULL AND lower(trim({col})) NOT IN (SELECT unnest(?::VARCHAR[]))"
        params.append(NULL_TOKENS)
        if kind == "integer":
            bad = f"NOT regexp_full_match(trim({col}), ?) OR TRY_CAST(trim({col}) AS BIGINT) IS NULL"
            params.append(INT_RE)
        elif kind == "float":
            bad = f"NOT regexp_full_match(trim({col}), ?) OR TRY_CAST(trim({col}) AS DOUBLE) IS NULL"
            params.append(FLOAT_RE)
        elif kind == "boolean":
            bad = f"lower(trim({col})) NOT IN ('true', 'false')"
        elif kind.startswith("date:") or kind.startswith("datetime:"):
            fmt = kind.split(":", 1)[1]
            if fmt == "iso":
                pattern = ISO_DATE_RE if kind.startswith("date:") else ISO_DATETIME_RE
                target = "DATE" if kind.startswith("date:") else "TIMESTAMP"
                bad = f"NOT regexp_full_match(trim({col}), ?) OR TRY_CAST(trim({col}) AS {target}) IS NULL"
                params.append(pattern)
            else:
                bad = f"try_strptime(trim({col}), ?) IS NULL"
                params.append(fmt)
        else:
            bad = "false"
        # The params above belong to the FILTER clause, which DuckDB binds in textual order.
        parts.append(f"count(*) FILTER (WHERE {value_present} AND ({bad}))")
    return f"SELECT {', '.join(parts)} FROM {source}", params


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


_WIDER = {"integer": "float", "float": "string", "boolean": "string"}


def _cast_expr(name: str, kind: str, params: list) -> str:
    col = quote_ident(name)
    if kind == "string":
        return col
    params.append(NULL_TOKENS)
    guard = f"CASE WHEN lower(trim({col})) IN (SELECT unnest(?::VARCHAR[])) THEN NULL ELSE "
    if kind == "integer":
        expr = f"CAST(trim({col}) AS BIGINT)"
    elif kind == "float":
        expr = f"CAST(trim({col}) AS DOUBLE)"
    elif kind == "boolean":
        expr = f"lower(trim({col})) = 'true'"
    elif kind in ("date:iso", "datetime:iso"):
        target = "DATE" if kind == "date:iso" else "TIMESTAMP"
        expr = f"CAST(CAST(trim({col}) AS TIMESTAMPTZ) AS TIMESTAMP)" if target == "TIMESTAMP" else f"CAST(trim({col}) AS DATE)"
    else:
        params.append(kind.split(":", 1)[1])
        expr = f"strptime(trim({col}), ?)" + ("::DATE" if kind.startswith("date:") else "")
    return f"{guard}{expr} END AS {col}"


def ingest_csv(
    src: Path,
    dest: Path,
    dialect: Dialect,
    limits: Limits,
    work_dir: Path,
    on_progress: ProgressFn = no_progress,
) -> TableResult:
    """Read the CSV at `src` (already sniffed) and write a typed Parquet file at `dest`."""
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
        base_params = [str(utf8_path), dialect.delimiter, *source_params, MAX_LINE_BYTES]
        try:
            sample = con.execute(f"SELECT * FROM {source_sql} LIMIT {SAMPLE_ROWS}", base_params).fetchall()
        except duckdb.Error as exc:
            raise _friendly_csv_error(exc, len(names)) from None
        if not sample:
            raise EngineError(f"{INVALID} The file has a header row but no data rows.", {"file": ["no data rows"]})
        candidates = {name: _candidate([row[i] for row in sample]) for i, name in enumerate(names)}
        for _ in range(4):
            checked = [n for n in names if candidates[n] != "string"]
            if not checked:
                break
            sql, params = _infer_sql(checked, candidates, source_sql)
            try:
                counts = run_with_progress(
                    con, lambda c: c.execute(sql, params + base_params).fetchall()[0],
                    "inferring types", on_progress,
                )
            except duckdb.Error as exc:
                raise _friendly_csv_error(exc, len(names)) from None
            widened = False
            for name, bad_count in zip(checked, counts):
                if bad_count:
                    kind = candidates[name]
                    candidates[name] = _WIDER.get(kind, "string")
                    widened = True
            if not widened:
                break
        cast_params: list = []
        select = ", ".join(_cast_expr(n, candidates[n], cast_params) for n in names)
        sql = f"SELECT {select} FROM {source_sql}"
        try:
            return run_with_progress(
                con, lambda c: write_query(c, sql, cast_params + base_params, dest), "writing", on_progress
            )
        except duckdb.Error as exc:
            raise _friendly_csv_error(exc, len(names)) from None
    finally:
        con.close()
        if transcoded is not None:
            transcoded.unlink(missing_ok=True)

