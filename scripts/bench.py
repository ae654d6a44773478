"""Benchmark: ravid end to end (HTTP API + a real worker) against what a user would pick instead, in one run:
DuckDB on the same data as Parquet and re-reading the CSV, Polars (scan_csv) and pandas (read_csv), each
computing the same result, and DuckDB's own CSV load against the upload to READY.

Usage: python scripts/bench.py [--rows 10000000] [--url http://127.0.0.1:8000] [--tiny 50]

It uses the stack answering at --url, or starts one (gunicorn + a Celery worker on the configured
database and broker, media under bench-data/) and stops it afterwards. It prints one table and writes
bench-data/results-<rows>.json. Nothing is asserted: the numbers are for people to read.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import psutil
import pyarrow.parquet as pq
import requests
from requests.adapters import HTTPAdapter
from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported before any peer is timed
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from bench_data import write_csv  # noqa: E402

OPERATIONS = {
    "summary": {},
    "dedup": {"columns": ["key"]},
    "filter": {"filters": [{"column": "amount", "operator": "gt", "value": 9000}]},
    "trend": {"date": "created_at", "value": "amount", "freq": "W", "agg": "sum"},
    "correlation": {"columns": ["amount", "quantity", "key"]},
    "unique": {"column": "category"},
    "top": {"by": "category", "value": "amount", "agg": "sum", "limit": 10},
    "statistics": {"group_by": ["category"], "columns": ["amount", "quantity"]},
    "histogram": {"column": "amount", "bins": 30},
    "pivot": {"rows": ["category"], "columns": "quantity", "value": "amount", "agg": "sum"},
}
STATISTICS = ("count", "mean", "median", "mode", "min", "max", "std")
# Timed on the platform only (no baseline): charts are bounded in marks whatever the rows; a line over a text
# column with a million labels once took minutes to draw.
CHARTS = {
    "chart:line-text-x": {"operation": "chart", "kind": "line", "x": "zip", "y": "amount"},
    "chart:scatter": {"operation": "chart", "kind": "scatter", "x": "amount", "y": "quantity"},
    "chart:bar-sum": {"operation": "chart", "kind": "bar", "x": "category", "y": "amount", "agg": "sum"},
}


# --- the stack -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """The running service at `url`, or one started here (and stopped at the end)."""

    def __init__(self, url: str | None, workdir: Path):
        self.processes: list[subprocess.Popen] = []
        if url and self._healthy(url):
            self.url = url.rstrip("/")
            print(f"using the running stack at {self.url}")
            return
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, MEDIA_ROOT=str(workdir / "media"), LOG_LEVEL="WARNING",
                   ALLOWED_HOSTS="127.0.0.1,localhost", AXES_ENABLED="false")
        python = sys.executable
        bindir = Path(python).parent
        migrated = subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
        if migrated.returncode != 0:  # the last line says why (an unknown database, a refused login)
            lines = (migrated.stderr or migrated.stdout).strip().splitlines() or ["(no output)"]
            sys.exit(f"Cannot prepare the benchmark's database ({env.get('DATABASE_URL') or 'SQLite'}): {lines[-1]}")
        logs = workdir / "stack.log"
        out = open(logs, "ab")
        if not env.get("CELERY_BROKER_URL"):  # the embedded broker, as `make run` starts it
            self.processes.append(subprocess.Popen(
                [python, "-m", "ravid_project.embedded_broker", "run"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        self.processes.append(subprocess.Popen(
            [str(bindir / "gunicorn"), "ravid_project.wsgi", "--no-control-socket", "-b", f"127.0.0.1:{port}", "-w", "2", "-k", "gthread",
             "--threads", "8", "--timeout", "600"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        self.processes.append(subprocess.Popen(
            [python, "-m", "celery", "-A", "ravid_project", "worker", "-l", "warning", "-c", "1",
             "-n", f"bench-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self._healthy(self.url):
                print(f"started a stack at {self.url} (logs: {logs})")
                return
            time.sleep(0.5)
        self.stop()
        raise SystemExit(f"the stack did not become healthy; see {logs}")

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            body = requests.get(f"{url.rstrip('/')}/health/", timeout=3).json()
            return body["status"] == "ok" and body["checks"]["workers"] >= 1
        except Exception:
            return False

    def worker_processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if "celery" in cmd and " worker" in cmd and "ravid_project" in cmd:
                found.append(proc)
        return found

    def stop(self) -> None:
        for proc in self.processes:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


class PeakRss:
    """Samples the worker processes' resident memory in the background; keeps the largest."""

    def __init__(self, stack: Stack):
        self.stack, self.peak, self.running = stack, 0, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        """RSS every 0.1 s; the worker's processes looked up once a second (walking every process's command line
        ten times a second took CPU from the timed work on a 2-core machine)."""
        processes, found_at = [], 0.0
        while self.running:
            if time.monotonic() - found_at >= 1.0:
                processes, found_at = self.stack.worker_processes(), time.monotonic()
            for proc in processes:
                try:
                    self.peak = max(self.peak, proc.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.1)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


