"""PNG charts (line, bar, scatter, histogram) rendered with matplotlib's Agg canvas, one Figure per render."""
import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .files import atomic_path
from .sql import ROW_ID, quote_ident
from .tables import Table
from .trend import aggregate_sql

KINDS = ("line", "bar", "scatter", "histogram")
# zlib's fastest level: a chart's PNG is encoded in a third of the time (~15-30 ms) and weighs ~25 KB, not 16.
PNG = {"compress_level": 1}
MAX_POINTS = 50_000
MAX_BARS = 60
MAX_LABELS = 100  # distinct text labels on a line or scatter's x axis (each is a category tick)
DEFAULT_BINS = 30


def _points(con, source: Table, x: str, y: str | None, agg: str | None, kind: str) -> tuple[list, list, dict]:
    """The (x, y) pairs to draw, aggregated by x when `agg` is given, and what was left out to keep the chart
    readable: a bar chart draws the MAX_BARS largest bars (the rest summed as "other" for a sum or count), a
    scatter a random sample of MAX_POINTS points, a line every k-th point in x order. A line or scatter over a
    text x keeps the points of its MAX_LABELS most frequent labels: every label is a tick of its own."""
    cx = quote_ident(x)
    limit = MAX_BARS if kind == "bar" else MAX_POINTS
    where, params, labels_note, total = f"{cx} IS NOT NULL", list(source.params), {}, None
    if kind != "bar" and _is_text(con, source, cx):
        # The most frequent labels, how many there are and their points, in one grouping; the points drawn are
        # then those of these labels (a point needs its y, or is a label's aggregate).
        points = "1" if agg else f"count({quote_ident(y)})"
        top = con.execute(f"SELECT {cx}, count(*) OVER (), {points} FROM {source.sql} WHERE {cx} IS NOT NULL "
                          f"GROUP BY {cx} ORDER BY count(*) DESC, {cx} LIMIT ?", [*source.params, MAX_LABELS]).fetchall()
        labels, total = (top[0][1] if top else 0), sum(n for _, _, n in top)
        if labels > MAX_LABELS:
            where += f" AND {cx} IN (SELECT unnest(CAST(? AS VARCHAR[])))"
            params.append([label for label, _, _ in top])
            labels_note["capped"] = f"the points of the {MAX_LABELS} most frequent of {labels} x labels"
    if agg:
        grouped = f"SELECT {cx} AS x, {aggregate_sql(agg, y)} AS y FROM {source.sql} WHERE {where} GROUP BY {cx}"
        if kind == "bar":
            return _bars(con, grouped, params, agg)
    else:
        cy = quote_ident(y)
        grouped = (f"SELECT {cx} AS x, {cy} AS y, {quote_ident(ROW_ID)} AS r FROM {source.sql} "
                   f"WHERE {where} AND {cy} IS NOT NULL")
    if total is None:
        total = con.execute(f"SELECT count(*) FROM ({grouped})", params).fetchall()[0][0]
    note = {"points_total": total, **labels_note}
    if total <= limit:
        order = "x" if agg or kind == "line" else "r"
        rows = con.execute(f"SELECT x, y FROM ({grouped}) ORDER BY {order}", params).fetchall()
    elif kind == "bar":  # not aggregated (those are _bars): the largest values
        rows = con.execute(f"SELECT x, y FROM ({grouped}) ORDER BY y DESC NULLS LAST, x LIMIT ?",
                           [*params, limit]).fetchall()
        note["capped"] = f"the {len(rows)} largest bars of {total}"
    elif kind == "scatter":
        rows = con.execute(f"SELECT x, y FROM ({grouped}) USING SAMPLE reservoir({limit} ROWS) REPEATABLE (7)",
                           params).fetchall()
        _add_cap(note, f"a random sample of {len(rows)} of {total} points")
    else:
        step = -(-total // limit)
        rows = con.execute(f"SELECT x, y FROM (SELECT x, y, row_number() OVER (ORDER BY x) - 1 AS i "
                           f"FROM ({grouped})) WHERE i % ? = 0 ORDER BY x", [*params, step]).fetchall()
        _add_cap(note, f"every {step}th of {total} points in x order ({len(rows)} drawn)")
    return [r[0] for r in rows], [r[1] for r in rows], note


def _bars(con, grouped: str, params: list, agg: str) -> tuple[list, list, dict]:
    """An aggregated bar chart's bars from one grouping of the data: all of them in x order when there are no
    more than MAX_BARS, else the largest (for a sum or a count, MAX_BARS - 1 of them and the rest summed as
    "other")."""
    summed = agg in ("sum", "count")
    by_size = "ORDER BY y DESC NULLS LAST, x"
    rows = con.execute(
        f"SELECT x, y, total, rest FROM (SELECT x, y, count(*) OVER () AS total, row_number() OVER ({by_size}) AS k, "
        f"sum(y) OVER ({by_size} ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS rest FROM ({grouped})) "
        f"WHERE k <= ? ORDER BY CASE WHEN total <= ? THEN x END, k", [*params, MAX_BARS, MAX_BARS]).fetchall()
    total = rows[0][2] if rows else 0
    note: dict = {"points_total": total}
    if total > MAX_BARS:
        kept = rows[:MAX_BARS - 1] if summed else rows
        note["capped"] = f"the {len(kept)} largest bars of {total}"
        if summed:
            kept = [*kept, ("other", rows[MAX_BARS - 1][3])]
            note["capped"] += f"; the other {total - MAX_BARS + 1} summed as 'other'"
        rows = kept
    return [r[0] for r in rows], [r[1] for r in rows], note


def _is_text(con, source: Table, cx: str) -> bool:
    return source.column_type(con, cx) in ("VARCHAR", "STRING")


def _add_cap(note: dict, said: str) -> None:
    note["capped"] = f"{note['capped']}; {said}" if "capped" in note else said


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
    """Draw the chart into `dest` (PNG, written under a temporary name); returns what was drawn. Every text
    (the title, labels, values) is drawn as it is: a `$` never starts TeX."""
    with rc_context({"text.parse_math": False}):
        return _render(con, source, kind, x, y, agg, title, dest, bins)


def _render(con, source: Table, kind: str, x: str, y: str | None, agg: str | None, title: str | None, dest: Path,
            bins: int) -> dict:
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    info: dict = {"kind": kind, "x": x, "y": y, "agg": agg}
    measure = f"{agg}({y})" if agg and y else (agg or y or "")
    if kind == "histogram":
        edges, counts = _histogram(con, source, x, bins)
        if counts:
            axes.stairs(counts, edges, fill=True, alpha=0.8)
        axes.set_xlabel(x)
        axes.set_ylabel("count")
        info.update(bins=bins, points=sum(counts), truncated=False)
    else:
        xs, ys, note = _points(con, source, x, y, agg, kind)
        # Arrays, not lists: matplotlib converts a list of 50 000 numbers point by point (a scatter drew in 0.39 s
        # from lists, 0.24 s from arrays).
        ys = np.array([float(v) if v is not None else np.nan for v in ys], dtype=float)
        labels_are_text = bool(xs) and isinstance(xs[0], str)
        is_date = bool(xs) and isinstance(xs[0], (dt.date, dt.datetime))
        if kind in ("line", "scatter") and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs):
            xs = np.asarray(xs, dtype=float)
        horizontal = kind == "bar" and (len(xs) > 12 or max((len(str(v)) for v in xs), default=0) > 10)
        if horizontal:
            positions = list(range(len(xs)))  # many or long labels: horizontal bars, read top to bottom
            axes.barh(positions, ys)
            axes.set_yticks(positions, [str(v)[:40] for v in xs], fontsize=8 if len(xs) > 30 else 10)
            axes.invert_yaxis()
        elif kind == "bar":
            positions = list(range(len(xs)))
            axes.bar(positions, ys)
            axes.set_xticks(positions, [str(v) for v in xs], rotation=45 if len(xs) > 8 else 0, ha="right" if len(xs) > 8 else "center")
        elif kind == "line":
            axes.plot([str(v) for v in xs] if labels_are_text else xs, ys, marker="o" if len(xs) <= 60 else None)
        else:
            axes.scatter([str(v) for v in xs] if labels_are_text else xs, ys, s=8, alpha=0.6)
        if labels_are_text and kind in ("line", "scatter"):
            axes.xaxis.set_major_locator(MaxNLocator(nbins=30, integer=True))  # at most ~30 labels written
        if is_date and kind != "bar":
            locator = AutoDateLocator()
            axes.xaxis.set_major_locator(locator)
            axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.set_xlabel(measure if horizontal else x)
        axes.set_ylabel(x if horizontal else measure)
        info.update(points=len(xs), truncated="capped" in note, **note)
    axes.grid(True, alpha=0.3)
    axes.set_title(title or (f"{kind.title()} of {x}" if kind == "histogram" else f"{measure} by {x}"))
    try:
        save_png(figure, Path(dest))
    finally:
        figure.clear()
    return info


def save_png(figure: Figure, dest: Path) -> None:
    """The figure as a PNG at `dest`, written under a temporary name. A constrained layout is worked out once,
    here: savefig would work it out in a draw of its own and again in the draw that renders (the same pixels;
    ~40 ms more for a bar chart of 50 labels)."""
    engine = figure.get_layout_engine()
    if engine is not None:
        engine.execute(figure)
        figure.set_layout_engine(None)
    with atomic_path(dest) as tmp:
        figure.savefig(tmp, format="png", pil_kwargs=PNG)
