"""The Ehrenamtsnachweis: a PDF certificate of one volunteer's work in one year.

Built from ``volunteer_hours.year_summary`` (so it shows exactly the hours the
app counts) on ``pdf.Document`` (Unicode fonts: Turkish, Cyrillic and Arabic
names print correctly). It lists the agency and carrier, the activities with
role, number of shifts and hours, the hand-logged extra work, and the total,
with a line for the specialist's signature. Issuing one is audited (ids only).

Limits: no digital signature of its own; a signed paper copy is the original.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission
from ia_events.core.audit import Action
from ia_events.core.messages import berlin, fmt_count, fmt_date, fmt_hours
from ia_events.core.pdf import Document
from ia_events.core.permissions import Reach, service
from ia_events.volunteers.hours import YearSummary, year_summary
from storage.db import utcnow
from storage.keys import KeyRing


def group_worklogs(
    logs: list[tuple[date, float, str]],
) -> list[tuple[date, date, str, float]]:
    """Same description -> one line (first day, last day, description, hours)."""
    groups: dict[str, list[tuple[date, float]]] = {}
    for day, hours, text in logs:
        groups.setdefault(text, []).append((day, hours))
    rows = [
        (min(d for d, _ in g), max(d for d, _ in g), text, round(sum(h for _, h in g), 2))
        for text, g in groups.items()
    ]
    return sorted(rows)


def render_certificate(summary: YearSummary, issued_on: date) -> bytes:
    doc = Document(
        "Ehrenamtsnachweis",
        subtitle=f"{summary.agency_name} · Träger: {summary.carrier}",
    )
    doc.body(11)
    doc.ln(4)
    doc.multi_cell(
        0,
        6,
        f"Hiermit bestätigen wir, dass **{summary.name}** im Jahr {summary.year} "
        f"ehrenamtlich in der {summary.agency_name} tätig war und dabei insgesamt "
        f"**{fmt_count(summary.total, 'Stunde')}** geleistet hat.",
        markdown=True,
        new_x="LMARGIN",
        new_y="NEXT",
    )
    doc.ln(4)
    if summary.activities:
        doc.body(11, bold=True)
        doc.cell(0, 7, "Tätigkeiten", new_x="LMARGIN", new_y="NEXT")
        doc.body(10)
        with doc.table(
            col_widths=(70, 60, 25, 25), text_align=("LEFT", "LEFT", "RIGHT", "RIGHT")
        ) as table:
            table.row(["Angebot", "Aufgabe", "Einsätze", "Stunden"])
            for a in summary.activities:
                table.row([a.activity, a.role, str(a.shifts), fmt_hours(a.hours)])
        doc.ln(3)
    if summary.worklogs:
        doc.body(11, bold=True)
        doc.cell(0, 7, "Weitere Tätigkeiten", new_x="LMARGIN", new_y="NEXT")
        doc.body(10)
        with doc.table(col_widths=(45, 110, 25), text_align=("LEFT", "LEFT", "RIGHT")) as table:
            table.row(["Zeitraum", "Tätigkeit", "Stunden"])
            for first, last, text, hours in group_worklogs(summary.worklogs):
                period = fmt_date(first) if first == last else f"{fmt_date(first)}–{fmt_date(last)}"
                table.row([period, text, fmt_hours(hours)])
        doc.ln(3)
    doc.body(11, bold=True)
    doc.cell(0, 8, f"Stunden insgesamt {summary.year}: {fmt_hours(summary.total)}", new_x="LMARGIN")
    doc.ln(12)
    doc.body(10)
    doc.multi_cell(
        0,
        5,
        "Wir danken für das Engagement. Dieser Nachweis kann z. B. für Bewerbungen oder "
        "für einen Antrag auf die Ehrenamtskarte NRW verwendet werden.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    doc.ln(16)
    doc.cell(80, 5, f"{summary.agency_city}, {fmt_date(issued_on)}")
    doc.cell(0, 5, "", new_x="LMARGIN", new_y="NEXT")
    doc.line(doc.l_margin, doc.get_y() + 10, doc.l_margin + 80, doc.get_y() + 10)
    doc.line(doc.l_margin + 100, doc.get_y() + 10, doc.l_margin + 180, doc.get_y() + 10)
    doc.set_y(doc.get_y() + 11)
    doc.body(8)
    doc.cell(100, 4, "Ort, Datum")
    doc.cell(0, 4, "Unterschrift und Stempel der Integrationsagentur")
    return doc.render()


@service(
    Permission.volunteer_manage,
    Reach.agency,
    "volunteer: own record",
    alternatives=(Permission.volunteer_self,),
)
def volunteer_certificate(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    volunteer_id: int,
    year: int,
    today: date | None = None,
) -> tuple[str, bytes]:
    """(file name, PDF) for one volunteer and year; staff or the volunteer themself."""
    today = today or berlin(utcnow()).date()
    summary = year_summary(session, keys, actor, volunteer_id, year, today)
    pdf = render_certificate(summary, today)
    audit.record(
        session,
        actor.name,
        Action.volunteer_certificate,
        "volunteer",
        volunteer_id,
        agency_id=summary.agency_id,
        year=int(year),
        hours=summary.total,
    )
    return f"Ehrenamtsnachweis-{year}-{volunteer_id}.pdf", pdf
