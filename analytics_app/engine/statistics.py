"""Grouped statistics: per group and value column, count, mean, median, mode, min, max and sample std."""
from pathlib import Path

import duckdb

from .sql import quote_ident
from .results import Result
from .tables import Table
from .writer import write_query


def group_statistics(
    con: duckdb.DuckDBPyConnection,
    source: Table,
    group_by: list[str],
    columns: list[str],
    group: list | None,
    dest: Path,
    whole: bool = False,
) -> Result:
    """One row per (group, column); `group` keeps only the group whose key equals it.

    The mode is the most frequent value, the smallest one on ties (as pandas' mode()[0]). With `whole` (every
    value column holds integers) min, max and mode are integers too; the mean is a compensated sum's.
    """
    point = "BIGINT" if whole else "DOUBLE"
    keys = ", ".join(quote_ident(g) for g in group_by)
    where, params = "TRUE", source.params
    if group is not None:
        where = " AND ".join(f"{quote_ident(g)} IS NOT DISTINCT FROM ?" for g in group_by)
        params += list(group)
    selects = []
    for name in columns:
        col = quote_ident(name)
        value = f"CAST({col} AS DOUBLE)"
        modes = (  # the most frequent value, the smallest on ties: least (-count, value); one aggregate, no window
            f"SELECT {keys}, arg_min({col}, (-n, {col})) AS mode_value FROM ("
            f"SELECT {keys}, {col}, count(*) AS n FROM base WHERE {col} IS NOT NULL GROUP BY {keys}, {col}) "
            f"GROUP BY {keys}"
        )
        stats = (
            f"SELECT {keys}, ? AS \"column\", count({col}) AS count, favg({value}) AS mean, median({value}) AS median, "
            f"CAST(min({col}) AS {point}) AS min, CAST(max({col}) AS {point}) AS max, stddev_samp({value}) AS std "
            f"FROM base GROUP BY {keys}"
        )
        params.append(name)
        selects.append(
            f"SELECT s.*, CAST(m.mode_value AS {point}) AS mode FROM ({stats}) s "
            f"LEFT JOIN ({modes}) m ON " + " AND ".join(f"s.{quote_ident(g)} IS NOT DISTINCT FROM m.{quote_ident(g)}" for g in group_by)
        )
    ordering = ", ".join(f"{quote_ident(g)} ASC NULLS LAST" for g in group_by)
    out_cols = ", ".join([quote_ident(g) for g in group_by] + [
        '"column"', "count", "mean", "median", "mode", "min", "max", "std"])
    sql = (
        f"WITH base AS (SELECT * FROM {source.sql} WHERE {where}) "
        f"SELECT {out_cols} FROM ({' UNION ALL '.join(selects)}) ORDER BY {ordering}, array_position(?, \"column\")"
    )
    params.append(columns)
    return write_query(con, sql, params, dest)
