"""Two app hosts on one PostgreSQL database and one S3 archive (issue 22, point 4).

Shared by ``scripts/replicas.py`` and tests/integration/test_s3_replicas.py. A "host"
is a data folder of its own (keys copied from the first host, nothing else shared)
and the processes started with it: ``ia-events`` commands and a ``streamlit run``
server. Every process gets the same ``IA_EVENTS_DATABASE_URL`` and
``IA_EVENTS_ARCHIVE_URL``; only ``IA_EVENTS_DATA`` differs.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from ia_events.attendance.tokens import TokenInfo, make_token
from ia_events.core.installation import Installation, Settings, initialise
from ia_events.core.models import (
    Activity,
    Agency,
    Attendance,
    Blob,
    Evidence,
    Occurrence,
    UploadJournal,
)
from storage.db import utcnow

ROOT = Path(__file__).resolve().parents[1]
AGENCY = "bench"


@dataclass
class Host:
    name: str
    data: Path
    env: dict[str, str]
    port: int | None = None
    server: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``ia-events ARGS`` on this host, as a new process (output kept in a log)."""
        log = self.data.parent / f"{self.name}-cli-{len(self.logs)}.log"
        self.logs.append(log)
        return subprocess.Popen(
            [sys.executable, "-c", "from ia_events.cli.main import main; main()", *args],
            cwd=ROOT,
            env={**self.env, **(extra or {})},
            stdout=open(log, "wb"),
            stderr=subprocess.STDOUT,
        )

    def start_server(self, port: int) -> None:
        self.port = port
        env = {**self.env, "IA_EVENTS_BASE_URL": self.base}
        log = open(self.data.parent / f"{self.name}-server.log", "ab")  # noqa: SIM115 - kept by the process
        self.server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def stop_server(self) -> None:
        if self.server is None:
            return
        if self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait(5)
        self.server = None


