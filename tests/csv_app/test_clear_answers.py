"""Answers a person can act on: unknown parameters refused, what is missing named, choices listed, date forms
given, shared tasks listed."""
import pytest

from tests.conftest import run_pending

pytestmark = pytest.mark.django_db
CSV = "id,day,team,score\n1,2024-12-30,a,3\n2,2024-12-31,b,5\n"


def submit(client, **body):
    return client.post("/api/perform-operation/", body, format="json")


@pytest.mark.parametrize("body,key,takes", [
    ({"operation": "dedup", "columns": ["team"], "keeps": "last"}, "keeps", "columns, keep"),
    ({"operation": "unique", "colum": "team"}, "colum", "column"),
    ({"operation": "summary", "column": "team"}, "column", "columns"),
])
def test_an_unknown_parameter_is_a_400_naming_it(client_a, ready_dataset, body, key, takes):
    r = submit(client_a, file_id=ready_dataset(CSV), **body)
    assert r.status_code == 400
    assert r.json()["error"] == f"Unknown parameter '{key}' for {body['operation']}; its parameters are: {takes}."
    assert list(r.json()["details"]) == [key]


def test_neither_file_id_nor_task_id_says_what_is_missing(client_a):
    r = submit(client_a, operation="unique", column="team")
    assert r.status_code == 400
    assert "Neither file_id nor task_id was given" in r.json()["error"]


@pytest.mark.parametrize("body,allowed", [
    ({"operation": "trend", "date": "day", "agg": "count", "freq": "week"}, "D, W, M, Q, Y"),
    ({"operation": "chart", "kind": "pie", "x": "team", "agg": "count"}, "line, bar, scatter, histogram"),
    ({"operation": "dedup", "keep": "middle"}, "first, last"),
])
def test_a_choice_error_names_the_allowed_values(client_a, ready_dataset, body, allowed):
    r = submit(client_a, file_id=ready_dataset(CSV), **body)
    assert r.status_code == 400 and f"is not a valid choice; use one of: {allowed}." in r.json()["error"]


def test_a_download_format_error_names_the_formats(client_a, ready_dataset, run_operation):
    task_id = run_operation(ready_dataset(CSV), "unique", column="team")["task_id"]
    r = client_a.get(f"/api/tasks/{task_id}/download/?format=xlsx")
    assert r.status_code == 400
    assert r.json()["error"] == "This result downloads as csv, json, parquet; not as xlsx."  # png is a chart's
    assert r.json()["details"] == {"format": ["use csv, json, parquet"]}


def test_a_date_that_does_not_parse_says_which_form_to_use(client_a, ready_dataset):
    file_id = ready_dataset(CSV)
    r = client_a.get(f"/api/datasets/{file_id}/rows?f=day,gte,12/30/2024")
    assert r.status_code == 400
    assert r.json()["error"] == ("Value '12/30/2024' is not a valid date for column 'day'. "
                                 "Write it as YYYY-MM-DD (ISO 8601), e.g. 2024-12-30.")


def test_tasks_shared_with_you_are_listed_with_their_owner_and_mine_keeps_yours(client_a, client_b, user, other_user,
                                                                               ready_dataset, run_operation):
    shared = run_operation(ready_dataset(CSV), "unique", column="team")["task_id"]
    assert client_a.post(f"/api/tasks/{shared}/share", {"user": other_user.email}, format="json").status_code == 201
    own = run_operation(ready_dataset(CSV, client=client_b), "unique", column="team", client=client_b)["task_id"]
    listed = {t["task_id"]: t["owner"] for t in client_b.get("/api/tasks/?operation=unique").json()["results"]}
    assert listed == {shared: user.username, own: other_user.username}
    mine = client_b.get("/api/tasks/?operation=unique&mine=true").json()["results"]
    assert [t["task_id"] for t in mine] == [own]


