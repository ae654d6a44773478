"""Turning a result table into a downloadable CSV, JSON or Parquet file."""
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .files import atomic_path
from .sql import ROW_ID
from .tables import Table, select_list

FORMATS = ("csv", "json", "parquet")
BATCH_ROWS = 65_536
FORMULA_START = r"^[=+\-@\t\r]"


def _user_batches(con: duckdb.DuckDBPyConnection, table: Table):
    """The table's rows in order, without the row number, as Arrow batches read a slice at a time."""
    parquet = pq.ParquetFile(table.path)
    names = [n for n in parquet.schema_arrow.names if n != ROW_ID]
    if table.selection is None:
        return names, parquet.iter_batches(batch_size=BATCH_ROWS, columns=names)
    # A selection scan keeps the file's order (preserve_insertion_order), so no sort is needed.
    return names, con.sql(f"SELECT {select_list(names)} FROM {table.sql}", params=table.params).to_arrow_reader(BATCH_ROWS)


def _safe_name(name: str) -> str:
    """A header cell a spreadsheet would run as a formula, prefixed with a single quote like the data cells."""
    return f"'{name}" if re.match(FORMULA_START, name) else name


def _escape_formulas(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Prefix text cells (and header cells) that a spreadsheet would run as a formula with a single quote."""
    arrays = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.match_substring_regex(column, FORMULA_START)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=[_safe_name(n) for n in batch.schema.names])


def export_table(con: duckdb.DuckDBPyConnection, table: Table, fmt: str, dest: Path) -> Path:
    """Write `dest` in `fmt` from `table` (without the row number), atomically."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    names, batches = _user_batches(con, table)
    schema = pq.read_schema(table.path)
    user_schema = pa.schema([schema.field(n) for n in names])
    with atomic_path(Path(dest)) as tmp:
        if fmt == "csv":
            csv_schema = pa.schema([f.with_name(_safe_name(f.name)) for f in user_schema])
            with pacsv.CSVWriter(tmp, csv_schema, write_options=pacsv.WriteOptions(quoting_style="needed")) as writer:
                for batch in batches:
                    writer.write_batch(_escape_formulas(batch))
        elif fmt == "parquet":
            with pq.ParquetWriter(tmp, user_schema, compression="snappy") as writer:
                for batch in batches:
                    writer.write_batch(batch)
        else:
            _write_json(tmp, batches)
    return dest


def _write_json(tmp: Path, batches) -> None:
    import json

    from .types import json_value

    with open(tmp, "w", encoding="utf-8") as out:
        out.write("[")
        first = True
        for batch in batches:
            for row in batch.to_pylist():
                out.write("" if first else ",\n")
                first = False
                json.dump({k: json_value(v) for k, v in row.items()}, out, ensure_ascii=False)
        out.write("]\n")