def host_env(data: Path, db_url: str, archive_url: str, s3_env: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IA_EVENTS_", "AWS_", "PYTEST_"))
    }
    env.update(s3_env)
    env.update(
        {
            "IA_EVENTS_DATA": str(data),
            "IA_EVENTS_DATABASE_URL": db_url,
            "IA_EVENTS_ARCHIVE_URL": archive_url,
            "IA_EVENTS_ARCHIVE_LOCK_MODE": "GOVERNANCE",  # a test installation
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def setup_hosts(
    root: Path, db_url: str, archive_url: str, s3_env: dict[str, str]
) -> tuple[Installation, list[Host], list[int], str]:
    """Initialise on host A (keys, schema, bucket with Object Lock), an agency with an
    open occurrence; copy only the key files to host B's folder. Returns the control
    installation (host A's folder), both hosts, the occurrence ids and a check-in token."""
    data_a, data_b = root / "host-a" / "data", root / "host-b" / "data"
    data_a.parent.mkdir(parents=True)
    data_b.parent.mkdir(parents=True)
    saved = {k: os.environ.get(k) for k in (*s3_env, "IA_EVENTS_ARCHIVE_LOCK_MODE")}
    os.environ.update({**s3_env, "IA_EVENTS_ARCHIVE_LOCK_MODE": "GOVERNANCE"})
    try:
        inst, _ = initialise(
            Settings(data_dir=data_a, database_url=db_url, archive_url=archive_url)
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    now = utcnow()
    with inst.db.write() as s:
        agency = Agency(slug=AGENCY, name="Integrationsagentur Replikate", carrier="Träger e.V.")
        s.add(agency)
        s.flush()
        act = Activity(
            agency_id=agency.id, funding_year=now.year, title="Nähcafé", type="Nähcafé",
            field="BE", attendance_mode="named",
        )  # fmt: skip
        s.add(act)
        s.flush()
        occ = Occurrence(
            activity_id=act.id,
            agency_id=agency.id,
            funding_year=now.year,
            starts_at=now - timedelta(minutes=10),
            ends_at=now + timedelta(hours=3),
        )
        s.add(occ)
        s.flush()
        occ_ids = [occ.id]
    token = make_token(inst.keys, TokenInfo("participant", "occurrence", occ_ids[0], 1))
    # The second host: its own empty data folder with a copy of the key files only.
    data_b.mkdir()
    shutil.copytree(data_a / "keys", data_b / "keys")
    hosts = [
        Host("A", data_a, host_env(data_a, db_url, archive_url, s3_env)),
        Host("B", data_b, host_env(data_b, db_url, archive_url, s3_env)),
    ]
    return inst, hosts, occ_ids, token


def make_pdfs(folder: Path, tag: str, count: int, size: int) -> list[Path]:
    """Distinct files that pass the upload check (incompressible, like scans)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        body = b"%PDF-1.7\n" + os.urandom(size - 9).replace(b"/", b"_")
        path = folder / f"{tag}-{i:03d}.pdf"
        path.write_bytes(body)
        out.append(path)
    return out


def upload(host: Host, files: list[Path], year: int) -> subprocess.Popen[bytes]:
    return host.cli(
        "evidence", "add", "--agency", AGENCY, "--year", str(year), "--kind", "press_clipping",
        *map(str, files),
    )  # fmt: skip


def wait_all(procs: list[subprocess.Popen[bytes]], timeout: float = 300) -> list[int]:
    deadline = time.monotonic() + timeout
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait(5))
    return codes


async def checkin_crowd(bases: list[str], token: str, phones: int) -> list[tuple[int, str]]:
    """``phones`` participants, phone i on server i % len(bases): each GETs the form
    there, then all POST at once. Returns (server index, answer state) per phone."""
    import httpx

    limits = httpx.Limits(max_connections=phones + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        forms = await asyncio.gather(
            *(client.get(f"{bases[i % len(bases)]}/checkin?t={token}") for i in range(phones))
        )
    bodies = []
    for i, page in enumerate(forms):
        hidden = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
        bodies.append({**hidden, "name": f"Handy {i:03d}"})
    # New connections for the submissions, as phones make them (a kept-alive connection
    # from the GETs may have been closed by the server meanwhile).
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        answers = await asyncio.gather(
            *(
                client.post(f"{bases[i % len(bases)]}/checkin", data=b)
                for i, b in enumerate(bodies)
            ),
            return_exceptions=True,
        )
    out = []
    for i, answer in enumerate(answers):
        if isinstance(answer, BaseException):
            out.append((i % len(bases), f"error {type(answer).__name__}"))
            continue
        m = re.search(r'data-state="(\w+)"', answer.text)
        out.append((i % len(bases), m.group(1) if m else f"http {answer.status_code}"))
    return out


def wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a server ended before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up")


# -- what an inspector would count ------------------------------------------------------------


@dataclass
class Counts:
    evidence: int
    blobs: int
    attendances: int
    open_journal: int
    recorded_versions: set[tuple[str, str | None]]
    bucket_versions: set[tuple[str, str]]
    incomplete_uploads: int
    per_filename: dict[str, int]

    @property
    def orphans(self) -> set[tuple[str, str]]:
        return self.bucket_versions - {(k, v) for k, v in self.recorded_versions if v}

    @property
    def missing(self) -> set[tuple[str, str | None]]:
        return {(k, v) for k, v in self.recorded_versions if (k, v) not in self.bucket_versions}


def counts(inst: Installation, occ_id: int) -> Counts:
    import boto3
    from botocore.config import Config

    from storage.s3blobs import PREFIX

    with inst.db.read() as s:
        evidence = s.scalar(select(func.count()).select_from(Evidence)) or 0
        blobs = s.scalar(select(func.count()).select_from(Blob)) or 0
        att = s.scalar(
            select(func.count()).select_from(Attendance).where(Attendance.occurrence_id == occ_id)
        )
        journal = s.scalar(
            select(func.count())
            .select_from(UploadJournal)
            .where(UploadJournal.finished_at.is_(None))
        )
        recorded = {
            (PREFIX + n, v)
            for n, v in s.execute(
                select(func.coalesce(Blob.object_name, Blob.name), Blob.version_id).where(
                    Blob.removed_at.is_(None)
                )
            ).all()
        }
        per_filename = dict(
            s.execute(select(Evidence.filename, func.count()).group_by(Evidence.filename)).all()
        )
    loc = inst.blobs.location  # type: ignore[attr-defined]
    raw = boto3.client(
        "s3",
        endpoint_url=loc.endpoint,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
    )
    bucket = inst.blobs.bucket  # type: ignore[attr-defined]
    versions: set[tuple[str, str]] = set()
    for page in raw.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions |= {(v["Key"], v["VersionId"]) for v in page.get("Versions", [])}
    incomplete = len(raw.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
    return Counts(
        int(evidence), int(blobs), int(att or 0), int(journal or 0), recorded, versions,
        incomplete, {str(k): int(v) for k, v in per_filename.items()},
    )  # fmt: skip


def rows_named(inst: Installation, prefix: str) -> int:
    with inst.db.read() as s:
        q = select(func.count()).select_from(Evidence).where(Evidence.filename.startswith(prefix))
        return int(s.scalar(q) or 0)


def open_journal(inst: Installation) -> int:
    with inst.db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(UploadJournal)
                .where(UploadJournal.finished_at.is_(None))
            )
            or 0
        )


def kill_upload_midway(host: Host, files: list[Path], year: int, inst: Installation) -> bool:
    """Start an upload on ``host`` with a short lease and ``kill -9`` it as soon as its
    journal entries are in the database (the transfer running). True when it was killed
    with entries open (else it finished first: nothing to recover)."""
    before = open_journal(inst)
    proc = host.cli(
        "evidence", "add", "--agency", AGENCY, "--year", str(year), "--kind", "press_clipping",
        *map(str, files), extra={"IA_EVENTS_UPLOAD_LEASE_SECONDS": "2"},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while open_journal(inst) <= before:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(5)
            return False
        time.sleep(0.02)
    time.sleep(0.3)  # into the transfer
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    return open_journal(inst) > before


__all__ = [
    "Counts",
    "Host",
    "checkin_crowd",
    "counts",
    "kill_upload_midway",
    "make_pdfs",
    "open_journal",
    "rows_named",
    "setup_hosts",
    "upload",
    "wait_all",
    "wait_http",
]