def test_a_summary_table_has_typed_columns(client_a, ready_dataset, run_operation):
    file_id = ready_dataset(CSV)
    body = run_operation(file_id, "summary")
    rows = {row["column"]: row for row in body["result"]["data"]}
    assert rows["score"]["mean"] == 4.0 and rows["score"]["min"] == 3.0 and rows["score"]["earliest"] is None
    assert rows["day"]["earliest"] == "2024-12-30" and rows["day"]["min"] is None
    saved = client_a.post(f"/api/tasks/{body['task_id']}/save-as-dataset", {"name": "profile"}, format="json").json()
    assert run_pending(saved["task_id"]) == "SUCCESS"
    types = {c["name"]: c["type"] for c in client_a.get(f"/api/datasets/{saved['file_id']}/").json()["columns"]}
    assert types["mean"] == types["p25"] == types["max"] == "float" and types["count"] == "integer"


def test_statistics_of_a_group_that_is_not_there_says_so(ready_dataset, run_operation):
    body = run_operation(ready_dataset(CSV), "statistics", group_by="team", columns=["score"], group="Team Z")
    assert body["status"] == "SUCCESS" and body["result"]["row_count"] == 0
    assert body["result"]["value"] == {"note": "No row has team = 'Team Z': that group is not in the data, so the "
                                               "result is empty."}


def test_sums_of_money_have_no_binary_noise_and_integer_statistics_stay_integers(ready_dataset, run_operation):
    values = [377.2, 3062.09, 0.1, 0.2, 86000.0, -315.45, 0.7, 1999.99] * 250
    text = "day,amount,qty\n" + "".join(f"2024-01-{1 + i % 28:02d},{v:.2f},{i % 90}\n" for i, v in enumerate(values))
    file_id = ready_dataset(text)
    trend = run_operation(file_id, "trend", date="day", value="amount", freq="Y", agg="sum")
    assert trend["result"]["data"][0]["value"] == 22781207.5  # exactly: 250 x 91124.83
    stats = run_operation(file_id, "statistics", group_by="day", columns=["qty"], group="2024-01-01")
    row = stats["result"]["data"][0]
    qty = [i % 90 for i in range(len(values)) if i % 28 == 0]
    assert (row["min"], row["max"]) == (min(qty), max(qty)) and isinstance(row["min"], int)
    assert isinstance(row["mode"], int) and isinstance(row["mean"], float)


def test_top_over_decimal_commas_in_a_semicolon_file(ready_dataset, run_operation):
    file_id = ready_dataset("shop;amount\nnorth;377,20\nsouth;12,50\nnorth;0,80\n")
    body = run_operation(file_id, "top", by="shop", value="amount", agg="sum")
    assert body["result"]["data"] == [{"shop": "north", "value": 378.0}, {"shop": "south", "value": 12.5}]


NAMED_LIKE_RESULTS = "value,count,column,x,d\n" + "".join(f"{i % 5},{i % 3},c{i % 2},{i * 1.5},2024-01-{1 + i % 28:02d}\n"
                                                         for i in range(60))


@pytest.mark.parametrize("body,field,name,written", [
    ({"operation": "top", "by": "value", "value": "x"}, "by", "value", "value"),
    ({"operation": "trend", "date": "d", "value": "x", "group_by": "value"}, "group_by", "value", "date, value"),
    ({"operation": "histogram", "column": "x", "group_by": "count"}, "group_by", "count", "bin_start, bin_end, count"),
    ({"operation": "statistics", "group_by": ["column"], "columns": ["x"]}, "group_by", "column",
     "column, count, mean, median, mode, min, max, std"),
    ({"operation": "correlation", "columns": ["count", "x"]}, None, None, None),
])
def test_a_column_named_like_one_the_result_writes_is_a_400_not_a_failed_task(client_a, ready_dataset, body, field,
                                                                               name, written):
    """Grouped by a column called `value` (a `unique` result has one), `top` used to fail inside the worker with an
    internal error, and a trend or histogram grouped so made a status that answered 500."""
    file_id = ready_dataset(NAMED_LIKE_RESULTS)
    r = submit(client_a, file_id=file_id, **body)
    if field is None:  # `count` is no column correlation writes: it runs
        assert r.status_code == 202, r.content
        assert run_pending(r.json()["task_id"]) == "SUCCESS"
        assert client_a.get(f"/api/tasks/{r.json()['task_id']}/?n=5").json()["result"]["columns"] == ["column", "count", "x"]
        return
    assert r.status_code == 400, r.content
    assert r.json()["details"] == {field: [
        f"'{name}' is also the name of a column {body['operation']} writes itself ({written}), and a result cannot "
        f"hold two columns of one name: choose another column."]}


