"""Time series: a date column bucketed by day, week, month, quarter or year, and aggregated."""
from pathlib import Path

import duckdb

from .sql import quote_ident
from .results import Result
from .tables import Table
from .writer import write_query

FREQUENCIES = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}
AGGREGATES = {
    "sum": "fsum({v})", "mean": "favg({v})", "count": "count({v})",  # compensated: no binary noise in sums
    "min": "min({v})", "max": "max({v})", "median": "median({v})",
}


def aggregate_sql(agg: str, value: str | None) -> str:
    """The SQL aggregate of a value column (count without a column counts rows)."""
    if value is None:
        return "count(*)"
    column = quote_ident(value)
    operand = column if agg in ("count", "min", "max") else f"CAST({column} AS DOUBLE)"
    return AGGREGATES[agg].format(v=operand)


def trend_series(
    con: duckdb.DuckDBPyConnection, source: Table, date: str, value: str | None, freq: str, agg: str,
    group_by: str | None, dest: Path,
) -> Result:
    """Rows {date, value} (plus the group) in date order; each bucket is labelled by its first day (weeks start Monday)."""
    bucket = f"CAST(date_trunc('{FREQUENCIES[freq]}', {quote_ident(date)}) AS DATE)"
    group_select = f", {quote_ident(group_by)}" if group_by else ""
    sql = (
        f"SELECT {bucket} AS date{group_select}, {aggregate_sql(agg, value)} AS value "
        f"FROM {source.sql} WHERE {quote_ident(date)} IS NOT NULL "
        f"GROUP BY ALL ORDER BY date{group_select} NULLS LAST"
    )
    return write_query(con, sql, source.params, dest)
