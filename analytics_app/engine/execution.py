"""Running engine work on a DuckDB connection while reporting progress and honouring cancellation."""
import threading
from collections.abc import Callable
from typing import Any

import duckdb

from .errors import Cancelled, OutOfMemory

# Called with (stage, percent); returning False asks the work to stop.
ProgressFn = Callable[[str, float], bool]


def no_progress(stage: str, percent: float) -> bool:
    return True


def run_with_progress(
    con: duckdb.DuckDBPyConnection,
    work: Callable[[duckdb.DuckDBPyConnection], Any],
    stage: str,
    on_progress: ProgressFn = no_progress,
    interval: float = 0.25,
) -> Any:
    """Run work(con) in a helper thread and poll DuckDB's progress; raise Cancelled if asked to stop.

    An exception raised in the calling thread while it waits (a time limit, say) interrupts
    the query and waits for the work to let go of the connection before it propagates, so no query outlives its
    task. The wait is on an Event, not Thread.join: a join interrupted by a signal's exception can mark the
    thread stopped while it still runs (CPython 3.11), and the connection would be closed under it.
    """
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def target():
        try:
            outcome["value"] = work(con)
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=target, name="ravid-engine", daemon=True)
    thread.start()
    cancelled = False
    try:
        if not on_progress(stage, 0.0):
            cancelled = True
            con.interrupt()
        while not finished.wait(interval):
            if cancelled:
                continue
            percent = con.query_progress()
            if not on_progress(stage, max(0.0, min(100.0, percent)) if percent >= 0 else -1.0):
                cancelled = True
                con.interrupt()
    except BaseException:
        con.interrupt()
        finished.wait()
        raise
    if cancelled:
        raise Cancelled()
    if "error" in outcome:
        if isinstance(outcome["error"], duckdb.OutOfMemoryException):
            # fetchall, not fetchone: DuckDB refuses a relation query (con.sql) on a connection whose last result
            # was not read to its end.
            limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
            raise OutOfMemory(limit) from outcome["error"]
        raise outcome["error"]
    return outcome.get("value")

