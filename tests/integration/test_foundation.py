"""Installation, audit chain, fixity and tenancy on a real SQLite file and real PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from ia_events.accounts import users
from ia_events.accounts.agencies import add_agency, list_agencies
from ia_events.archive import evidence, fixity
from ia_events.core import audit
from ia_events.core.access import Actor
from ia_events.core.errors import NotFound
from ia_events.core.installation import Installation, initialise
from ia_events.core.models import AuditEvent, Blob, Role, User
from ia_events.planning import plans
from storage.db import current_revision, head_revision, utcnow
from tests.conftest import make_settings

OP = Actor.cli("test:op")


def _agencies(inst: Installation) -> None:
    with inst.db.write() as s:
        add_agency(s, OP, slug="essen", name="IA Essen", carrier="Träger A", fields=["BE"])
        add_agency(s, OP, slug="kleve", name="IA Kleve", carrier="Träger B", fields=["SRO"])


def _anna(inst: Installation) -> int:
    """A coordinator account with a known password; returns its id."""
    with inst.db.write() as s:
        return users.add_user(
            s,
            OP,
            inst.settings,
            username="anna",
            password="richtiges-passwort-1",
            role="coordinator",
        ).id


def test_init_is_idempotent_and_migrates_to_head(inst: Installation) -> None:
    again, created = initialise(inst.settings)
    assert created is False
    assert current_revision(again.db.engine) == head_revision()
    with again.db.read() as s:
        inits = s.scalar(select(func.count()).where(AuditEvent.action == "install:init"))
    assert inits == 1
    again.close()


def test_the_migrated_schema_is_the_one_the_models_describe(inst: Installation) -> None:
    """A model change without its Alembic revision (or the reverse) fails here, on both
    databases: an upgraded installation must have every table, column and index."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ia_events.core.models import Base

    with inst.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_postgres_url_writes_nothing_to_sqlite(pg_inst: Installation) -> None:
    _agencies(pg_inst)
    assert pg_inst.db.engine.dialect.name == "postgresql"
    assert not list(pg_inst.settings.data_dir.rglob("*.sqlite3*"))


def test_every_change_is_chained_and_verify_passes(inst: Installation) -> None:
    _agencies(inst)
    report = fixity.verify(inst, OP)
    assert report.ok, report.findings
    with inst.db.read() as s:
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.action for e in events][:3] == ["install:init", "agency:add", "agency:add"]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


def test_an_altered_audit_row_is_named_by_verify(inst: Installation) -> None:
    _agencies(inst)
    with inst.db.write() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor="someone-else"))
    report = fixity.verify(inst, OP)
    assert not report.ok
    assert any(f.kind == "chain" and "2" in f.subject for f in report.findings)


def test_a_deleted_audit_row_breaks_the_chain(inst: Installation) -> None:
    _agencies(inst)
    with inst.db.write() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    assert any(f.kind == "chain" for f in fixity.verify(inst, OP).findings)


def test_a_rewritten_chain_contradicts_the_signed_checkpoint(inst: Installation) -> None:
    """Even a forger who recomputes every hash cannot match the earlier signed head."""
    _agencies(inst)
    assert fixity.verify(inst, OP).ok  # writes a signed checkpoint
    with inst.db.write() as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        prev = audit.GENESIS
        for ev in rows:
            if ev.seq == 2:
                ev.actor = "forger"
            ev.prev_hash = prev
            ev.hash = audit.event_hash(
                prev,
                ev.seq,
                ev.at,
                ev.actor,
                ev.action,
                ev.object_type,
                ev.object_id,
                ev.agency_id,
                ev.details,
            )
            prev = ev.hash
    findings = fixity.verify(inst, OP).findings
    assert [f.kind for f in findings] == ["checkpoint"]


def test_a_flipped_byte_in_a_stored_file_is_named_by_verify(inst: Installation) -> None:
    _agencies(inst)
    item = evidence.add_evidence(
        inst,
        OP,
        agency_slug="essen",
        funding_year=2026,
        kind="press_release",
        filename="presse.txt",
        content=b"Pressemeldung: Naehcafe startet" * 100,
    )
    with inst.db.read() as s:
        blob = s.scalar(select(Blob))
    path = inst.blobs.path_for(blob.name)
    raw = bytearray(path.read_bytes())
    raw[40] ^= 0xFF
    path.write_bytes(bytes(raw))
    report = fixity.verify(inst, OP)
    assert [f.kind for f in report.findings] == ["blob_changed"]
    assert str(blob.id) in report.findings[0].subject
    assert item.sha256 == blob.sha256


