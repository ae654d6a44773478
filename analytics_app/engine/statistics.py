"""Grouped statistics: per group and value column, count, mean, median, mode, min, max and sample std."""
from pathlib import Path

import duckdb

from .sql import name_key, quote_ident, unused_name
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
    where, params = "TRUE", list(source.params)
    if group is not None:
        where = " AND ".join(f"{quote_ident(g)} IS NOT DISTINCT FROM ?" for g in group_by)
        params += list(group)
    matched = " AND ".join(f"s.{quote_ident(g)} IS NOT DISTINCT FROM {{m}}.{quote_ident(g)}" for g in group_by)
    # Every column's moments and median in one pass over the rows (one wide row per group), spread into one row per
    # (group, column) afterwards; only the modes need a grouping of their own per column.
    prefix = "stat "
    while any(name_key(g).startswith(prefix) for g in group_by):  # the wide row's names are none of the keys'
        prefix += "'"
    mode = quote_ident(unused_name("mode_value", group_by))

    def stat(field: str, i: int) -> str:
        return quote_ident(f"{prefix}{field} {i}")

    wide = []
    for i, name in enumerate(columns):
        col, value = quote_ident(name), f"CAST({quote_ident(name)} AS DOUBLE)"
        wide += [f"count({col}) AS {stat('count', i)}", f"favg({value}) AS {stat('mean', i)}",
                 f"median({value}) AS {stat('median', i)}", f"min({col}) AS {stat('min', i)}",
                 f"max({col}) AS {stat('max', i)}", f"stddev_samp({value}) AS {stat('std', i)}"]
    ctes = [f"base AS (SELECT * FROM {source.sql} WHERE {where})",
            f"s AS MATERIALIZED (SELECT {keys}, {', '.join(wide)} FROM base GROUP BY {keys})"]
    selects = []
    n = quote_ident(unused_name("frequency", {*group_by, *columns}))  # the count's name is none of the data's
    for i, name in enumerate(columns):
        col = quote_ident(name)
        # The most frequent value, the smallest on ties (as pandas' mode()[0]): among values seen more than once,
        # least (-count, value); a group whose values are all different has its minimum as its mode.
        ctes.append(
            f"m{i} AS (SELECT {keys}, arg_min({col}, (-{n}, {col})) AS {mode} FROM ("
            f"SELECT {keys}, {col}, count(*) AS {n} FROM base WHERE {col} IS NOT NULL GROUP BY {keys}, {col} "
            f"HAVING count(*) > 1) GROUP BY {keys})")
        selects.append(
            f"SELECT {', '.join(f's.{quote_ident(g)}' for g in group_by)}, ? AS \"column\", {stat('count', i)} AS count, "
            f"{stat('mean', i)} AS mean, {stat('median', i)} AS median, "
            f"CAST(coalesce(m{i}.{mode}, {stat('min', i)}) AS {point}) AS mode, "
            f"CAST({stat('min', i)} AS {point}) AS min, CAST({stat('max', i)} AS {point}) AS max, {stat('std', i)} AS std "
            f"FROM s LEFT JOIN m{i} ON {matched.format(m=f'm{i}')}"
        )
        params.append(name)
    ordering = ", ".join(f"{quote_ident(g)} ASC NULLS LAST" for g in group_by)
    out_cols = ", ".join([quote_ident(g) for g in group_by] + [
        '"column"', "count", "mean", "median", "mode", "min", "max", "std"])
    sql = (
        f"WITH {', '.join(ctes)} "
        f"SELECT {out_cols} FROM ({' UNION ALL '.join(selects)}) ORDER BY {ordering}, array_position(?, \"column\")"
    )
    params.append(columns)
    return write_query(con, sql, params, dest)
