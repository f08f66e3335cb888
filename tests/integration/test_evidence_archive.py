"""Evidence archive: content-checked, encrypted, deduplicated per agency, immutable, audited."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from ia_events.archive import fixity
from ia_events.archive.evidence import (
    add_evidence,
    add_many,
    change_metadata,
    read_content,
    supersede,
)
from ia_events.archive.query import EvidenceFilter, search_evidence
from ia_events.core.access import Actor
from ia_events.core.errors import Conflict, DomainError, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import AuditEvent, Blob, Evidence, EvidenceRevision
from tests.factories import PDF, PNG, build


def _add(inst: Installation, actor: Actor, slug: str = "essen", **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("kind", "participant_list")
    kw.setdefault("filename", "liste.pdf")
    kw.setdefault("content", PDF)
    return add_evidence(inst, actor, agency_slug=slug, funding_year=2025, **kw)


def _blob_files(inst: Installation) -> list[str]:
    return list(inst.blobs.names_on_disk())


def test_same_file_twice_is_stored_once_per_agency_never_across(
    inst: Installation, cli_actor: Actor
) -> None:
    w = build(inst)
    a = _add(inst, w.fk_essen, subgoal_ids=w.subgoals[:1], occurrence_id=w.occurrence)
    b = _add(inst, w.fk_essen, filename="kopie.pdf")
    c = _add(inst, w.fk_kleve, slug="kleve")
    assert a.sha256 == b.sha256 == c.sha256
    with inst.db.read() as s:
        blobs = s.execute(select(Blob.agency_id, func.count()).group_by(Blob.agency_id)).all()
        ids = {e.id: e.blob_id for e in s.scalars(select(Evidence))}
    assert sorted(n for _, n in blobs) == [1, 1]
    assert ids[a.id] == ids[b.id] != ids[c.id]
    assert len(_blob_files(inst)) == 2
    # The file name on disk reveals nothing about the content hash.
    assert all(a.sha256 not in n for n in _blob_files(inst))
    assert fixity.verify(inst, cli_actor).ok


def test_wrong_type_or_oversized_batch_stores_nothing(inst: Installation) -> None:
    w = build(inst)
    with pytest.raises(InvalidInput) as err:
        add_many(
            inst,
            w.fk_essen,
            [("ok.pdf", PDF), ("virus.pdf", b"MZ\x90\x00" + b"\x00" * 100)],
            kind="other",
            agency_slug="essen",
            funding_year=2025,
        )
    assert err.value.code == "file_type_unsupported"
    small = Installation(
        inst.settings.__class__(**{**inst.settings.__dict__, "max_upload_bytes": 1000}),
        inst.db,
        inst.keys,
        inst.blobs,
    )
    with pytest.raises(InvalidInput) as err:
        _add(small, w.fk_essen, content=PDF + b"x" * 2000)
    assert err.value.code == "file_too_large"
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0
    assert _blob_files(inst) == []
    assert list((inst.settings.archive_dir / "tmp").iterdir()) == []


def test_photo_needs_consent_in_the_form(inst: Installation) -> None:
    w = build(inst)
    with pytest.raises(InvalidInput) as err:
        add_many(
            inst,
            w.fk_essen,
            [("f.png", PNG)],
            kind="photo",
            require_consent=True,
            agency_slug="essen",
            funding_year=2025,
        )
    assert err.value.code == "photo_consent_missing"
    [v] = add_many(
        inst,
        w.fk_essen,
        [("f.png", io.BytesIO(PNG))],
        kind="photo",
        require_consent=True,
        agency_slug="essen",
        funding_year=2025,
        consent_ref="Versammlung",
    )
    assert v.media_type == "image/png" and v.consent_ref == "Versammlung"


def test_other_agencies_links_and_items_read_as_unknown(inst: Installation) -> None:
    w = build(inst)
    with pytest.raises(NotFound):
        _add(inst, w.fk_essen, occurrence_id=w.kleve_occurrence)
    with pytest.raises(NotFound):
        _add(inst, w.fk_essen, subgoal_ids=[w.kleve_subgoal])
    with pytest.raises(NotFound):
        _add(inst, w.fk_essen, slug="kleve")
    item = _add(inst, w.fk_kleve, slug="kleve")
    with pytest.raises(NotFound):
        read_content(inst, w.fk_essen, item.id)
    with pytest.raises(NotFound):
        read_content(inst, w.fk_essen, 999999)


def test_every_read_is_audited_and_returns_the_exact_bytes(inst: Installation) -> None:
    w = build(inst)
    item = _add(inst, w.fk_essen)
    name, media, data = read_content(inst, w.coordinator, item.id)
    assert (name, media, data) == ("liste.pdf", "application/pdf", PDF)
    with inst.db.read() as s:
        reads = s.scalars(select(AuditEvent).where(AuditEvent.action == "evidence:read")).all()
    assert [(r.actor, r.object_id) for r in reads] == [("koordination", str(item.id))]
    assert reads[0].details["sha256"] == item.sha256


def test_correction_is_a_new_version_and_metadata_changes_are_revisions(
    inst: Installation,
) -> None:
    w = build(inst)
    old = _add(inst, w.fk_essen, subgoal_ids=w.subgoals[:1], occurrence_id=w.occurrence)
    new = supersede(
        inst, w.fk_essen, old.id, filename="liste-korrigiert.pdf", content=PDF + b"% korrigiert\n"
    )
    assert new.supersedes_id == old.id and new.subgoal_ids == old.subgoal_ids
    assert new.occurrence_id == w.occurrence
    with pytest.raises(Conflict) as err:
        supersede(inst, w.fk_essen, old.id, filename="x.pdf", content=PDF + b"%2\n")
    assert err.value.code == "evidence_superseded"
    assert read_content(inst, w.fk_essen, old.id)[2] == PDF  # the old version stays
    with inst.db.write() as s:
        changed = change_metadata(
            s, w.fk_essen, new.id, reason="Tippfehler", title="Liste 3.3.", subgoal_ids=w.subgoals
        )
    assert changed.title == "Liste 3.3." and changed.revision == 2
    with inst.db.read() as s:
        rev = s.scalar(select(EvidenceRevision).where(EvidenceRevision.evidence_id == new.id))
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert rev is not None and rev.snapshot["title"] == "liste.pdf"
    assert "evidence:supersede" in actions and "evidence:change" in actions


def test_search_filters_by_subgoal_kind_and_text_with_pages(inst: Installation) -> None:
    w = build(inst)
    for i in range(5):
        _add(
            inst,
            w.fk_essen,
            kind="press_release",
            filename=f"presse-{i}.txt",
            content=f"Pressemeldung {i}".encode(),
            subgoal_ids=w.subgoals[1:],
        )
    _add(inst, w.fk_essen, title="Liste Nähcafé", subgoal_ids=w.subgoals[:1])
    _add(inst, w.fk_essen, kind="report", title="ÜBERGABE Protokoll", content=b"Protokoll")
    _add(inst, w.fk_kleve, slug="kleve")
    with inst.db.read() as s:
        by_goal = search_evidence(
            s, w.coordinator, EvidenceFilter(subgoal_id=w.subgoals[1]), page=1, page_size=2
        )
        text = search_evidence(s, w.fk_essen, EvidenceFilter(text="nähcafé"))
        shouted = search_evidence(s, w.fk_essen, EvidenceFilter(text="übergabe"))
        wildcard = search_evidence(s, w.fk_essen, EvidenceFilter(text="presse_%"))
        mine = search_evidence(s, w.fk_essen, EvidenceFilter(kind="participant_list"))
    assert by_goal.total == 5 and by_goal.pages == 3 and len(by_goal.items) == 2
    assert [v.title for v in text.items] == ["Liste Nähcafé"]
    assert [v.title for v in shouted.items] == ["ÜBERGABE Protokoll"]  # Ü folds on SQLite too
    assert wildcard.total == 0  # "_" and "%" are what was typed, not patterns
    assert mine.total == 1  # Kleve's list is out of her reach


def test_storage_full_is_a_clear_error(inst: Installation, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import errno

    w = build(inst)

    import builtins

    real_open = builtins.open

    def fake_open(path, mode="r", *a, **k):  # type: ignore[no-untyped-def]
        if "wb" in mode and "/tmp/up-" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr("storage.blobs.open", fake_open, raising=False)
    with pytest.raises(DomainError) as err:
        _add(inst, w.fk_essen)
    assert err.value.code == "storage_full"
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0


def test_a_batch_is_recorded_whole_with_one_item_and_event_per_file(inst: Installation) -> None:
    """add_many: duplicates inside the batch and of earlier uploads share one blob; every
    file still gets its own item, warnings and audit event."""
    w = build(inst)
    earlier = _add(inst, w.fk_essen)
    js = b"%PDF-1.4\n1 0 obj<</OpenAction<</S/JavaScript/JS(x)>>>>endobj\n%%EOF\n"
    other = PDF + b"% anders\n"
    views = add_many(
        inst,
        w.fk_essen,
        [("a.pdf", other), ("b.pdf", io.BytesIO(other)), ("c.pdf", PDF), ("d.pdf", js)],
        kind="participant_list",
        agency_slug="essen",
        funding_year=2025,
        occurrence_id=w.occurrence,
        subgoal_ids=w.subgoals[:1],
        title="Liste",
    )
    assert [v.title for v in views] == [f"Liste ({i})" for i in range(1, 5)]
    assert [v.filename for v in views] == ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]
    assert all(v.subgoal_ids == tuple(w.subgoals[:1]) for v in views)
    assert [bool(v.warnings) for v in views] == [False, False, False, True]
    assert views[3].flags == ("pdf_javascript",)
    with inst.db.read() as s:
        blob_of = {e.id: e.blob_id for e in s.scalars(select(Evidence))}
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "evidence:add").order_by(AuditEvent.seq)
        ).all()
    assert blob_of[views[0].id] == blob_of[views[1].id] != blob_of[views[2].id]
    assert blob_of[views[2].id] == blob_of[earlier.id]
    assert len(_blob_files(inst)) == 3
    assert [e.object_id for e in events] == [str(i) for i in (earlier.id, *(v.id for v in views))]
    assert [e.details["blob"] for e in events[1:]] == [blob_of[v.id] for v in views]
    assert fixity.verify(inst, w.admin).ok


def test_a_bad_file_found_while_encrypting_stores_nothing_of_its_batch(
    inst: Installation,
) -> None:
    """The type check passes (text), the bytes after the first block are not UTF-8: the
    batch is refused with that file's German message and nothing is left behind."""
    w = build(inst)
    broken = b"Bericht\n" * 200_000 + b"\xff\xfe kaputt"
    with pytest.raises(InvalidInput) as err:
        add_many(
            inst,
            w.fk_essen,
            [("ok.pdf", PDF), ("bericht.txt", broken), ("ok2.pdf", PDF + b"%2\n")],
            kind="other",
            agency_slug="essen",
            funding_year=2025,
        )
    assert err.value.code == "file_text_encoding"
    assert "bericht.txt" in err.value.message()
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0
        assert s.scalar(select(func.count()).select_from(Blob)) == 0
    assert _blob_files(inst) == []
    assert list((inst.settings.archive_dir / "tmp").iterdir()) == []


