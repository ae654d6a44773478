"""What a job produces: a Result names its files in its folder (by the part each plays), and knows its kind, the
formats it downloads as, and what it tells the user (rows, columns, a value). The platform stores it as a record
on the task row and asks it for everything else; no other layer names a result's files."""
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from .export import FORMATS as TABLE_FORMATS
from .export import export_table
from .files import link_or_copy
from .tables import Table

# The part each file plays, and the names the engine gives them.
TABLE, SOURCE, SELECTION, IMAGE, PROFILE = "table", "source", "selection", "image", "profile"
TABLE_FILE = "result.parquet"
DATASET_FILE = "data.parquet"
IMAGE_FILE = "chart.png"
PROFILE_FILE = "profile.json"
SOURCE_FILE = "source.parquet"
SELECTION_FILE = "selection.parquet"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "png": "image/png",
}


@dataclass
class Result:
    """A job's output. `files` maps a part (TABLE, SOURCE + SELECTION, IMAGE, PROFILE) to a file name in `folder`."""

    files: dict[str, str] = field(default_factory=dict)
    row_count: int | None = None
    columns: list[dict] = field(default_factory=list)
    value: dict | list | None = None
    folder: Path | None = None
    flagged: set[str] = field(default_factory=set)  # ingest: text-read columns that held a misfit

    @property
    def kind(self) -> str:
        """'table' when it has rows (with or without a picture of them), 'chart' when it is a picture only."""
        if TABLE in self.files or SELECTION in self.files:
            return "table"
        return "chart" if IMAGE in self.files else "none"

    def path(self, part: str) -> Path | None:
        name = self.files.get(part)
        return self.folder / name if name and self.folder is not None else None

    def table(self) -> Table | None:
        """The rows, as the engine reads them: a file, or a selection of another file's rows."""
        if SELECTION in self.files:
            return Table(self.path(SOURCE), self.path(SELECTION))
        if TABLE in self.files:
            return Table(self.path(TABLE))
        return None

    @property
    def formats(self) -> list[str]:
        return ([*TABLE_FORMATS] if self.kind == "table" else []) + (["png"] if IMAGE in self.files else [])

    @property
    def default_format(self) -> str:
        return self.formats[0] if self.formats else ""

    @property
    def link_format(self) -> str | None:
        """The format a link to the download names: none for rows (CSV unless asked), the picture's otherwise."""
        return None if self.kind == "table" else self.default_format

    def exists(self) -> bool:
        return self.folder is not None and all(self.path(part).exists() for part in self.files)

    def download(self, fmt: str) -> tuple[Path, str] | None:
        """The file to send for `fmt` (one of `formats`) and its content type, when it is there: the picture, or a
        table's export copy kept in the result's folder until the table changes. None: export it first."""
        if fmt == "png":
            return self.path(IMAGE), CONTENT_TYPES[fmt]
        target = self.export_path(fmt)
        if not target.exists() or target.stat().st_mtime < self.table().path.stat().st_mtime:
            return None
        return target, CONTENT_TYPES[fmt]

    def export_path(self, fmt: str) -> Path:
        return self.folder / f"export.{fmt}"

    def export(self, con: duckdb.DuckDBPyConnection, fmt: str, dest: Path) -> Path:
        """Write the table in `fmt` to `dest` (the caller decides whether it is kept as the export copy)."""
        export_table(con, self.table(), fmt, dest)
        return dest

    def at(self, folder: Path) -> "Result":
        return replace(self, folder=Path(folder))

    def moved_into(self, folder: Path) -> "Result":
        """Each file moved (renamed) into `folder`, which exists; the same result, there."""
        for name in self.files.values():
            (self.folder / name).replace(Path(folder) / name)
        return self.at(folder)

    def record(self) -> dict:
        """What the platform stores to find the files again (the other fields it stores on their own)."""
        return dict(self.files)


def save_table_as_dataset(con: duckdb.DuckDBPyConnection, table: Table, folder: Path) -> Result:
    """A table written as a new dataset's file in `folder`: linked when it is a file, written out when it is a
    selection (seconds per 10 M rows)."""
    from .selections import materialise

    dest = Path(folder) / DATASET_FILE
    if table.selection is None:
        link_or_copy(table.path, dest)
    else:
        materialise(con, table, dest)
    return Result(files={TABLE: DATASET_FILE}, folder=Path(folder))


def dataset_input(table_file: Path) -> tuple[Table, Path | None]:
    """A dataset's table and, when it was profiled, its saved profile."""
    profile = Path(table_file).with_name(PROFILE_FILE)
    return Table(Path(table_file)), (profile if profile.exists() else None)
