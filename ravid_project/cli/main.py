"""`ravid`: upload CSV files to a ravid server, query them, run operations and fetch the results.

It talks HTTP only (httpx), shows progress with rich (on stderr; stdout keeps the data) and learns of a job's
progress through the task long poll: GET /api/tasks/{id}/?wait=30&since=<revision> answers at the next change
(with &until=end, when no terminal shows the progress: at the job's end).

Exit codes: 0 success; 1 the job failed or was cancelled, or the server is unreachable or answered 5xx;
2 a usage error, or the server refused the request (4xx). Errors print the API's sentence."""
import base64
import fcntl
import json
import os
import re
import sys
import time
from email.message import Message
from importlib import metadata
from pathlib import Path

import click
import httpx
from rich import box
from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, ProgressColumn, SpinnerColumn, TaskProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn, TransferSpeedColumn)
from rich.table import Table
from rich.text import Text

DEFAULT_SERVER = "http://127.0.0.1:8000"
FINAL = ("SUCCESS", "FAILURE", "REVOKED")
WAIT_SECONDS = 30  # the long poll's wait; the server caps it at 60
CHUNK = 256 * 1024
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
EXPIRED = "Your session has expired: run `ravid login`."

# Piped output keeps whole lines (a table as wide as it needs) unless COLUMNS says otherwise.
out = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 1000, markup=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False)


def _version() -> str:
    try:
        return metadata.version("ravid")
    except metadata.PackageNotFoundError:  # run from a checkout that was not installed: read, never import
        text = (Path(__file__).resolve().parents[1] / "__init__.py").read_text()
        found = re.search(r"^__version__\s*=\s*[\"']([^\"']+)", text, re.M)
        return found.group(1) if found else "unknown"


VERSION = _version()


class CliError(click.ClickException):
    """A sentence for the person on stderr; exit code 1 (failed, unreachable, 5xx) or 2 (refused, 4xx)."""

    def __init__(self, message: str, exit_code: int = 2, details: dict | None = None, status: int | None = None):
        super().__init__(message)
        self.exit_code, self.details, self.status = exit_code, details, status  # status: the server's answer

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.message}", err=True)
        for field, why in (self.details or {}).items():
            why = "; ".join(map(str, why)) if isinstance(why, list) else json.dumps(why)
            if why and why not in self.message:
                click.echo(f"  {field}: {why}", err=True)


# -- configuration ------------------------------------------------------------------------------------------------

def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".config") / "ravid" / "config.json"


def load_config() -> dict:
    path = config_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CliError(f"Cannot read {path} ({exc}); delete it and run `ravid login`.") from None
    return data if isinstance(data, dict) else {}


def save_config(config: dict) -> None:
    """Written whole, then renamed into place: the folder 0700, the file 0600 from its first byte."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".config.{os.getpid()}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(config, handle, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def resolve_server(option: str | None, config: dict) -> str:
    server = (option or config.get("server") or DEFAULT_SERVER).rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise click.BadParameter(f"'{server}' must start with http:// or https://.", param_hint="--server/RAVID_URL")
    return server


# -- HTTP -------------------------------------------------------------------------------------------------------

def api_error(response: httpx.Response) -> CliError:
    """The envelope's sentence ({"error", "code", "details"}); 4xx exits 2, anything else 1."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        details = body.get("details")
        return CliError(body["error"], 2 if response.status_code < 500 else 1,
                        details if isinstance(details, dict) else None, response.status_code)
    return CliError(f"The server answered {response.status_code} {response.reason_phrase}.",
                    2 if response.status_code < 500 else 1, status=response.status_code)