# --- a client ------------------------------------------------------------------------------------

class LargeBlocks(HTTPAdapter):
    """Sends a file body in 1 MB blocks, as curl and the ravid CLI send large blocks: with requests' default (16 KB
    blocks) this client spent 0.5-1.0 s of its own Python sending 350 MB even to a server that only read it (1 MB
    blocks: 0.21-0.24 s), and that was counted as the upload's time."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, blocksize=1024 * 1024, **kwargs)


class Client:
    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()
        self.http.mount("http://", LargeBlocks())
        self.http.mount("https://", LargeBlocks())
        email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "Bench-Passw0rd-123"
        registered = self.http.post(f"{url}/api/register/", json={"email": email, "password": password})
        if registered.status_code != 201:
            raise SystemExit(f"could not register the benchmark's user: {registered.status_code} {registered.text}")
        token = self.http.post(f"{url}/api/login/", json={"email": email, "password": password}).json()["access"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.last_breakdown: dict = {}

    def wait(self, task_id: str, rows: int = 1000) -> dict:
        """Wait for the task's end as the README's script does (long polls until the end: `wait=30&until=end`),
        asking for its first `rows` rows."""
        revision = ""
        while True:
            body = self.http.get(f"{self.url}/api/tasks/{task_id}/?n={rows}&wait=30&until=end&since={revision}").json()
            if body["status"] in ("SUCCESS", "FAILURE", "REVOKED"):
                if body["status"] != "SUCCESS":
                    raise SystemExit(f"task {task_id} ended {body['status']}: {body.get('error')}")
                return body
            if body["revision"] == revision:  # not waited (the server's waiting requests are all taken)
                time.sleep(0.05)
            revision = body["revision"]

    def upload(self, path: Path) -> tuple[str, str, float, float]:
        """(file id, ingest task id, seconds until the upload was accepted, seconds until READY)."""
        started = time.perf_counter()
        with open(path, "rb") as handle:
            r = self.http.post(f"{self.url}/api/upload-csv/?name={path.name}", data=handle,
                               headers={"Content-Type": "text/csv"})
        r.raise_for_status()
        accepted = time.perf_counter() - started
        self.last_breakdown = self.wait(r.json()["task_id"], rows=0).get("timings", {})
        return r.json()["file_id"], r.json()["task_id"], accepted, time.perf_counter() - started

    def wait_profiled(self, file_id: str, timeout: float = 600) -> float:
        """Seconds until the dataset's profile (a follow-up job after READY) is saved."""
        started = time.perf_counter()
        while not self.http.get(f"{self.url}/api/datasets/{file_id}/").json()["profiled"]:
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"dataset {file_id} was not profiled within {timeout} s")
            time.sleep(0.05)
        return time.perf_counter() - started

    def operate(self, file_id: str, operation: str, params: dict, source: str = "file_id") -> float:
        started = time.perf_counter()
        # fresh: time the work itself, never a reused result of an identical earlier request
        r = self.http.post(f"{self.url}/api/perform-operation/",
                           json={source: file_id, "operation": operation, "fresh": True, **params})
        r.raise_for_status()
        body = self.wait(r.json()["task_id"])
        elapsed = time.perf_counter() - started
        self.last_breakdown = body.get("timings", {})  # the task's own account: queued, claim, compute, store
        return elapsed

    def page_ms(self, file_id: str, page: int, size: int = 100) -> float:
        r = self.http.get(f"{self.url}/api/datasets/{file_id}/rows?page={page}&page_size={size}")
        r.raise_for_status()
        return float(re.search(r"dur=([\d.]+)", r.headers["Server-Timing"]).group(1))


