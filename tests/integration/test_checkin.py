"""Check-in rules on real SQLite and PostgreSQL: states, duplicates, concurrency, undo."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ia_events.attendance import cards, checkin, records
from ia_events.attendance.tokens import TokenInfo, make_token, new_nonce
from ia_events.core import audit
from ia_events.core.access import Actor
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import Attendance, AuditEvent, Role, Scan
from storage.db import utcnow
from tests.factories import make_occurrence


def _submit(inst: Installation, token: str, nonce: str | None = None, **kw) -> checkin.Answer:  # type: ignore[no-untyped-def]
    with inst.db.write() as s:
        return checkin.submit(s, inst.keys, token, nonce or new_nonce(inst.keys, token), **kw)


def _counts(inst: Installation, occ_id: int) -> tuple[int, int]:
    with inst.db.read() as s:
        att = s.scalar(
            select(func.count())
            .select_from(Attendance)
            .where(Attendance.occurrence_id == occ_id, Attendance.undone_at.is_(None))
        )
        scans = s.scalar(select(func.count()).select_from(Scan))
    return int(att or 0), int(scans or 0)


def test_24_phones_at_the_same_moment_give_exactly_24_records(inst: Installation) -> None:
    made = make_occurrence(inst)
    start = threading.Barrier(24)
    answers: list[checkin.Answer] = []
    errors: list[BaseException] = []

    def phone(i: int) -> None:
        nonce = new_nonce(inst.keys, made.token)
        start.wait()
        try:
            answers.append(_submit(inst, made.token, nonce, name=f"Teilnehmerin {i:02d}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=phone, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert [a.state for a in answers] == ["ok"] * 24
    assert len({a.attendance_id for a in answers}) == 24
    assert _counts(inst, made.occurrence_id) == (24, 24)
    with inst.db.read() as s:
        assert audit.check_chain(s) == []
        events = s.scalar(
            select(func.count()).where(AuditEvent.action == audit.Action.attendance_add)
        )
    assert events == 24


def test_the_same_nonce_sent_many_times_at_once_records_once(inst: Installation) -> None:
    made = make_occurrence(inst)
    nonce = new_nonce(inst.keys, made.token)
    start = threading.Barrier(8)
    answers: list[checkin.Answer] = []

    def tap() -> None:
        start.wait()
        answers.append(_submit(inst, made.token, nonce, name="Olena Kovalenko"))

    threads = [threading.Thread(target=tap) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert {a.state for a in answers} == {"ok"}
    assert len({a.attendance_id for a in answers}) == 1
    assert _counts(inst, made.occurrence_id) == (1, 1)


def test_same_name_twice_is_counted_once_with_a_way_out(inst: Installation) -> None:
    made = make_occurrence(inst)
    first = _submit(inst, made.token, name="Ayşe Yılmaz")
    again = _submit(inst, made.token, name="  ayşe   YILMAZ ")
    assert first.state == "ok"
    assert again.state == "already_checked_in" and again.name_match
    assert _counts(inst, made.occurrence_id)[0] == 1
    other = _submit(inst, made.token, name="Ayşe Yılmaz", other_person=True)
    assert other.state == "ok"
    with inst.db.read() as s:
        rows = records.list_attendance(s, inst.keys, made.door, made.occurrence_id, names=True)
        indexes = s.scalars(
            select(Attendance.name_index).where(Attendance.occurrence_id == made.occurrence_id)
        ).all()
    assert [r.name for r in rows] == ["Ayşe Yılmaz", "Ayşe Yılmaz (2)"]
    assert len(set(indexes)) == 2  # two distinct persons for the sub-goal count


def test_names_are_stored_encrypted_with_a_blind_index(inst: Installation) -> None:
    made = make_occurrence(inst)
    _submit(inst, made.token, name="Марія Іваненко")
    with inst.db.read() as s:
        row = s.scalars(select(Attendance).where(Attendance.occurrence_id == made.occurrence_id))
        att = row.one()
    assert att.name_enc and "Марія".encode() not in att.name_enc
    assert att.name_index and len(att.name_index) == 64
    assert att.photo_consent is None and att.age_band is None  # not asked, not stored


@pytest.mark.parametrize(
    ("starts_in", "expected"),
    [(timedelta(hours=2), "not_open"), (timedelta(hours=-5), "closed")],
)
def test_outside_the_window_is_refused_and_stored(inst: Installation, starts_in, expected) -> None:  # type: ignore[no-untyped-def]
    made = make_occurrence(inst, starts_in=starts_in)
    with inst.db.read() as s:
        assert checkin.resolve(s, inst.keys, made.token).state == expected
    answer = _submit(inst, made.token, name="Fatima Haddad")
    assert answer.state == expected
    assert _counts(inst, made.occurrence_id) == (0, 1)
    with inst.db.read() as s:
        scans = records.list_scans(s, made.door, made.occurrence_id)
    assert [(x.reason, x.successful) for x in scans] == [(expected, False)]


def test_cancelled_revoked_forged_and_volunteer_tokens_record_no_attendance(
    inst: Installation,
) -> None:
    made = make_occurrence(inst)
    forged = made.token[:-2] + ("AA" if not made.token.endswith("AA") else "BA")
    assert _submit(inst, forged, name="X Y").state == "invalid"
    volunteer = make_token(inst.keys, TokenInfo("volunteer", "occurrence", made.occurrence_id, 1))
    assert _submit(inst, volunteer, name="X Y").state == "invalid"
    with inst.db.write() as s:
        checkin.revoke_links(s, made.door, made.occurrence_id)
    assert _submit(inst, made.token, name="X Y").state == "revoked"
    with inst.db.read() as s:
        url = checkin.occurrence_link(s, inst.keys, made.door, made.occurrence_id, "http://h")
    fresh = url.split("t=")[1]
    from ia_events.core.models import Occurrence

    with inst.db.write() as s:
        s.get(Occurrence, made.occurrence_id).status = "cancelled"  # type: ignore[union-attr]
    assert _submit(inst, fresh, name="X Y").state == "cancelled"
    assert _counts(inst, made.occurrence_id)[0] == 0


def test_a_nonce_of_another_token_is_refused(inst: Installation) -> None:
    made = make_occurrence(inst)
    other = make_occurrence(inst)
    stolen = new_nonce(inst.keys, other.token)
    assert _submit(inst, made.token, stolen, name="X Y").state == "invalid"
    assert _counts(inst, made.occurrence_id)[0] == 0


def test_bad_input_changes_nothing(inst: Installation) -> None:
    made = make_occurrence(inst)
    before = _counts(inst, made.occurrence_id)
    with pytest.raises(InvalidInput):
        _submit(inst, made.token, name="   ")
    with pytest.raises(InvalidInput):
        _submit(inst, made.token, name="x" * 200)
    assert _counts(inst, made.occurrence_id) == before


def test_anonymous_mode_counts_a_phone_once_unless_another_person(inst: Installation) -> None:
    made = make_occurrence(inst, mode="anonymous", photographed=True, asks_age_band=True)
    first = _submit(inst, made.token, age_band="18-26", photo_consent=True)
    assert first.state == "ok"
    again = _submit(inst, made.token, device_attendance_ids=[first.attendance_id])
    assert again.state == "already_checked_in" and not again.name_match
    other = _submit(
        inst, made.token, device_attendance_ids=[first.attendance_id], other_person=True
    )
    assert other.state == "ok"
    with inst.db.read() as s:
        att = s.get(Attendance, first.attendance_id)
    assert att is not None and att.age_band == "18-26" and att.photo_consent is True
    assert att.name_enc is None


def test_undo_is_audited_and_kept(inst: Installation) -> None:
    made = make_occurrence(inst)
    with inst.db.write() as s:
        wrong = checkin.door_checkin(s, inst.keys, made.door, made.occurrence_id, name="Zahra A")
    with pytest.raises(InvalidInput), inst.db.write() as s:
        records.undo(s, made.door, wrong.attendance_id, " ")
    with inst.db.write() as s:
        records.undo(s, made.door, wrong.attendance_id, "doppelt erfasst")
    with pytest.raises(Conflict), inst.db.write() as s:
        records.undo(s, made.door, wrong.attendance_id, "noch einmal")
    with inst.db.read() as s:
        assert records.list_attendance(s, None, made.door, made.occurrence_id) == []
        scans = records.list_scans(s, made.door, made.occurrence_id)
        undone = records.list_attendance(
            s, None, made.door, made.occurrence_id, include_undone=True
        )
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == audit.Action.attendance_undo)
        ).one()
    assert [(x.method, x.reason, x.undone) for x in scans] == [("door_manual", "ok", True)]
    assert undone[0].undo_reason == "doppelt erfasst"
    assert event.object_id == str(wrong.attendance_id) and event.actor == made.door.name
    assert "Zahra" not in str(event.details) and "doppelt" not in str(event.details)


def test_another_agency_is_answered_like_an_unknown_id(inst: Installation) -> None:
    made = make_occurrence(inst)
    other = make_occurrence(inst)
    with inst.db.write() as s:
        mine = checkin.door_checkin(s, inst.keys, made.door, made.occurrence_id, name="A B")
    for call in (
        lambda s: checkin.door_checkin(s, inst.keys, other.door, made.occurrence_id, name="A"),
        lambda s: records.undo(s, other.door, mine.attendance_id, "fremd"),
        lambda s: records.list_attendance(s, None, other.door, made.occurrence_id),
        lambda s: records.headcount(s, other.door, made.occurrence_id, None, 1),
        lambda s: checkin.occurrence_link(s, inst.keys, other.door, made.occurrence_id, "h"),
    ):
        with pytest.raises(NotFound), inst.db.write() as s:
            call(s)


def test_cards_count_a_person_once_and_only_in_their_agency(inst: Installation) -> None:
    made = make_occurrence(inst, mode="card")
    other = make_occurrence(inst, mode="card")
    with inst.db.write() as s:
        mine = cards.issue_cards(s, made.door, made.agency_id, 2)
        theirs = cards.issue_cards(s, other.door, other.agency_id, 1)
        pdf = cards.cards_pdf(s, made.door, made.agency_id, mine)
    assert pdf.startswith(b"%PDF")
    photo = cards.qr_png(cards.card_payload(mine[0].code))
    assert cards.decode_qr(photo) == [cards.card_payload(mine[0].code)]

    def scan(code: str) -> str:
        with inst.db.write() as s:
            return checkin.card_checkin(s, inst.keys, made.door, made.occurrence_id, code).state

    assert scan(cards.decode_qr(photo)[0]) == "ok"
    assert scan(mine[0].code.lower()) == "already_checked_in"
    assert scan(theirs[0].code) == "card_unknown"
    assert scan("K-NOPE-NOPE") == "card_unknown"
    from ia_events.core.models import ParticipantCard

    with inst.db.write() as s:
        s.get(ParticipantCard, mine[1].id).revoked_at = utcnow()  # type: ignore[union-attr]
    assert scan(mine[1].code) == "card_revoked"
    assert _counts(inst, made.occurrence_id)[0] == 1


def test_headcount_plus_and_minus_per_category(inst: Installation) -> None:
    made = make_occurrence(inst, mode="anonymous", categories=["Frauen", "Kinder"])

    def count(category: str | None, delta: int) -> int:
        with inst.db.write() as s:
            return records.headcount(s, made.door, made.occurrence_id, category, delta)

    assert count("Frauen", 1) == 1
    assert count("Frauen", 1) == 2
    assert count("Kinder", 5) == 5
    assert count("Kinder", -2) == 3
    assert count("Frauen", -1) == 1
    with pytest.raises(Conflict):
        count("Frauen", -2)
    with pytest.raises(InvalidInput):
        count("Männer", 1)
    with inst.db.read() as s:
        c = records.counter(s, made.door, made.occurrence_id)
        listed = records.list_attendance(s, None, made.door, made.occurrence_id)
    assert c.by_category == {"Frauen": 1, "Kinder": 3}
    assert c.total == 4 == sum(r.count for r in listed)
    assert {r.method for r in listed} == {"headcount"}


def test_series_token_resolves_to_the_occurrence_of_the_day(inst: Installation) -> None:
    made = make_occurrence(inst)
    with inst.db.read() as s:
        url = checkin.series_link(s, inst.keys, made.door, made.activity_id, "http://h")
        target = checkin.resolve(s, inst.keys, url.split("t=")[1])
    assert target.state == "open" and target.occurrence_id == made.occurrence_id
    assert _submit(inst, url.split("t=")[1], name="Gül Kaya").state == "ok"
    with inst.db.write() as s:
        checkin.revoke_series_link(s, made.door, made.activity_id)
    with inst.db.read() as s:
        assert checkin.resolve(s, inst.keys, url.split("t=")[1]).state == "revoked"


def test_volunteer_may_count_but_not_read_names(inst: Installation) -> None:
    made = make_occurrence(inst)
    volunteer = Actor(name="ehrenamt", role=Role.volunteer, agency_id=made.agency_id)
    with inst.db.write() as s:
        checkin.door_checkin(s, inst.keys, volunteer, made.occurrence_id, name="Roya Karimi")
    with inst.db.read() as s:
        rows = records.list_attendance(s, inst.keys, volunteer, made.occurrence_id, names=True)
        pdf = __import__("ia_events.attendance.lists").attendance.lists.participant_list(
            s, inst.keys, volunteer, made.occurrence_id, "http://h"
        )
    assert rows[0].name is None and rows[0].method == "door_manual"
    assert pdf.startswith(b"%PDF")
