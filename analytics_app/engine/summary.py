"""Per-column profile of a table: counts, nulls, distinct values, and type-specific statistics."""
from pathlib import Path

import duckdb

from .sql import PARQUET, quote_ident
from .types import BOOLEAN, NUMERIC, STRING, TEMPORAL, json_value

TOP_VALUES = 5
STAT_FIELDS = ["mean", "std", "min", "p25", "p50", "p75", "max"]


def summarize(con: duckdb.DuckDBPyConnection, source: Path, schema: list[dict], columns: list[str]) -> dict:
    """{column: {type, count, nulls, distinct, ...}}: sample std and linearly interpolated quantiles, as pandas."""
    types = {c["name"]: c["type"] for c in schema}
    parts: list[str] = ["count(*)"]
    layout: list[tuple[str, str]] = []
    for name in columns:
        col, kind = quote_ident(name), types[name]
        parts += [f"count({col})", f"count(DISTINCT {col})"]
        layout += [(name, "count"), (name, "distinct")]
        if kind in NUMERIC:
            value = f"CAST({col} AS DOUBLE)"
            parts += [f"avg({value})", f"stddev_samp({value})", f"min({col})",
                      f"quantile_cont({value}, 0.25)", f"quantile_cont({value}, 0.5)",
                      f"quantile_cont({value}, 0.75)", f"max({col})"]
            layout += [(name, f) for f in STAT_FIELDS]
        elif kind in TEMPORAL:
            parts += [f"min({col})", f"max({col})"]
            layout += [(name, "min"), (name, "max")]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {PARQUET}", [str(source)]).fetchall()[0]
    total = row[0]
    profile: dict[str, dict] = {name: {"type": types[name]} for name in columns}
    for (name, field), value in zip(layout, row[1:]):
        profile[name][field] = json_value(value)
    for name in columns:
        entry = profile[name]
        entry["nulls"] = total - entry["count"]
        if types[name] in (STRING, BOOLEAN):
            entry["top"] = top_values(con, source, name)
    return {"row_count": total, "columns": profile}


def top_values(con: duckdb.DuckDBPyConnection, source: Path, column: str, limit: int = TOP_VALUES) -> list[dict]:
    col = quote_ident(column)
    rows = con.execute(
        f"SELECT {col}, count(*) AS n FROM {PARQUET} WHERE {col} IS NOT NULL "
        f"GROUP BY {col} ORDER BY n DESC, {col} ASC LIMIT ?",
        [str(source), limit],
    ).fetchall()
    return [{"value": json_value(v), "count": n} for v, n in rows]


def summary_rows(profile: dict) -> list[dict]:
    """The profile as one row per column, for the downloadable table."""
    rows = []
    for name, entry in profile["columns"].items():
        top = entry.get("top")
        rows.append({
            "column": name, "type": entry["type"], "count": entry["count"], "nulls": entry["nulls"],
            "distinct": entry["distinct"],
            **{f: None if entry.get(f) is None else str(entry.get(f)) for f in STAT_FIELDS},
            "top": None if top is None else ", ".join(f"{t['value']} ({t['count']})" for t in top),
        })
    return rows
