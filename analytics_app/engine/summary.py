"""Per-column profile of a table: counts, nulls, distinct values, and type-specific statistics."""

import duckdb

from .sql import quote_ident
from .tables import Table
from .types import BOOLEAN, NUMERIC, STRING, TEMPORAL, json_value

TOP_VALUES = 5
STAT_FIELDS = ["mean", "std", "min", "p25", "p50", "p75", "max"]


def _column_stats(con: duckdb.DuckDBPyConnection, source: Table, name: str, kind: str) -> dict:
    """One column's statistics in one query, so only that column is read and held."""
    col = quote_ident(name)
    parts, fields = [f"count({col})", f"count(DISTINCT {col})"], ["count", "distinct"]
    if kind in NUMERIC:
        value = f"CAST({col} AS DOUBLE)"
        parts += [f"avg({value})", f"stddev_samp({value})", f"min({col})",
                  f"quantile_cont({value}, [0.25, 0.5, 0.75])", f"max({col})"]
        fields += ["mean", "std", "min", "quartiles", "max"]
    elif kind in TEMPORAL:
        parts += [f"min({col})", f"max({col})"]
        fields += ["min", "max"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {source.sql}", source.params).fetchall()[0]
    stats = dict(zip(fields, row))
    quartiles = stats.pop("quartiles", None)
    if kind in NUMERIC:
        stats["p25"], stats["p50"], stats["p75"] = quartiles if quartiles else (None, None, None)
    return {"type": kind, **{k: json_value(v) for k, v in stats.items()}}


def summarize(con: duckdb.DuckDBPyConnection, source: Table, schema: list[dict], columns: list[str]) -> dict:
    """{column: {type, count, nulls, distinct, ...}}: sample std and linearly interpolated quantiles, as pandas."""
    types = {c["name"]: c["type"] for c in schema}
    total = source.row_count()
    profile: dict[str, dict] = {}
    for name in columns:
        entry = _column_stats(con, source, name, types[name])
        entry["nulls"] = total - entry["count"]
        if types[name] in (STRING, BOOLEAN):
            entry["top"] = top_values(con, source, name)
        profile[name] = entry
    return {"row_count": total, "columns": profile}


def top_values(con: duckdb.DuckDBPyConnection, source: Table, column: str, limit: int = TOP_VALUES) -> list[dict]:
    col = quote_ident(column)
    rows = con.execute(
        f"SELECT {col}, count(*) AS n FROM {source.sql} WHERE {col} IS NOT NULL "
        f"GROUP BY {col} ORDER BY n DESC, {col} ASC LIMIT ?",
        [*source.params, limit],
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
