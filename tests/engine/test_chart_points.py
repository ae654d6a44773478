"""The bars an aggregated bar chart draws: every bar in x order when they are few, else the largest (ties by x),
and for a sum or a count the rest summed as 'other' — what a user reads off the picture and its note."""
import pandas as pd
import pytest

from analytics_app.engine.chart import MAX_BARS, _points

# 150 labels; label i has i + 1 rows whose amounts sum to a distinct total, and some rows have no amount.
ROWS = [(f"l{i:03d}", (i * 37) % 150 + 0.25) for i in range(150) for _ in range(1 + i % 3)] + [("l007", None)]
CSV = "label,amount\n" + "".join(f"{label},{'' if a is None else a}\n" for label, a in ROWS)


@pytest.fixture
def table(ingest):
    return ingest(CSV)[0]


def expected(agg: str) -> pd.Series:
    frame = pd.DataFrame(ROWS, columns=["label", "amount"])
    grouped = frame.groupby("label")["amount"]
    return {"sum": grouped.sum(), "mean": grouped.mean(), "count": frame.groupby("label").size()}[agg]


def largest(series: pd.Series, n: int) -> pd.Series:
    frame = series.rename("y").reset_index()
    return frame.sort_values(["y", "label"], ascending=[False, True]).head(n).set_index("label")["y"]


@pytest.mark.parametrize("agg", ["sum", "count"])
def test_many_bars_keep_the_largest_and_sum_the_rest_as_other(con, table, agg):
    xs, ys, note = _points(con, table, "label", None if agg == "count" else "amount", agg, "bar")
    want = largest(expected(agg), MAX_BARS - 1)
    assert xs == [*want.index, "other"] and ys[:-1] == pytest.approx(list(want))
    assert ys[-1] == pytest.approx(expected(agg).sum() - want.sum())
    assert note == {"points_total": 150, "capped": "the 59 largest bars of 150; the other 91 summed as 'other'"}


def test_many_bars_of_a_mean_keep_the_largest_without_other(con, table):
    xs, ys, note = _points(con, table, "label", "amount", "mean", "bar")
    want = largest(expected("mean"), MAX_BARS)
    assert xs == list(want.index) and ys == pytest.approx(list(want))
    assert note == {"points_total": 150, "capped": "the 60 largest bars of 150"}


def test_few_bars_are_all_drawn_in_x_order(con, ingest):
    table = ingest("label,amount\nb,2\na,5\nc,1\nb,4\nA,1\n")[0]
    assert _points(con, table, "label", "amount", "sum", "bar") == (["A", "a", "b", "c"], [1, 5, 6, 1],
                                                                   {"points_total": 4})


CHARTS_CSV = "day,label,amount,units\n" + "".join(
    f"2024-0{1 + i % 9}-{1 + i % 28:02d},a label of some length {i % 40:02d},{(i * 37) % 997 / 4},{i % 13}\n"
    for i in range(2_000))


@pytest.mark.parametrize("kind,x,y,agg", [
    ("bar", "label", "amount", "sum"),     # horizontal, 40 labels
    ("bar", "units", "amount", "mean"),    # vertical
    ("line", "day", "amount", "sum"),      # dates
    ("line", "label", "amount", None),     # text x
    ("scatter", "amount", "units", None),
    ("histogram", "amount", None, None),
])
def test_a_chart_laid_out_once_has_the_pixels_of_savefigs_own_layout(ingest, con, tmp_path, monkeypatch, kind, x, y,
                                                                      agg):
    import numpy as np
    from PIL import Image

    from analytics_app.engine import chart

    table = ingest(CHARTS_CSV)[0]
    chart.render_chart(con, table, kind, x, y, agg, None, tmp_path / "once.png")
    monkeypatch.setattr(chart, "save_png", lambda figure, dest: figure.savefig(dest, format="png", pil_kwargs=chart.PNG))
    chart.render_chart(con, table, kind, x, y, agg, None, tmp_path / "savefig.png")
    once, reference = (np.asarray(Image.open(tmp_path / name)) for name in ("once.png", "savefig.png"))
    assert once.shape == reference.shape == (600, 1000, 4) and (once == reference).all()
