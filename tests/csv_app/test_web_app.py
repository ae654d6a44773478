"""The web app (/app/) with Django's test client: login, pages, the rows browser's URLs, operation forms, the
ownership rules (another user's object is a 404 page), and errors in the API's words."""
import io

import pytest
from django.test import Client
from django.utils.html import escape

from csv_app.models import Dataset, Task
from csv_app.services.profiles import dataset_profile
from tests.conftest import PASSWORD, run_pending, upload

pytestmark = pytest.mark.django_db
SALES = "day,country,amount\n2024-01-01,DE,10.5\n2024-01-02,FR,3\n2024-01-09,DE,7\n2024-02-01,IT,\n2024-02-03,DE,1\n"


@pytest.fixture
def web_a(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def web_b(other_user):
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def sales(ready_dataset):
    return ready_dataset(SALES, name="sales.csv")


def text(response) -> str:
    return response.content.decode()


def test_root_redirects_to_the_app_and_the_app_to_login(client):
    assert client.get("/")["Location"] == "/app/"
    response = client.get("/app/")
    assert response.status_code == 302 and response["Location"] == "/app/login/?next=/app/"


def test_register_log_in_and_out(client, user):
    response = client.post("/app/register/", {"email": "new@example.com", "password": "short"})
    assert response.status_code == 400
    assert "This password is too short" in text(response)
    response = client.post("/app/register/", {"email": "new@example.com", "password": "A-long-Passw0rd!"})
    assert response.status_code == 302 and response["Location"] == "/app/"
    assert "Upload a file" in text(client.get("/app/"))
    client.post("/app/logout/")
    assert client.get("/app/").status_code == 302
    bad = client.post("/app/login/", {"email": user.email, "password": "wrong"})
    assert bad.status_code == 400 and "do not match an account" in text(bad)
    good = client.post("/app/login/", {"email": user.email, "password": PASSWORD, "next": "/app/tasks/"})
    assert good.status_code == 302 and good["Location"] == "/app/tasks/"
    evil = client.post("/app/login/", {"email": user.email, "password": PASSWORD, "next": "https://evil.example/"})
    assert evil["Location"] == "/app/"


def test_forms_need_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/app/upload/", {"file": io.BytesIO(b"a\n1\n")})
    assert response.status_code == 403 and "CSRF" in text(response)
    assert "<html" in text(response)


def test_upload_then_the_dataset_page_shows_columns_profile_and_rows(web_a, user):
    handle = io.BytesIO(SALES.encode())
    handle.name = "sales.csv"
    response = web_a.post("/app/upload/", {"file": handle}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "reading it now" in text(response)
    dataset = Dataset.objects.get(owner=user)
    task = Task.objects.get(dataset=dataset)
    assert f"/app/tasks/{task.id}/progress/?since=" in text(response)
    pending = web_a.get(f"/app/datasets/{dataset.id}/")
    assert "PENDING" in text(pending) and "<progress" in text(pending)
    assert run_pending(task.id) == "SUCCESS"
    page = text(web_a.get(f"/app/datasets/{dataset.id}/"))
    assert "READY" in page and "5 rows" in page and "still being computed" in page  # the profile follows READY
    dataset_profile(dataset.id)  # the follow-up job a worker runs
    page = text(web_a.get(f"/app/datasets/{dataset.id}/"))
    for column in ("day", "country", "amount"):
        assert f'<th scope="row">{column}</th>' in page
    assert "DE (3)" in page and "still being computed" not in page  # the profile's top values
    assert page.count("<tr><td>") == 5  # every row in the browser


def test_upload_errors_are_the_apis_sentences(web_a, client_a):
    bad = b"\x00\x01\x02binary\xff\xfe" * 50
    refused = upload(client_a, bad, "blob.csv").json()
    [why] = refused["details"]["file"]
    assert why == "The file contains NUL bytes, so it is binary, not text."
    handle = io.BytesIO(bad)
    handle.name = "blob.csv"
    response = web_a.post("/app/upload/", {"file": handle}, HTTP_HX_REQUEST="true")
    assert f'<p class="error" role="alert">{escape(refused["error"])} {escape(why)}</p>' in text(response)
    empty = io.BytesIO(b"")
    empty.name = "empty.csv"
    response = web_a.post("/app/upload/", {"file": empty}, HTTP_HX_REQUEST="true")
    assert "Only CSV files are allowed. The file is empty.</p>" in text(response)
    assert not Dataset.objects.exists()
    response = web_a.post("/app/upload/", {}, HTTP_HX_REQUEST="true")
    assert "No file was chosen" in text(response)


def test_the_rows_browser_filters_sorts_and_picks_columns_in_a_shareable_url(web_a, sales, client_a):
    page = f"/app/datasets/{sales}/"
    added = web_a.get(page, {"add_column": "country", "add_operator": "eq", "add_value": "DE", "sort": "-amount"})
    assert added.status_code == 302 and added["Location"] == f"{page}?sort=-amount&f=country,eq,DE"
    body = text(web_a.get(added["Location"]))
    assert "3 rows" in body
    assert body.index("10.5") < body.index(">7.0<") < body.index(">1.0<")  # amount descending
    assert 'aria-sort="descending"' in body
    picked = web_a.get(page, {"pick": ["country", "amount"], "f": "country,eq,DE"})
    assert picked["Location"] == f"{page}?f=country,eq,DE&columns=country,amount"
    body = text(web_a.get(picked["Location"]))
    assert 'title="Sort by day"' not in body and 'title="Sort by amount"' in body and ">DE<" in body
    null = web_a.get(page, {"add_column": "amount", "add_operator": "is_null", "add_value": "ignored"})
    assert null["Location"] == f"{page}?f=amount,is_null"
    assert "1 row" in text(web_a.get(null["Location"]))
    bad = text(web_a.get(page, {"f": "amount,gt,lots"}))
    api = client_a.get(f"/api/datasets/{sales}/rows", {"f": "amount,gt,lots"}).json()["error"]
    assert f'<p class="error" role="alert">{escape(api)}</p>' in bad
    assert "Unknown query parameter &#x27;colour&#x27;." in text(web_a.get(page, {"colour": "red"}))


def test_operation_forms_come_from_the_operations_parameters(web_a, sales):
    form = text(web_a.get("/app/operation-form/", {"file_id": sales, "operation": "trend"}))
    assert 'name="date"' in form and "<option>day</option>" in form  # a column: the dataset's columns
    assert 'name="freq"' in form and "<option selected>M</option>" in form  # a choice, its default chosen
    filters = text(web_a.get("/app/operation-form/", {"file_id": sales, "operation": "filter"}))
    assert 'name="filters-0-column"' in filters and 'name="filters-2-value"' in filters


def test_running_an_operation_shows_progress_then_the_result(web_a, sales):
    response = web_a.post("/app/run/", {"file_id": sales, "operation": "trend", "date": "day", "value": "amount",
                                        "freq": "M", "agg": "sum"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    task = Task.objects.get(operation="trend")
    assert response["HX-Redirect"] == f"/app/tasks/{task.id}/"
    assert "<progress" in text(web_a.get(f"/app/tasks/{task.id}/"))
    run_pending(task.id)
    progress = web_a.get(f"/app/tasks/{task.id}/progress/", {"since": "x"})
    assert progress["HX-Refresh"] == "true"
    page = text(web_a.get(f"/app/tasks/{task.id}/"))
    assert "SUCCESS" in page and "Download CSV" in page and "<td>20.5</td>" in page  # January's sum


def test_an_invalid_operation_is_answered_in_the_apis_words(web_a, sales, client_a):
    response = web_a.post("/app/run/", {"file_id": sales, "operation": "trend", "date": "country"},
                          HTTP_HX_REQUEST="true")
    api = client_a.post("/api/perform-operation/", {"file_id": sales, "operation": "trend", "date": "country"},
                        format="json").json()["error"]
    assert response.status_code == 200 and escape(api) in text(response)


def test_filter_form_rows_become_the_filter_parameters(web_a, sales):
    # As a browser sends the form: every row's controls, the third row left alone (its column select still
    # holds a column, its operator and value are empty).
    response = web_a.post("/app/run/", {"file_id": sales, "operation": "filter", "match": "all",
                                        "filters-0-column": "country", "filters-0-operator": "eq",
                                        "filters-0-value": "DE", "filters-1-column": "amount",
                                        "filters-1-operator": "gt", "filters-1-value": "5",
                                        "filters-2-column": "day", "filters-2-operator": "", "filters-2-value": ""})
    task = Task.objects.get(operation="filter")
    assert response.status_code == 302
    assert task.parameters["filters"] == [{"column": "country", "operator": "eq", "value": "DE"},
                                          {"column": "amount", "operator": "gt", "value": 5}]
    run_pending(task.id)
    assert Task.objects.get(id=task.id).result_row_count == 2


def test_chart_page_shows_the_image_and_downloads_match_the_api(web_a, sales, client_a, run_operation):
    body = run_operation(sales, "chart", kind="bar", x="country", y="amount", agg="sum")
    page = text(web_a.get(f"/app/tasks/{body['task_id']}/"))
    assert f'src="/app/tasks/{body["task_id"]}/download/?format=png"' in page
    image = web_a.get(f"/app/tasks/{body['task_id']}/download/", {"format": "png"})
    assert image.status_code == 200 and b"".join(image.streaming_content).startswith(b"\x89PNG")
    dedup = run_operation(sales, "dedup", columns=["country"])
    ours = b"".join(web_a.get(f"/app/tasks/{dedup['task_id']}/download/", {"format": "csv"}).streaming_content)
    theirs = b"".join(client_a.get(f"/api/tasks/{dedup['task_id']}/download/?format=csv").streaming_content)
    assert ours == theirs and ours.count(b"\n") == 4
    wrong = web_a.get(f"/app/tasks/{dedup['task_id']}/download/", {"format": "png"})
    assert wrong.status_code == 400 and "downloads as csv, json, parquet; not as png" in text(wrong)


def test_another_users_objects_are_404_pages(web_b, sales, run_operation):
    task = run_operation(sales, "unique", column="country")
    for path in (f"/app/datasets/{sales}/", f"/app/tasks/{task['task_id']}/",
                 f"/app/tasks/{task['task_id']}/download/", f"/app/tasks/{task['task_id']}/progress/",
                 "/app/datasets/not-a-uuid/", "/app/nowhere/"):
        response = web_b.get(path)
        assert response.status_code == 404, path
        assert "<html" in text(response) and "not yours to see" in text(response)
    assert web_b.post(f"/app/tasks/{task['task_id']}/cancel/").status_code == 404
    assert task["task_id"] not in text(web_b.get("/app/tasks/"))


def test_sharing_from_the_page_lets_the_other_user_in(web_a, web_b, sales, other_user):
    response = web_a.post(f"/app/datasets/{sales}/share/", {"user": other_user.email}, follow=True)
    assert f"Shared with {other_user.username}" in text(response)
    assert web_b.get(f"/app/datasets/{sales}/").status_code == 200
    refused = web_b.post(f"/app/datasets/{sales}/share/", {"user": "someone"}, follow=True)
    assert "Only the owner of a dataset can do this." in text(refused)
    unknown = web_a.post(f"/app/datasets/{sales}/share/", {"user": "nobody-here"}, follow=True)
    assert 'class="error"' in text(unknown)
    page = text(web_a.get(f"/app/datasets/{sales}/"))
    assert f"Shared with <strong>{other_user.username}</strong>" in page
    assert f'name="remove" value="{other_user.id}"' in page
    assert "Shared with" not in text(web_b.get(f"/app/datasets/{sales}/"))  # the list is the owner's alone
    stolen = web_b.post(f"/app/datasets/{sales}/share/", {"remove": other_user.id}, follow=True)
    assert "Only the owner of a dataset can do this." in text(stolen)
    assert web_b.get(f"/app/datasets/{sales}/").status_code == 200
    removed = web_a.post(f"/app/datasets/{sales}/share/", {"remove": other_user.id}, follow=True)
    assert f"No longer shared with {other_user.username}." in text(removed)
    assert "Not shared with anyone." in text(removed)
    assert web_b.get(f"/app/datasets/{sales}/").status_code == 404
    again = web_a.post(f"/app/datasets/{sales}/share/", {"remove": "99999999999999999999"}, follow=True)
    assert "This dataset is not shared with that user." in text(again)


def test_task_list_filters_by_status(web_a, sales, run_operation):
    done = run_operation(sales, "unique", column="country")
    page = text(web_a.get("/app/tasks/", {"status": "SUCCESS"}))
    assert done["task_id"] in page
    assert done["task_id"] not in text(web_a.get("/app/tasks/", {"status": "FAILURE"}))


def test_cancel_and_save_as_dataset(web_a, sales, run_operation, client_a):
    response = client_a.post("/api/perform-operation/", {"file_id": sales, "operation": "unique", "column": "day"},
                             format="json")
    queued = response.json()["task_id"]
    web_a.post(f"/app/tasks/{queued}/cancel/")
    assert Task.objects.get(id=queued).status == "REVOKED"
    assert text(web_a.get(f"/app/tasks/{queued}/")).count("cancelled.") == 1  # said once, not twice
    done = run_operation(sales, "dedup", columns=["country"])
    saved = web_a.post(f"/app/tasks/{done['task_id']}/save/", {"name": "countries"})
    dataset = Dataset.objects.get(name="countries")
    assert saved["Location"] == f"/app/datasets/{dataset.id}/"


def test_a_fragment_asked_for_after_the_session_ended_sends_the_page_to_login(client, sales):
    task = Task.objects.get(dataset_id=sales)
    response = client.get(f"/app/tasks/{task.id}/progress/", HTTP_HX_REQUEST="true",
                          HTTP_HX_CURRENT_URL=f"http://testserver/app/datasets/{sales}/")
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/app/login/?next=/app/datasets/{sales}/"


def test_a_correlation_is_a_heat_mapped_matrix_and_a_summary_a_table(web_a, ready_dataset, run_operation):
    numbers = ready_dataset("a,b,c,d\n1,2,9,x\n2,4,7,y\n3,6,8,x\n4,8,1,x\n")
    body = run_operation(numbers, "correlation", columns=["a", "b", "c"])
    page = text(web_a.get(f"/app/tasks/{body['task_id']}/"))
    assert '<table class="matrix">' in page
    assert 'style="background-color: hsl(0 80% 52%)">1.0000</td>' in page  # a with b: perfectly correlated
    assert "hsl(220" in page  # a with c: negative, in blue
    summary = run_operation(numbers, "summary")
    page = text(web_a.get(f"/app/tasks/{summary['task_id']}/"))
    assert '<th scope="row">a</th>' in page and '<th scope="col">mean</th>' in page
    assert "<td>x (3), y (1)</td>" in page  # d's top values, read as in the profile, not as JSON
    assert "<td>1.29099</td>" in page  # a's std, 6 significant digits


def test_the_filter_form_offers_operators_and_requires_nothing_in_its_rows(web_a, sales):
    form = text(web_a.get("/app/operation-form/", {"file_id": sales, "operation": "filter"}))
    assert '<select id="op-filters-1-operator" name="filters-1-operator" >' in form
    assert "<option>not_contains</option>" in form and 'name="filters-0-column" required' not in form


def test_an_upload_past_the_limit_is_refused_in_words(web_a, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    handle = io.BytesIO(b"a,b\n" + b"1,2\n" * 400)
    handle.name = "big.csv"
    response = web_a.post("/app/upload/", {"file": handle}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "The upload is larger than the limit of 1000 bytes." in text(response)
    assert not Dataset.objects.exists()


def test_an_anonymous_upload_is_sent_to_login_unread(client):
    handle = io.BytesIO(b"a\n1\n")
    handle.name = "x.csv"
    response = client.post("/app/upload/", {"file": handle})
    assert response.status_code == 302 and response["Location"].startswith("/app/login/")
    assert not Dataset.objects.exists()


def test_registration_checks_what_the_api_checks(client):
    response = client.post("/app/register/", {"email": "not-an-email", "password": "A-long-Passw0rd!"})
    assert response.status_code == 400 and text(response).count("Enter a valid email address.") == 1
    response = client.post("/app/register/", {"email": "x@example.com", "username": "u" * 151,
                                              "password": "A-long-Passw0rd!"})
    assert response.status_code == 400 and "no more than 150 characters" in text(response)


def test_too_many_failed_logins_answer_with_the_login_page(client, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        response = client.post("/app/login/", {"email": user.email, "password": "wrong"})
    assert response.status_code == 429 and "<html" in text(response)
    assert "Too many failed login attempts; try again in" in text(response)


def test_an_unknown_operation_or_input_is_answered_in_the_form(web_a, sales, client_a):
    api = client_a.post("/api/perform-operation/", {"file_id": sales, "operation": "nope"}, format="json")
    response = web_a.post("/app/run/", {"file_id": sales, "operation": "nope"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and escape(api.json()["error"]) in text(response)
    response = web_a.post("/app/run/", {"operation": "unique"}, HTTP_HX_REQUEST="true")
    assert "Neither file_id nor task_id was given" in text(response)


def test_a_form_drawn_again_keeps_what_was_chosen(web_a, sales):
    response = web_a.post("/app/run/", {"file_id": sales, "operation": "trend", "date": "country", "freq": "W"},
                          HTTP_HX_REQUEST="true")
    assert "<option selected>W</option>" in text(response)


def test_no_view_reaches_another_users_objects(web_b, sales, run_operation):
    task = run_operation(sales, "dedup", columns=["country"])["task_id"]
    assert web_b.get("/app/operation-form/", {"file_id": sales, "operation": "unique"}).status_code == 404
    assert web_b.get("/app/operation-form/", {"task_id": task, "operation": "unique"}).status_code == 404
    assert web_b.post("/app/run/", {"file_id": sales, "operation": "unique", "column": "day"}).status_code == 404
    assert web_b.post("/app/run/", {"task_id": task, "operation": "unique", "column": "day"}).status_code == 404
    assert web_b.post(f"/app/tasks/{task}/save/", {"name": "mine"}).status_code == 404
    assert web_b.post(f"/app/tasks/{task}/share/", {"user": "x"}).status_code == 404
    assert Dataset.objects.count() == 1


def test_pages_without_a_slash_are_redirected_and_unknown_ones_are_404_pages(web_a):
    assert web_a.get("/app/tasks").status_code == 301
    missing = web_a.get("/app/nowhere/")
    assert missing.status_code == 404 and "not yours to see" in text(missing)
    assert web_a.get("/app/tasks/", {"status": "DONE"}).status_code == 400


def test_the_database_down_is_a_503_page_to_retry(web_a, monkeypatch):
    from django import db

    from csv_app.web import views

    def down(user):
        raise db.OperationalError(2003, "Can't connect to MySQL server on '10.0.0.9'")

    monkeypatch.setattr(views, "datasets_visible_to", down)  # the query a page makes, as the server drops
    web_a.raise_request_exception = False
    response = web_a.get("/app/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "The database is unavailable right now; try again shortly." in text(response)
    assert "10.0.0.9" not in text(response) and "MySQL" not in text(response)


def test_a_result_shared_from_its_page_can_be_unshared(web_a, web_b, sales, other_user, run_operation):
    task = run_operation(sales, "unique", column="country")["task_id"]
    assert web_b.get(f"/app/tasks/{task}/").status_code == 404
    shared = web_a.post(f"/app/tasks/{task}/share/", {"user": other_user.username}, follow=True)
    assert f"Shared with <strong>{other_user.username}</strong>" in text(shared)
    assert web_b.get(f"/app/tasks/{task}/").status_code == 200
    removed = web_a.post(f"/app/tasks/{task}/share/", {"remove": str(other_user.id)}, follow=True)
    assert f"No longer shared with {other_user.username}." in text(removed)
    assert web_b.get(f"/app/tasks/{task}/").status_code == 404