# --- the same operations, done by DuckDB on the CSV and by pandas ----------------------------------

# What each peer draws for a chart: the points ravid draws (the 60 largest bars; a 50 000-point sample of a
# scatter; the points of a line's 100 most frequent text labels, at most 50 000), as a PNG of the same size.
CHART_SQL = {
    "chart:line-text-x": "WITH top AS (SELECT zip FROM src GROUP BY zip ORDER BY count(*) DESC, zip LIMIT 100) "
                         "SELECT zip AS x, amount AS y FROM (SELECT zip, amount FROM src WHERE zip IN (SELECT zip FROM top)) "
                         "USING SAMPLE 50000 ROWS ORDER BY x",
    "chart:scatter": "SELECT amount AS x, quantity AS y FROM src USING SAMPLE 50000 ROWS",
    "chart:bar-sum": "SELECT category AS x, sum(amount) AS y FROM src GROUP BY 1 ORDER BY 2 DESC LIMIT 60",
}


def draw(operation: str, xs, ys, out: Path) -> None:
    """The chart a peer would draw with matplotlib (what ravid draws with), saved as a PNG."""
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    kind = CHARTS[operation]["kind"]
    if kind == "bar":
        axes.bar([str(x) for x in xs], ys)
    elif kind == "scatter":
        axes.scatter(xs, ys, s=4)
    else:
        axes.plot([str(x) for x in xs], ys)
    figure.savefig(out.with_suffix(".png"), format="png")


def draw_histogram(lo: float, hi: float, counts: dict, out: Path) -> None:
    """The histogram's picture as ravid draws it (a histogram's result is its bins and their picture), from
    {bin number: count} over BINS equal bins of lo..hi."""
    bins = OPERATIONS["histogram"]["bins"]
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    figure.add_subplot().stairs([counts.get(i, 0) for i in range(bins)],
                                [lo + (hi - lo) * i / bins for i in range(bins + 1)], fill=True)
    figure.savefig(out.with_suffix(".png"), format="png")


def breakdown(client: "Client") -> str:
    t = client.last_breakdown
    return ", ".join(f"{k[:-2]} {v * 1000:.0f} ms" for k, v in t.items() if v is not None) if t else ""


def duckdb_load(csv: Path) -> float:
    """DuckDB's own load of the CSV into a table in memory: the floor for upload to READY."""
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": 2})
    con.read_csv(str(csv), header=True).create("loaded")
    con.close()
    return time.perf_counter() - started


def duckdb_to_parquet(csv: Path, out: Path) -> float:
    """DuckDB's own conversion of the CSV into a Parquet file (COPY, its defaults): what an ingest that keeps the
    table as Parquet could at best hope to match, with no checks of the types and no row numbers."""
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": 2})
    con.execute("COPY (SELECT * FROM read_csv(?, header = true)) TO ? (FORMAT parquet)", [str(csv), str(out)])
    con.close()
    elapsed = time.perf_counter() - started
    out.unlink()
    return elapsed


def as_parquet(csv: Path) -> Path:
    """The CSV as one Parquet file (made once, not timed): what DuckDB-on-Parquet reads."""
    target = csv.with_suffix(".parquet")
    if not target.exists():
        con = duckdb.connect()
        con.read_csv(str(csv), header=True).write_parquet(str(target.with_suffix(".tmp")))
        con.close()
        target.with_suffix(".tmp").replace(target)
    return target


