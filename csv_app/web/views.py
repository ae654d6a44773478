"""The web app's pages. Each view reads through the same selectors (another user's object is a 404 page) and acts
through the same services as the API; an error is shown in the API's own sentence."""
import functools
import json
import math
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required as page_login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from analytics_app.engine.predicates import OPERATORS
from analytics_app.engine.types import NUMERIC, STRING, TEMPORAL
from analytics_app.registry import InvalidParameters, all_operations, dataset_jobs

from ..apis.accounts import RegisterApi
from ..apis.rows_query import rows_page
from ..apis.tasks import operation_request, result_file
from ..errors import api_exception_handler
from ..exceptions import DomainError, Forbidden, Invalid, NotFound
from ..models import Dataset, Task
from ..selectors import dataset_get_for_user, dataset_profile_saved, dataset_table, datasets_visible_to, task_get_for_user, task_result, \
    tasks_visible_to
from ..services.accounts import login_refusal, user_authenticate, user_register
from ..services.datasets import dataset_create, dataset_from_task, dataset_share, dataset_unshare
from ..services.tasks import task_cancel, task_share, task_submit, task_unshare
from ..services.waiting import BUSY, CHANGED, task_eta_seconds, task_percent, task_revision, task_wait
from ..uploads import SizeLimitUploadHandler, too_large
from .forms import operation_inputs, prefill, read_parameters

ROWS_KEYS = ("columns", "f", "sort", "page", "page_size")


def login_required(view):
    """A page needs a session: to the login page (and back) without one. A fragment htmx asks for (the progress
    block, an operation form) sends the whole page there instead of drawing the login form inside the page."""
    paged = page_login_required(view)

    def checked(request, *args, **kwargs):
        if request.htmx and not request.user.is_authenticated:
            response = HttpResponse(status=204)
            back = quote(request.htmx.current_url_abs_path or "/app/", safe="/")
            response["HX-Redirect"] = f"{reverse('app-login')}?next={back}"
            return response
        return paged(request, *args, **kwargs)

    return functools.wraps(view)(checked)
TEXT_OPERATORS = [op for op in OPERATORS if op not in ("gt", "gte", "lt", "lte", "between")]
ORDERED_OPERATORS = [op for op in OPERATORS if op not in ("contains", "not_contains", "startswith", "endswith")]
WAIT_SECONDS = 25


def sentence(exc, details: bool = False) -> str:
    """What the API would answer for this error, in its words; with `details`, followed by the envelope's
    details (an upload's "The file is empty." behind "Invalid file format...")."""
    body = api_exception_handler(exc, {}).data
    said = [body["error"]]
    pending = [body.get("details") or {}] if details else []
    while pending:
        item = pending.pop(0)
        for value in item.values() if isinstance(item, dict) else item:
            if isinstance(value, (dict, list)):
                pending.append(value)
            elif str(value) not in said:
                said.append(str(value))
    return " ".join(said)


KNOWN_ERRORS = (DomainError, InvalidParameters, APIException)


def _visible(getter, user, object_id):
    try:
        return getter(user, object_id)
    except NotFound:
        raise Http404 from None


def _app_path(request, target: str, default: str = "") -> str:
    """`target` when it is a page of this app on this host (never an open redirect), else `default`."""
    ok = target.startswith("/app/") and url_has_allowed_host_and_scheme(target, {request.get_host()})
    return target if ok else default


def _safe_next(request, default: str) -> str:
    return _app_path(request, request.POST.get("next") or request.GET.get("next") or "", default)


# Accounts ----------------------------------------------------------------------------------------------------------

def login_view(request):
    error, email = "", ""
    if request.method == "POST":
        email = request.POST.get("email", "").strip()
        refusal = login_refusal(request, email)
        if refusal:
            error = f"{refusal[0]}; try again in {refusal[1]} seconds."
        else:
            user = user_authenticate(request, identifier=email, password=request.POST.get("password", ""))
            if user is not None:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(_safe_next(request, reverse("app-home")))
            error = "The email (or username) and password do not match an account."
    return render(request, "app/login.html", {"error": error, "email": email, "next": _safe_next(request, "")},
                  status=400 if error else 200)


