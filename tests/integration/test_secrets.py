"""Secrets stay where they belong: no key material, password, session token or
check-in token in the database, and none of them in logs or command output."""

from __future__ import annotations

import base64
import io
import logging
import re
import sys
import warnings
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import LargeBinary, String, Text, inspect, select, text

from ia_events.accounts import users
from ia_events.cli.main import run
from ia_events.core.access import Actor
from ia_events.core.installation import Installation, reset_shared
from ia_events.web import checkin_page
from ia_events.web.routes import routes
from tests.conftest import point_app_at
from tests.factories import make_occurrence
from tests.support import demo_password

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

NAME = "Olena Kovalenko-Secretcheck"


def _forms(raw: bytes) -> list[bytes]:
    """The ways a secret could be written down: raw, hex, base64 (both alphabets)."""
    out = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        out.append(enc(raw).rstrip(b"="))
    return [o for o in out if len(o) >= 12]


def _key_material(inst: Installation) -> dict[str, bytes]:
    keys = inst.settings.data_dir / "keys"
    found = {p.name: p.read_bytes() for p in keys.glob("*.bin")}
    pem = (keys / "signing-ed25519.pem").read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    found["ed25519-private"] = private.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    found["ed25519-pem-body"] = b"".join(pem.splitlines()[1:-1])
    assert found["kek-1.bin"] and found["hmac.bin"]
    return found


def _dump(inst: Installation) -> list[tuple[str, bytes]]:
    """Every text, JSON and binary value of every table, as bytes."""
    cells: list[tuple[str, bytes]] = []
    meta_tables = inspect(inst.db.engine).get_table_names()
    from ia_events.core.models import Base

    with inst.db.read() as s:
        for name in meta_tables:
            table = Base.metadata.tables.get(name)
            if table is None:  # alembic_version
                rows = s.execute(text(f'SELECT * FROM "{name}"')).all()
                cells += [(name, str(r).encode()) for r in rows]
                continue
            cols = [c for c in table.columns if isinstance(c.type, (String, Text, LargeBinary))] + [
                c for c in table.columns if c.type.__class__.__name__ in ("JSON", "JSONB")
            ]
            if not cols:
                continue
            for row in s.execute(select(*cols)).all():
                for col, value in zip(cols, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, (bytes, memoryview)):
                        cells.append((f"{name}.{col.name}", bytes(value)))
                    else:
                        cells.append((f"{name}.{col.name}", str(value).encode()))
    assert len(cells) > 100
    return cells


@pytest.fixture
def client(demo_inst: Installation, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    point_app_at(demo_inst, monkeypatch)
    checkin_page.limiter.reset()
    with TestClient(Starlette(routes=routes()), base_url="http://testserver") as c:
        yield c
    reset_shared()


def _checkin(client: TestClient, inst: Installation) -> str:
    made = make_occurrence(inst)
    html = client.get(f"/checkin?t={made.token}").text
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    answer = client.post("/checkin", data={**form, "name": NAME})
    assert 'data-state="ok"' in answer.text
    return made.token


def test_no_key_material_password_or_token_in_the_database(
    demo_inst: Installation, client: TestClient
) -> None:
    password = demo_password(demo_inst.settings.data_dir)
    session_token = users.login(demo_inst, "fk-essen", password).token
    checkin_token = _checkin(client, demo_inst)
    secrets: dict[str, list[bytes]] = {
        name: _forms(raw) for name, raw in _key_material(demo_inst).items()
    }
    secrets["demo password"] = [password.encode()]
    secrets["session token"] = [session_token.encode()]
    secrets["check-in token"] = [checkin_token.encode()]
    secrets["participant name"] = [NAME.encode()]
    hits = [
        f"{secret} in {where}"
        for where, value in _dump(demo_inst)
        for secret, forms in secrets.items()
        if any(f in value for f in forms)
    ]
    assert hits == []


def test_secrets_never_reach_logs_or_command_output(
    demo_inst: Installation,
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    point_app_at(demo_inst, monkeypatch)
    secret_pw = "Ein-sehr-geheimes-Passwort-77"
    # the CLI reads the password from stdin and must not echo it
    monkeypatch.setattr(sys, "stdin", io.StringIO(secret_pw + "\n"))
    assert run(["user", "add", "lea", "--role", "coordinator"]) == 0
    login = users.login(demo_inst, "lea", secret_pw)
    with pytest.raises(users.AuthError):
        users.login(demo_inst, "lea", secret_pw + "-falsch")
    token = _checkin(client, demo_inst)
    users.logout(demo_inst, login.token)
    out = capsys.readouterr()
    # The test client's own request log (httpx) shows the URL it was asked for; what
    # the server side writes is what counts.
    server_logs = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    for secret in (secret_pw, login.token, token, NAME):
        assert secret not in out.out + out.err
        assert secret not in server_logs
    # and the audit trail of all this holds ids and digests only
    from ia_events.core.audit import list_events

    with demo_inst.db.read() as s:
        events = list_events(s, Actor.cli(), limit=20)
    assert any(e.action == "user:add" for e in events)
    for e in events:
        blob = repr(e)
        assert secret_pw not in blob and login.token not in blob and NAME not in blob


def test_every_admin_action_is_audited_with_ids_only(inst: Installation, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select as sel

    from ia_events.archive import backup, fixity
    from ia_events.core.models import AuditEvent, Role

    admin = Actor("chefin", Role.admin, user_id=1)
    temp = "Vorlaeufiges-Passwort-42"
    with inst.db.write() as s:
        user = users.add_user(s, admin, inst.settings, username="lotte", password=temp,
                                 role="coordinator")  # fmt: skip
        uid = user.id
    with inst.db.write() as s:
        users.reset_password(s, admin, inst.settings, uid, temp + "-zwei")
    with inst.db.write() as s:
        users.set_active(s, admin, uid, False)
    with inst.db.write() as s:
        users.set_active(s, admin, uid, True)
    backup.backup(inst, admin, tmp_path / "bk", include_keys=False)
    backup.rotate_keys(inst, admin)
    fixity.verify(inst, admin)
    with inst.db.read() as s:
        events = s.scalars(sel(AuditEvent).where(AuditEvent.actor == "chefin")).all()
    actions = [e.action for e in events]
    for expected in ("user:add", "user:password:reset", "user:deactivate", "user:reactivate",
                     "system:backup", "keys:rotate", "system:verify"):  # fmt: skip
        assert expected in actions, (expected, actions)
    for e in events:
        assert temp not in repr(e.details) and "Passwort" not in repr(e.details)


def test_key_ring_never_prints_its_keys(sqlite_inst: Installation) -> None:
    from hypothesis.vendor.pretty import pretty

    keys = sqlite_inst.keys
    keys.subkey("checkin-token")
    material = _key_material(sqlite_inst)
    for shown in (repr(keys), str(keys), pretty(keys), repr(sqlite_inst), pretty(sqlite_inst)):
        for raw in material.values():
            assert not any(f.decode("latin-1") in shown for f in _forms(raw))
            assert repr(raw)[2:-1] not in shown