def test_a_correlation_of_a_column_named_column_labels_its_rows_column_primed(client_a, ready_dataset, run_operation):
    """Its matrix's label column took the data column's place: the rows said 1.0 where they should name a column."""
    body = run_operation(ready_dataset("column,x\n1,2\n2,5\n3,7\n"), "correlation")
    assert body["status"] == "SUCCESS", body
    assert body["result"]["columns"] == ["column'", "column", "x"]
    assert [row["column'"] for row in body["result"]["data"]] == ["column", "x"]
    assert body["result"]["data"][0]["column"] == 1.0


def test_statistics_grouped_by_a_column_named_like_its_working_names_runs(ready_dataset, run_operation):
    body = run_operation(ready_dataset("mode_value,x\na,1\na,1\nb,2\n"), "statistics", group_by="mode_value",
                         columns=["x"])
    assert body["status"] == "SUCCESS", body
    assert [(r["mode_value"], r["mode"]) for r in body["result"]["data"]] == [("a", 1), ("b", 2)]


def test_a_404_names_what_was_asked_for_the_same_whether_missing_or_someone_elses(client_a, client_b, ready_dataset):
    mine = ready_dataset(CSV)
    missing = "5f0c4a52-9d1e-4a8e-9a63-1c2b3d4e5f60"
    for file_id in (mine, missing):
        r = submit(client_b, file_id=file_id, operation="unique", column="team")
        assert r.status_code == 404
        assert r.json() == {"error": f"No dataset '{file_id}' is yours or shared with you.", "code": "not_found",
                            "details": None}
    r = client_b.get("/api/tasks/not-a-uuid/")
    assert r.status_code == 404 and r.json()["error"] == "No task 'not-a-uuid' is yours or shared with you."
    r = client_a.delete(f"/api/datasets/{mine}/share/424242/")
    assert r.status_code == 404 and r.json()["error"] == "This dataset is not shared with user 424242."


def test_names_differing_only_in_case_clash_too_and_pivot_labels_keep_apart(client_a, ready_dataset, run_operation):
    """DuckDB tells column names apart regardless of case: `top` by `Value` made a result whose `value` column read
    back as `Value`'s numbers; a pivot's labels `A` and `a` (or a row column `r` beside a label `R`, or a label
    `__ravid_row`) were two names for one column."""
    file_id = ready_dataset("Value,g,v\n1,A,1\n2,a,2\n2,R,3\n3,__ravid_row,4\n")
    r = submit(client_a, file_id=file_id, operation="top", by="Value", value="v")
    assert r.status_code == 400 and r.json()["details"]["by"][0].startswith(
        "'Value' is also the name of a column top writes itself (value)")
    body = run_operation(file_id, "pivot", rows=["Value"], columns="g", value="v", agg="sum")
    assert body["status"] == "SUCCESS", body
    assert body["result"]["columns"] == ["Value", "A", "R", "__ravid_row'", "a'"]
    rows = client_a.get(f"/api/tasks/{body['task_id']}/rows").json()["items"]
    assert rows == [{"Value": 1, "A": 1.0, "R": None, "__ravid_row'": None, "a'": None},
                    {"Value": 2, "A": None, "R": 3.0, "__ravid_row'": None, "a'": 2.0},
                    {"Value": 3, "A": None, "R": None, "__ravid_row'": 4.0, "a'": None}]
