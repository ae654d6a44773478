"""Histograms: counts of a numeric column's values in equal-width bins, overall or per group, as a table and a PNG.

Bins follow numpy.histogram: `bins` equal bins from the minimum to the maximum (a constant column gets one unit
around its value), or bins of a given `width` starting at the multiple of it at or below the minimum; every bin
is half-open except the last, which holds the maximum."""
import math
from pathlib import Path

import duckdb
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .errors import EngineError
from .chart import save_png
from .results import IMAGE, IMAGE_FILE, TABLE, TABLE_FILE, Result
from .sql import quote_ident
from .tables import Table
from .writer import write_query

MAX_BINS = 1000
MAX_GROUPS_DRAWN = 12


def bin_edges(con: duckdb.DuckDBPyConnection, source: Table, column: str, bins: int | None,
              width: float | None) -> tuple[list[float], tuple[float, float, float]]:
    """The bins' edges (one more than the bins), or [] when the column holds no value; and the terms (a, b, c)
    from which every edge but the last is computed, a + b * i / c (the SQL that bins the values computes them
    the same way, to the last bit)."""
    x = f"CAST({quote_ident(column)} AS DOUBLE)"
    lo, hi = con.execute(f"SELECT min({x}), max({x}) FROM {source.sql}", source.params).fetchall()[0]
    if lo is None:
        return [], (0.0, 0.0, 1.0)
    if width is None:
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        terms = (lo, hi - lo, float(bins))
        return [_edge(*terms, i) for i in range(bins)] + [hi], terms
    too_many = EngineError(f"Bins of width {width:g} make more than {MAX_BINS} bins over {lo:g}..{hi:g}; at most "
                           f"{MAX_BINS} are allowed. Use a larger width, or bins.", {"width": [f"at most {MAX_BINS} bins"]})
    if not (math.isfinite(lo / width) and (hi - lo) / width <= MAX_BINS):  # a tiny width: counted, it overflows
        raise too_many
    start = math.floor(lo / width) * width
    count = max(1, math.ceil((hi - start) / width))
    if start + count * width < hi:  # rounding: the last edge must reach the maximum
        count += 1
    if count > MAX_BINS:
        raise too_many
    terms = (start, float(width), 1.0)
    return [_edge(*terms, i) for i in range(count + 1)], terms


def _edge(a: float, b: float, c: float, i: int) -> float:
    return a + b * i / c


def histogram(con: duckdb.DuckDBPyConnection, source: Table, column: str, bins: int | None, width: float | None,
              group_by: str | None, folder: Path) -> Result:
    """Rows {<group_by>, bin_start, bin_end, count} in group and bin order, every bin of every group (zero
    counts included), written with a PNG of them into `folder`."""
    edges, (a, b, c) = bin_edges(con, source, column, bins, width)
    n = max(len(edges) - 1, 1)
    x = f"CAST({quote_ident(column)} AS DOUBLE)"
    group = quote_ident(group_by) if group_by else None
    keys, g = (f"{group} AS g, ", "g, ") if group else ("", "")  # no group: one key fewer to count by
    # numpy's own way: the bin from the scaled offset, then moved by one where rounding put a value across an edge.
    # The groups are those counted (a group is counted when it has a value): the column is scanned once.
    # Edge i is computed as bin_edges computes it, a + b * i / c, bit for bit (the last edge, the maximum itself,
    # is never compared with): arithmetic is quicker than reading it from the edges' list (5 M rows: 82 -> 75 ms).
    first = edges[0] if edges else 0.0
    scale = n / (edges[-1] - first) if edges else 0.0
    guess = f"least(greatest(CAST(floor(({x} - ?) * ?) AS BIGINT), 0), {n - 1})"
    edge = "(CAST(? AS DOUBLE) + CAST(? AS DOUBLE) * {} / CAST(? AS DOUBLE))"
    sql = f"""
        WITH e AS (SELECT CAST(? AS DOUBLE[]) AS edges),
        v AS (SELECT {keys}{x} AS x, {guess} AS i0 FROM {source.sql} WHERE {x} IS NOT NULL),
        b AS (SELECT {g}i0 - CAST(x < {edge.format("i0")} AS INTEGER)
                         + CAST(i0 < {n - 1} AND x >= {edge.format("(i0 + 1)")} AS INTEGER) AS i FROM v),
        c AS (SELECT {g or "NULL AS g, "}i, count(*) AS n FROM b GROUP BY {g}i),
        grid AS ({"SELECT DISTINCT g FROM c" if group else "SELECT NULL AS g"})
        SELECT {"grid.g AS " + group + ", " if group else ""}e.edges[r.i + 1] AS bin_start,
               e.edges[r.i + 2] AS bin_end, CAST(coalesce(c.n, 0) AS BIGINT) AS count
        FROM grid CROSS JOIN range({n}) r(i) CROSS JOIN e
        LEFT JOIN c ON c.g IS NOT DISTINCT FROM grid.g AND c.i = r.i
        ORDER BY grid.g NULLS LAST, r.i
    """
    params = [edges, first, scale, *source.params, a, b, c, a, b, c]
    folder.mkdir(parents=True, exist_ok=True)
    result = write_query(con, sql, params, folder / TABLE_FILE)
    rows = con.execute(f"SELECT {group or 'NULL'}, bin_start, bin_end, count FROM read_parquet(?)",
                       [str(result.path(TABLE))]).fetchall()
    with rc_context({"text.parse_math": False}):  # names and values are drawn as they are: a $ is not TeX
        drawn = _draw(rows, column, group_by, folder / IMAGE_FILE)
    result.files[IMAGE] = IMAGE_FILE
    result.value = {"column": column, "bins": len(edges) - 1 if edges else 0, "edges": edges, "groups_drawn": drawn}
    return result


def _draw(rows: list[tuple], column: str, group_by: str | None, dest: Path) -> int:
    """Bars per bin (a step line per group when grouped, the first MAX_GROUPS_DRAWN groups); returns the groups drawn."""
    # Fixed margins, not a layout engine: the labels are numbers and a title, and constrained layout drew the
    # figure twice (half the time of a histogram over millions of rows went to it).
    figure = Figure(figsize=(10, 6), dpi=100)
    figure.subplots_adjust(left=0.1, right=0.97, bottom=0.1, top=0.93)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    series: dict = {}
    for key, start, end, count in rows:
        series.setdefault(key, []).append((start, end, count))
    for key, bins in list(series.items())[:MAX_GROUPS_DRAWN]:
        starts = [b[0] for b in bins]
        if group_by:
            axes.stairs([b[2] for b in bins], starts + [bins[-1][1]], label=str(key))
        else:  # one filled outline and white lines between the bins: a bar per bin took 3x as long to draw
            edges, counts = starts + [bins[-1][1]], [b[2] for b in bins]
            axes.stairs(counts, edges, fill=True)
            axes.vlines(edges[1:-1], 0, [min(a, b) for a, b in zip(counts, counts[1:])], colors="white",
                        linewidth=1)
    if group_by and series:
        axes.legend(title=group_by)
    axes.set_xlabel(column)
    axes.set_ylabel("count")
    axes.set_title(f"Histogram of {column}" + (f" by {group_by}" if group_by else ""))
    try:
        save_png(figure, dest)
    finally:
        figure.clear()
    return min(len(series), MAX_GROUPS_DRAWN)
