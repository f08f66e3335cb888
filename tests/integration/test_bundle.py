"""The inspection bundle: a valid, signed BagIt bag; tampering of any kind is found."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bagit
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from ia_events.archive.evidence import add_evidence
from ia_events.cli.main import run
from ia_events.core.access import Actor
from ia_events.core.errors import NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    Agency,
    Attendance,
    AuditEvent,
    Occurrence,
    Role,
    SubGoal,
    TaskPlan,
    TaskPlanVersion,
)
from ia_events.inspection.bundle import export_bundle, verify_bundle
from ia_events.planning.plans import snapshot

ACTOR = Actor.cli("test:inspection")
PAST = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
SECRET_NAME = "Amira Testperson"


def build(inst: Installation) -> dict[str, int]:
    """One agency, an approved plan with two sub-goals, one held occurrence, evidence."""
    with inst.db.write() as s:
        agency = Agency(slug="testagentur", name="Integrationsagentur Test", carrier="Träger e.V.")
        other = Agency(slug="andere", name="Integrationsagentur Andere", carrier="X e.V.")
        s.add_all([agency, other])
        s.flush()
        plan = TaskPlan(agency_id=agency.id, funding_year=2025, topic="Begegnung", goal="Teilhabe")
        s.add(plan)
        s.flush()
        g1 = SubGoal(
            task_plan_id=plan.id,
            agency_id=agency.id,
            funding_year=2025,
            position=0,
            title="Nähcafé / Treffpunkt: 30 Teilnahmen",
            field="BE",
            indicator="participants",
            target=30,
        )
        g2 = SubGoal(
            task_plan_id=plan.id,
            agency_id=agency.id,
            funding_year=2025,
            position=1,
            title="Presse",
            field="SRO",
            indicator="manual",
            target=1,
            manual_actual=1,
        )
        s.add_all([g1, g2])
        s.flush()
        s.refresh(plan)
        s.add(
            TaskPlanVersion(
                task_plan_id=plan.id,
                agency_id=agency.id,
                version=1,
                snapshot=snapshot(plan),
                changed_by="koordination",
            )
        )
        plan.status, plan.approved_version, plan.approved_by = "approved", 1, "koordination"
        act = Activity(
            agency_id=agency.id, funding_year=2025, title="Nähcafé", type="Nähcafé", field="BE"
        )
        act.subgoals = [g1]
        s.add(act)
        s.flush()
        occ = Occurrence(
            activity_id=act.id,
            agency_id=agency.id,
            funding_year=2025,
            starts_at=PAST,
            ends_at=PAST + timedelta(hours=2),
        )
        bare = Occurrence(
            activity_id=act.id,
            agency_id=agency.id,
            funding_year=2025,
            starts_at=PAST + timedelta(days=7),
            ends_at=PAST + timedelta(days=7, hours=2),
        )
        s.add_all([occ, bare])
        s.flush()
        s.add_all(
            [
                Attendance(
                    occurrence_id=occ.id,
                    agency_id=agency.id,
                    funding_year=2025,
                    method="self_qr",
                    count=1,
                    name_index="x" * 64,
                    name_enc=SECRET_NAME.encode(),
                ),
                Attendance(
                    occurrence_id=occ.id,
                    agency_id=agency.id,
                    funding_year=2025,
                    method="headcount",
                    count=12,
                    category="Kinder",
                ),
            ]
        )
        ids = {
            "agency": agency.id,
            "other": other.id,
            "g1": g1.id,
            "g2": g2.id,
            "occ": occ.id,
            "bare": bare.id,
        }
    scan = add_evidence(
        inst,
        ACTOR,
        agency_slug="testagentur",
        funding_year=2025,
        kind="signed_list_scan",
        filename="Liste: 04.03. (Scan).pdf",
        content=b"%PDF-1.4\n" + b"x" * 300_000,
        occurrence_id=ids["occ"],
        media_type="application/pdf",
    )
    press = add_evidence(
        inst,
        ACTOR,
        agency_slug="testagentur",
        funding_year=2025,
        kind="press_release",
        filename="presse.txt",
        content="Pressemeldung „Nähcafé“\n".encode(),
        subgoal_ids=[ids["g2"]],
    )
    ids["scan"], ids["press"] = scan.id, press.id
    return ids


def _extract(zip_path: Path, where: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(where)
        root = zf.namelist()[0].split("/")[0]
    return where / root


def test_bundle_is_a_valid_signed_bag(inst: Installation, tmp_path: Path) -> None:
    ids = build(inst)
    out = tmp_path / "paket.zip"
    result = export_bundle(inst, ACTOR, "testagentur", 2025, out)
    assert out.exists() and result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert not list(tmp_path.glob(".*.part"))

    bag_dir = _extract(out, tmp_path / "x")
    bag = bagit.Bag(str(bag_dir))
    assert bag.validate()
    assert bag.version_info == (1, 0)
    assert bag.info["Bag-Group-Identifier"] == "2025"
    assert bag.info["Source-Organization"] == "Träger e.V. – Integrationsagentur Test"
    for label in ("Bagging-Date", "External-Identifier", "Payload-Oxum"):
        assert bag.info[label]

    # The signature is the installation's, over the exact bytes of the tag manifest.
    tagmanifest = (bag_dir / "tagmanifest-sha256.txt").read_bytes()
    signature = (bag_dir.parent / f"{bag_dir.name}.tagmanifest-sha256.txt.sig").read_bytes()
    assert len(signature) == 64
    inst.keys.public_key.verify(signature, tagmanifest)
    embedded = serialization.load_pem_public_key((bag_dir / "signing-key.pem").read_bytes())
    embedded.verify(signature, tagmanifest)  # type: ignore[union-attr]
    assert "signing-key.pem" in tagmanifest.decode()
    assert "signing-key-fingerprint.txt" in tagmanifest.decode()
    assert inst.keys.fingerprint() in (bag_dir / "signing-key-fingerprint.txt").read_text()

    # Laid out for a human: evidence by sub-goal and occurrence, readable and safe names.
    files = sorted(
        p.relative_to(bag_dir / "data").as_posix()
        for p in bag.payload_files()
        for p in [bag_dir / p]
    )
    scan = next(f for f in files if f.endswith(".pdf") and "signed_list_scan" in f)
    assert scan.startswith("03_Nachweise/01_Nähcafé_")
    assert f"_T{ids['occ']}/" in scan and ":" not in scan
    assert any("03_Nachweise/02_Presse/" in f and f.endswith("presse.txt") for f in files)
    assert "00_Inhaltsverzeichnis.pdf" in files
    assert (bag_dir / "data/00_Inhaltsverzeichnis.pdf").read_bytes().startswith(b"%PDF")
    assert (bag_dir / "data/01_Aufgabenplanung/freigegebene_Fassung_v1.json").exists()
    readme = (bag_dir / "README-VERIFY.txt").read_text()
    assert "sha256sum -c manifest-sha256.txt" in readme
    assert "openssl pkeyutl -verify" in readme and "beweist für sich allein" in readme

    # Attendance as counts, never a name.
    csv_text = (bag_dir / "data/04_Teilnahme/Teilnahmen_je_Termin.csv").read_text("utf-8-sig")
    header, first = csv_text.splitlines()[:2]
    assert "teilnahmen" in header and str(ids["occ"]) in first and ";13;" in first
    assert SECRET_NAME not in csv_text
    for path in (bag_dir / "data").rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".jsonl", ".txt"):
            assert SECRET_NAME not in path.read_text(errors="ignore")

    # Audit extract and a fresh signed checkpoint; the export itself is audited.
    extract = (bag_dir / "data/05_Audit/Audit-Auszug.jsonl").read_text().splitlines()
    assert any(json.loads(line)["object_id"] == str(ids["scan"]) for line in extract)
    checkpoint = next((bag_dir / "data/05_Audit").glob("checkpoint-*.json"))
    assert json.loads(checkpoint.read_text())["key"] == inst.keys.fingerprint()
    with inst.db.read() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "bundle:export")).one()
        assert event.details["sha256"] == result.sha256
        assert event.details["year"] == 2025 and event.agency_id == ids["agency"]
        assert event.actor == ACTOR.name

    assert verify_bundle(out, inst.keys.public_key).ok


def test_subgoal_bundle_holds_only_that_subgoal(sqlite_inst: Installation, tmp_path: Path) -> None:
    ids = build(sqlite_inst)
    out = tmp_path / "tz.zip"
    export_bundle(sqlite_inst, ACTOR, "testagentur", 2025, out, subgoal_id=ids["g2"])
    bag_dir = _extract(out, tmp_path / "x")
    assert bagit.Bag(str(bag_dir)).validate()
    names = [p.name for p in (bag_dir / "data/03_Nachweise").rglob("*") if p.is_file()]
    assert names == [f"{ids['press']}_press_release_presse.txt"]


def test_specialist_cannot_export_another_agency(sqlite_inst: Installation, tmp_path: Path) -> None:
    ids = build(sqlite_inst)
    outsider = Actor(name="fk-andere", role=Role.specialist, agency_id=ids["other"])
    with pytest.raises(NotFound):
        export_bundle(sqlite_inst, outsider, "testagentur", 2025, tmp_path / "x.zip")
    own = Actor(name="fk-test", role=Role.specialist, agency_id=ids["agency"])
    export_bundle(sqlite_inst, own, "testagentur", 2025, tmp_path / "ok.zip")
    with pytest.raises(NotFound):  # a sub-goal of another year/agency reads as unknown
        export_bundle(sqlite_inst, own, "testagentur", 2025, tmp_path / "y.zip", subgoal_id=9999)
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "y.zip").exists()


def test_a_failed_export_leaves_no_file(sqlite_inst: Installation, tmp_path: Path) -> None:
    build(sqlite_inst)
    out = tmp_path / "exports" / "crash.zip"

    def crash(fraction: float, _text: str) -> None:
        if fraction > 0.5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_bundle(sqlite_inst, ACTOR, "testagentur", 2025, out, progress=crash)
    assert list((tmp_path / "exports").iterdir()) == []  # no bundle, no temp file


# -- tampering ---------------------------------------------------------------------------------


def _rewrite(src: Path, dst: Path, change) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)


@pytest.fixture
def cli_bundle(sqlite_inst: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    build(sqlite_inst)
    monkeypatch.setenv("IA_EVENTS_DATA", str(sqlite_inst.settings.data_dir))
    monkeypatch.delenv("IA_EVENTS_DATABASE_URL", raising=False)
    out = tmp_path / "paket.zip"
    code = run(["export-bundle", "--agency", "testagentur", "--year", "2025", "--out", str(out)])
    assert code == 0 and out.exists()
    return out


def _flip_evidence(name: str, data: bytes) -> bytes:
    if "signed_list_scan" in name:
        return data[:100] + bytes([data[100] ^ 1]) + data[101:]
    return data


def _edit_bag_info(name: str, data: bytes) -> bytes:
    if name.endswith("/bag-info.txt"):
        return data.replace(b"Bag-Group-Identifier: 2025", b"Bag-Group-Identifier: 2024")
    return data


def _remove_index(name: str, data: bytes) -> bytes | None:
    return None if name.endswith("00_Inhaltsverzeichnis.pdf") else data


def _forge_signature(name: str, data: bytes) -> bytes:
    if name.endswith(".sig"):
        return Ed25519PrivateKey.generate().sign(b"anything")
    return data


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_flip_evidence, "Geändert: data/03_Nachweise/"),
        (_edit_bag_info, "Geändert: bag-info.txt"),
        (_remove_index, "Fehlt: data/00_Inhaltsverzeichnis.pdf"),
        (_forge_signature, "Signatur ungültig"),
    ],
    ids=["evidence-byte", "bag-info-line", "removed-file", "forged-signature"],
)
def test_verify_bundle_names_every_change(  # type: ignore[no-untyped-def]
    cli_bundle: Path, tmp_path: Path, capsys, change, expected: str
) -> None:
    assert run(["verify-bundle", str(cli_bundle)]) == 0
    assert "vollständig und unverändert" in capsys.readouterr().out
    bad = tmp_path / "bad.zip"
    _rewrite(cli_bundle, bad, change)
    assert run(["verify-bundle", str(bad)]) == 1
    out = capsys.readouterr().out
    assert expected in out
    assert "NICHT intakt" in out


def test_verify_bundle_finds_an_extra_file_and_raw_corruption(
    cli_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "extra.zip"
    _rewrite(cli_bundle, extra, lambda n, d: d)
    root = zipfile.ZipFile(cli_bundle).namelist()[0].split("/")[0]
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr(f"{root}/data/untergeschoben.pdf", b"%PDF fake")
    assert run(["verify-bundle", str(extra)]) == 1
    assert "Zusätzlich (in keinem Manifest): data/untergeschoben.pdf" in capsys.readouterr().out

    raw = bytearray(cli_bundle.read_bytes())
    at = raw.find(b"x" * 1000) + 500  # inside the stored scan
    raw[at] ^= 0xFF
    broken = tmp_path / "raw.zip"
    broken.write_bytes(bytes(raw))
    assert run(["verify-bundle", str(broken)]) == 1
    assert "Geändert: data/03_Nachweise/" in capsys.readouterr().out


def test_verify_bundle_with_an_outsiders_public_key(
    cli_bundle: Path, tmp_path: Path, sqlite_inst: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    known = tmp_path / "known.pem"
    known.write_text(sqlite_inst.keys.public_pem())
    assert run(["verify-bundle", str(cli_bundle), "--public-key", str(known)]) == 0
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert run(["verify-bundle", str(cli_bundle), "--public-key", str(stranger)]) == 1
    assert "Signatur ungültig" in capsys.readouterr().out
    assert run(["verify-bundle", str(tmp_path / "nichts.zip")]) == 2


def test_figures_and_sachbericht_on_both_databases(inst: Installation) -> None:
    from ia_events.reporting import activity_report, controlling

    ids = build(inst)
    with inst.db.read() as s:
        (figures,) = controlling.figures(s, ACTOR, 2025, "testagentur")
        months = controlling.attendance_by_month(s, ACTOR, "testagentur", 2025)
        draft = activity_report.draft(s, ACTOR, "testagentur", 2025, inst.keys.fingerprint())
    total = figures.rows[0]
    assert (total.level, total.participants, total.occurrences) == ("Gesamt", 13, 2)
    assert total.distinct_persons == 1  # one named person (blind index), headcounts are not persons
    by_goal = {f.key: f for f in figures.rows if f.level == "Teilziel"}
    assert by_goal[str(ids["g1"])].actual == 13 and by_goal[str(ids["g1"])].target == 30
    assert months[2] == {"Monat": 3, "Termine": 2, "Teilnahmen": 13}
    first = draft.sections[0]
    assert first.activities[0].participants == 13 and len(first.activities[0].dates) == 2
    assert first.evidence_count == 1  # the scan of its occurrence
    assert draft.sections[1].evidence_count == 1  # the press release linked to it


def test_a_damaged_archive_file_stops_the_export_and_names_it(
    sqlite_inst: Installation, tmp_path: Path
) -> None:
    from ia_events.core.errors import Conflict
    from ia_events.core.models import Blob, Evidence

    ids = build(sqlite_inst)
    with sqlite_inst.db.read() as s:
        item = s.get(Evidence, ids["scan"])
        assert item is not None
        blob = s.get(Blob, item.blob_id)
        assert blob is not None
        path = sqlite_inst.blobs.path_for(blob.name)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    out = tmp_path / "exports" / "damaged.zip"
    with pytest.raises(Conflict) as refused:
        export_bundle(sqlite_inst, ACTOR, "testagentur", 2025, out)
    assert refused.value.code == "bundle_blob_missing"
    assert refused.value.params["evidence"] == ids["scan"]
    assert list(out.parent.iterdir()) == []


def test_verify_bundle_refuses_a_forged_copy_before_the_original(
    cli_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``unzip -n`` keeps the first of two equal names, Python's zipfile the last:
    a forged copy placed first must make the bundle fail, not pass unnoticed."""
    import warnings

    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(cli_bundle) as src:
        infos = src.infolist()
        target = next(i for i in infos if "/data/03_Nachweise/" in i.filename)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
            with zipfile.ZipFile(forged, "w") as out:
                for info in infos:
                    if info.filename == target.filename:
                        out.writestr(info.filename, b"%PDF-1.4 gefaelscht")
                    out.writestr(info, src.read(info))
    assert run(["verify-bundle", str(forged)]) == 1
    out = capsys.readouterr().out
    assert f"Doppelter Eintrag im Paket: {target.filename}" in out
    # The same with another case or a backslash (other unpackers, other file systems).
    for twin in (target.filename.upper(), target.filename.replace("/", "\\")):
        odd = tmp_path / "odd.zip"
        with zipfile.ZipFile(cli_bundle) as src, zipfile.ZipFile(odd, "w") as out_zip:
            out_zip.writestr(twin, b"x")
            for info in src.infolist():
                out_zip.writestr(info, src.read(info))
        assert run(["verify-bundle", str(odd)]) == 1
        assert "Doppelter Eintrag" in capsys.readouterr().out


