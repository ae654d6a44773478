"""The `ravid` command line against the live server and a real worker, run as a person runs it (a subprocess):
login, upload, datasets, rows, run, download, cancel, token refresh, logout, and its exit codes."""
import base64
import json
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pandas as pd
import pytest
import requests

from ravid_project.cli import main as cli
from tests.integration.conftest import ROOT, Api

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "Integration-Passw0rd!"  # the conftest's Api registers its users with this one
SALES = """id,country,amount,city
1,DE,10.5,Berlin
2,FR,7,Paris
3,DE,99,Munich
4,US,42,Boston
5,DE,3.25,Hamburg
2,FR,7,Paris
6,FR,12,Lyon
7,DE,1,Berlin
"""


class Ravid:
    """The CLI as a subprocess, with its own config folder, talking to the live server."""

    def __init__(self, url: str, home: Path):
        self.home = home
        self.env = {**os.environ, "RAVID_URL": url, "XDG_CONFIG_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200",
                    "PYTHONPATH": str(ROOT)}

    def command(self, args) -> list[str]:
        return [sys.executable, "-m", "ravid_project.cli", *map(str, args)]

    def __call__(self, *args, stdin: str | None = None, cwd: Path | None = None, **env) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(args), input=stdin, cwd=cwd or self.home, env={**self.env, **env},
                              capture_output=True, text=True, timeout=120)

    def start(self, *args) -> subprocess.Popen:
        return subprocess.Popen(self.command(args), cwd=self.home, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    @property
    def config_file(self) -> Path:
        return self.home / "ravid" / "config.json"

    def config(self) -> dict:
        return json.loads(self.config_file.read_text())

    def write_config(self, **changes) -> None:
        self.config_file.write_text(json.dumps({**self.config(), **changes}))


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    return done


def login(ravid: Ravid, email: str) -> None:
    done = ok(ravid("login", "--email", email, "--password-stdin", stdin=PASSWORD + "\n"))
    assert f"as {email}" in done.stdout


def test_upload_query_run_download_cancel_refresh_logout(start_worker, live_server, tmp_path):
    worker = start_worker()
    email = f"cli-{uuid.uuid4().hex[:6]}@example.com"
    api = Api(live_server.url, email)
    ravid = Ravid(live_server.url, tmp_path)

    login(ravid, email)
    assert stat.S_IMODE(ravid.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(ravid.config_file.parent.stat().st_mode) == 0o700
    config = ravid.config()
    assert config["server"] == live_server.url and config["email"] == email and config["access"] and config["refresh"]

    sales = tmp_path / "sales.csv"
    sales.write_text(SALES)
    done = ok(ravid("upload", sales))
    assert [line.split() for line in done.stdout.splitlines()[2:]] == [
        ["id", "integer"], ["country", "string"], ["amount", "float"], ["city", "string"]]
    assert "8 rows, 4 columns" in done.stderr
    [dataset] = api.get("/api/datasets/").json()["results"]
    assert dataset["status"] == "READY" and dataset["name"] == "sales.csv" and dataset["row_count"] == 8
    ds = dataset["id"]

    listing = ok(ravid("datasets")).stdout
    assert ds in listing and "sales.csv" in listing and "READY" in listing
    assert [d["id"] for d in json.loads(ok(ravid("datasets", "--json")).stdout)] == [ds]

    page = json.loads(ok(ravid("rows", ds, "--filter", "country,eq,DE", "--sort", "-amount", "--json")).stdout)
    assert page["items"] == [{"id": 3, "country": "DE", "amount": 99.0, "city": "Munich"},
                             {"id": 1, "country": "DE", "amount": 10.5, "city": "Berlin"},
                             {"id": 5, "country": "DE", "amount": 3.25, "city": "Hamburg"},
                             {"id": 7, "country": "DE", "amount": 1.0, "city": "Berlin"}]
    page = json.loads(ok(ravid("rows", "sales.csv", "-f", "amount,gte,7", "-f", "country,ne,US", "-s", "country,-id",
                               "--columns", "id,country", "-n", "2", "--page", "2", "--json")).stdout)
    assert page["total"] == 5 and page["items"] == [{"id": 6, "country": "FR"}, {"id": 2, "country": "FR"}]
    table = ok(ravid("rows", ds, "--sort", "id", "-n", "3")).stdout.splitlines()
    assert table[2].split() == ["1", "DE", "10.5", "Berlin"] and len(table) == 5

    # A run: progress on stderr, only the task's JSON on stdout; a list parameter split on commas.
    done = ok(ravid("run", ds, "unique", "column=country", "--json"))
    body = json.loads(done.stdout)
    assert body["status"] == "SUCCESS" and body["operation"] == "unique"
    assert body["result"]["data"] == [{"value": "DE", "count": 4}, {"value": "FR", "count": 3},
                                      {"value": "US", "count": 1}]
    frame = pd.read_csv(sales)
    body = json.loads(ok(ravid("run", ds, "dedup", "columns=country,city", "keep=last", "--json")).stdout)
    assert body["parameters"]["columns"] == ["country", "city"]
    assert [row["id"] for row in body["result"]["data"]] == \
        frame.drop_duplicates(subset=["country", "city"], keep="last")["id"].tolist()
    dedup = body["task_id"]
    done = ok(ravid("run", ds, "top", "by=country", "value=amount", "limit=2"))
    assert [line.split() for line in done.stdout.splitlines()[2:]] == [["DE", "113.75"], ["US", "42.0"]]
    assert "2 rows." in done.stderr and f"ravid download {done.stderr.split()[1]}" in done.stderr

    # Refused: the API's own sentence, exit 2; a bad command line, exit 2 before asking anything.
    refused = api.post("/api/perform-operation/", json={"file_id": ds, "operation": "unique", "column": "nope"})
    assert refused.status_code == 400
    done = ravid("run", ds, "unique", "column=nope")
    assert done.returncode == 2 and f"Error: {refused.json()['error']}" in done.stderr and done.stdout == ""
    for args, why in [((), "Give a DATASET and an OPERATION"), ((ds, "unique", "column"), "must be KEY=VALUE"),
                      ((ds, "top", "by=country", "limit=ten"), "'limit' must be a number")]:
        done = ravid("run", *args)
        assert done.returncode == 2 and why in done.stderr, (args, done.stderr)
    assert ravid("rows", ds, "--limit", "0").returncode == 2
    done = ravid("rows", ds, "--filter", "nope,eq,1")
    assert done.returncode == 2 and "Error: Unknown column 'nope'." in done.stderr

    # Download: the same bytes as the API's; without -o, the server's file name in the current folder.
    expected = api.get(f"/api/tasks/{dedup}/download/").content
    ok(ravid("download", dedup, "-o", tmp_path / "out.csv"))
    assert (tmp_path / "out.csv").read_bytes() == expected
    folder = tmp_path / "here"
    folder.mkdir()
    ok(ravid("download", dedup, "--format", "json", cwd=folder))
    [saved] = folder.iterdir()
    assert saved.name == f"dedup-{dedup[:8]}.json"
    assert json.loads(saved.read_text()) == api.get(f"/api/tasks/{dedup}/download/?format=json").json()

    # A chart downloads as its picture, named by the server; `status` says the state first.
    chart = json.loads(ok(ravid("run", ds, "chart", "kind=bar", "x=country", "y=amount", "--json")).stdout)["task_id"]
    ok(ravid("download", chart, cwd=folder))
    assert (folder / f"chart-{chart[:8]}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ok(ravid("status", dedup)).stderr.startswith(f"Task {dedup} (dedup) SUCCESS, finished ")

    # In 80 columns: every id whole, every operation named; --server may follow the command.
    narrow = {"COLUMNS": "80"}
    lines = ok(ravid("datasets", **narrow)).stdout.splitlines()
    assert max(map(len, lines)) <= 80 and any(ds in line and "sales.csv" in line for line in lines)
    lines = ok(ravid("tasks", **narrow)).stdout.splitlines()
    assert max(map(len, lines)) <= 80 and any(line.split()[:3] == [dedup, "dedup", "SUCCESS"] for line in lines)
    catalogue = ok(ravid("operations", **narrow)).stdout
    names = [entry["name"] for entry in api.get("/api/operations/").json()]
    assert max(map(len, catalogue.splitlines())) <= 80
    assert [line.split()[0] for line in catalogue.splitlines()[2:] if not line.startswith(" ")] == names
    assert ds in ok(ravid("datasets", "--server", live_server.url, RAVID_URL="http://127.0.0.1:9")).stdout
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    done = ravid("upload", empty)
    assert done.returncode == 2 and f"Error: {empty} is empty: there is nothing to upload." in done.stderr

    # A job that fails (a bad line only the full ingest finds): exit 1 with its sentence.
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n" + "1,2\n" * 70_000 + "1,2,3\n")
    done = ravid("upload", bad)
    assert done.returncode == 1 and "Error: Line 70002 has 3 fields but the header has 2." in done.stderr
    [failed] = api.get("/api/tasks/?status=FAILURE").json()["results"]
    done = ravid("download", failed["task_id"])  # no result (409): the job's own sentence, exit 1
    assert done.returncode == 1 and "Error: Line 70002 has 3 fields but the header has 2." in done.stderr

    # Three `ravid` at once, their access token expired: one refreshes (the refresh token rotates), the others
    # wait for it and take its tokens instead of refreshing with the old one, now blacklisted.
    before = ravid.config()
    ravid.write_config(access="not-a-token")
    racing = [ravid.start("datasets", "--json") for _ in range(3)]
    for process in racing:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0 and [d["id"] for d in json.loads(stdout)][-1] == ds, stderr
    assert ravid.config()["refresh"] != before["refresh"]
    ok(ravid("datasets"))
    # An upload with an expired access token refreshes it first: the file is streamed once.
    ravid.write_config(access="not-a-token")
    assert "8 rows, 4 columns" in ok(ravid("upload", sales, "--name", "again.csv")).stderr
    assert ravid.config()["access"] != "not-a-token"

    # An expired access token is refreshed once, the rotated refresh token kept, the file still 0600.
    before = ravid.config()
    ravid.write_config(access="not-a-token")
    assert [d["id"] for d in json.loads(ok(ravid("datasets", "--json")).stdout)][-1] == ds
    after = ravid.config()
    assert after["access"] not in ("not-a-token", before["access"]) and after["refresh"] != before["refresh"]
    assert stat.S_IMODE(ravid.config_file.stat().st_mode) == 0o600

    # Cancel: with no worker consuming, a job stays queued; a second `ravid` follows it (long poll) and ends,
    # exit 1, as soon as `ravid cancel` revoked it.
    worker.stop()
    follower = ravid.start("run", ds, "top", "by=city", "value=amount", "--fresh")
    deadline = time.monotonic() + 30
    while not (queued := api.get("/api/tasks/?status=PENDING&operation=top").json()["results"]):
        assert time.monotonic() < deadline and follower.poll() is None, follower.communicate()
        time.sleep(0.1)
    task = queued[0]["task_id"]
    time.sleep(1.0)  # the follower is waiting in a long poll now
    done = ok(ravid("cancel", task))
    cancelled_at = time.monotonic()
    assert done.stdout.strip() == f"Task {task} cancelled."
    _, stderr = follower.communicate(timeout=30)
    assert follower.returncode == 1 and f"Error: Task {task} was cancelled." in stderr
    assert time.monotonic() - cancelled_at < 5.0
    assert api.get(f"/api/tasks/{task}/").json()["status"] == "REVOKED"
    assert ravid("status", task).returncode == 1
    done = ravid("download", task)
    assert done.returncode == 1 and f"Error: Task {task} was cancelled." in done.stderr
    again = api.post(f"/api/tasks/{task}/cancel/")
    done = ravid("cancel", task)
    assert again.status_code == 409 and done.returncode == 2 and f"Error: {again.json()['error']}" in done.stderr

    # Logout: the refresh token dies on the server, the tokens leave the file.
    refresh = ravid.config()["refresh"]
    assert ok(ravid("logout")).stdout.strip() == "Logged out."
    assert "access" not in ravid.config() and "refresh" not in ravid.config()
    assert api.post("/api/token/refresh/", json={"refresh": refresh}).status_code == 401
    done = ravid("datasets")
    assert done.returncode == 2 and "You are not logged in: run `ravid login`." in done.stderr


def test_register_login_errors_and_help(live_server, tmp_path):
    ravid = Ravid(live_server.url, tmp_path)
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    done = ravid("datasets")
    assert done.returncode == 2 and "Error: You are not logged in: run `ravid login`." in done.stderr

    assert f"Registered {email}" in ok(ravid("register", "--email", email, "--password-stdin",
                                             stdin=PASSWORD + "\n")).stdout
    done = ravid("login", "--email", email, "--password-stdin", stdin="Wrong-Passw0rd!\n")
    assert done.returncode == 2 and "Error: Invalid email or password" in done.stderr
    assert not ravid.config_file.exists()
    login(ravid, email)
    assert json.loads(ok(ravid("datasets", "--json")).stdout) == []

    ravid.write_config(access="expired", refresh="expired")
    done = ravid("datasets")
    assert done.returncode == 2 and "Error: Your session has expired: run `ravid login`." in done.stderr

    catalogue = requests.get(f"{live_server.url}/api/operations/", timeout=30).json()  # public: no account needed
    assert json.loads(ok(ravid("operations", "--json")).stdout) == catalogue
    help_text = ok(ravid("run", "--help")).stdout
    assert "Operations" in help_text and "unique" in help_text and "column*=string" in help_text

    done = ravid("operations", RAVID_URL="http://127.0.0.1:9")
    assert done.returncode == 1 and "Error: Cannot reach the ravid server at http://127.0.0.1:9" in done.stderr
    assert ravid("--server", "ftp://example.com", "datasets").returncode == 2
    assert ravid("frobnicate").returncode == 2


def test_tokens_fresh_before_streaming_and_refresh_shared(tmp_path, monkeypatch):
    """Without a server: the JWT expiry check, a refresh before a streamed body, and a refresh under the lock that
    takes the tokens another process stored, or keeps them when the server refuses for another reason."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))

    def jwt(exp) -> str:
        return "h." + base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=") + ".s"

    assert not cli.expires_soon(jwt(time.time() + 600))
    assert all(cli.expires_soon(t) for t in (jwt(time.time() + 30), jwt("never"), "not-a-token", "a.!!.b"))

    fresh, seen = jwt(time.time() + 600), []
    answers = {"/api/token/refresh/": (200, {"access": fresh, "refresh": "r2"}), "/api/upload-csv/": (201, {})}

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append((request.url.path, request.headers.get("authorization")))
        status, body = answers[request.url.path]
        return httpx.Response(status, json=body)

    cli.save_config({"server": "http://ravid.test", "access": jwt(time.time() + 10), "refresh": "r1"})
    client = cli.Client("http://ravid.test", cli.load_config())
    client.http = httpx.Client(base_url="http://ravid.test", transport=httpx.MockTransport(handler))
    client.json("POST", "/api/upload-csv/", content=lambda: iter([b"a,b\n", b"1,2\n"]))
    assert seen == [("/api/token/refresh/", None), ("/api/upload-csv/", f"Bearer {fresh}")]
    assert cli.load_config()["refresh"] == "r2"
    assert stat.S_IMODE((tmp_path / "ravid" / "config.json.lock").stat().st_mode) == 0o600

    # Another process refreshed meanwhile: its tokens are taken, the server is not asked.
    cli.save_config({**cli.load_config(), "access": "a3", "refresh": "r3"})
    seen.clear()
    client.refresh()
    assert seen == [] and (client.config["access"], client.config["refresh"]) == ("a3", "r3")
    # Throttled (429): a clear error, exit 2, the tokens kept.
    answers["/api/token/refresh/"] = (429, {"error": "Request was throttled."})
    with pytest.raises(cli.CliError, match="Cannot renew your session: Request was throttled.") as raised:
        client.refresh()
    assert raised.value.exit_code == 2 and cli.load_config()["refresh"] == "r3"
