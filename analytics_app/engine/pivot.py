"""Pivot tables: one row per combination of the row columns, one column per value of a column, each cell an
aggregate of a value (as pandas.pivot_table, with the column's values in order, missing combinations empty)."""
from pathlib import Path

import duckdb

from .errors import EngineError
from .results import Result
from .sql import quote_ident, unused_name
from .tables import Table, select_list
from .trend import aggregate_sql
from .types import json_value
from .writer import write_query

MAX_COLUMNS = 200


def distinct_count(con: duckdb.DuckDBPyConnection, source: Table, column: str) -> int:
    """How many output columns pivoting on `column` makes (an empty value is one of them)."""
    col = quote_ident(column)
    sql = f"SELECT count(DISTINCT {col}) + max(CASE WHEN {col} IS NULL THEN 1 ELSE 0 END) FROM {source.sql}"
    return int(con.execute(sql, source.params).fetchall()[0][0] or 0)


def check_width(con: duckdb.DuckDBPyConnection, source: Table | None, column: str, known: int | None = None) -> None:
    """EngineError when pivoting on `column` makes more than MAX_COLUMNS columns (`known`: that count, when it is)."""
    count = known if known is not None else distinct_count(con, source, column)
    if count > MAX_COLUMNS:
        raise EngineError(
            f"Column '{column}' has {count} distinct values; a pivot makes at most {MAX_COLUMNS} columns. "
            "Pivot on a column with fewer values, or filter the rows first.",
            {"columns": [f"at most {MAX_COLUMNS} distinct values; '{column}' has {count}"]})


def pivot(con: duckdb.DuckDBPyConnection, source: Table, rows: list[str], column: str, value: str | None,
          agg: str, dest: Path) -> Result:
    col = quote_ident(column)
    values = [v for (v,) in con.execute(  # one scan for the values; counted only when there are too many
        f"SELECT DISTINCT {col} FROM {source.sql} ORDER BY {col} NULLS LAST LIMIT ?",
        [*source.params, MAX_COLUMNS + 1]).fetchall()]
    if len(values) > MAX_COLUMNS:
        check_width(con, source, column)
    labels = _labels(values, rows)
    # Two passes: each cell aggregated once, in one GROUP BY over the rows and the column (one pass over the
    # data), then the few cells spread into columns (one filter per column over the cells, not over the rows).
    pivot_key, cell = unused_name("pivot key", rows), unused_name("pivot cell", rows)
    spread = "max({c}) FILTER (WHERE {k} IS NOT DISTINCT FROM ?)"
    if agg == "count":  # a combination with no rows counts 0, as before
        spread = f"coalesce({spread}, 0)"
    columns = [spread.format(c=quote_ident(cell), k=quote_ident(pivot_key)) + f" AS {quote_ident(label)}"
               for label in labels]
    keys = select_list(rows)
    order = ", ".join(f"{quote_ident(r)} ASC NULLS LAST" for r in rows)
    cells = (f"SELECT {keys}, {col} AS {quote_ident(pivot_key)}, {aggregate_sql(agg, value)} AS {quote_ident(cell)} "
             f"FROM {source.sql} GROUP BY {keys}, {col}")
    sql = f"SELECT {keys}, {', '.join(columns)} FROM ({cells}) GROUP BY {keys} ORDER BY {order}"
    result = write_query(con, sql, [*values, *source.params], dest)  # in the order the ? appear
    result.value = {"rows": rows, "column": column, "values": labels, "agg": agg, "value": value}
    return result


def _labels(values: list, taken: list[str]) -> list[str]:
    """Each value's column name: its text (an empty value is '(empty)'), made unique beside the row columns."""
    labels, used = [], set(taken)
    for v in values:
        label = unused_name("(empty)" if v is None else str(json_value(v)), used)
        used.add(label)
        labels.append(label)
    return labels
