"""The ``ia-events`` command as cron jobs and acceptance checks use it: a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

BIN = Path(sys.executable).with_name("ia-events")


def ia(
    data: Path,
    *args: str,
    stdin: str | None = None,
    url: str | None = None,
    check: int | None = 0,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IA_EVENTS_DATA": str(data)}
    env.pop("IA_EVENTS_DATABASE_URL", None)
    if url:
        env["IA_EVENTS_DATABASE_URL"] = url
    proc = subprocess.run(
        [str(BIN), *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    if check is not None:
        assert proc.returncode == check, proc.stderr + proc.stdout
    return proc


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory, sqlite_demo_template: Path) -> Path:
    """A copy of the run's demo template (SQLite) for this module: loading the demo
    once more through ``ia-events demo`` took 114 s on the 2-core machine at load 14
    (25 s at load 3). ``ia-events init`` and ``ia-events demo`` on it are checked below;
    a fresh demo load through an entry point is checked by tests/app/test_first_start.py."""
    data = tmp_path_factory.mktemp("cli") / "data"
    shutil.copytree(sqlite_demo_template, data)
    return data


def test_init_twice_is_fine_and_demo_is_idempotent(demo_data: Path) -> None:
    assert "Schon eingerichtet" in ia(demo_data, "init").stdout
    assert "schon geladen" in ia(demo_data, "demo").stdout


def test_list_agencies_json_has_the_thirteen_of_the_district(demo_data: Path) -> None:
    rows = json.loads(ia(demo_data, "list", "agencies", "--json").stdout)
    assert len(rows) == 13
    assert set(rows[0]) == {"slug", "name", "carrier", "fields"}
    assert {"essen", "kleve", "wuppertal-barmen"} <= {r["slug"] for r in rows}


def test_every_agency_has_a_named_occurrence_open_now(demo_data: Path) -> None:
    rows = json.loads(ia(demo_data, "list", "occurrences", "--json").stdout)
    assert set(rows[0]) == {
        "id",
        "agency",
        "activity",
        "title",
        "starts_at",
        "ends_at",
        "attendance_mode",
    }
    now = datetime.now().astimezone()
    open_now = {
        r["agency"]
        for r in rows
        if datetime.fromisoformat(r["starts_at"]) <= now <= datetime.fromisoformat(r["ends_at"])
        and r["attendance_mode"] == "named"
    }
    assert len(open_now) == 13


def test_list_subgoals_reports_target_and_actual(demo_data: Path) -> None:
    year = str(datetime.now().year)
    rows = json.loads(
        ia(demo_data, "list", "subgoals", "--agency", "essen", "--year", year, "--json").stdout
    )
    assert rows and set(rows[0]) == {"id", "title", "indicator", "target", "actual"}
    participants = next(r for r in rows if r["indicator"] == "participants")
    assert participants["actual"] > 0


def test_list_agencies_are_the_handbooks_with_their_awo_carriers(demo_data: Path) -> None:
    rows = {r["slug"]: r for r in json.loads(ia(demo_data, "list", "agencies", "--json").stdout)}
    assert rows["self-i-essen"]["carrier"] == "AWO Bezirksverband Niederrhein e.V."
    assert rows["self-i-essen"]["fields"] == ["BE", "IKÖ"]
    assert rows["wesel-kamp-lintfort"] == {
        "slug": "wesel-kamp-lintfort",
        "name": "Integrationsagentur Wesel-Kamp-Lintfort",
        "carrier": "AWO Kreisverband Wesel",
        "fields": ["IKÖ", "SRO"],
    }
    assert rows["du-neumuehl"]["fields"] == ["BE", "IKÖ", "SRO", "ADA"]
    assert rows["duesseldorf"]["fields"] == ["IKÖ", "ADA", "BE"]


def test_list_plans_json_follows_the_contract_and_the_agencys_fields(demo_data: Path) -> None:
    year = str(datetime.now().year)
    for slug, fields in (("kleve", {"IKÖ", "SRO"}), ("duesseldorf", {"IKÖ", "ADA", "BE"})):
        rows = json.loads(
            ia(demo_data, "list", "plans", "--agency", slug, "--year", year, "--json").stdout
        )
        assert {r["fields"][0] for r in rows} == fields  # one Aufgabe per Arbeitsschwerpunkt
        assert set(rows[0]) == {"id", "topic", "status", "version", "fields", "subgoals"}
        assert set(rows[0]["subgoals"][0]) == {"id", "title", "indicator", "target", "methods"}
        assert all(g["methods"] for r in rows for g in r["subgoals"])
    kleve = json.loads(
        ia(demo_data, "list", "plans", "--agency", "kleve", "--year", year, "--json").stdout
    )
    assert "draft" in {r["status"] for r in kleve}  # the demo's returned plan
    dus = json.loads(
        ia(demo_data, "list", "plans", "--agency", "duesseldorf", "--year", year, "--json").stdout
    )
    assert max(r["version"] for r in dus) == 2  # the grundsätzliche change


def test_list_deadlines_json_owes_the_analysis_only_before_a_phase(demo_data: Path) -> None:
    def kinds(year: int, today: str) -> dict[str, dict]:  # type: ignore[type-arg]
        out = ia(demo_data, "list", "deadlines", "--agency", "essen", "--year", str(year),
                 "--today", today, "--json").stdout  # fmt: skip
        rows = json.loads(out)
        # the contract's keys, plus ``due_soon`` (added; custom items add custom_id, note)
        assert {"kind", "title", "due", "status", "document_id"} <= set(rows[0])
        assert all(isinstance(r["due_soon"], bool) for r in rows)
        return {r["kind"]: r for r in rows}

    # A phase after the demo's years: the demo submitted every deadline already due.
    first = datetime.now().year + datetime.now().year % 2
    second = first + 3
    assert kinds(first, f"{first}-12-31")["sozialraumanalyse"]["due"] == f"{first - 1}-11-15"
    later = kinds(second, f"{second + 2}-01-01")
    assert "sozialraumanalyse" not in later
    assert later["aufgabenplanung"]["status"] == "overdue"
    assert later["aufgabenplanung"]["due"] == f"{second - 1}-11-15"


def test_user_add_reads_the_password_from_stdin_and_records_the_actor(demo_data: Path) -> None:
    out = ia(
        demo_data,
        "user",
        "add",
        "neu-fk",
        "--role",
        "specialist",
        "--agency",
        "kleve",
        "--actor",
        "alice",
        stdin="ein-sehr-gutes-passwort\n",
    )
    assert "angelegt" in out.stdout
    import sqlite3

    db = sqlite3.connect(demo_data / "ia-events.sqlite3")
    actor = db.execute(
        "SELECT actor FROM audit_events WHERE action='user:add' ORDER BY seq DESC LIMIT 1"
    ).fetchone()[0]
    assert actor == "alice"


@pytest.mark.parametrize(
    "args",
    [
        ("frobnicate",),
        ("list", "subgoals", "--agency", "essen"),
        ("list", "subgoals", "--agency", "gibt-es-nicht", "--year", "2026"),
        ("list", "plans", "--agency", "essen"),
        ("list", "deadlines", "--agency", "essen", "--year", "2026", "--today", "gestern"),
        ("user", "add", "x", "--role", "kaiser"),
        ("list", "occurrences", "--year", "zwanzig"),
    ],
)
def test_bad_usage_exits_2_with_a_message_and_no_traceback(demo_data: Path, args) -> None:  # type: ignore[no-untyped-def]
    proc = ia(demo_data, *args, check=2)
    assert proc.stderr.strip()


def test_weak_password_is_refused_and_nothing_is_created(demo_data: Path) -> None:
    proc = ia(demo_data, "user", "add", "schwach", "--role", "coordinator", stdin="kurz\n", check=2)
    assert "mindestens 12 Zeichen" in proc.stderr
    users = json.loads(ia(demo_data, "user", "list", "--json").stdout)
    assert "schwach" not in {u["username"] for u in users}


def test_keys_public_prints_a_usable_ed25519_key(demo_data: Path) -> None:
    pem = ia(demo_data, "keys", "public").stdout
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert load_pem_public_key(pem.encode()).__class__.__name__.startswith("Ed25519")


def test_verify_names_a_flipped_byte_and_exits_1(demo_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)  # the module's demo installation
    doc = tmp_path / "presse.txt"
    doc.write_bytes(b"Pressemeldung " * 1000)
    added = json.loads(
        ia(
            data,
            "evidence",
            "add",
            "--agency",
            "essen",
            "--year",
            "2026",
            "--kind",
            "press_release",
            "--json",
            str(doc),
        ).stdout
    )
    assert added[0]["sha256"] and set(added[0]) >= {
        "id",
        "kind",
        "title",
        "sha256",
        "funding_year",
        "retention_until",
        "legal_hold",
        "deleted",
    }
    assert ia(data, "verify").returncode == 0
    blobs = [p for p in (data / "archive" / "blobs").rglob("*") if p.is_file()]
    victim = max(blobs, key=lambda p: p.stat().st_mtime)
    raw = bytearray(victim.read_bytes())
    raw[100] ^= 1
    victim.write_bytes(bytes(raw))
    proc = ia(data, "verify", check=1)
    assert "blob_changed" in proc.stdout


def test_uninitialised_data_dir_gets_a_clear_message(tmp_path: Path) -> None:
    proc = ia(tmp_path / "leer", "list", "agencies", "--json", check=2)
    assert "ia-events init" in proc.stderr


@pytest.mark.postgres
def test_postgres_url_works_the_same_and_writes_no_sqlite(
    tmp_path: Path, pg_server_url: str
) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(pg_server_url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    eng.dispose()
    data = tmp_path / "data"
    ia(data, "init", url=pg_server_url)
    ia(
        data,
        "user",
        "add",
        "koord",
        "--role",
        "coordinator",
        stdin="ein-sehr-gutes-passwort\n",
        url=pg_server_url,
    )
    users = json.loads(ia(data, "user", "list", "--json", url=pg_server_url).stdout)
    assert [u["username"] for u in users] == ["koord"]
    assert ia(data, "verify", url=pg_server_url).returncode == 0
    assert not list(data.rglob("*.sqlite3*"))


def test_feed_link_prints_a_working_feed_url_last_and_the_same_one_again(demo_data: Path) -> None:
    from ia_events.core.access import Actor
    from ia_events.core.installation import Installation
    from ia_events.planning import calendar_feeds
    from tests.conftest import make_settings

    cli = Actor.cli("test:cli")

    first = ia(demo_data, "feed-link", "--agency", "du-marxloh", "--kind", "occurrences",
               "--base-url", "https://ia.example/")  # fmt: skip
    url = first.stdout.strip().splitlines()[-1]
    assert url.startswith("https://ia.example/ical/") and url.endswith(".ics")
    assert "neu angelegt" in first.stdout
    again = ia(demo_data, "feed-link", "--agency", "du-marxloh", "--kind", "occurrences",
               "--base-url", "https://ia.example")  # fmt: skip
    assert again.stdout.strip().splitlines()[-1] == url and "besteht schon" in again.stdout
    deadlines = ia(demo_data, "feed-link", "--agency", "du-marxloh", "--kind", "deadlines")
    dl_url = deadlines.stdout.strip().splitlines()[-1]
    assert dl_url != url and "/ical/" in dl_url

    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    inst = Installation.open(make_settings(demo_data))
    try:
        body = calendar_feeds.serve(inst, token)
        dl_body = calendar_feeds.serve(inst, dl_url.rsplit("/", 1)[1].removesuffix(".ics"))
        assert body is not None and body.count(b"BEGIN:VEVENT") > 5
        assert dl_body is not None and b"Frist:" in dl_body
        # Revoked: the next call creates a new feed with a new URL; the old one is dead.
        with inst.db.write() as s:
            feed = next(
                f
                for f in calendar_feeds.list_feeds(s, cli, "du-marxloh")
                if f.kind == "occurrences"
            )
            calendar_feeds.revoke_feed(s, cli, feed.id)
        assert calendar_feeds.serve(inst, token) is None
    finally:
        inst.close()
    renewed = ia(demo_data, "feed-link", "--agency", "du-marxloh", "--kind", "occurrences")
    assert renewed.stdout.strip().splitlines()[-1].rsplit("/", 1)[1] != url.rsplit("/", 1)[1]
    assert ia(demo_data, "feed-link", "--agency", "du-marxloh", "--kind", "jahr", check=2).stderr
    other = ia(
        demo_data, "feed-link", "--agency", "gibt-es-nicht", "--kind", "deadlines", check=None
    )
    assert other.returncode in (1, 2) and "Traceback" not in other.stderr


def test_list_partners_and_controlling_on_the_demo(demo_data: Path) -> None:
    from ia_events.core.models import PartnerType

    rows = json.loads(ia(demo_data, "list", "partners", "--agency", "essen", "--json").stdout)
    assert rows and all(set(r) == {"id", "name", "type", "activity_ids"} for r in rows)
    assert {r["type"] for r in rows} <= {t.value for t in PartnerType}
    linked = {a for r in rows for a in r["activity_ids"]}
    assert linked
    year = str(datetime.now().year)
    got = json.loads(
        ia(demo_data, "controlling", "--agency", "essen", "--year", year, "--json").stdout
    )
    total = got["rows"][0]
    assert total["level"] == "Gesamt" and total["partners"] > 0 and total["activities"] > 0
    assert total["participants"] == (
        total["participants_named"] + total["participants_card"] + total["participants_counted"]
    )


def test_list_meetings_on_the_demo(demo_data: Path) -> None:
    year = str(datetime.now().year - 1)
    rows = json.loads(
        ia(demo_data, "list", "meetings", "--agency", "kleve", "--year", year, "--json").stdout
    )
    keys = {"id", "date", "kind", "title", "partner_ids", "minutes_evidence_ids"}
    assert rows and all(set(r) == keys for r in rows)
    assert [r["kind"] for r in rows] == ["Facharbeitskreis", "Facharbeitskreis"]
    assert rows[0]["minutes_evidence_ids"] and rows[0]["partner_ids"]
    assert all(r["date"].startswith(year) for r in rows)
    assert ia(demo_data, "list", "meetings", "--year", "1999", "--json", check=2).stderr