# -- read by outside tools -------------------------------------------------------------------


def _readme_commands(readme: str, tool: str) -> list[str]:
    """The shell commands README-VERIFY.txt gives, joined over their ``\\`` line breaks."""
    out, lines = [], readme.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(tool):
            cmd, j = line.strip(), i
            while cmd.endswith("\\"):
                j += 1
                cmd = cmd[:-1] + " " + lines[j].strip()
            out.append(cmd)
    return out


def test_bundle_checks_out_with_outside_tools_alone(
    cli_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """LoC bagit, the strict bagit-utils, sha256sum and openssl, run as README-VERIFY.txt says,
    with the public key printed by ``ia-events keys public``."""
    import shutil
    import subprocess

    import bagit_utils

    assert run(["keys", "public"]) == 0
    known = tmp_path / "bekannt.pem"
    known.write_text(capsys.readouterr().out)
    with zipfile.ZipFile(cli_bundle) as zf:
        zf.extractall(tmp_path / "x")
        top = {name.split("/")[0] + ("/" if "/" in name else "") for name in zf.namelist()}
    bag_dir = next(p for p in (tmp_path / "x").iterdir() if p.is_dir())
    sig = f"{bag_dir.name}.tagmanifest-sha256.txt.sig"
    assert top == {f"{bag_dir.name}/", sig}  # the signature lies beside the bag, not in it

    assert bagit.Bag(str(bag_dir)).validate()
    from tests.pdfa_support import pdfa_problems

    assert pdfa_problems((bag_dir / "data/00_Inhaltsverzeichnis.pdf").read_bytes()) == []
    report = bagit_utils.Bag(bag_dir, load=True).validate()
    assert report.valid and report.issues == [], [i.message for i in report.issues]

    readme = (bag_dir / "README-VERIFY.txt").read_text()
    # It names exactly what this bag holds under data/ (this one has no Sachbericht).
    listed = re.findall(r"^  (\S+)$", readme.split("Inhalt dieses Pakets")[1], re.M)
    present = sorted(p.name + ("/" if p.is_dir() else "") for p in (bag_dir / "data").iterdir())
    assert sorted(listed) == present and "02_Sachbericht/" not in readme

    if shutil.which("openssl") is None or shutil.which("sha256sum") is None:
        pytest.skip("openssl/sha256sum not installed")
    for cmd in _readme_commands(readme, "sha256sum -c"):
        done = subprocess.run(cmd, shell=True, cwd=bag_dir, capture_output=True, text=True)
        assert done.returncode == 0 and "FAILED" not in done.stdout, done.stdout + done.stderr
    verifies = _readme_commands(readme, "openssl pkeyutl -verify")
    assert len(verifies) == 2  # the tag manifest, the audit checkpoint
    for cmd in verifies:
        cmd = cmd.replace("-inkey signing-key.pem", f"-inkey {known}")
        done = subprocess.run(cmd, shell=True, cwd=bag_dir, capture_output=True, text=True)
        assert "Signature Verified Successfully" in done.stdout, cmd + done.stdout + done.stderr

    # The checkpoint's signed bytes are exactly the JSON printed in the README.
    checkpoint = next((bag_dir / "data/05_Audit").glob("checkpoint-*[0-9].json"))
    fields = json.loads(checkpoint.read_text())
    signed = (bag_dir / "data/05_Audit" / f"{checkpoint.stem}.signiert.txt").read_bytes()
    assert (
        signed
        == json.dumps(
            {k: fields[k] for k in ("at", "hash", "key", "seq")}, separators=(",", ":")
        ).encode()
    )
    assert signed.decode() in readme.splitlines()

    # A changed byte in the signed checkpoint bytes fails under openssl as well.
    forged = tmp_path / "forged.txt"
    forged.write_bytes(signed.replace(b'"seq":', b'"seq":9'))
    cmd = verifies[1].replace("-inkey signing-key.pem", f"-inkey {known}")
    cmd = re.sub(r"-in \S+", f"-in {forged}", cmd)
    done = subprocess.run(cmd, shell=True, cwd=bag_dir, capture_output=True, text=True)
    assert "Signature Verified Successfully" not in done.stdout


def test_verify_bundle_reads_old_bundles_and_names_a_stray_file_beside_the_bag(
    cli_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = zipfile.ZipFile(cli_bundle).namelist()[0].split("/")[0]
    detached = f"{root}.tagmanifest-sha256.txt.sig"

    # Before 2026-12 the signature lay inside the bag; such bundles still verify.
    old = tmp_path / "alt.zip"
    with zipfile.ZipFile(cli_bundle) as zin, zipfile.ZipFile(old, "w") as zout:
        for info in zin.infolist():
            name = f"{root}/tagmanifest-sha256.txt.sig" if info.filename == detached else None
            zout.writestr(name or info, zin.read(info))
    assert run(["verify-bundle", str(old)]) == 0
    capsys.readouterr()

    stray = tmp_path / "stray.zip"
    _rewrite(cli_bundle, stray, lambda n, d: d)
    with zipfile.ZipFile(stray, "a") as zf:
        zf.writestr("nachgereicht.pdf", b"%PDF fake")
    assert run(["verify-bundle", str(stray)]) == 1
    assert "neben dem Paket-Ordner): nachgereicht.pdf" in capsys.readouterr().out

    missing = tmp_path / "ohne.zip"
    _rewrite(cli_bundle, missing, lambda n, d: None if n == detached else d)
    assert run(["verify-bundle", str(missing)]) == 1
    assert f"Fehlt: {detached}" in capsys.readouterr().out