def expires_soon(token: str, margin: float = 60) -> bool:
    """Whether a JWT's `exp` (read from its payload, not verified) is less than `margin` seconds away, or unreadable."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - time.time() < margin
    except (IndexError, KeyError, TypeError, ValueError):
        return True


class Client:
    """The server, the stored tokens, and requests that refresh an expired access token once and retry."""

    def __init__(self, server: str, config: dict):
        self.server, self.config = server, config
        self.http = httpx.Client(base_url=server, timeout=httpx.Timeout(60, connect=10),
                                 headers={"User-Agent": f"ravid-cli/{VERSION}"})

    def access(self) -> str:
        if not self.config.get("access") or not self.config.get("refresh"):
            raise CliError("You are not logged in: run `ravid login`.")
        if self.config.get("server", "").rstrip("/") != self.server:
            raise CliError(f"You are logged in to {self.config.get('server')}, not {self.server}: run `ravid login` "
                           f"(or `ravid --server {self.config.get('server')} …`).")
        return self.config["access"]

    def refresh(self) -> None:
        """New tokens. Refresh tokens rotate (the old one is blacklisted), so two `ravid` processes must never
        refresh with the same one: under an exclusive lock beside the config, the stored tokens are read again,
        and taken as they are when another process has refreshed (or logged in) meanwhile."""
        used, path = self.config["refresh"], config_path()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if self.adopt(used):
                return
            response = self._send(self.http.build_request("POST", "/api/token/refresh/", json={"refresh": used}))
            if response.status_code == 401:  # expired, or logged out: forget the tokens, unless they changed
                if self.adopt(used):
                    return
                for key in ("access", "refresh"):
                    self.config.pop(key, None)
                save_config(self.config)
                raise CliError(EXPIRED)
            if response.status_code != 200:  # throttled, refused, down: the tokens are kept
                error = api_error(response)
                error.message = f"Cannot renew your session: {error.message}"
                raise error
            tokens = response.json()
            self.config["access"] = tokens["access"]
            self.config["refresh"] = tokens.get("refresh") or used  # they rotate: keep the new one
            save_config(self.config)

    def adopt(self, used: str) -> bool:
        """Take the stored config when its refresh token is no longer `used` (another `ravid` changed it)."""
        stored = load_config()
        if stored.get("refresh") == used:
            return False
        self.config = stored
        self.access()  # not logged in (any more), or to another server: say so
        return True

    def _send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        try:
            return self.http.send(request, stream=stream)
        except httpx.TimeoutException:
            raise CliError(f"The server at {self.server} did not answer in time.", 1) from None
        except httpx.TransportError as exc:
            raise CliError(f"Cannot reach the ravid server at {self.server} ({exc}).", 1) from None

    def send(self, method: str, path: str, *, auth: bool = True, stream: bool = False, content=None, json=None,
             params=None, headers: dict | None = None, timeout=httpx.USE_CLIENT_DEFAULT) -> httpx.Response:
        """`content` and `json` may be callables, called for each attempt (a streamed body is sent again after
        a refresh; a body that carries a token takes the new one). A streamed body is never sent with an access
        token about to expire: it is refreshed first, rather than the whole body sent twice."""
        if auth and callable(content) and expires_soon(self.access()):
            self.refresh()
        for attempt in (1, 2):
            sent = dict(headers or {})
            if auth:
                sent["Authorization"] = f"Bearer {self.access()}"
            request = self.http.build_request(
                method, path, headers=sent, params=params, timeout=timeout,
                content=content() if callable(content) else content, json=json() if callable(json) else json)
            response = self._send(request, stream)
            if response.status_code == 401 and auth and attempt == 1:
                response.close()
                self.refresh()
                continue
            break
        if response.is_error:
            response.read()
            raise api_error(response)
        return response

    def json(self, method: str, path: str, **kwargs):
        response = self.send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise CliError(f"The server at {self.server} did not answer with JSON: is it a ravid server?", 1) from None

    def pages(self, path: str, params: dict | None = None, limit: int | None = None) -> list[dict]:
        """The `results` of a paginated list, page after page (up to `limit` items)."""
        items, page = [], 1
        while True:
            size = min(1000, limit - len(items)) if limit else 1000
            body = self.json("GET", path, params={**(params or {}), "page": page, "page_size": size})
            items += body["results"]
            if not body.get("next") or (limit and len(items) >= limit):
                return items
            page += 1

    def dataset_id(self, ref: str) -> str:
        """A dataset's id, given its id or its (unique) name."""
        if UUID.match(ref):
            return ref
        found = [d["id"] for d in self.pages("/api/datasets/") if d["name"] == ref]
        if len(found) != 1:
            raise CliError(f"No dataset is named '{ref}': `ravid datasets` lists yours." if not found else
                           f"{len(found)} datasets are named '{ref}': give the id of the one you mean.")
        return found[0]