def test_a_full_disk_in_the_middle_of_a_batch_stores_none_of_it(
    inst: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins
    import errno

    w = build(inst)
    real_open = builtins.open
    opened: list[str] = []

    def fake_open(path, mode="r", *a, **k):  # type: ignore[no-untyped-def]
        if "wb" in mode and "/tmp/up-" in str(path):
            opened.append(str(path))
            if len(opened) == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr("storage.blobs.open", fake_open, raising=False)
    files = [(f"f{i}.pdf", PDF + b"%" + bytes([i])) for i in range(5)]
    with pytest.raises(DomainError) as err:
        add_many(inst, w.fk_essen, files, kind="other", agency_slug="essen", funding_year=2025)
    assert err.value.code == "storage_full"
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0
    assert _blob_files(inst) == []
    assert list((inst.settings.archive_dir / "tmp").iterdir()) == []


def test_the_same_new_file_uploaded_twice_at_once_stays_readable(inst: Installation) -> None:
    """Two staff members upload the same new scan at the same moment: one blob, two items,
    both readable (the second must not replace the first's file under another key)."""
    import os
    import threading

    w = build(inst)
    content = PDF + os.urandom(256 * 1024)
    barrier = threading.Barrier(4)
    views: list[object] = []
    errors: list[BaseException] = []

    def upload(i: int) -> None:
        barrier.wait()
        try:
            views.append(_add(inst, w.fk_essen, filename=f"scan-{i}.pdf", content=content))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(views) == 4
    for view in views:
        assert read_content(inst, w.fk_essen, view.id)[2] == content  # type: ignore[attr-defined]
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Blob)) == 1
    assert fixity.verify(inst, Actor.cli("test:verify")).ok