def duckdb_on(source: Path, operation: str, out: Path) -> float:
    """A fresh DuckDB reads `source` (the CSV, or the same data as Parquet) and computes the same result
    (tables written to Parquet)."""
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": 2})
    con.execute("SET TimeZone = 'UTC'")
    (con.read_parquet(str(source)) if source.suffix == ".parquet" else con.read_csv(str(source), header=True)) \
        .create_view("src")
    table = {
        "dedup": "SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER () AS rn FROM src) "
                 "QUALIFY row_number() OVER (PARTITION BY key ORDER BY rn) = 1 ORDER BY rn",
        "filter": "SELECT * FROM src WHERE amount > 9000",
        "trend": "SELECT date_trunc('week', created_at)::DATE AS date, sum(amount) AS value FROM src GROUP BY 1 ORDER BY 1",
        "unique": "SELECT category AS value, count(*) AS count FROM src GROUP BY 1 ORDER BY 2 DESC, 1",
        "top": "SELECT category, sum(amount) AS value FROM src GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
        "statistics": "SELECT category, " + ", ".join(
            f"count({c}), avg({c}), median({c}), mode({c}), min({c}), max({c}), stddev_samp({c})"
            for c in OPERATIONS["statistics"]["columns"]) + " FROM src GROUP BY 1 ORDER BY 1",
        "pivot": "PIVOT src ON quantity USING sum(amount) GROUP BY category ORDER BY category",
    }
    if operation in CHARTS:
        xs, ys = zip(*con.sql(CHART_SQL[operation]).fetchall())
        draw(operation, xs, ys, out)
    elif operation in table:
        con.sql(table[operation]).write_parquet(str(out))
    elif operation == "histogram":
        lo, hi = con.sql("SELECT min(amount), max(amount) FROM src").fetchall()[0]
        bins = con.sql("SELECT CAST(least(floor((amount - $lo) / ($hi - $lo) * 30), 29) AS BIGINT) AS bin, "
                       "count(*) AS count FROM src GROUP BY 1 ORDER BY 1", params={"lo": lo, "hi": hi}).to_arrow_table()
        pq.write_table(bins, out)
        draw_histogram(lo, hi, dict(zip(*bins.to_pydict().values())), out)
    elif operation == "summary":
        columns = [r[0] for r in con.execute("DESCRIBE src").fetchall()]
        for name in columns:
            kind = con.execute(f'SELECT typeof("{name}") FROM src LIMIT 1').fetchall()[0][0]
            numeric = kind in ("BIGINT", "DOUBLE", "INTEGER")
            extra = (f', avg("{name}"), stddev_samp("{name}"), quantile_cont("{name}", [0.25, 0.5, 0.75])'
                     if numeric else "")
            con.execute(f'SELECT count("{name}"), count(DISTINCT "{name}"), min("{name}"), max("{name}"){extra} FROM src').fetchall()
    elif operation == "correlation":
        cols = OPERATIONS["correlation"]["columns"]
        for a in cols:
            for b in cols:
                con.execute(f'SELECT corr("{a}", "{b}") FROM src').fetchall()
    con.close()
    return time.perf_counter() - started