# -- output -----------------------------------------------------------------------------------------------------

def dumps(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(round(value, 6))
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list, bool)) else str(value)


def plain_table() -> Table:
    """A table without borders or edge padding: a header rule, columns one space apart, so 80 columns go far."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)


def table(rows: list[dict], columns: list[str] | None = None, label: str | None = None, ids: bool = False) -> Table:
    """Rows of {column: value} as a table; `label` heads a first column of the keys of a dict of rows; with `ids`,
    the "id" column (UUIDs) is never cut."""
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    view = plain_table()
    if label is not None:
        view.add_column(label, style="bold")
    for name in columns:  # one line per row
        view.add_column(name, no_wrap=True, overflow="ellipsis", min_width=36 if ids and name == "id" else None)
    for row in rows:
        view.add_row(*[cell(row.get(c)) for c in columns])
    return view


def value_view(value):
    """A result's `value`: a matrix or a dict of records as a table, a flat dict as key/value, else JSON."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        columns = list(dict.fromkeys(k for v in value.values() for k in v))
        view = table([], columns, label="")
        for key, row in value.items():
            view.add_row(str(key), *[cell(row.get(c)) for c in columns])
        return view
    if isinstance(value, dict) and value and not any(isinstance(v, (dict, list)) for v in value.values()):
        view = table([], ["value"], label="")
        for key, item in value.items():
            view.add_row(str(key), cell(item))
        return view
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return table(value)
    return dumps(value)


def human_bytes(size) -> str:
    size = float(size or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000


def byte_bar() -> Progress:
    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=err)


class EtaColumn(ProgressColumn):
    """The server's estimate (eta_seconds), counted down between its answers."""

    def render(self, task) -> Text:
        eta, at = task.fields.get("eta"), task.fields.get("eta_at", 0.0)
        if task.fields.get("final"):
            return Text("")
        if eta is None:
            return Text("ETA -:--:--", style="progress.remaining")
        left = int(max(0.0, eta - (time.monotonic() - at)))
        return Text(f"ETA {left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}", style="progress.remaining")


def follow(client: Client, task_id: str, n: int = 0) -> dict:
    """Show the task's progress until it ends (a bar: stage, percent, ETA); its final body. Each question is a
    long poll: the server answers at the next change, or after WAIT_SECONDS."""
    path = f"/api/tasks/{task_id}/"
    body = client.json("GET", path, params={"n": n})
    wait = WAIT_SECONDS
    # No terminal shows the bar (a script, a pipe): ask to hear of the end only, one request per job.
    until = "change" if err.is_terminal else "end"
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
                   EtaColumn(), TimeElapsedColumn(), console=err)
    try:
        with bar:
            job = bar.add_task("", total=100, final=False)
            while True:
                progress = body.get("progress") or {}
                done = body["status"] == "SUCCESS"
                bar.update(job, description=f"{body.get('operation', 'task')}: {progress.get('stage') or body['status'].lower()}",
                           completed=100 if done else progress.get("percent") or 0,
                           eta=progress.get("eta_seconds"), eta_at=time.monotonic(), final=body["status"] in FINAL)
                if body["status"] in FINAL:
                    return body
                asked = time.monotonic()
                try:
                    question = {"n": n, "wait": wait, "since": body.get("revision", ""), "until": until}
                    latest = client.json("GET", path, params=question,
                                         timeout=httpx.Timeout(wait + 30, connect=10))
                except CliError as exc:
                    if "wait" not in (exc.details or {}) or wait <= 1:
                        raise
                    wait //= 2  # this server allows shorter waits only (TASK_WAIT_MAX_SECONDS)
                    continue
                if latest.get("revision") == body.get("revision") and time.monotonic() - asked < 0.5:
                    time.sleep(0.5)  # answered at once without a change (the server is busy): never busy-loop
                body = latest
    except KeyboardInterrupt:
        raise CliError(f"Stopped following task {task_id}; it goes on: `ravid status {task_id} --wait` follows it "
                       f"again, `ravid cancel {task_id}` stops it.", 130) from None


