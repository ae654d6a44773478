"""Uploading, ingesting, listing, previewing, querying, sharing and deleting datasets through the API."""
import pytest
from django.conf import settings

from csv_app.models import Dataset, Task
from tests.conftest import run_pending, upload

pytestmark = pytest.mark.django_db
INVALID = "Invalid file format. Only CSV files are allowed."
SAMPLE = "zip,name,amount,day\n08123,\"Smith, John\",1.5,2024-01-02\n00001,Ann,2,2024-01-03\n"


def test_upload_ingests_to_a_typed_ready_dataset(client_a):
    r = upload(client_a, SAMPLE, "people.csv")
    assert r.status_code == 201
    body = r.json()
    assert body["message"] == "File uploaded successfully"
    assert body["dataset"]["status"] == "PENDING" and body["dataset"]["name"] == "people.csv"
    assert body["file_id"] == body["dataset"]["id"]
    assert run_pending(body["task_id"]) == "SUCCESS"
    ds = client_a.get(f"/api/datasets/{body['file_id']}/").json()
    assert ds["status"] == "READY" and ds["row_count"] == 2 and ds["error"] == ""
    assert ds["columns"] == [
        {"name": "zip", "type": "string"}, {"name": "name", "type": "string"},
        {"name": "amount", "type": "float"}, {"name": "day", "type": "date"},
    ]
    preview = client_a.get(f"/api/datasets/{body['file_id']}/preview?n=1").json()
    assert preview == {"id": body["file_id"], "columns": ["zip", "name", "amount", "day"],
                       "rows": [{"zip": "08123", "name": "Smith, John", "amount": 1.5, "day": "2024-01-02"}]}


