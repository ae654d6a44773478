"""Compressed uploads: gzip, Zstandard and a one-file ZIP, recognised by content, decompressed as they are stored;
a decompression bomb is a 413 at MAX_UPLOAD_BYTES of decompressed data, and nothing is kept."""
import gzip
import io
import zipfile

import pytest
import zstandard

from csv_app.models import Dataset
from tests.conftest import run_pending

pytestmark = pytest.mark.django_db
CSV = "city,score\n" + "".join(f"{c},{i}\n" for i, c in enumerate(["Paris", "Rome", "Oslo"] * 400))


def one_file_zip(name: str, data: bytes, extra: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
        for other, content in (extra or {}).items():
            archive.writestr(other, content)
    return buffer.getvalue()


def send(client, data: bytes, name: str):
    return client.post(f"/api/upload-csv/?name={name}", data=data, content_type="text/csv")


@pytest.mark.parametrize("name, packed", [
    ("sales.csv.gz", gzip.compress(CSV.encode())),
    ("sales.csv.zst", zstandard.ZstdCompressor().compress(CSV.encode())),
    ("sales.zip", one_file_zip("sales.csv", CSV.encode())),
    ("no-extension", gzip.compress(CSV.encode())),  # recognised by its bytes, not its name
], ids=["gzip", "zstd", "zip", "gzip-unnamed"])
def test_a_compressed_csv_is_decompressed_and_ingested(client_a, name, packed):
    r = send(client_a, packed, name)
    assert r.status_code == 201, r.content
    assert run_pending(r.json()["task_id"]) == "SUCCESS"
    dataset = client_a.get(f"/api/datasets/{r.json()['file_id']}/").json()
    assert dataset["status"] == "READY" and dataset["row_count"] == 1200 and dataset["size_bytes"] == len(CSV)
    assert dataset["name"] == ("sales.csv" if name.startswith("sales.csv") else name.replace(".zip", ""))
    rows = client_a.get(f"/api/datasets/{r.json()['file_id']}/rows?page_size=2").json()["items"]
    assert rows == [{"city": "Paris", "score": 0}, {"city": "Rome", "score": 1}]


def folders(settings) -> set:
    return set(settings.UPLOADS_DIR.iterdir())


def test_a_decompression_bomb_stops_at_the_limit_with_a_413_and_keeps_nothing(client_a, settings):
    before = folders(settings)
    settings.MAX_UPLOAD_BYTES = 1_000_000
    bomb = gzip.compress(b"a,b\n" + b"1,2\n" * 2_000_000)  # 8 MB of CSV in about 8 KB
    assert len(bomb) < 100_000
    r = send(client_a, bomb, "bomb.csv.gz")
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert r.json()["error"] == ("The upload decompresses to more than 1000000 bytes, the limit for an upload "
                                 "(MAX_UPLOAD_BYTES, counted decompressed).")
    assert Dataset.objects.count() == 0 and folders(settings) == before
    assert client_a.get("/api/me/").json()["storage_used_bytes"] == 0


def test_archives_that_are_not_one_csv_are_a_400_saying_why(client_a, settings):
    before = folders(settings)
    two = one_file_zip("a.csv", b"x\n1\n", {"b.csv": b"y\n2\n"})
    r = send(client_a, two, "two.zip")
    assert r.status_code == 400 and r.json()["error"] == "Invalid file format. Only CSV files are allowed."
    assert r.json()["details"]["file"][0].startswith("A ZIP upload must hold exactly one CSV file; this one holds 2")
    broken = gzip.compress(CSV.encode())[:200]
    r = send(client_a, broken, "cut.csv.gz")
    assert r.status_code == 400 and r.json()["error"] == "Invalid file format. Only CSV files are allowed."
    assert r.json()["details"]["file"] == ["The gzip archive could not be decompressed: it is damaged or incomplete."]
    picture = gzip.compress(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    r = send(client_a, picture, "picture.gz")
    assert r.status_code == 400 and r.json()["error"] == "Invalid file format. Only CSV files are allowed."
    assert Dataset.objects.count() == 0 and folders(settings) == before


def parquet_bytes(table) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_a_parquet_upload_is_checked_then_read_once_with_its_types(client_a):
    import datetime as dt
    import decimal

    import pyarrow as pa

    table = pa.table({
        "city": pa.array(["Paris", "Rome", None]).dictionary_encode(),
        "n": pa.array([1, 2, 3], pa.int32()),
        "price": pa.array([decimal.Decimal("1.50"), decimal.Decimal("2.25"), None], pa.decimal128(6, 2)),
        "day": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)]),
        "ok": pa.array([True, False, True]),
    })
    r = send(client_a, parquet_bytes(table), "prices.parquet")
    assert r.status_code == 201, r.content
    assert run_pending(r.json()["task_id"]) == "SUCCESS"
    dataset = client_a.get(f"/api/datasets/{r.json()['file_id']}/").json()
    assert dataset["row_count"] == 3 and {c["name"]: c["type"] for c in dataset["columns"]} == {
        "city": "string", "n": "integer", "price": "float", "day": "date", "ok": "boolean"}
    rows = client_a.get(f"/api/datasets/{r.json()['file_id']}/rows?sort=n").json()["items"]
    assert rows[0] == {"city": "Paris", "n": 1, "price": 1.5, "day": "2024-01-01", "ok": True}
    assert rows[2]["city"] is None and rows[2]["price"] is None


def test_a_parquet_upload_with_what_a_table_cannot_hold_is_a_400_naming_it(client_a, settings):
    import pyarrow as pa

    before = folders(settings)
    nested = pa.table({"id": [1, 2], "tags": pa.array([["a"], ["b", "c"]])})
    r = send(client_a, parquet_bytes(nested), "nested.parquet")
    assert r.status_code == 400
    assert r.json()["error"].startswith("Column 2 ('tags') is of the Parquet type list<element: string>; columns must be")
    empty = pa.table({"id": pa.array([], pa.int64())})
    assert send(client_a, parquet_bytes(empty), "empty.parquet").json()["error"] == "The Parquet file has no rows."
    damaged = parquet_bytes(pa.table({"id": [1]}))
    r = send(client_a, damaged[:4] + b"\x00" * 64 + damaged[-4:], "damaged.parquet")
    assert r.status_code == 400 and r.json()["details"]["file"] == [
        "The Parquet file could not be read: it is damaged or incomplete."]
    cased = pa.table({"Amount": [1, 2], "amount": [10.5, 20.5]})
    r = send(client_a, parquet_bytes(cased), "cased.parquet")
    assert r.status_code == 400 and r.json()["details"]["file"] == [
        "The column names 'Amount' and 'amount' (columns 1 and 2) differ only in letter case, and column names are "
        "told apart regardless of case: rename one."]
    assert Dataset.objects.count() == 0 and folders(settings) == before
