"""The per-host cache of an object store's files: bounded, least recently read first, never what is in use."""
import os
import time

from csv_app.storage import Cache


def cached(root, rel, size, read_ago):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    when = time.time() - read_ago
    os.utime(path, (when, when))
    return path


def test_the_least_recently_read_go_first_until_the_bound_holds(tmp_path):
    old = cached(tmp_path, "uploads/a/data.parquet", 600, read_ago=300)
    newer = cached(tmp_path, "uploads/b/data.parquet", 600, read_ago=200)
    Cache(tmp_path, limit=1000, grace=60).trim()
    assert not old.exists() and not old.parent.exists()  # its emptied folder goes too
    assert newer.exists()


def test_a_file_read_within_the_grace_or_about_to_be_read_stays(tmp_path):
    recent = cached(tmp_path, "uploads/a/data.parquet", 600, read_ago=10)
    spared = cached(tmp_path, "uploads/b/data.parquet", 600, read_ago=500)
    Cache(tmp_path, limit=100, grace=60).trim(spare={spared})
    assert recent.exists() and spared.exists()


def test_a_file_a_job_holds_stays_and_a_selections_link_goes_with_its_table(tmp_path):
    table = cached(tmp_path, "uploads/a/data.parquet", 600, read_ago=500)
    source = tmp_path / "results/t/attempt-1/source.parquet"
    source.parent.mkdir(parents=True)
    os.link(table, source)  # a selection's source: the same file under the result's folder
    held = cached(tmp_path, "uploads/b/data.parquet", 600, read_ago=400)
    pins = tmp_path / "tmp" / "pins"
    pins.mkdir(parents=True)
    os.link(held, pins / "0-data.parquet")  # a running job's input
    Cache(tmp_path, limit=100, grace=0).trim()
    assert not table.exists() and not source.exists()  # one file, two names: counted once, evicted together
    assert held.exists()