def test_raw_text_csv_body_upload(client_a):
    r = client_a.generic("POST", "/api/upload-csv/?name=raw.csv", "a;b\n1;2\n", content_type="text/csv")
    assert r.status_code == 201, r.content
    assert r.json()["dataset"]["name"] == "raw.csv"
    assert run_pending(r.json()["task_id"]) == "SUCCESS"
    assert Dataset.objects.get(id=r.json()["file_id"]).columns == [{"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}]
    empty = client_a.generic("POST", "/api/upload-csv/?name=empty.csv", b"", content_type="text/csv")
    assert empty.status_code == 400
    assert empty.json()["error"] == "The request body is empty: the file has no bytes to upload."
    assert empty.json()["details"] == {"file": ["The file is empty."]}
    assert not Dataset.objects.filter(name="empty.csv").exists()


@pytest.mark.parametrize(
    "raw,reason,not_csv",
    [
        (b"", "The file is empty.", True),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "The file is a PNG image, not a CSV text file.", True),
        (b"PK\x03\x04\x14\x00\x06\x00", "The zip archive could not be decompressed: it is damaged or incomplete.", True),
        (b"a,b\n1,\x00\x00\n", "The file contains NUL bytes, so it is binary, not text.", True),
        (b"a,b\n", "The file has a header row but no data rows.", False),
        (b"a,a\n1,2\n", "The column name 'a' appears twice (columns 1 and 2).", False),
        # DuckDB tells column names apart regardless of ASCII case: such a file failed its ingest with "could not be
        # read as CSV"; as Parquet it was READY with one column's values read from the other.
        (b"Amount,b,amount\n1,2,3\n", "The column names 'Amount' and 'amount' (columns 1 and 3) differ only in "
                                     "letter case, and column names are told apart regardless of case: rename one.", False),
        (b"a,__RAVID_ROW\n1,2\n", "The column name '__RAVID_ROW' is reserved (names starting with '__ravid_' are).",
         False),
        (b"a,__ravid_odd_0\n1,2\n", "The column name '__ravid_odd_0' is reserved (names starting with '__ravid_' are).",
         False),
    ],
)
def test_unusable_uploads_are_400_with_the_reason(client_a, raw, reason, not_csv):
    """A file that is not CSV text at all leads with the contract's sentence; a CSV's own problem is the error."""
    r = upload(client_a, raw, "evil.csv")
    assert r.status_code == 400
    assert r.json()["error"] == (INVALID if not_csv else reason)
    assert r.json()["details"]["file"] == [reason]
    assert not Dataset.objects.exists()


def test_no_file_is_400(client_a):
    r = client_a.post("/api/upload-csv/", {}, format="multipart")
    assert r.status_code == 400 and "file" in r.json()["details"]


def test_upload_over_the_limit_is_413(client_a, settings):
    settings.MAX_UPLOAD_BYTES = 100
    r = upload(client_a, "a,b\n" + "1,2\n" * 100)
    assert r.status_code == 413
    assert r.json()["code"] == "too_large"
    r = client_a.generic("POST", "/api/upload-csv/", "a,b\n" + "1,2\n" * 100, content_type="text/csv")
    assert r.status_code == 413
    assert not Dataset.objects.exists()


def test_path_in_the_filename_is_dropped(client_a):
    r = upload(client_a, SAMPLE, "../../etc/passwd.csv")
    assert r.status_code == 201
    assert r.json()["dataset"]["name"] == "passwd.csv"


def test_ingest_failure_sets_failed_with_the_reason(client_a, settings):
    big = "a,b\n" + "1,2\n" * 70_000 + "1,2,3\n"
    r = upload(client_a, big)
    assert r.status_code == 201
    assert run_pending(r.json()["task_id"]) == "FAILURE"
    ds = client_a.get(f"/api/datasets/{r.json()['file_id']}/").json()
    assert ds["status"] == "FAILED"
    assert "Line 70002 has 3 fields but the header has 2." in ds["error"]
    task = client_a.get(f"/api/tasks/{r.json()['task_id']}/").json()
    assert task["status"] == "FAILURE" and "Line 70002" in task["error"] and "result" not in task
    assert client_a.get(f"/api/datasets/{r.json()['file_id']}/preview").status_code == 409


def test_list_shows_own_and_shared_only(client_a, client_b, ready_dataset, other_user):
    mine = ready_dataset(SAMPLE)
    theirs = ready_dataset(SAMPLE, client=client_b)
    ids = [d["id"] for d in client_a.get("/api/datasets/").json()["results"]]
    assert ids == [mine]
    body = client_b.get("/api/datasets/").json()
    assert body["count"] == 1 and body["results"][0]["id"] == theirs
    assert set(body) == {"count", "next", "previous", "results"}


def test_other_users_datasets_are_404_everywhere(client_a, client_b, ready_dataset):
    theirs = ready_dataset(SAMPLE, client=client_b)
    for method, url, body in [
        ("get", f"/api/datasets/{theirs}/", None),
        ("get", f"/api/datasets/{theirs}/preview", None),
        ("get", f"/api/datasets/{theirs}/rows", None),
        ("delete", f"/api/datasets/{theirs}/", None),
        ("post", f"/api/datasets/{theirs}/share", {"user": "x@example.com"}),
        ("post", "/api/perform-operation/", {"file_id": theirs, "operation": "unique", "column": "zip"}),
    ]:
        r = getattr(client_a, method)(url, body, format="json")
        assert r.status_code == 404, (method, url, r.content)
        assert r.json()["code"] == "not_found"
    assert client_a.get("/api/datasets/not-a-uuid/").status_code == 404


@pytest.mark.parametrize("n", ["0", "1001", "x"])
def test_preview_n_out_of_range_is_400(client_a, ready_dataset, n):
    file_id = ready_dataset(SAMPLE)
    r = client_a.get(f"/api/datasets/{file_id}/preview?n={n}")
    assert r.status_code == 400 and "n" in r.json()["details"]


def test_rows_query(client_a, ready_dataset):
    text = "id,team,score\n" + "\n".join(f"{i},{'AB'[i % 2]},{i * 10}" for i in range(1, 101)) + "\n"
    file_id = ready_dataset(text)
    r = client_a.get(f"/api/datasets/{file_id}/rows?columns=id,score&f=team,eq,B&f=score,gte,500&sort=-score&page=2&page_size=5")
    assert r.status_code == 200
    body = r.json()
    assert (body["page"], body["page_size"], body["total"], body["pages"]) == (2, 5, 25, 5)
    assert body["items"] == [{"id": i, "score": i * 10} for i in (89, 87, 85, 83, 81)]
    r = client_a.get(f"/api/datasets/{file_id}/rows?f=team,in,A|B&page=20&page_size=5")
    assert [row["id"] for row in r.json()["items"]] == [96, 97, 98, 99, 100]


@pytest.mark.parametrize(
    "query,field,text",
    [
        ("columns=id,nope", "columns", "Unknown column 'nope'. Columns are: id, team."),
        ("f=nope,eq,1", "f", "Unknown column 'nope'. Columns are: id, team."),
        ("f=id,like,1", "f", "Unknown operator 'like'"),
        ("f=id,gt,abc", "value", "Value 'abc' is not a valid integer for column 'id'."),
        ("sort=-nope", "sort", "Unknown sort column 'nope'. Columns are: id, team."),
        ("page=0", "page", None),
        ("page_size=1001", "page_size", None),
        ("colums=id", "colums", "Unknown query parameter 'colums'."),
    ],
)
def test_bad_rows_queries_are_400_naming_the_problem(client_a, ready_dataset, query, field, text):
    file_id = ready_dataset("id,team\n1,A\n")
    r = client_a.get(f"/api/datasets/{file_id}/rows?{query}")
    assert r.status_code == 400
    assert field in r.json()["details"]
    if text:
        assert r.json()["error"].startswith(text), r.json()["error"]


def test_delete_removes_rows_and_files(client_a, ready_dataset, run_operation):
    file_id = ready_dataset(SAMPLE)
    task = run_operation(file_id, "dedup")
    folder = settings.UPLOADS_DIR / file_id
    result_folder = settings.RESULTS_DIR / task["task_id"]
    assert folder.exists() and result_folder.exists()
    assert client_a.delete(f"/api/datasets/{file_id}/").status_code == 204
    assert not folder.exists() and not result_folder.exists()
    assert not Task.objects.filter(dataset_id=file_id).exists()
    assert client_a.get(f"/api/datasets/{file_id}/").status_code == 404


def test_share_and_revoke(client_a, client_b, other_user, ready_dataset, run_operation):
    file_id = ready_dataset(SAMPLE)
    r = client_a.post(f"/api/datasets/{file_id}/share", {"user": other_user.email}, format="json")
    assert r.status_code == 201
    assert [d["id"] for d in client_b.get("/api/datasets/").json()["results"]] == [file_id]
    assert client_b.get(f"/api/datasets/{file_id}/preview").status_code == 200
    done = run_operation(file_id, "unique", client=client_b, column="name")
    assert done["status"] == "SUCCESS"
    assert client_b.delete(f"/api/datasets/{file_id}/").status_code == 403
    assert client_b.post(f"/api/datasets/{file_id}/share", {"user": "x"}, format="json").status_code == 403
    assert client_a.post(f"/api/datasets/{file_id}/share", {"user": "ghost@example.com"}, format="json").status_code == 404
    assert client_a.delete(f"/api/datasets/{file_id}/share/{other_user.id}/").status_code == 204
    assert client_b.get(f"/api/datasets/{file_id}/").status_code == 404



def test_a_revoked_dataset_leaves_only_what_was_derived_from_a_result_still_shared(client_a, client_b, other_user,
                                                                                    ready_dataset, run_operation):
    """Shared a dataset and a filtered part of it, then the dataset taken back: the grantee keeps the part and what
    they chained on it (at any depth), not what they computed over the whole dataset (a `unique` of every row stayed
    readable, and chainable, for as long as any result of that dataset was shared with them)."""
    file_id = ready_dataset("city,amount\nOslo,1\nRome,2\nOslo,3\nLima,4\n")
    assert client_a.post(f"/api/datasets/{file_id}/share", {"user": other_user.email}, format="json").status_code == 201
    part = run_operation(file_id, "filter", filters=[{"column": "city", "operator": "eq", "value": "Oslo"}])
    assert client_a.post(f"/api/tasks/{part['task_id']}/share", {"user": other_user.email}, format="json").status_code == 201

    def chain(source: str, **body) -> str:
        r = client_b.post("/api/perform-operation/", {"task_id": source, **body}, format="json")
        assert r.status_code == 202, r.content
        assert run_pending(r.json()["task_id"]) == "SUCCESS"
        return r.json()["task_id"]

    whole = run_operation(file_id, "unique", client=client_b, column="city")["task_id"]
    on_whole = chain(whole, operation="top", by="count", agg="count")
    on_part = chain(part["task_id"], operation="unique", column="amount")
    on_on_part = chain(on_part, operation="top", by="count", agg="count")

    def readable() -> set[str]:
        listed = {t["task_id"] for t in client_b.get("/api/tasks/?page_size=100").json()["results"]}
        answered = {t for t in (part["task_id"], whole, on_whole, on_part, on_on_part)
                    if client_b.get(f"/api/tasks/{t}/?n=5").status_code == 200}
        assert listed == answered
        return answered

    assert readable() == {part["task_id"], whole, on_whole, on_part, on_on_part}
    assert client_a.delete(f"/api/datasets/{file_id}/share/{other_user.id}/").status_code == 204
    assert readable() == {part["task_id"], on_part, on_on_part}
    assert client_b.get(f"/api/tasks/{whole}/rows").status_code == 404
    assert client_b.post("/api/perform-operation/", {"task_id": whole, "operation": "unique", "column": "value"},
                         format="json").status_code == 404
    assert client_a.delete(f"/api/tasks/{part['task_id']}/share/{other_user.id}/").status_code == 204
    assert readable() == set()

def test_a_10_mb_single_field_round_trips(client_a, ready_dataset):
    big = "x" * (10 * 1024 * 1024)
    file_id = ready_dataset(f'id,blob\n1,"{big}"\n2,small\n')
    rows = client_a.get(f"/api/datasets/{file_id}/rows?columns=blob&f=id,eq,1").json()["items"]
    assert len(rows[0]["blob"]) == 10 * 1024 * 1024


def test_20000_columns_are_refused_with_the_limit(client_a):
    header = ",".join(f"c{i}" for i in range(20000))
    r = upload(client_a, header + "\n" + ",".join("1" for _ in range(20000)) + "\n")
    assert r.status_code == 400
    assert r.json()["details"]["file"] == [f"The file has 20000 columns; at most {settings.MAX_COLUMNS} are allowed."]


def test_a_file_of_300_columns_ingests_with_its_types(client_a, ready_dataset):
    """Each integer column's check held a constant list of null tokens in DuckDB's memory: 200 columns passed a
    job's memory bound even for a file of two rows ("The job needed more memory than one job may use")."""
    header = ",".join(f"c{i}" for i in range(300))
    rows = [",".join(str(i) for i in range(300)),
            ",".join("NA" if i == 7 else f"{i}.5" if i == 9 else str(i) for i in range(300))]
    file_id = ready_dataset(header + "\n" + "\n".join(rows) + "\n")
    body = client_a.get(f"/api/datasets/{file_id}/").json()
    assert body["status"] == "READY" and body["row_count"] == 2
    types = {c["name"]: c["type"] for c in body["columns"]}
    assert types["c0"] == types["c7"] == types["c299"] == "integer" and types["c9"] == "float"
    first, second = client_a.get(f"/api/datasets/{file_id}/rows?columns=c7,c9,c299").json()["items"]
    assert first == {"c7": 7, "c9": 9.0, "c299": 299} and second == {"c7": None, "c9": 9.5, "c299": 299}
