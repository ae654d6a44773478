"""Selections: the rows of a table that a mask keeps, written as one bit per source row beside a link to the
source file, so a result outlives the dataset or task it came from."""
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .files import atomic_path, link_or_copy
from .results import SELECTION, SELECTION_FILE, SOURCE, SOURCE_FILE, Result
from .sql import ROW_ID, quote_ident
from .tables import KEEP, KEPT_PER_GROUP, ROWS_PER_GROUP, Table, kept_per_group, read_columns, row_count, select_list
from .writer import write_query


def write_selection(con: duckdb.DuckDBPyConnection, kept_sql: str, params: list, source: Table, dest_dir: Path) -> Result:
    """Record which rows of `source` a query keeps; `kept_sql` returns their row numbers (in any order).

    The folder gets a link to the underlying Parquet file (so the result outlives the dataset or task it came
    from) and a mask with one boolean per row, in row groups of ROWS_PER_GROUP, with the kept count per group.
    """
    total = row_count(source.path)
    keep = np.zeros(total, dtype=bool)
    for batch in con.sql(kept_sql, params=params).to_arrow_reader(1 << 20):
        keep[batch.column(0).to_numpy()] = True
    starts = np.arange(0, total, ROWS_PER_GROUP)
    kept = np.add.reduceat(keep, starts, dtype=np.int64).tolist() if total else []
    schema = pa.schema([pa.field(KEEP, pa.bool_(), nullable=False)], metadata={KEPT_PER_GROUP: json.dumps(kept)})
    dest_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest_dir / SELECTION_FILE) as tmp:
        pq.write_table(pa.table({KEEP: keep}, schema=schema), tmp, row_group_size=ROWS_PER_GROUP,
                       compression="snappy", use_dictionary=False)
        link_or_copy(source.path, dest_dir / SOURCE_FILE)
    return Result(files={SOURCE: SOURCE_FILE, SELECTION: SELECTION_FILE}, row_count=sum(kept),
                  columns=read_columns(source.path), folder=dest_dir)


def selected_ids(selection: Path, start: int, stop: int) -> list[int]:
    """Underlying row numbers of a selection's rows start..stop-1, from the mask's row groups that hold them."""
    kept = kept_per_group(selection)
    before = np.concatenate([[0], np.cumsum(kept, dtype=np.int64)])
    first = int(np.searchsorted(before, start, side="right")) - 1
    mask = pq.ParquetFile(selection)
    ids: list[int] = []
    group = max(first, 0)
    while group < len(kept) and before[group] < stop:
        if kept[group]:
            positions = np.flatnonzero(mask.read_row_group(group, columns=[KEEP]).column(0).to_numpy())
            positions = positions + group * ROWS_PER_GROUP
            lo, hi = max(start - before[group], 0), stop - before[group]
            ids.extend(positions[lo:hi].tolist())
        group += 1
    return ids


def materialise(con: duckdb.DuckDBPyConnection, table: Table, dest: Path) -> Result:
    """A selection written out as a Parquet file of its own (with dense row numbers)."""
    names = [c["name"] for c in read_columns(table.path)]
    sql = f"SELECT {select_list(names)} FROM {table.sql} ORDER BY {quote_ident(ROW_ID)}"
    return write_query(con, sql, table.params, dest)
