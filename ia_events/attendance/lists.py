"""Printable check-in documents: the participant list and the QR posters.

The participant list is the paper fallback and the inspector's proof: a
header with agency, activity, date, place, sub-goal(s) and field of action;
the names checked in (only for roles that may see names) plus empty rows to
sign on arrival; a signature column; the occurrence's QR code; and a short
data-protection notice citing the carrier's law and its configurable legal
basis. Posters carry a large QR of the occurrence link, or of the series
link that always resolves to the day's occurrence.

Limits: rendering only; links come from ``checkin``, names from ``attendance``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ia_events.attendance import checkin, records
from ia_events.attendance.cards import qr_image
from ia_events.attendance.checkin_texts import legal_basis, notice_ref
from ia_events.core.access import Actor, Permission, can, require
from ia_events.core.errors import NotFound
from ia_events.core.messages import fmt_date, fmt_time, fmt_weekday_date
from ia_events.core.models import FIELD_LABELS, Activity, Agency, FieldOfAction, Occurrence
from ia_events.core.pdf import Document
from ia_events.core.permissions import Reach, service
from storage.keys import KeyRing

MIN_ROWS = 20
SCAN_HINT = [
    "Mit der Handy-Kamera scannen und einchecken",
    "Scan with your phone camera to check in",
    "امسح الرمز بكاميرا هاتفك لتسجيل الحضور",
    "Telefon kameranızla tarayın ve giriş yapın",
    "Скануйте камерою телефона, щоб зареєструватися",
    "Отсканируйте камерой телефона для регистрации",
    "با دوربین گوشی اسکن کنید و حضور خود را ثبت کنید",
]
METHOD_SHORT = {
    "self_qr": "QR",
    "door_manual": "Tür",
    "card_scan": "Karte",
    "paper": "Papier",
    "headcount": "Zählung",
}


def _field_label(code: str) -> str:
    try:
        return f"{code} – {FIELD_LABELS[FieldOfAction(code)]}"
    except ValueError:
        return code


QR_MM = 40  # printed width of the list's code: a 150-dpi scan or a tilted phone photo reads it


def header_block(
    doc: Document, occ: Occurrence, agency: Agency, activity: Activity, url: str | None
) -> None:
    """Agency, activity, date, place, sub-goals, field and number; the QR code at the right.

    Shared by the printable list and the sealed list (``sealing``), so both look alike."""
    goals = "; ".join(g.title for g in activity.subgoals) or "–"
    info = [
        ("Angebot", activity.title),
        (
            "Datum",
            f"{fmt_weekday_date(occ.starts_at)}, {fmt_time(occ.starts_at)}–"
            f"{fmt_time(occ.ends_at)} Uhr",
        ),
        ("Ort", occ.place or activity.place or "–"),
        ("Teilziel", goals),
        ("Handlungsfeld", _field_label(activity.field)),
        ("Termin-Nr.", str(occ.id) + (" (abgesagt)" if occ.status == "cancelled" else "")),
    ]
    top = doc.get_y()
    if url:
        doc.image(qr_image(url, box=6), x=doc.w - doc.r_margin - QR_MM, y=top, w=QR_MM, h=QR_MM)
    for label, value in info:
        doc.body(9, bold=True)
        doc.text_line(30, 5.5, label, next_line=False)
        doc.body(9)
        doc.lines(doc.epw - 30 - (QR_MM + 4 if url else 0), 5.5, value)
    doc.set_y(max(doc.get_y(), top + (QR_MM + 2 if url else 0)))


def _load(session: Session, actor: Actor, occurrence_id: int) -> tuple[Occurrence, Agency]:
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    require(actor, Permission.agency_read, occ.agency_id)
    agency = session.get(Agency, occ.agency_id)
    assert agency is not None
    return occ, agency


def _notice(session: Session, agency: Agency) -> str:
    return (
        f"Datenschutzhinweis ({notice_ref(agency.privacy_law)}): Verantwortlich ist "
        f"{agency.carrier}, {agency.name}"
        + (f" ({agency.privacy_contact})" if agency.privacy_contact else "")
        + ". Die Liste dient dem Nachweis der Teilnahme gegenüber dem Fördermittelgeber "
        "(Land NRW). Erfasst werden nur Name, Datum und Unterschrift – keine Adresse, keine "
        "Angaben zu Herkunft, Religion oder Staatsangehörigkeit. Rechtsgrundlage: "
        f"{legal_basis(session, agency.privacy_law)}. Aufbewahrung bis zum Ende der "
        "Aufbewahrungsfrist der Förderung (bis zu 10 Jahre nach dem Förderjahr), danach "
        "Löschung. Sie haben das Recht auf Auskunft, Berichtigung, Löschung, Einschränkung "
        "und Widerspruch sowie auf Beschwerde bei der Datenschutzaufsicht."
    )


@service(Permission.attendance_names, Reach.agency)
def participant_list(
    session: Session, keys: KeyRing, actor: Actor, occurrence_id: int, base_url: str
) -> bytes:
    """The participant list of one occurrence as a PDF/A document."""
    occ, agency = _load(session, actor, occurrence_id)
    activity: Activity = occ.activity
    rows = records.list_attendance(session, keys, actor, occ.id, names=True)
    names_visible = can(actor, Permission.attendance_names)
    url = (
        checkin.occurrence_link(session, keys, actor, occ.id, base_url)
        if can(actor, Permission.checkin_door)
        else None
    )
    doc = Document(
        "Teilnehmerliste",
        subtitle=f"{agency.name} · Träger: {agency.carrier}",
        orientation="P",
    )
    header_block(doc, occ, agency, activity, url)
    counted = [r for r in rows if r.method == "headcount"]
    listed = [r for r in rows if r.method != "headcount"]
    total = sum(r.count for r in rows)
    doc.body(9)
    summary = f"Erfasst: {total} Teilnahme(n)"
    if counted:
        parts: dict[str, int] = {}
        for r in counted:
            parts[r.category or "gesamt"] = parts.get(r.category or "gesamt", 0) + r.count
        summary += " · davon gezählt: " + ", ".join(f"{k} {v}" for k, v in parts.items())
    doc.multi_cell(0, 5, summary, new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    doc.body(9.5)
    with doc.table(
        col_widths=(9, 70, 26, 55),
        text_align=("RIGHT", "LEFT", "LEFT", "LEFT"),
        line_height=7.5,
        first_row_as_headings=True,
    ) as table:
        table.row(["Nr.", "Name", "Erfasst", "Unterschrift"])
        n = 0
        for r in listed:
            n += 1
            if r.card_code:
                who = f"Karte {r.card_code}"
            elif names_visible:
                who = r.name or "(ohne Namen)"
            else:
                who = "(Name nur für Fachkräfte sichtbar)"
            table.row(
                [
                    str(n),
                    who,
                    f"{METHOD_SHORT.get(r.method, r.method)} {fmt_time(r.recorded_at)}",
                    "",
                ]
            )
        for _ in range(max(MIN_ROWS - n, 10)):
            n += 1
            table.row([str(n), "", "", ""])
    doc.ln(4)
    doc.body(9)
    doc.cell(
        0,
        6,
        "Bestätigt (Name, Datum, Unterschrift der Fachkraft): _______________________________",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    doc.ln(2)
    doc.body(7.5)
    doc.multi_cell(0, 3.6, _notice(session, agency), new_x="LMARGIN", new_y="NEXT")
    doc.ln(1)
    doc.multi_cell(
        0,
        3.6,
        f"Erstellt am {fmt_date(occ.starts_at)} · ia-events · "
        "Personenbezogene Daten: vertraulich behandeln.",
    )
    return doc.render()


def _poster(title: str, lines: list[str], url: str, footer: str) -> bytes:
    doc = Document(title, subtitle="", pdfa=True)
    doc.body(26, bold=True)
    doc.multi_cell(0, 12, title, align="C", new_x="LMARGIN", new_y="NEXT")
    doc.body(15)
    for line in lines:
        doc.multi_cell(0, 8, line, align="C", new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    size = 120
    doc.image(qr_image(url, box=12), x=(doc.w - size) / 2, y=doc.get_y(), w=size, h=size)
    doc.set_y(doc.get_y() + size + 4)
    doc.body(12)
    for hint in SCAN_HINT:
        doc.multi_cell(0, 6.5, hint, align="C", new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)
    doc.body(7)
    doc.multi_cell(0, 3.5, url, align="C", new_x="LMARGIN", new_y="NEXT")
    doc.multi_cell(0, 3.5, footer, align="C")
    return doc.render()


@service(Permission.checkin_door, Reach.agency)
def occurrence_poster(
    session: Session, keys: KeyRing, actor: Actor, occurrence_id: int, base_url: str
) -> bytes:
    occ, agency = _load(session, actor, occurrence_id)
    url = checkin.occurrence_link(session, keys, actor, occ.id, base_url)
    lines = [
        f"{fmt_weekday_date(occ.starts_at)}, {fmt_time(occ.starts_at)}–{fmt_time(occ.ends_at)}",
        occ.place or occ.activity.place or "",
    ]
    return _poster(occ.activity.title, [ln for ln in lines if ln], url, agency.name)


@service(Permission.checkin_door, Reach.agency)
def series_poster(
    session: Session, keys: KeyRing, actor: Actor, activity_id: int, base_url: str
) -> bytes:
    """One poster for a whole series: its link resolves to the occurrence of the day."""
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(what="Das Angebot")
    url = checkin.series_link(session, keys, actor, activity.id, base_url)
    lines = ["Gilt für jeden Termin dieses Angebots", activity.place or ""]
    return _poster(activity.title, [ln for ln in lines if ln], url, activity.agency.name)
