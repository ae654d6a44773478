"""Pivot tables: one row per combination of the row columns, one column per value of a column, each cell an
aggregate of a value (as pandas.pivot_table, with the column's values in order, missing combinations empty)."""
import math
import uuid
from pathlib import Path

import duckdb

from .errors import EngineError
from .results import Result
from .sql import ROW_ID, quote_ident, unused_name
from .tables import Table, select_list
from .trend import aggregate_sql
from .types import json_value
from .writer import write_query

MAX_COLUMNS = 200


def distinct_count(con: duckdb.DuckDBPyConnection, source: Table, column: str) -> int:
    """How many output columns pivoting on `column` makes (an empty value is one of them)."""
    return _values_count(con, quote_ident(column), source.sql, source.params)


def _values_count(con: duckdb.DuckDBPyConnection, col: str, rows: str, params: list) -> int:
    """The distinct values of the quoted column `col` in the FROM fragment `rows`, an empty value counted as one."""
    sql = f"SELECT count(DISTINCT {col}) + max(CASE WHEN {col} IS NULL THEN 1 ELSE 0 END) FROM {rows}"
    return int(con.execute(sql, params).fetchall()[0][0] or 0)


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
    """One pass over the data: each cell aggregated once, in one GROUP BY over the rows and the column, into a
    temporary table; the column's values are read from the cells (too many is an EngineError), and the cells are
    spread into columns (by position, over the cells, not over the rows)."""
    col = quote_ident(column)
    pivot_key, cell = unused_name("pivot key", rows), unused_name("pivot cell", rows)
    key, measure = quote_ident(pivot_key), quote_ident(cell)
    keys = select_list(rows)
    cells = quote_ident(f"ravid_pivot_{uuid.uuid4().hex}")
    con.execute(f"CREATE TEMP TABLE {cells} AS SELECT {keys}, {col} AS {key}, {aggregate_sql(agg, value)} AS {measure} "
                f"FROM {source.sql} GROUP BY {keys}, {col}", source.params)
    try:
        values = [v for (v,) in con.execute(
            f"SELECT DISTINCT {key} FROM {cells} ORDER BY {key} NULLS LAST LIMIT ?", [MAX_COLUMNS + 1]).fetchall()]
        if len(values) > MAX_COLUMNS:
            check_width(con, None, column, known=_values_count(con, key, cells, []))
        labels = _labels(values, rows)
        # Each row's cells gathered into a map from the column's position (its value's rank, in the order of
        # `values`) to the cell, then read out by position: one aggregate, where a filtered aggregate per output
        # column cost ~40 ms at 100 columns.
        at, cell_map = quote_ident(unused_name("pivot at", rows)), quote_ident(unused_name("pivot cells", rows))
        ranked = (f"SELECT {keys}, {measure}, dense_rank() OVER (ORDER BY {key} ASC NULLS LAST) AS {at} "
                  f"FROM {cells}")
        spread = "coalesce({}, 0)" if agg == "count" else "{}"  # a combination with no rows counts 0, as before
        columns = [f"{spread.format(f'{cell_map}[{i}]')} AS {quote_ident(label)}" for i, label in enumerate(labels, 1)]
        order = ", ".join(f"{quote_ident(r)} ASC NULLS LAST" for r in rows)
        sql = (f"SELECT {keys}, {', '.join(columns)} FROM (SELECT {keys}, "
               f"map_from_entries(list(struct_pack(k := {at}, v := {measure}))) AS {cell_map} FROM ({ranked}) "
               f"GROUP BY {keys}) ORDER BY {order}")
        result = write_query(con, sql, [], dest)
    finally:
        try:
            con.execute(f"DROP TABLE IF EXISTS {cells}")
        except duckdb.Error:  # a write that failed left its result open; the table goes with the connection
            pass
    result.value = {"rows": rows, "column": column, "values": labels, "agg": agg, "value": value}
    return result


def _labels(values: list, taken: list[str]) -> list[str]:
    """Each value's column name: its text (an empty value is '(empty)', a NaN 'NaN'), made unique beside the row
    columns."""
    labels, used = [], {*taken, ROW_ID}
    for v in values:
        text = "NaN" if isinstance(v, float) and math.isnan(v) else str(json_value(v))
        label = unused_name("(empty)" if v is None else text, used)
        used.add(label)
        labels.append(label)
    return labels