def polars_on_csv(csv: Path, operation: str, out: Path) -> float:
    """Polars scans the CSV lazily and computes the same result (tables written to Parquet)."""
    import polars as pl

    started = time.perf_counter()
    src = pl.scan_csv(csv, try_parse_dates=True, schema_overrides={"zip": pl.String})
    if operation == "summary":
        src.describe()
        src.select(pl.all().n_unique()).collect()
        for name in ("category", "zip"):
            src.group_by(name).len().sort("len", descending=True).head(5).collect()
    elif operation == "dedup":
        src.unique(subset=["key"], keep="first", maintain_order=True).sink_parquet(out)
    elif operation == "filter":
        src.filter(pl.col("amount") > 9000).sink_parquet(out)
    elif operation == "trend":
        src.group_by(pl.col("created_at").dt.truncate("1w").cast(pl.Date).alias("date")) \
            .agg(pl.col("amount").sum().alias("value")).sort("date").sink_parquet(out)
    elif operation == "correlation":
        cols = OPERATIONS["correlation"]["columns"]
        src.select([pl.corr(a, b).alias(f"{a}:{b}") for a in cols for b in cols]).collect()
    elif operation == "unique":
        src.group_by("category").agg(pl.len().alias("count")) \
            .sort(["count", "category"], descending=[True, False]).sink_parquet(out)
    elif operation == "top":
        src.group_by("category").agg(pl.col("amount").sum().alias("value")) \
            .sort("value", descending=True).head(10).sink_parquet(out)
    elif operation == "statistics":
        stats = [(pl.col(c).mode().first() if f == "mode" else getattr(pl.col(c), f)()).alias(f"{c}_{f}")
                 for c in OPERATIONS["statistics"]["columns"] for f in STATISTICS]
        src.group_by("category").agg(stats).sort("category").sink_parquet(out)
    elif operation == "histogram":
        lo, hi = src.select(pl.col("amount").min().alias("lo"), pl.col("amount").max().alias("hi")).collect().row(0)
        bins = src.group_by(((pl.col("amount") - lo) / (hi - lo) * 30).floor().clip(upper_bound=29).cast(pl.Int64)
                            .alias("bin")).len().sort("bin").collect()
        bins.write_parquet(out)
        draw_histogram(lo, hi, dict(bins.iter_rows()), out)
    elif operation == "pivot":
        src.select("category", "quantity", "amount").collect() \
            .pivot(on="quantity", index="category", values="amount", aggregate_function="sum").write_parquet(out)
    elif operation == "chart:bar-sum":
        points = src.group_by("category").agg(pl.col("amount").sum()).sort("amount", descending=True).head(60).collect()
        draw(operation, points["category"], points["amount"], out)
    elif operation == "chart:scatter":
        points = src.select("amount", "quantity").collect()
        points = points.sample(min(50_000, len(points)))
        draw(operation, points["amount"], points["quantity"], out)
    elif operation == "chart:line-text-x":
        top = src.group_by("zip").len().sort(["len", "zip"], descending=[True, False]).head(100).collect()["zip"]
        points = src.filter(pl.col("zip").is_in(top.implode())).select("zip", "amount").collect()
        points = points.sample(min(50_000, len(points))).sort("zip")
        draw(operation, points["zip"], points["amount"], out)
    return time.perf_counter() - started


def pandas_on_csv(csv: Path, operation: str, out: Path) -> float:
    """pandas reads the CSV and computes the same result (tables written to Parquet)."""
    started = time.perf_counter()
    frame = pd.read_csv(csv, dtype={"zip": str}, parse_dates=["created_at"])
    if operation == "summary":
        frame.describe()
        frame.nunique()
        for name in ("category", "zip"):
            frame[name].value_counts().head(5)
    elif operation == "dedup":
        frame.drop_duplicates(subset=["key"]).to_parquet(out)
    elif operation == "filter":
        frame[frame["amount"] > 9000].to_parquet(out)
    elif operation == "trend":
        frame.groupby(frame["created_at"].dt.to_period("W"))["amount"].sum().reset_index().astype(str).to_parquet(out)
    elif operation == "correlation":
        frame[OPERATIONS["correlation"]["columns"]].corr()
    elif operation == "unique":
        frame["category"].value_counts().reset_index().to_parquet(out)
    elif operation == "top":
        frame.groupby("category")["amount"].sum().nlargest(10).reset_index().to_parquet(out)
    elif operation == "statistics":
        groups = frame.groupby("category")[OPERATIONS["statistics"]["columns"]]
        groups.agg(["count", "mean", "median", "min", "max", "std"])
        groups.agg(lambda s: s.mode().iloc[0])
    elif operation == "histogram":
        counts = frame["amount"].value_counts(bins=30, sort=False)
        counts.reset_index().astype(str).to_parquet(out)
        draw_histogram(frame["amount"].min(), frame["amount"].max(), dict(enumerate(counts.values)), out)
    elif operation == "pivot":
        frame.pivot_table(index="category", columns="quantity", values="amount", aggfunc="sum") \
            .rename(columns=str).to_parquet(out)
    elif operation == "chart:bar-sum":
        points = frame.groupby("category")["amount"].sum().nlargest(60)
        draw(operation, points.index, points.values, out)
    elif operation == "chart:scatter":
        points = frame[["amount", "quantity"]].sample(min(50_000, len(frame)))
        draw(operation, points["amount"], points["quantity"], out)
    elif operation == "chart:line-text-x":
        top = frame["zip"].value_counts().head(100).index
        points = frame.loc[frame["zip"].isin(top), ["zip", "amount"]]
        points = points.sample(min(50_000, len(points))).sort_values("zip")
        draw(operation, points["zip"], points["amount"], out)
    return time.perf_counter() - started