def register_view(request):
    errors, values = {}, {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in ("email", "username")}
        try:
            given = {**{k: v for k, v in values.items() if v}, "password": request.POST.get("password", "")}
            checked = RegisterApi.InputSerializer(data=given)
            checked.is_valid(raise_exception=True)
            user = user_register(email=checked.validated_data["email"], password=checked.validated_data["password"],
                                 username=checked.validated_data.get("username"))
        except KNOWN_ERRORS as exc:
            detail = getattr(exc, "detail", {})
            errors = {k: " ".join(map(str, v)) for k, v in detail.items()} if isinstance(detail, dict) else {}
            if not errors.keys() & {"email", "username", "password"}:  # else the fields say it, once
                errors["form"] = sentence(exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("app-home")
    return render(request, "app/register.html", {"errors": errors, "values": values}, status=400 if errors else 200)


@require_POST
def logout_view(request):
    logout(request)
    return redirect("app-login")


# Datasets ----------------------------------------------------------------------------------------------------------

@login_required
def home(request):
    page = Paginator(datasets_visible_to(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "app/home.html", {"page": page, "datasets": page.object_list,
                                             "max_upload": settings.MAX_UPLOAD_BYTES})


@csrf_exempt
@login_required
@require_POST
def upload(request):
    """The upload, read through the size limit: the handler is installed before the body is parsed, the body read
    (and a file past the limit refused) before the CSRF check reads the form, for a logged-in user only."""
    length = request.META.get("CONTENT_LENGTH", "")
    if length.isdigit() and int(length) > settings.MAX_UPLOAD_BYTES + 64 * 1024:
        return _upload_error(request, sentence(too_large()))
    request.upload_handlers.insert(0, SizeLimitUploadHandler(request))
    try:
        request.POST, request.FILES  # noqa: B018 - parsed here, through the size limit
    except KNOWN_ERRORS as exc:
        return _upload_error(request, sentence(exc, details=True))
    return _upload(request)


def _upload_error(request, message: str):
    if request.htmx:
        return render(request, "app/_upload_error.html", {"error": message})
    messages.error(request, message)
    return redirect("app-home")


@csrf_protect
def _upload(request):
    try:
        upload_file = request.FILES.get("file")
        if upload_file is None:
            return _upload_error(request, "No file was chosen: pick or drop a CSV file first.")
        dataset, task = dataset_create(owner=request.user, upload=upload_file, name=request.POST.get("name"))
    except KNOWN_ERRORS as exc:
        return _upload_error(request, sentence(exc, details=True))
    page = reverse("app-dataset", args=[dataset.id])
    if request.htmx:
        return render(request, "app/_upload_done.html", {"dataset": dataset, **progress_context(task, then=page)})
    return redirect(page)


def _profile(dataset: Dataset) -> dict:
    return (dataset_profile_saved(dataset) or {}).get("columns", {})


def _ingest_task(dataset: Dataset) -> Task | None:
    return dataset.tasks.filter(operation__in=dataset_jobs()).order_by("-created_at").first()


@login_required
def dataset_page(request, dataset_id):
    dataset = _visible(dataset_get_for_user, request.user, dataset_id)
    context = {"dataset": dataset, "is_owner": dataset.owner_id == request.user.id}
    if context["is_owner"]:
        context["shares"] = shares_of(dataset)
    if dataset.status == Dataset.Status.PENDING and (task := _ingest_task(dataset)) and task.owner_id == request.user.id:
        context.update(progress_context(task, then=request.get_full_path()))
    if dataset.status == Dataset.Status.READY:
        profile = _profile(dataset)
        context["columns"] = [{**c, "profile": profile.get(c["name"], {})} for c in dataset.columns]
        redirect_to = _normalized_rows_query(request)
        if redirect_to is not None:
            return redirect(redirect_to)
        context["browser"] = rows_browser(request, dataset_table(dataset), dataset.columns, dataset.row_count)
        context["operations"] = all_operations()
        context["recent_tasks"] = tasks_visible_to(request.user).filter(dataset=dataset).exclude(
            operation__in=dataset_jobs())[:10]
    return render(request, "app/dataset.html", context)


def _share(request, obj, kind: str, grant, revoke, page: str):
    """Share a dataset or a task with the user the form names, or stop sharing it with one (`remove`, a user id
    from the list of shares); only its owner may."""
    try:
        if obj.owner_id != request.user.id:
            raise Forbidden(f"Only the owner of a {kind} can do this.")
        if "remove" in request.POST:
            share = obj.shares.select_related("user").filter(user_id=_int(request.POST["remove"])).first()
            if share is None:
                raise Invalid(f"This {kind} is not shared with that user.")
            revoke(obj, share.user_id)
            messages.success(request, f"No longer shared with {share.user.username}.")
        else:
            share = grant(obj, request.POST.get("user", "").strip())
            messages.success(request, f"Shared with {share.user.username}.")
    except KNOWN_ERRORS as exc:
        messages.error(request, sentence(exc))
    return redirect(page, obj.id)


def _int(text: str) -> int:
    return int(text) if text.isdigit() and len(text) < 19 else -1


def shares_of(obj) -> list:
    return list(obj.shares.select_related("user").order_by("created_at"))


@login_required
@require_POST
def dataset_share_view(request, dataset_id):
    dataset = _visible(dataset_get_for_user, request.user, dataset_id)
    return _share(request, dataset, "dataset", lambda d, who: dataset_share(dataset=d, user_identifier=who),
                  lambda d, user_id: dataset_unshare(dataset=d, user_id=user_id), "app-dataset")


# The rows browser --------------------------------------------------------------------------------------------------

def _normalized_rows_query(request) -> str | None:
    """The forms of the browser send friendlier fields (a filter's column, operator and value; the picked columns);
    they become the rows query's own parameters in the URL, so that every view of a table has a URL to share."""
    get = request.GET
    if not any(k in get for k in ("add_column", "pick", "pick_all")):
        return None
    query = QueryDict(mutable=True)
    for key in ROWS_KEYS:
        if key in get and key not in ("page",):
            query.setlist(key, get.getlist(key))
    if get.get("add_column") and get.get("add_operator"):
        condition = f"{get['add_column']},{get['add_operator']}"
        if get["add_operator"] not in ("is_null", "not_null"):
            condition += f",{get.get('add_value', '')}"
        query.appendlist("f", condition)
    if "pick" in get or "pick_all" in get:
        query.pop("columns", None)
        if "pick_all" not in get and get.getlist("pick"):
            query["columns"] = ",".join(get.getlist("pick"))
    return f"{request.path}?{query.urlencode(safe=',')}" if query else request.path


def _with(request, **changes) -> str:
    query = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        elif isinstance(value, list):
            query.setlist(key, value)
        else:
            query[key] = value
    query.pop("page", None) if "page" not in changes else None
    text = query.urlencode(safe=",")
    return f"{request.path}?{text}" if text else request.path


def rows_browser(request, table, schema: list[dict], total) -> dict:
    """A page of the rows query (the URL's own parameters), with what the table needs to draw its controls."""
    names = [c["name"] for c in schema]
    types = {c["name"]: c["type"] for c in schema}
    query = {k: v for k, v in request.GET.lists() if k in ROWS_KEYS}
    error, page = "", None
    try:
        page = rows_page(Request(request), table, schema, total)
    except KNOWN_ERRORS as exc:
        error = sentence(exc)
    sort = [s for s in request.GET.get("sort", "").split(",") if s]
    shown = [c for c in request.GET.get("columns", "").split(",") if c] or names
    headers = []
    for name in shown:
        current = "asc" if name in sort else "desc" if f"-{name}" in sort else ""
        headers.append({"name": name, "type": types.get(name, ""), "sorted": current,
                        "link": _with(request, sort=f"-{name}" if current == "asc" else name)})
    filters = request.GET.getlist("f")
    chips = [{"text": f, "remove": _with(request, f=[g for g in filters if g != f])} for f in filters]
    operators = {name: ORDERED_OPERATORS if types[name] in NUMERIC + TEMPORAL else
                 TEXT_OPERATORS if types[name] == STRING else ["eq", "ne", "in", "not_in", "is_null", "not_null"]
                 for name in names}
    context = {"error": error, "headers": headers, "names": names, "shown": shown, "chips": chips,
               "operators_json": json.dumps(operators), "all_operators": OPERATORS, "sort": sort,
               "query": query, "rows": [], "page": None}
    if page:
        context.update(rows=[[row.get(name) for name in shown] for row in page["items"]], page=page,
                       next=_with(request, page=str(page["page"] + 1)) if page["next"] else None,
                       previous=_with(request, page=str(page["page"] - 1)) if page["previous"] else None)
    return context


# Operations and tasks ----------------------------------------------------------------------------------------------

def _source(request, dataset_id=None, task_id=None):
    """(dataset, source task) an operation reads: a dataset, or a task's table result."""
    if task_id:
        task = _visible(task_get_for_user, request.user, task_id)
        return task.dataset, task
    return _visible(dataset_get_for_user, request.user, dataset_id), None


@login_required
def operation_form(request):
    dataset, source = _source(request, request.GET.get("file_id"), request.GET.get("task_id"))
    operation = all_operations().get(request.GET.get("operation", ""))
    if operation is None:
        return HttpResponse("")
    columns = [c["name"] for c in (source.result_columns if source else dataset.columns)]
    return render(request, "app/_operation_form.html", {
        "operation": operation, "inputs": operation_inputs(operation, columns), "dataset": dataset, "source": source})


@login_required
@require_POST
def run_operation(request):
    """The operation form, submitted: read as the API reads a request (the same sentences), its parameters from
    the form's controls. Errors are drawn into the form."""
    head = {k: request.POST[k] for k in ("file_id", "task_id", "operation") if request.POST.get(k)}
    try:
        req = operation_request(request.user, head)
    except NotFound:
        raise Http404 from None
    except KNOWN_ERRORS as exc:
        return render(request, "app/_upload_error.html", {"error": sentence(exc)})
    operation = all_operations()[req.operation]
    source = req.source_task
    columns = [c["name"] for c in (source.result_columns if source else req.dataset.columns)]
    inputs = operation_inputs(operation, columns)
    params = read_parameters(inputs, request.POST)
    try:
        task, _ = task_submit(user=request.user, dataset=req.dataset, operation=operation.name, params=params,
                              source_task=source, fresh="fresh" in request.POST)
    except KNOWN_ERRORS as exc:
        context = {"operation": operation, "inputs": prefill(inputs, request.POST), "dataset": req.dataset,
                   "source": source, "error": sentence(exc)}
        return render(request, "app/_operation_form.html", context)
    page = reverse("app-task", args=[task.id])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = page
        return response
    return redirect(page)


def progress_context(task: Task, then: str = "", busy: bool = False) -> dict:
    return {"task": task, "percent": task_percent(task), "eta": task_eta_seconds(task), "revision": task_revision(task),
            "then": then, "busy": busy}


@login_required
def task_progress(request, task_id):
    """The progress block, answered when the task changes (a long poll), so that htmx can ask again at once. A task
    that ended sends the browser on to `then` (or reloads the page) to show the outcome."""
    task = _visible(task_get_for_user, request.user, task_id)
    since = request.GET.get("since", "")[:64]
    outcome = task_wait(task, WAIT_SECONDS, since) if since else CHANGED
    if outcome == CHANGED:
        task = _visible(task_get_for_user, request.user, task_id)
    then = _app_path(request, request.GET.get("then", ""))
    response = render(request, "app/_progress.html", progress_context(task, then, busy=outcome == BUSY))
    if task.is_finished:
        if then:
            response["HX-Redirect"] = then
        else:
            response["HX-Refresh"] = "true"
    return response


def _value_view(value) -> dict:
    """How to draw a result's value: a square matrix of numbers (correlation) heat-mapped, other {name: {...}}
    values (a summary, statistics) as a table, anything else as JSON."""
    records = isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values())
    if records and all(set(v) == set(value) and all(x is None or isinstance(x, (int, float)) for x in v.values())
                       for v in value.values()):
        names = list(value)
        return {"kind": "matrix", "names": names,
                "cells": [[name, [(value[name][other], _heat(value[name][other])) for other in names]]
                          for name in names]}
    if records:
        keys = list(dict.fromkeys(k for v in value.values() for k in v))
        return {"kind": "records", "keys": keys, "rows": [[name, [_short(v.get(k)) for k in keys]]
                                                          for name, v in value.items()]}
    return {"kind": "json", "text": json.dumps(value, indent=2, default=str)}


def _short(cell):
    """A cell as a reader wants it: a float to 6 significant digits, a list of counted values as "DE (3), FR (2)",
    other lists and mappings as short text."""
    if isinstance(cell, float):
        if cell == 0 or not math.isfinite(cell):
            return str(cell)
        digits = math.floor(math.log10(abs(cell))) + 1  # before the point; no exponent for sums in the millions
        if not -4 < digits <= 15:
            return f"{cell:.6g}"
        return f"{cell:.{max(0, 6 - digits)}f}".rstrip("0").rstrip(".") if digits < 6 else f"{cell:.0f}"
    if isinstance(cell, list):
        if all(isinstance(x, dict) and set(x) == {"value", "count"} for x in cell):
            return ", ".join(f"{_short(x['value'])} ({x['count']})" for x in cell)
        return ", ".join(str(_short(x)) for x in cell)
    if isinstance(cell, dict):
        return ", ".join(f"{k}: {_short(v)}" for k, v in cell.items())
    return cell


def _heat(x) -> str:
    """A background for a coefficient in [-1, 1]: blue for negative, red for positive, stronger further from 0."""
    if not isinstance(x, (int, float)):
        return ""
    strength = min(abs(x), 1.0)
    hue = 0 if x >= 0 else 220
    return f"background-color: hsl({hue} 80% {97 - 45 * strength:.0f}%)"


@login_required
def task_page(request, task_id):
    task = _visible(task_get_for_user, request.user, task_id)
    context = {"task": task, "is_owner": task.owner_id == request.user.id,
               "parameters": json.dumps(task.parameters, indent=2, default=str)}
    if context["is_owner"]:
        context["shares"] = shares_of(task)
    if not task.is_finished:
        context.update(progress_context(task))
    result = task_result(task) if task.status == Task.Status.SUCCESS else None
    if result is not None:
        context.update(result=result, formats=result.formats)
        if result.value is not None:
            context["value"] = _value_view(result.value)
        table = result.table()
        if table is not None and table.exists():
            redirect_to = _normalized_rows_query(request)
            if redirect_to is not None:
                return redirect(redirect_to)
            context["browser"] = rows_browser(request, table, task.result_columns, task.result_row_count)
            context["operations"] = all_operations()
    return render(request, "app/task.html", context)


@login_required
def task_list(request):
    status = request.GET.get("status", "")
    tasks = tasks_visible_to(request.user)
    if status and status not in Task.Status.values:
        return render(request, "app/error.html", {"message": f"Unknown status '{status}'. Use one of: "
                                                             f"{', '.join(Task.Status.values)}."}, status=400)
    if status:
        tasks = tasks.filter(status=status)
    if file_id := request.GET.get("file_id"):
        dataset = _visible(dataset_get_for_user, request.user, file_id)
        tasks = tasks.filter(dataset=dataset)
    page = Paginator(tasks, 50).get_page(request.GET.get("page"))
    return render(request, "app/tasks.html", {"page": page, "status": status, "statuses": Task.Status.values,
                                              "file_id": request.GET.get("file_id", "")})


@login_required
def task_download(request, task_id):
    task = _visible(task_get_for_user, request.user, task_id)
    try:
        return result_file(task, request.GET.get("format") or None)
    except KNOWN_ERRORS as exc:
        return render(request, "app/error.html", {"message": sentence(exc)}, status=exc.status_code
                      if hasattr(exc, "status_code") else 400)


@login_required
@require_POST
def task_cancel_view(request, task_id):
    task = _visible(task_get_for_user, request.user, task_id)
    try:
        if task.owner_id != request.user.id:
            raise Forbidden("Only the owner of a task can do this.")
        task_cancel(task)
    except KNOWN_ERRORS as exc:
        messages.error(request, sentence(exc))
    return redirect("app-task", task.id)


@login_required
@require_POST
def task_save(request, task_id):
    task = _visible(task_get_for_user, request.user, task_id)
    try:
        dataset, _ = dataset_from_task(task=task, owner=request.user, name=request.POST.get("name"))
    except KNOWN_ERRORS as exc:
        messages.error(request, sentence(exc))
        return redirect("app-task", task.id)
    return redirect("app-dataset", dataset.id)


@login_required
@require_POST
def task_share_view(request, task_id):
    task = _visible(task_get_for_user, request.user, task_id)
    return _share(request, task, "task", lambda t, who: task_share(task=t, user_identifier=who),
                  lambda t, user_id: task_unshare(task=t, user_id=user_id), "app-task")
