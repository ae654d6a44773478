"""The whole `make run` stack (scripts/run.sh: supervisord, the embedded broker, web, worker, beat, Flower) as a
new user starts it: no DATABASE_URL, no CELERY_BROKER_URL, its own MEDIA_ROOT and ports."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from tests.integration.conftest import ROOT
from tests.seaweed import free_ports

BIN = Path(sys.executable).parent
# What the stack is started without, whatever this test run is configured with.
OWN_SETTINGS = ("DATABASE_URL", "CELERY_BROKER_URL", "RAVID_SERVICES_RUN", "LOG_LEVEL", "REQUIRE_SERVICES",
                "FLOWER_BASIC_AUTH")


class Stack:
    """`bash scripts/run.sh` in a session of its own; its output goes to `log`."""

    def __init__(self, media: Path, log: Path, **env):
        self.media, self.log_path = media, log
        self.port, self.flower_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in OWN_SETTINGS}
        self.env.update(MEDIA_ROOT=str(media), PORT=str(self.port), FLOWER_PORT=str(self.flower_port),
                        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **{k: str(v) for k, v in env.items()})
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "Stack":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(["bash", "scripts/run.sh"], cwd=ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the stack exited:\n{self.output()[-4000:]}"
            try:
                body = requests.get(f"{self.url}/health/", timeout=2).json()
                if body["status"] == "ok" and body["checks"]["workers"] >= 1:
                    return self
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"the stack was not healthy in {timeout} s:\n{self.output()[-4000:]}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def supervisorctl(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "supervisorctl"), "-c", str(self.media / "run" / "supervisord.conf"), *args],
                              capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    def pid(self, program: str) -> int:
        return int(self.supervisorctl("pid", f"ravid:{program}"))

    def processes(self) -> list[psutil.Process]:
        """supervisord and everything under it (pool processes included)."""
        root = psutil.Process(self.process.pid)
        return [root] + root.children(recursive=True)

    def terminate(self, timeout: float = 60) -> float:
        """SIGTERM to the stack's process group, as Ctrl-C or a service manager would; seconds until every
        process it had started is gone."""
        family = self.processes()
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(family, timeout=timeout)
        elapsed = time.monotonic() - started
        for proc in alive:
            proc.kill()
        self.process.wait(timeout=10)
        assert not alive, f"still running {timeout} s after SIGTERM: {[p.pid for p in alive]}"
        return elapsed

    def kill(self) -> None:
        """Leave nothing behind, whatever state the test left the stack in."""
        if self.process is None or self.process.poll() is not None:
            return
        family = self.processes()
        for proc in family:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=10)


@pytest.fixture
def stack(tmp_path):
    """Starts the stack on first call (again after a stop); killed at the end of the test whatever happened."""
    made: list[Stack] = []

    def start(**env) -> Stack:
        if not made:
            made.append(Stack(tmp_path / "media", tmp_path / "stack.log", **env))
        return made[0].start()

    yield start
    for s in made:
        s.kill()
