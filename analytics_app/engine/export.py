"""Turning a result table into a downloadable CSV, JSON or Parquet file."""
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .sql import ROW_ID

FORMATS = ("csv", "json", "parquet")
FORMULA_START = r"^[=+\-@\t\r]"


def _user_batches(path: Path):
    parquet = pq.ParquetFile(path)
    names = [n for n in parquet.schema_arrow.names if n != ROW_ID]
    return names, parquet.iter_batches(batch_size=65_536, columns=names)


def _escape_formulas(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Prefix text cells that a spreadsheet would run as a formula with a single quote."""
    arrays = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.match_substring_regex(column, FORMULA_START)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def export_table(path: Path, fmt: str, dest: Path) -> Path:
    """Write `dest` in `fmt` from the table at `path` (without the row number), atomically."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    names, batches = _user_batches(path)
    schema = pq.read_schema(path)
    user_schema = pa.schema([schema.field(n) for n in names])
    try:
        if fmt == "csv":
            with pacsv.CSVWriter(tmp, user_schema, write_options=pacsv.WriteOptions(quoting_style="needed")) as writer:
                for batch in batches:
                    writer.write_batch(_escape_formulas(batch))
        elif fmt == "parquet":
            with pq.ParquetWriter(tmp, user_schema, compression="snappy") as writer:
                for batch in batches:
                    writer.write_batch(batch)
        else:
            _write_json(tmp, batches)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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
