"""The door screen (AppTest): today's Nähcafé, counter, by hand, card photo, count, undo."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from ia_events.attendance import cards
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Agency, ParticipantCard
from tests.support import login, texts

PAGE = "pages/checkin_door.py"


@pytest.fixture
def door(app, app_env: Installation):  # type: ignore[no-untyped-def]
    at = login(app, "fk-essen")
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _count(at) -> int:  # type: ignore[no-untyped-def]
    return int(next(m for m in at.metric if m.label == "Eingecheckt").value)


def _essen_card(inst: Installation) -> str:
    with inst.db.read() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        return s.scalars(
            select(ParticipantCard.code).where(ParticipantCard.agency_id == agency_id)
        ).first()  # type: ignore[return-value]


def test_opens_on_the_running_naehcafe_with_its_qr_and_counter(door) -> None:  # type: ignore[no-untyped-def]
    assert door.title[0].value == "Check-in an der Tür"
    chosen = door.selectbox(key="door_occ")
    assert "Nähcafé" in chosen.format_func(chosen.value)
    # Demo: three self check-ins, one hand entry undone -> three count.
    assert _count(door) == 3
    assert "/checkin?t=" in door.code[0].value
    assert "unerwarteter Fehler" not in texts(door)


def test_add_by_hand_then_same_name_again_then_undo(door) -> None:  # type: ignore[no-untyped-def]
    name_box = next(t for t in door.text_input if t.label == "Name")
    name_box.input("Hanna Melnyk")
    next(b for b in door.button if b.label == "Eintragen").click().run()
    assert "Eingecheckt." in [s.value for s in door.success]
    assert _count(door) == 4

    next(t for t in door.text_input if t.label == "Name").input("hanna  melnyk")
    next(b for b in door.button if b.label == "Eintragen").click().run()
    assert any("schon eingecheckt" in w.value for w in door.warning)
    assert _count(door) == 4

    undo_box = next(s for s in door.selectbox if s.label == "Eintrag")
    newest = undo_box.options[0]
    assert "Hanna Melnyk" in newest
    next(t for t in door.text_input if t.label == "Grund").input("falsch erfasst")
    next(b for b in door.button if b.label == "Rückgängig machen").click().run()
    assert any("Rückgängig gemacht" in s.value for s in door.success)
    assert _count(door) == 3


def test_undo_without_reason_changes_nothing(door) -> None:  # type: ignore[no-untyped-def]
    next(b for b in door.button if b.label == "Rückgängig machen").click().run()
    assert any("Grund" in e.value for e in door.error)
    assert _count(door) == 3


def test_card_photo_is_decoded_and_counted_once(door, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    code = _essen_card(app_env)
    image = cards.qr_image(cards.card_payload(code), box=8)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90)
    door.camera_input[0].set_value(("card.jpg", buf.getvalue(), "image/jpeg")).run()
    assert "Eingecheckt." in [s.value for s in door.success]
    assert _count(door) == 4
    door.run()  # the photo is still there on a rerun: same nonce, not counted twice
    assert _count(door) == 4
    door.camera_input[0].set_value(None)
    next(t for t in door.text_input if "Kartennummer" in t.label).input(code)
    next(b for b in door.button if b.label == "Karte prüfen").click().run()
    assert any("schon eingecheckt" in w.value for w in door.warning)


def test_headcount_plus_and_minus(door) -> None:  # type: ignore[no-untyped-def]
    next(b for b in door.button if b.label == "+").click().run()
    assert _count(door) == 4
    next(b for b in door.button if b.label == "−").click().run()
    assert _count(door) == 3


def test_downloads_are_offered(door) -> None:  # type: ignore[no-untyped-def]
    labels = [b.label for b in door.get("download_button")]
    assert "Teilnehmerliste (PDF)" in labels and "QR-Plakat für den Raum" in labels


def test_a_burst_of_self_check_ins_is_shown_and_stopped_in_one_action(  # type: ignore[no-untyped-def]
    door, app_env: Installation
) -> None:
    from urllib.parse import parse_qs, urlparse

    from ia_events.attendance import checkin
    from ia_events.attendance.tokens import new_nonce

    token = parse_qs(urlparse(door.code[0].value).query)["t"][0]
    before = _count(door)
    for i in range(35):  # a script: 35 names within seconds
        with app_env.db.write() as s:
            answer = checkin.submit(
                s, app_env.keys, token, new_nonce(app_env.keys, token), name=f"Fake {i}"
            )
            assert answer.ok
    door.run()
    assert _count(door) == before + 35
    assert any("Ungewöhnlich viele QR-Check-ins" in e.value for e in door.error)
    stop = next(b for b in door.button if b.label.startswith("Link schließen und diese"))
    assert "35" in stop.label or str(35 + 3) in stop.label
    stop.click().run()
    assert not door.exception
    assert any("Check-in-Link ist geschlossen" in s.value for s in door.success)
    assert not any("Ungewöhnlich viele" in e.value for e in door.error)
    # A new link (the old one and its poster are void); the forged entries are undone.
    assert parse_qs(urlparse(door.code[0].value).query)["t"][0] != token
    assert _count(door) == before


def test_close_the_list_early_shows_the_sealed_version(door) -> None:  # type: ignore[no-untyped-def]
    next(b for b in door.button if b.label == "Liste abschließen").click().run()
    assert not door.exception, door.exception
    assert any("Fassung 1" in s.value for s in door.success), [s.value for s in door.success]
    assert not [b for b in door.button if b.label == "Liste abschließen"]

    next(t for t in door.text_input if t.label == "Name").input("Nachzüglerin Eins")
    next(b for b in door.button if b.label == "Eintragen").click().run()
    assert any("nachgetragen" in w.value for w in door.warning)
    next(b for b in door.button if b.label == "Neue Fassung abschließen").click().run()
    assert any("mindestens 3 Zeichen" in e.value for e in door.error)
    next(t for t in door.text_input if t.label == "Grund der Korrektur").input("kam später")
    next(b for b in door.button if b.label == "Neue Fassung abschließen").click().run()
    assert any("Fassung 2" in s.value for s in door.success), [s.value for s in door.success]
    assert any("1 nachgetragen" in c.value for c in door.caption)


def _names(at, app_env: Installation) -> list[str]:  # type: ignore[no-untyped-def]
    """The names of the people checked in to the chosen occurrence (as staff see them)."""
    from ia_events.attendance import records

    occ_id = at.selectbox(key="door_occ").value
    with app_env.db.read() as s:
        rows = records.list_attendance(s, app_env.keys, Actor.cli("test"), occ_id, names=True)
    return [r.name for r in rows if r.name]


def test_display_for_the_door_shows_qr_and_count_but_no_names(  # type: ignore[no-untyped-def]
    door, app_env: Installation
) -> None:
    next(t for t in door.text_input if t.label == "Name").input("Hanna Melnyk")
    next(b for b in door.button if b.label == "Eintragen").click().run()
    names = _names(door, app_env)
    assert "Hanna Melnyk" in names and len(names) >= 2
    occ_id = door.selectbox(key="door_occ").value

    next(b for b in door.button if b.label == "Anzeige für die Tür").click().run()
    assert not door.exception, door.exception
    assert door.query_params.get("anzeige") in ("1", ["1"])  # a link the tablet can keep
    shown = texts(door) + " ".join(c.value for c in door.code)
    assert "Nähcafé" in shown and "/checkin?t=" in shown
    assert _count(door) == 4
    for name in names:  # nobody who scans sees who else came
        assert name not in shown
    assert not door.dataframe and not door.tabs
    assert not [s for s in door.selectbox if s.label == "Eintrag"]

    next(b for b in door.button if b.label == "Anzeige beenden").click().run()
    assert door.title[0].value == "Check-in an der Tür"
    assert door.selectbox(key="door_occ").value == occ_id
    assert door.dataframe  # the staff view shows the list again


def test_display_of_another_agencys_occurrence_is_refused(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    from ia_events.core.models import Occurrence

    with app_env.db.read() as s:
        kleve = s.scalar(select(Agency.id).where(Agency.slug == "kleve"))
        other = s.scalar(select(Occurrence.id).where(Occurrence.agency_id == kleve))
    at = login(app, "fk-essen")
    at.query_params["anzeige"] = "1"
    at.query_params["occurrence"] = str(other)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.error and not at.image


def test_a_regular_of_the_series_is_checked_in_with_one_pick(door) -> None:  # type: ignore[no-untyped-def]
    def box():  # type: ignore[no-untyped-def]
        return next(s for s in door.selectbox if s.label == "Wer schon einmal da war")

    # The demo's Nähcafé has met for weeks: the most frequent guest comes first.
    first = box().options[0]
    assert "Termine" in first and "schon eingecheckt" not in first
    name = first.split(" · ")[0]
    before = _count(door)
    box().select(name).run()
    assert not door.exception, door.exception
    assert "Eingecheckt." in [s.value for s in door.success]
    assert _count(door) == before + 1
    assert box().value is None  # empty again for the next person
    assert box().options[0] == f"{first} · schon eingecheckt"
    assert name in [r["Wer"] for r in door.dataframe[0].value.to_dict("records")]

    box().select(name).run()  # picked twice: not doubled
    assert any("schon eingecheckt" in w.value for w in door.warning)
    assert _count(door) == before + 1


def test_a_link_to_this_computer_warns_that_phones_cannot_open_it(door) -> None:  # type: ignore[no-untyped-def]
    # No IA_EVENTS_BASE_URL and no browser address (AppTest sends no headers): localhost.
    assert door.code[0].value.startswith("http://localhost:8501/checkin?t=")
    warning = next(w.value for w in door.warning if "Handys" in w.value)
    assert "Handys können die Check-in-Links und QR-Codes nicht öffnen" in warning
    assert "`http://localhost:8501`" in warning
    assert "IA_EVENTS_BASE_URL=http://<Rechnername-oder-IP>:8501" in warning
    assert "--server.address 0.0.0.0" in warning


def test_the_configured_address_is_used_without_a_warning(  # type: ignore[no-untyped-def]
    app, app_env: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ia_events.core.installation import reset_shared

    monkeypatch.setenv("IA_EVENTS_BASE_URL", "http://192.168.1.20:8501/")
    reset_shared()
    at = login(app, "fk-essen")
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.code[0].value.startswith("http://192.168.1.20:8501/checkin?t=")
    assert not [w for w in at.warning if "Handys" in w.value]