def ended_badly(body: dict) -> None:
    """Exit 1 with the sentence of a task that failed or was cancelled."""
    if body["status"] == "FAILURE":
        raise CliError(body.get("error") or "The job failed.", 1)
    if body["status"] == "REVOKED":
        raise CliError(f"Task {body['task_id']} was cancelled.", 1)


def finish(body: dict, n: int, as_json: bool) -> None:
    """Print a task: its body as JSON, or its result; exit 1 when it failed or was cancelled."""
    if as_json:
        click.echo(dumps(body))
    ended_badly(body)
    if as_json:
        return
    if body["status"] != "SUCCESS":
        progress = body.get("progress") or {}
        out.print(f"Task {body['task_id']} ({body.get('operation')}) is {body['status']}: "
                  f"{progress.get('stage', '')} {progress.get('percent', 0)}%.")
        return
    result = body.get("result") or {}
    data, columns, count = result.get("data") or [], result.get("columns") or [], result.get("row_count")
    if columns:
        out.print(table(data[:n], columns))
        shown = min(len(data), n)
        err.print(f"{count} rows" + (f" (the first {shown} shown; -n shows more)" if count and count > shown else "") + ".")
    if result.get("value") is not None and not columns:  # a table says it already
        out.print(value_view(result["value"]))
    link = result.get("file_link") or ""
    fmt = re.search(r"format=(\w+)", link)
    if link:
        err.print(f"Download: ravid download {body['task_id']}" + (f" --format {fmt.group(1)}" if fmt else "") + " -o FILE")


# -- commands ---------------------------------------------------------------------------------------------------

class Group(click.Group):
    def parse_args(self, ctx, args):
        """`--server URL` may come after the command too (`ravid datasets --server URL`): it is moved in front."""
        moved, rest, i = [], [], 0
        while i < len(args):
            if args[i] == "--":
                rest += args[i:]
                break
            if args[i] == "--server" and i + 1 < len(args):
                moved += args[i:i + 2]
                i += 2
                continue
            (moved if args[i].startswith("--server=") else rest).append(args[i])
            i += 1
        return super().parse_args(ctx, moved + rest)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except httpx.TransportError as exc:  # a connection lost while reading a streamed answer
            raise CliError(f"Lost the connection to the server ({exc}).", 1) from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--server", envvar="RAVID_URL", metavar="URL",
              help=f"The ravid server (also RAVID_URL; default: the one you logged in to, else {DEFAULT_SERVER}).")
@click.version_option(VERSION, prog_name="ravid")
@click.pass_context
def cli(ctx, server):
    """The ravid command line: upload CSV files, query them, run operations and fetch their results.

    --server may also come after the command (`ravid datasets --server URL`).

    Log in first (`ravid login`); the tokens are kept in $XDG_CONFIG_HOME/ravid/config.json (mode 0600) and
    refreshed automatically. Exit codes: 0 success, 1 the job failed (or the server is unreachable), 2 usage
    error or request refused."""
    config = load_config()
    ctx.obj = Client(resolve_server(server, config), config)
    ctx.call_on_close(ctx.obj.http.close)


def read_password(from_stdin: bool, confirm: bool = False) -> str:
    password = sys.stdin.readline().rstrip("\r\n") if from_stdin else click.prompt(
        "Password", hide_input=True, confirmation_prompt=confirm)
    if not password:
        raise click.UsageError("No password was given.")
    return password