# --- the run -------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--url", default=os.environ.get("RAVID_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--tiny", type=int, default=50, help="how many tiny tasks to time")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--skip-baselines", action="store_true", help="time only the platform")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    csv = args.workdir / f"bench-{args.rows}.csv"
    if not csv.exists():
        print(f"writing {csv} ({args.rows} rows)...")
        write_csv(csv, args.rows)
    print(f"data: {csv} ({csv.stat().st_size / 1e6:.0f} MB)")

    stack = Stack(args.url, args.workdir)
    results: dict = {"rows": args.rows, "csv_mb": round(csv.stat().st_size / 1e6), "operations": {}}
    try:
        client = Client(stack.url)
        rss = PeakRss(stack)
        # Warm-up: the worker ingests and profiles a small file first (the tiny task's, below), as a worker that
        # has been running has: a worker's first job pays once for its first DuckDB and Parquet work (~0.7 s).
        tiny = args.workdir / "tiny.csv"
        tiny.write_text("k,v\n" + "".join(f"{i % 7},{i}\n" for i in range(100)))
        tiny_id, *_ = client.upload(tiny)
        client.wait_profiled(tiny_id)
        file_id, ingest_task, accepted, ingest = client.upload(csv)
        results["upload_to_ready_s"] = round(ingest, 3)
        results["upload_accepted_s"] = round(accepted, 3)
        results["accepted_to_ready_s"] = round(ingest - accepted, 3)
        results["ingest_breakdown"] = client.last_breakdown
        print(f"upload to READY: {ingest:.2f} s (the HTTP upload itself: {accepted:.2f} s; the ingest task: "
              f"{breakdown(client)})")
        # The profile follows READY in a job of its own; the operations are timed once it is saved, so that
        # none of them shares the worker with it (and 'summary' reads it).
        results["profile_after_ready_s"] = round(client.wait_profiled(file_id), 3)
        print(f"profile saved {results['profile_after_ready_s']:.2f} s after READY")
        for operation, params in OPERATIONS.items():
            results["operations"][operation] = {"platform_s": round(client.operate(file_id, operation, params), 3),
                                                "breakdown": client.last_breakdown}
            print(f"  {operation}: {results['operations'][operation]['platform_s']:.2f} s  {breakdown(client)}")
        for name, params in CHARTS.items():
            body = {k: v for k, v in params.items() if k != "operation"}
            results["operations"][name] = {"platform_s": round(client.operate(file_id, "chart", body), 3),
                                           "breakdown": client.last_breakdown}
            print(f"  {name}: {results['operations'][name]['platform_s']:.2f} s  {breakdown(client)}")
        # The same summary computed from the data, not from the profile saved at ingest: an operation on
        # the ingest task's result reads the dataset's file without its saved profile.
        computed = client.operate(ingest_task, "summary", OPERATIONS["summary"], source="task_id")
        results["operations"]["summary:computed"] = {"platform_s": round(computed, 3),
                                                     "breakdown": client.last_breakdown}
        print(f"  summary, computed: {computed:.2f} s  {breakdown(client)}")
        deep = max(1, args.rows // 100 - 1)
        pages = [client.page_ms(file_id, p) for p in (deep, deep // 2, 1, deep, deep // 2, deep)]
        results["rows_page_ms"] = {"deep_median": round(statistics.median(pages), 1), "max": round(max(pages), 1)}
        results["worker_peak_rss_mb"] = round(rss.stop() / 2**20)

        latencies = sorted(client.operate(tiny_id, "unique", {"column": "k"}) * 1000 for _ in range(args.tiny))
        results["tiny_task_ms"] = {
            "p50": round(statistics.median(latencies), 1),
            "p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
            "n": len(latencies),
        }
    finally:
        stack.stop()

    if not args.skip_baselines:
        out = args.workdir / "baseline-out.parquet"
        parquet = as_parquet(csv)
        results["duckdb_load_s"] = round(duckdb_load(csv), 3)
        results["ready_over_duckdb_load"] = round(results["upload_to_ready_s"] / results["duckdb_load_s"], 2)
        results["duckdb_to_parquet_s"] = round(duckdb_to_parquet(csv, out), 3)
        results["ingest_over_duckdb_to_parquet"] = round(results["accepted_to_ready_s"] / results["duckdb_to_parquet_s"], 2)
        peers = {"duckdb_parquet_s": lambda op: duckdb_on(parquet, op, out), "duckdb_csv_s": lambda op: duckdb_on(csv, op, out),
                 "polars_s": lambda op: polars_on_csv(csv, op, out), "pandas_s": lambda op: pandas_on_csv(csv, op, out)}
        for operation, entry in results["operations"].items():
            if operation == "summary:computed":
                entry.update({k: results["operations"]["summary"][k] for k in peers})
            else:
                entry.update({k: round(run(operation), 3) for k, run in peers.items()})
            entry["pandas_over_platform"] = round(entry["pandas_s"] / entry["platform_s"], 2)
            entry["polars_over_platform"] = round(entry["polars_s"] / entry["platform_s"], 2)
            entry["platform_minus_duckdb_parquet_ms"] = round((entry["platform_s"] - entry["duckdb_parquet_s"]) * 1000)
        out.unlink(missing_ok=True)
        out.with_suffix(".png").unlink(missing_ok=True)

    nan = float("nan")
    print()
    print(f"ravid benchmark: {args.rows:,} rows, {results['csv_mb']} MB CSV (seconds; goals: pandas/plat >= 5, "
          f"plat-duckdb(parquet) <= 60 ms, polars/plat > 1)")
    print(f"{'operation':<17} {'platform':>8} {'duckdb pq':>9} {'duckdb csv':>10} {'polars':>7} {'pandas':>7} "
          f"{'pandas/plat':>11} {'polars/plat':>11} {'plat-duckdb pq':>14}")
    for operation, e in results["operations"].items():
        gap = e.get("platform_minus_duckdb_parquet_ms")
        print(f"{operation:<17} {e['platform_s']:>8.2f} {e.get('duckdb_parquet_s', nan):>9.2f} "
              f"{e.get('duckdb_csv_s', nan):>10.2f} {e.get('polars_s', nan):>7.2f} {e.get('pandas_s', nan):>7.2f} "
              f"{e.get('pandas_over_platform', nan):>11.2f} {e.get('polars_over_platform', nan):>11.2f} "
              f"{'' if gap is None else f'{gap:+d} ms':>14}")
    print(f"upload to READY      {results['upload_to_ready_s']:.2f} s (accepted after {results['upload_accepted_s']:.2f} s); "
          f"the profile 'summary' reads saved {results['profile_after_ready_s']:.2f} s later (computed from the data "
          f"in 'summary:computed')")
    if "duckdb_load_s" in results:
        print(f"DuckDB CSV load      {results['duckdb_load_s']:.2f} s: upload to READY is "
              f"{results['ready_over_duckdb_load']:.2f}x (goal <= 2x)")
        print(f"DuckDB CSV->Parquet  {results['duckdb_to_parquet_s']:.2f} s (COPY): accepted to READY "
              f"({results['accepted_to_ready_s']:.2f} s) is "
              f"{results['ingest_over_duckdb_to_parquet']:.2f}x that")
    print(f"rows page (deep)     {results['rows_page_ms']['deep_median']} ms server time (max {results['rows_page_ms']['max']} ms)")
    print(f"worker peak RSS      {results['worker_peak_rss_mb']} MB")
    print(f"tiny task            p50 {results['tiny_task_ms']['p50']} ms, p99 {results['tiny_task_ms']['p99']} ms "
          f"(n={results['tiny_task_ms']['n']}, broker {os.environ.get('CELERY_BROKER_URL') or 'embedded Redis'})")
    target = args.workdir / f"results-{args.rows}.json"
    target.write_text(json.dumps(results, indent=2))
    print(f"written to {target}")


if __name__ == "__main__":
    main()
