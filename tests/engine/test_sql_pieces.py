"""SQL pieces keep their values beside their text, whatever order they are put together in."""
import pytest

from analytics_app.engine.sql import Sql, quote_ident


def test_values_follow_their_placeholders_in_order(con):
    a, b = Sql.of("{} + {}", Sql.value(1), Sql.value(20)), Sql.of("{} * 10", Sql.value(300))
    query = Sql.of("SELECT {}, {}, {}", b, a, Sql.join(" || ", [Sql.value("x"), Sql.value("y")]))
    assert query.params == (300, 1, 20, "x", "y")
    assert con.execute(query.text, list(query.params)).fetchall() == [(3000, 21, "xy")]


def test_a_template_holds_no_value_and_one_part_per_slot():
    with pytest.raises(ValueError):
        Sql.of("SELECT ?", Sql.value(1))
    with pytest.raises(ValueError):
        Sql.of("SELECT {}, {}", Sql.value(1))


def test_identifiers_with_braces_and_question_marks_are_text_not_slots(con, ingest):
    name = 'odd {} name?'
    table, result = ingest(f'"{name}",n\nNA,1\n5,2\n12,3\n')  # a token among integers: read as text, checked
    assert result.columns == [{"name": name, "type": "integer"}, {"name": "n", "type": "integer"}]
    rows = con.execute(f"SELECT {quote_ident(name)} FROM read_parquet(?) ORDER BY n", [str(table.path)]).fetchall()
    assert rows == [(None,), (5,), (12,)]


def test_a_time_limit_arriving_while_work_runs_waits_for_the_work_to_let_go_of_the_connection():
    """Celery's soft time limit is an exception raised from a signal handler in the waiting thread. The work
    (here: Python between two queries, as Kendall's tau is) must have let go of the connection before it
    propagates, or closing the connection fails with "connection is busy"."""
    import signal
    import time

    from analytics_app.engine.execution import run_with_progress
    from analytics_app.engine.sql import session

    class TimeLimit(Exception):
        pass

    def expire(signum, frame):
        raise TimeLimit()

    done = []

    def work(con):
        time.sleep(0.6)  # not in a query: an interrupt cannot stop it
        con.execute("SELECT 1").fetchall()
        done.append(True)

    previous = signal.signal(signal.SIGALRM, expire)
    try:
        with pytest.raises(TimeLimit):
            with session() as con:  # its close() raised ResourceInUse when the wait was cut short
                signal.setitimer(signal.ITIMER_REAL, 0.2)
                run_with_progress(con, work, "computing")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert done == [True]