@cli.command(short_help="Create an account on the server.")
@click.option("--email", prompt=True, help="Your email address.")
@click.option("--username", help="A username (default: the part of the email before @).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def register(client, email, username, password_stdin):
    """Create an account on the server."""
    body = {"email": email, "password": read_password(password_stdin, confirm=True)}
    if username:
        body["username"] = username
    client.json("POST", "/api/register/", auth=False, json=body)
    out.print(f"Registered {email}: now run `ravid login --email {email}`.")


@cli.command(short_help="Log in; the tokens are kept in the config file.")
@click.option("--email", help="Your email address (or username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (needs --email).")
@click.pass_obj
def login(client, email, password_stdin):
    """Log in and keep the tokens (and the server) in the config file."""
    if password_stdin and not email:
        raise click.UsageError("--password-stdin needs --email.")
    email = email or click.prompt("Email", default=client.config.get("email") or None)
    key = "email" if "@" in email else "username"
    tokens = client.json("POST", "/api/login/", auth=False, json={key: email, "password": read_password(password_stdin)})
    client.config.update(server=client.server, access=tokens["access"], refresh=tokens["refresh"], email=email)
    save_config(client.config)
    out.print(f"Logged in to {client.server} as {email}.")


@cli.command(short_help="End the session and forget the tokens.")
@click.pass_obj
def logout(client):
    """End the session on the server and forget the tokens."""
    if not client.config.get("refresh"):
        out.print("You are not logged in.")
        return
    try:
        client.send("POST", "/api/logout/", json=lambda: {"refresh": client.config["refresh"]})
    except CliError as exc:
        if exc.message != EXPIRED and exc.exit_code != 2:
            raise
    finally:
        for key in ("access", "refresh"):
            client.config.pop(key, None)
        save_config(client.config)
    out.print("Logged out.")


def columns_table(dataset: dict) -> Table:
    view = table([], ["column", "type"])
    for column in dataset.get("columns") or []:
        view.add_row(column["name"], column["type"])
    return view


@cli.command(short_help="Upload a CSV file, follow its ingest, show its columns.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="The dataset's name (default: the file's name).")
@click.option("--no-wait", is_flag=True, help="Return once uploaded, without following the ingest.")
@click.option("--json", "as_json", is_flag=True, help="Print the dataset as JSON on stdout.")
@click.pass_obj
def upload(client, file, name, no_wait, as_json):
    """Upload a CSV file (or a gzip/Zstandard/ZIP-compressed CSV, or Parquet), follow its ingest, show its columns.

    The file is streamed as the request body (the server recognises compressed and Parquet files by their
    first bytes)."""
    size = file.stat().st_size
    if size == 0:
        raise CliError(f"{file} is empty: there is nothing to upload.")
    with byte_bar() as bar:
        job = bar.add_task(f"uploading {file.name}", total=size)

        def chunks():
            bar.reset(job, total=size)
            with open(file, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk
                    bar.advance(job, len(chunk))

        created = client.json("POST", "/api/upload-csv/", params={"name": name or file.name}, content=chunks,
                              headers={"Content-Type": "text/csv", "Content-Length": str(size)},
                              timeout=httpx.Timeout(600, connect=10))
    dataset_id = created["file_id"]
    err.print(f"Uploaded {file.name} ({human_bytes(size)}) as dataset {dataset_id}.")
    if no_wait:
        click.echo(dumps(created["dataset"]) if as_json else dataset_id)
        return
    final = follow(client, created["task_id"])
    dataset = client.json("GET", f"/api/datasets/{dataset_id}/")
    if as_json:
        click.echo(dumps(dataset))
    if final["status"] != "SUCCESS":
        raise CliError(final.get("error") or dataset.get("error") or f"The ingest ended {final['status']}.", 1)
    if not as_json:
        out.print(columns_table(dataset))
        err.print(f"Dataset {dataset_id}: {dataset['row_count']} rows, {len(dataset['columns'])} columns.")


@cli.command(short_help="List datasets, or show one with its columns.")
@click.argument("dataset", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@click.pass_obj
def datasets(client, dataset, as_json):
    """List your datasets (and those shared with you), or show one DATASET (id or name) with its columns."""
    if dataset:
        body = client.json("GET", f"/api/datasets/{client.dataset_id(dataset)}/")
        if as_json:
            click.echo(dumps(body))
            return
        out.print(f"{body['name']}  {body['id']}  {body['status']}  {body['row_count'] or 0} rows  "
                  f"{human_bytes(body['size_bytes'])}  owner {body['owner']}")
        if body.get("error"):
            out.print(f"Error: {body['error']}")
        out.print(columns_table(body))
        return
    items = client.pages("/api/datasets/")
    if as_json:
        click.echo(dumps(items))
        return
    wide = out.width >= 110  # in 80 columns: the id whole, the name, what matters most
    view = table([], ["id", "name", "status", "rows"] + (["columns", "size", "created"] if wide else []), ids=True)
    for d in items:
        view.add_row(d["id"], d["name"], d["status"], cell(d["row_count"]), *([
            str(len(d["columns"])), human_bytes(d["size_bytes"]), (d["created_at"] or "")[:16].replace("T", " ")]
            if wide else []))
    out.print(view)
    err.print(f"{len(items)} datasets.")


@cli.command(short_help="Query a dataset's rows: filter, sort, page.")
@click.argument("dataset")
@click.option("-f", "--filter", "filters", multiple=True, metavar="COL,OP,VALUE",
              help="Keep rows where COL OP VALUE (ops eq ne gt gte lt lte contains in; in separates values with |). "
                   "Repeatable: all must hold.")
@click.option("-s", "--sort", "sorts", multiple=True, metavar="[-]COL", help="Sort by COL (-COL descending). "
              "Repeatable, or comma-separated.")
@click.option("-c", "--columns", metavar="A,B", help="Only these columns.")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Rows per page.")
@click.option("--page", default=1, show_default=True, type=click.IntRange(1), help="Which page.")
@click.option("--task", "of_task", is_flag=True, help="DATASET is a task: query its result's rows.")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON on stdout.")
@click.pass_obj
def rows(client, dataset, filters, sorts, columns, limit, page, of_task, as_json):
    """Query a dataset's rows (DATASET: id or name): filter, sort, choose columns, page."""
    params = [("f", f) for f in filters] + [("page", page), ("page_size", limit)]
    if sorts:
        params.append(("sort", ",".join(sorts)))
    if columns:
        params.append(("columns", columns))
    path = f"/api/tasks/{dataset}/rows" if of_task else f"/api/datasets/{client.dataset_id(dataset)}/rows"
    body = client.json("GET", path, params=params)
    if as_json:
        click.echo(dumps(body))
        return
    names = [c.strip() for c in columns.split(",")] if columns else None
    out.print(table(body["items"], names))
    first = (body["page"] - 1) * body["page_size"]
    err.print(f"Rows {first + 1 if body['items'] else first}–{first + len(body['items'])} of {body['total']} "
              f"(page {body['page']} of {max(body['pages'], 1)}).")


def catalogue(client: Client) -> list[dict]:
    return client.json("GET", "/api/operations/", auth=False)


def describe_parameters(schema: dict) -> str:
    described = []
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type", "JSON")
        kind = "|".join(k for k in kind if k != "null") if isinstance(kind, list) else kind
        if kind == "array":
            kind = f"{prop.get('items', {}).get('type', 'JSON')},…"
        text = f"{name}{'*' if name in schema.get('required', []) else ''}={'|'.join(map(str, prop['enum'])) if 'enum' in prop else kind}"
        described.append(text + (f" ({prop['default']})" if "default" in prop else ""))
    return " ".join(described) or "no parameters"


@cli.command(short_help="List the operations and their parameters.")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue (JSON Schema) on stdout.")
@click.pass_obj
def operations(client, as_json):
    """List the operations and their parameters (* required, default in brackets)."""
    entries = catalogue(client)
    if as_json:
        click.echo(dumps(entries))
        return
    view = plain_table()
    view.add_column("operation", no_wrap=True, style="bold")
    view.add_column("parameters", overflow="fold", ratio=3)
    view.add_column("summary", ratio=2)
    for entry in entries:
        view.add_row(entry["name"], describe_parameters(entry["parameters"]), entry["summary"])
    out.print(view)


def coerce(key: str, raw: str, prop: dict):
    """A KEY=VALUE argument as the operation's JSON Schema wants it: lists split on commas, numbers, booleans;
    a value in JSON ([…] or {…}) is taken as it is."""
    kinds = prop.get("type") or []
    kinds = kinds if isinstance(kinds, list) else [kinds]
    text = raw.strip()
    if kinds != ["string"] and text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except ValueError:
            raise click.UsageError(f"Parameter '{key}' is not valid JSON: {raw}") from None
    if "null" in kinds and text == "null":
        return None
    if "array" in kinds:
        return [coerce(key, part, prop.get("items") or {}) for part in raw.split(",") if part.strip()]
    try:
        if "integer" in kinds:
            return int(text)
        if "number" in kinds:
            return float(text)
    except ValueError:
        raise click.UsageError(f"Parameter '{key}' must be a number, not '{raw}'.") from None
    if "boolean" in kinds:
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise click.UsageError(f"Parameter '{key}' must be true or false, not '{raw}'.")
    if not kinds:  # any JSON value: a number or a list when it reads as one, else the text
        try:
            return json.loads(text)
        except ValueError:
            return raw
    return raw


class RunCommand(click.Command):
    """`ravid run --help` lists the server's operations after the options."""

    def format_epilog(self, ctx, formatter):
        super().format_epilog(ctx, formatter)
        root = ctx.find_root()
        server = (root.params.get("server") or load_config().get("server") or DEFAULT_SERVER).rstrip("/")
        try:
            entries = httpx.get(f"{server}/api/operations/", timeout=3).json()
            rows_ = [(e["name"], f"{e['summary']} {describe_parameters(e['parameters'])}") for e in entries]
        except (httpx.HTTPError, ValueError, TypeError, KeyError):
            formatter.write_paragraph()
            formatter.write_text(f"Operations: `ravid operations` lists them (the server at {server} did not answer).")
            return
        with formatter.section("Operations (KEY=VALUE parameters; * required)"):
            formatter.write_dl(rows_)


@cli.command(cls=RunCommand, short_help="Run an operation, follow it, print its result.")
@click.argument("args", nargs=-1, metavar="DATASET OPERATION [KEY=VALUE]...")
@click.option("--from-task", metavar="TASK", help="Read a finished task's result instead of a dataset (give no DATASET).")
@click.option("--fresh", is_flag=True, help="Compute again even when an identical request already succeeded.")
@click.option("-n", "--rows", "n", default=20, show_default=True, type=click.IntRange(0, 1000), help="Result rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the finished task's body as JSON on stdout.")
@click.option("--no-wait", is_flag=True, help="Print the task id and return without following the job.")
@click.pass_obj
def run(client, args, from_task, fresh, n, as_json, no_wait):
    """Run OPERATION on DATASET (id or name) with its parameters as KEY=VALUE (lists: a,b,c; JSON accepted),
    follow its progress and print the result.

    Example: ravid run sales.csv top by=country value=amount limit=5"""
    if from_task:
        if not args:
            raise click.UsageError("Give the OPERATION to run on the task's result.")
        source, (operation, *pairs) = {"task_id": from_task}, args
    else:
        if len(args) < 2:
            raise click.UsageError("Give a DATASET and an OPERATION (or --from-task TASK and an OPERATION).")
        source, operation, pairs = {"file_id": client.dataset_id(args[0])}, args[1], args[2:]
    if "=" in operation:
        raise click.UsageError(f"'{operation}' is not an operation name: give DATASET OPERATION, then KEY=VALUE.")
    schema = next((e["parameters"] for e in catalogue(client) if e["name"] == operation), {})
    params = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"Parameter '{pair}' must be KEY=VALUE (for example column=country).")
        if key in params:
            raise click.UsageError(f"Parameter '{key}' is given twice.")
        params[key] = coerce(key, raw, (schema.get("properties") or {}).get(key, {}))
    body = {**source, "operation": operation, **params, **({"fresh": True} if fresh else {})}
    submitted = client.json("POST", "/api/perform-operation/", json=body)
    task_id = submitted["task_id"]
    err.print(f"Task {task_id}" + (": the result of an identical request." if submitted.get("reused") else " queued."))
    if no_wait:
        click.echo(dumps(submitted) if as_json else task_id)
        return
    finish(follow(client, task_id, n), n, as_json)


@cli.command(short_help="Show a task's status, progress and result.")
@click.argument("task")
@click.option("--wait", is_flag=True, help="Follow the task until it ends.")
@click.option("-n", "--rows", "n", default=20, show_default=True, type=click.IntRange(0, 1000), help="Result rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the task's body as JSON on stdout.")
@click.pass_obj
def status(client, task, wait, n, as_json):
    """A task's status, progress and result (exit 1 when it failed or was cancelled)."""
    body = follow(client, task, n) if wait else client.json("GET", f"/api/tasks/{task}/", params={"n": n})
    if not as_json and body["status"] in ("SUCCESS", "FAILURE"):  # the others say their state in finish()
        ended = (body.get("finished_at") or "")[:19].replace("T", " ")
        err.print(f"Task {body['task_id']} ({body.get('operation')}) {body['status']}"
                  + (f", finished {ended}." if ended else "."))
    finish(body, n, as_json)


@cli.command(short_help="List your tasks.")
@click.option("--status", "state", type=click.Choice(["PENDING", "STARTED", "SUCCESS", "FAILURE", "REVOKED"],
                                                     case_sensitive=False), help="Only tasks in this state.")
@click.option("--operation", help="Only this operation's tasks.")
@click.option("--dataset", help="Only the tasks on this dataset (id or name).")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1), help="At most this many (newest first).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@click.pass_obj
def tasks(client, state, operation, dataset, limit, as_json):
    """List your tasks (and those shared with you)."""
    params = {k: v for k, v in {"status": state and state.upper(), "operation": operation,
                                "file_id": dataset and client.dataset_id(dataset)}.items() if v}
    items = client.pages("/api/tasks/", params, limit=limit)
    if as_json:
        click.echo(dumps(items))
        return
    wide = out.width >= 110  # in 80 columns: the id whole, a running task's percent by its status, no year
    view = table([], ["id", "operation", "status"] + (["progress"] if wide else []) + ["created"], ids=True)
    for t in items:
        progress = t.get("progress") or {}
        done = f"{progress.get('percent', 0):g}%"
        created = (t.get("created_at") or "")[:19].replace("T", " ")
        if wide:
            view.add_row(t["task_id"], t["operation"], t["status"], f"{progress.get('stage', '')} {done}", created)
        else:
            view.add_row(t["task_id"], t["operation"], t["status"] + (f" {done}" if t["status"] == "STARTED" else ""),
                         created[5:16])
    out.print(view)


def served_name(response: httpx.Response) -> str | None:
    header = Message()
    header["content-disposition"] = response.headers.get("content-disposition", "")
    name = header.get_filename()
    return Path(name).name if name else None  # never a path the server chose


@cli.command(short_help="Download a task's result file.")
@click.argument("task")
@click.option("-o", "--output", metavar="FILE", help="Where to write (default: the server's file name; - for stdout).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet", "png"]),
              help="The file's format (default: the result's own, CSV for tables).")
