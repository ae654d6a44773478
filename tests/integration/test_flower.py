"""Flower behind basic auth, with its broker tab working on Redis (the embedded one or a server)."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.integration.conftest import ROOT, worker_env

pytestmark = [pytest.mark.integration]


def test_flower_needs_its_password_and_shows_the_redis_queue(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "flower.log", "wb")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # as make puts .venv/bin first
    flower = subprocess.Popen(["bash", "scripts/flower.sh"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env=worker_env(FLOWER_PORT=port, FLOWER_BASIC_AUTH="ops:s3cret", PATH=path))
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.3)
        assert requests.get(f"{url}/broker", timeout=10).status_code == 401
        broker = requests.get(f"{url}/broker", auth=("ops", "s3cret"), timeout=10)
        assert broker.status_code == 200
        scheme = settings.CELERY_BROKER_URL.split("://")[0]  # redis, or redis+socket for the embedded broker
        assert f"{scheme}://" in broker.text and "celery" in broker.text
    finally:
        flower.terminate()
        flower.wait(timeout=20)
