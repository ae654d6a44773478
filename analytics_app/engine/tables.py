"""The Table value: what the engine reads. A table is a Parquet file with a dense row number column, or a
*selection*: the rows of such a file that a small mask file keeps (what a dedup or a filter produces), so those
operations write one bit per row instead of copying every kept row."""
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .sql import PARQUET, ROW_ID, quote_ident
from .types import type_of_arrow

ROWS_PER_GROUP = 122_880
# The mask: one boolean column, in row groups of ROWS_PER_GROUP, with the kept count per group in its metadata.
KEEP = "keep"
KEPT_PER_GROUP = b"ravid.kept_per_group"


@dataclass(frozen=True)
class Table:
    """A Parquet file, or the rows of one that a selection file keeps.

    `sql` is a FROM-clause fragment and `params` its parameters, in order. A selection's rows keep the row
    numbers of the file they come from, so they are ordered but not dense; paging goes by position.
    """

    path: Path
    selection: Path | None = None

    @property
    def sql(self) -> str:
        if self.selection is None:
            return PARQUET
        return f"(SELECT s.* FROM read_parquet(?) s POSITIONAL JOIN read_parquet(?) m WHERE m.{quote_ident(KEEP)})"

    @property
    def params(self) -> list[str]:
        return [str(self.path)] if self.selection is None else [str(self.path), str(self.selection)]

    def exists(self) -> bool:
        return self.path.exists() and (self.selection is None or self.selection.exists())

    def column_type(self, con, col: str) -> str:
        """DuckDB's name for the type of the quoted column `col` (VARCHAR, TIMESTAMP_NS, ...), from no rows."""
        return str(con.execute(f"SELECT {col} FROM {self.sql} LIMIT 0", self.params).description[0][1]).upper()

    def row_count(self) -> int:
        if self.selection is None:
            return row_count(self.path)
        return sum(kept_per_group(self.selection))


def kept_per_group(selection: Path) -> list[int]:
    return json.loads(pq.read_metadata(selection).metadata[KEPT_PER_GROUP])


def columns_of_schema(schema: pa.Schema) -> list[dict]:
    return [{"name": f.name, "type": type_of_arrow(f.type)} for f in schema if f.name != ROW_ID]


def read_columns(path: Path) -> list[dict]:
    return columns_of_schema(pq.read_schema(path))


def row_count(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def select_list(columns: list[str]) -> str:
    return ", ".join(quote_ident(c) for c in columns)