@click.pass_obj
def download(client, task, output, fmt):
    """Download a task's result file (exit 1 when the task failed or was cancelled)."""
    try:
        response = client.send("GET", f"/api/tasks/{task}/download/", params={"format": fmt} if fmt else None,
                               stream=True)
    except CliError as exc:
        if exc.status == 409:  # no result: a job that failed is exit 1, with its own sentence
            ended_badly(client.json("GET", f"/api/tasks/{task}/", params={"n": 0}))
        raise
    try:
        if output == "-":
            for chunk in response.iter_bytes(CHUNK):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        target = Path(output or served_name(response) or f"{task}.{fmt or 'csv'}")
        partial = target.with_name(f".{target.name}.part")
        total = int(response.headers.get("content-length") or 0) or None
        try:
            with byte_bar() as bar, open(partial, "wb") as handle:
                job = bar.add_task(f"downloading {target.name}", total=total)
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
                    bar.advance(job, len(chunk))
            partial.replace(target)
        except OSError as exc:
            raise CliError(f"Cannot write {target}: {exc.strerror or exc}.", 1) from None
        finally:
            partial.unlink(missing_ok=True)
        err.print(f"Saved {target} ({human_bytes(target.stat().st_size)}).")
    finally:
        response.close()


@cli.command(short_help="Cancel a queued or running task.")
@click.argument("task")
@click.option("--wait", is_flag=True, help="Follow the task until it has stopped.")
@click.pass_obj
def cancel(client, task, wait):
    """Cancel a queued or running task (a queued one never runs; a running one stops soon)."""
    body = client.json("POST", f"/api/tasks/{task}/cancel/")
    if wait and body["status"] not in FINAL:
        body = follow(client, task)
    stopped = body["status"] == "REVOKED"
    out.print(f"Task {task} " + ("cancelled." if stopped else f"is {body['status']}: it stops soon."))


def main() -> None:
    cli(prog_name="ravid")


if __name__ == "__main__":
    main()
