"""PNG charts (line, bar, scatter, histogram) rendered with matplotlib's Agg canvas, one Figure per render."""
import datetime as dt
from pathlib import Path

import duckdb
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from .files import atomic_path
from .sql import ROW_ID, quote_ident
from .tables import Table
from .trend import aggregate_sql

KINDS = ("line", "bar", "scatter", "histogram")
MAX_POINTS = 50_000
MAX_BARS = 60
DEFAULT_BINS = 30


def _points(con, source: Table, x: str, y: str | None, agg: str | None, kind: str) -> tuple[list, list, bool]:
    """The (x, y) pairs to draw, aggregated by x when `agg` is given; truncated to a readable number."""
    cx = quote_ident(x)
    limit = MAX_BARS if kind == "bar" else MAX_POINTS
    if agg:
        sql = (f"SELECT {cx}, {aggregate_sql(agg, y)} FROM {source.sql} WHERE {cx} IS NOT NULL "
               f"GROUP BY {cx} ORDER BY {cx} LIMIT ?")
        params = [*source.params, limit + 1]
    else:
        cy = quote_ident(y)
        order = cx if kind == "line" else quote_ident(ROW_ID)
        sql = (f"SELECT {cx}, {cy} FROM {source.sql} WHERE {cx} IS NOT NULL AND {cy} IS NOT NULL "
               f"ORDER BY {order} LIMIT ?")
        params = [*source.params, limit + 1]
    rows = con.execute(sql, params).fetchall()
    truncated = len(rows) > limit
    rows = rows[:limit]
    return [r[0] for r in rows], [r[1] for r in rows], truncated


def _histogram(con, source: Table, x: str, bins: int) -> tuple[list[float], list[int]]:
    """Equal-width bin edges and counts, computed in DuckDB (as numpy.histogram: last bin closed)."""
    cx = f"CAST({quote_ident(x)} AS DOUBLE)"
    lo, hi = con.execute(f"SELECT min({cx}), max({cx}) FROM {source.sql}", source.params).fetchall()[0]
    if lo is None:
        return [], []
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / bins
    rows = con.execute(
        f"SELECT least(CAST(floor(({cx} - ?) / ?) AS BIGINT), ?) AS b, count(*) FROM {source.sql} "
        f"WHERE {cx} IS NOT NULL GROUP BY b ORDER BY b",
        [lo, width, bins - 1, *source.params],
    ).fetchall()
    counts = [0] * bins
    for b, n in rows:
        counts[int(b)] = n
    return [lo + i * width for i in range(bins + 1)], counts


def render_chart(
    con: duckdb.DuckDBPyConnection, source: Table, kind: str, x: str, y: str | None, agg: str | None,
    title: str | None, dest: Path, bins: int = DEFAULT_BINS,
) -> dict:
    """Draw the chart into `dest` (PNG, written under a temporary name); returns what was drawn."""
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    info: dict = {"kind": kind, "x": x, "y": y, "agg": agg}
    if kind == "histogram":
        edges, counts = _histogram(con, source, x, bins)
        if counts:
            axes.stairs(counts, edges, fill=True, alpha=0.8)
        axes.set_xlabel(x)
        axes.set_ylabel("count")
        info.update(bins=bins, points=sum(counts), truncated=False)
    else:
        xs, ys, truncated = _points(con, source, x, y, agg, kind)
        ys = [float(v) if v is not None else float("nan") for v in ys]
        labels_are_text = bool(xs) and isinstance(xs[0], str)
        if kind == "bar":
            positions = list(range(len(xs)))
            axes.bar(positions, ys)
            axes.set_xticks(positions, [str(v) for v in xs], rotation=45 if len(xs) > 8 else 0, ha="right" if len(xs) > 8 else "center")
        elif kind == "line":
            axes.plot([str(v) for v in xs] if labels_are_text else xs, ys, marker="o" if len(xs) <= 60 else None)
        else:
            axes.scatter([str(v) for v in xs] if labels_are_text else xs, ys, s=8, alpha=0.6)
        if xs and isinstance(xs[0], (dt.date, dt.datetime)) and kind != "bar":
            locator = AutoDateLocator()
            axes.xaxis.set_major_locator(locator)
            axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.set_xlabel(x)
        axes.set_ylabel(f"{agg}({y})" if agg and y else (agg or y or ""))
        info.update(points=len(xs), truncated=truncated)
    axes.grid(True, alpha=0.3)
    axes.set_title(title or (f"{kind.title()} of {x}" if kind == "histogram" else f"{axes.get_ylabel()} by {x}"))
    try:
        with atomic_path(Path(dest)) as tmp:
            figure.savefig(tmp, format="png")
    finally:
        figure.clear()
    return info
