"""Correlation matrices over numeric columns, pairwise-complete as pandas computes them."""
import math
from itertools import combinations

import duckdb

from .sql import quote_ident
from .tables import Table

METHODS = ("pearson", "spearman", "kendall")


def _clean(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _spearman(con, source: Table, a: str, b: str) -> float | None:
    """Pearson on average ranks of the rows where both values are present."""
    x, y = quote_ident(a), quote_ident(b)
    ranks = (
        f"SELECT rank() OVER (ORDER BY {x}) + (count(*) OVER (PARTITION BY {x}) - 1) / 2.0 AS rx, "
        f"rank() OVER (ORDER BY {y}) + (count(*) OVER (PARTITION BY {y}) - 1) / 2.0 AS ry "
        f"FROM {source.sql} WHERE {x} IS NOT NULL AND {y} IS NOT NULL"
    )
    return con.execute(f"SELECT corr(rx, ry) FROM ({ranks})", source.params).fetchall()[0][0]


def _kendall(con, source: Table, a: str, b: str) -> float | None:
    from scipy.stats import kendalltau

    x, y = quote_ident(a), quote_ident(b)
    arrays = con.execute(
        f"SELECT CAST({x} AS DOUBLE) AS x, CAST({y} AS DOUBLE) AS y FROM {source.sql} "
        f"WHERE {x} IS NOT NULL AND {y} IS NOT NULL",
        source.params,
    ).fetchnumpy()
    if len(arrays["x"]) < 2:
        return None
    return kendalltau(arrays["x"], arrays["y"]).statistic


def _pearson_matrix(con, source: Table, columns: list[str]) -> dict:
    """Every pair in one scan: corr() skips the rows where either value is missing (pairwise complete)."""
    pairs = [(a, b) for i, a in enumerate(columns) for b in columns[i:]]
    parts = [f"corr(CAST({quote_ident(a)} AS DOUBLE), CAST({quote_ident(b)} AS DOUBLE))" for a, b in pairs]
    values = con.execute(f"SELECT {', '.join(parts)} FROM {source.sql}", source.params).fetchall()[0]
    matrix: dict[str, dict[str, float | None]] = {a: {} for a in columns}
    for (a, b), value in zip(pairs, values):
        matrix[a][b] = matrix[b][a] = _clean(value)
    return {a: {b: matrix[a][b] for b in columns} for a in columns}


def correlate(con: duckdb.DuckDBPyConnection, source: Table, columns: list[str], method: str) -> dict:
    """{a: {a: 1.0, b: r}, ...}; undefined coefficients (constant columns, too few rows) are None."""
    if method == "pearson":
        return _pearson_matrix(con, source, columns)
    pair = {"spearman": _spearman, "kendall": _kendall}[method]
    matrix: dict[str, dict[str, float | None]] = {a: {} for a in columns}
    # A column against itself is 1 when it varies at all and undefined otherwise: one scan, no ranking.
    varies = con.execute(
        f"SELECT {', '.join(f'min({quote_ident(a)}) < max({quote_ident(a)})' for a in columns)} FROM {source.sql}",
        source.params,
    ).fetchall()[0]
    for a, moves in zip(columns, varies):
        matrix[a][a] = 1.0 if moves else None
    for a, b in combinations(columns, 2):
        value = _clean(pair(con, source, a, b))
        matrix[a][b] = matrix[b][a] = value
    return {a: {b: matrix[a][b] for b in columns} for a in columns}