def test_same_file_twice_in_one_agency_is_stored_once(inst: Installation) -> None:
    _agencies(inst)
    for _ in range(2):
        evidence.add_evidence(
            inst,
            OP,
            agency_slug="essen",
            funding_year=2026,
            kind="flyer",
            filename="flyer.txt",
            content=b"Flyer",
        )
    evidence.add_evidence(
        inst,
        OP,
        agency_slug="kleve",
        funding_year=2026,
        kind="flyer",
        filename="flyer.txt",
        content=b"Flyer",
    )
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Blob)) == 2
    assert len(list(inst.blobs.names_on_disk())) == 2


def test_a_specialist_sees_only_her_agency(inst: Installation) -> None:
    _agencies(inst)
    with inst.db.write() as s:
        users.add_user(
            s,
            OP,
            inst.settings,
            username="fk-essen",
            password="lang-genug-passwort",
            role="specialist",
            agency_slug="essen",
        )
    fk = users.login(inst, "fk-essen", "lang-genug-passwort").actor
    with inst.db.read() as s:
        assert [a.slug for a in list_agencies(s, fk)] == ["essen"]
        with pytest.raises(NotFound):
            plans.list_occurrences(s, fk, agency_slug="kleve")
        coordinator = Actor("k", Role.coordinator, user_id=99)
        assert {a.slug for a in list_agencies(s, coordinator)} == {"essen", "kleve"}


def test_ten_wrong_passwords_lock_the_account_across_sessions(inst: Installation) -> None:
    _agencies(inst)
    _anna(inst)
    for attempt in range(1, 11):
        with pytest.raises(Exception) as err:
            users.login(inst, "anna", f"falsch-{attempt}")
        assert err.value.code == "login_invalid"  # a lock names no account
    with inst.db.read() as s:
        assert s.scalar(select(User.locked_until).where(User.username == "anna")) is not None
    # Even the right password is refused while locked, with the same answer.
    with pytest.raises(Exception) as err:
        users.login(inst, "anna", "richtiges-passwort-1")
    assert err.value.code == "login_invalid"
    later = utcnow() + timedelta(minutes=16)
    assert users.login(inst, "anna", "richtiges-passwort-1", now=later).actor.name == "anna"


def test_sessions_expire_and_logout_everywhere_ends_all(inst: Installation) -> None:
    _agencies(inst)
    _anna(inst)
    one = users.login(inst, "anna", "richtiges-passwort-1").token
    two = users.login(inst, "anna", "richtiges-passwort-1").token
    assert users.resolve(inst, one) is not None
    idle = utcnow() + timedelta(hours=inst.settings.session_idle_hours, minutes=1)
    assert users.resolve(inst, one, now=idle) is None
    users.logout(inst, one, everywhere=True)
    assert users.resolve(inst, one) is None and users.resolve(inst, two) is None


def test_a_deactivated_account_cannot_log_in_and_keeps_its_history(inst: Installation) -> None:
    _agencies(inst)
    uid = _anna(inst)
    token = users.login(inst, "anna", "richtiges-passwort-1").token
    with inst.db.write() as s:
        users.set_active(s, OP, uid, False)
    assert users.resolve(inst, token) is None
    with pytest.raises(Exception) as err:
        users.login(inst, "anna", "richtiges-passwort-1")
    assert err.value.code == "login_invalid"
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.object_id == str(uid))) >= 3


def test_cookie_handoff_is_single_use(inst: Installation) -> None:
    _agencies(inst)
    _anna(inst)
    login = users.login(inst, "anna", "richtiges-passwort-1")
    browser = "login-cookie-of-annas-browser"
    code = users.create_handoff(inst, login.token, browser)
    cookie = users.redeem_handoff(inst, code, browser)
    assert cookie and users.resolve(inst, cookie).name == "anna"
    assert users.redeem_handoff(inst, code, browser) is None
    late = users.create_handoff(inst, cookie, browser)
    assert users.redeem_handoff(inst, late, browser, now=utcnow() + timedelta(minutes=2)) is None


def test_utc_times_round_trip_exactly(inst: Installation) -> None:
    _agencies(inst)
    with inst.db.read() as s:
        ev = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert ev.at.tzinfo is not None and ev.at.utcoffset() == timedelta(0)
    assert abs(ev.at - utcnow()) < timedelta(minutes=1)
    assert isinstance(ev.at, datetime)


def test_first_admin_needs_the_setup_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inst, _ = initialise(make_settings(tmp_path / "data"))
    code = users.ensure_setup_token(inst)
    assert code
    with pytest.raises(Exception) as err:
        users.create_first_admin(inst, "falsch", "chefin", "ein-langes-passwort")
    assert err.value.code == "setup_token_invalid"
    users.create_first_admin(inst, code, "chefin", "ein-langes-passwort")
    assert not users.setup_token_path(inst.settings).exists()
    with pytest.raises(Exception) as err:
        users.create_first_admin(inst, code, "zweite", "ein-langes-passwort")
    assert err.value.code == "setup_done"
    inst.close()
