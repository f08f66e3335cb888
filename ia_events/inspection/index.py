"""The index PDF of an inspection bundle (PDF/A-2B, landscape A4).

It is the page an inspector reads first: task plan, sub-goals with target vs.
actual, the completeness findings, activities with every occurrence and its
attendance figures, and a table of every evidence file with its place in the
bag and its SHA-256. Figures come ready-made from ``inspection.inspect``;
this module only lays them out.

Speed matters (1,000 evidence rows in well under 5 s): rows are plain
fixed-width cells, long texts are cut to fit instead of wrapped, and text
shaping (needed only for joined Arabic script) is switched off for the
tables, whose content is German, numbers and hex digests.
"""

from __future__ import annotations

from collections.abc import Sequence

from ia_events.core.messages import (
    INDICATOR_LABELS,
    fmt_count,
    fmt_date,
    fmt_datetime,
    fmt_number,
    fmt_percent,
    fmt_time,
    status_label,
)
from ia_events.core.models import FIELD_LABELS, FieldOfAction
from ia_events.core.pdf import FAMILY, Document
from ia_events.inspection.completeness import InspectionTree

METHOD_LABELS = {
    "self_qr": "QR",
    "door_manual": "Tür",
    "card_scan": "Karte",
    "headcount": "Zählung",
    "paper": "Papier",
}
STATUS_LABELS = {"scheduled": "durchgeführt", "cancelled": "abgesagt"}


class _Index(Document):
    def fit(self, text: str, width: float, keep_end: bool = False) -> str:
        """Cut ``text`` so it fits ``width`` mm in the current font."""
        text = " ".join(str(text).split())
        table = self.char_table()
        room = width - 1.5
        try:
            used = sum(map(table.__getitem__, text))
        except KeyError:  # characters not measured yet in this font
            used = self.text_width(text)
        if used <= room:
            return text
        widths = list(map(table.__getitem__, text))
        room -= table.get("…") or table.setdefault("…", self.get_string_width("…"))
        if keep_end:  # a path: its end (the file name) matters most
            head = _prefix(widths, room * 0.3)
            tail = _prefix(widths[::-1], room - sum(widths[:head]))
            return text[:head] + "…" + text[len(text) - tail :]
        return text[: _prefix(widths, room)] + "…"

    def heading(self, text: str) -> None:
        self.ln(2)
        self.body(12, bold=True)
        self.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")

    def para(self, text: str, size: float = 9.5) -> None:
        self.body(size)
        self.multi_cell(0, 4.6, text, new_x="LMARGIN", new_y="NEXT")

    def rows(
        self,
        widths: Sequence[float],
        header: Sequence[str],
        rows: Sequence[Sequence[object]],
        size: float = 8,
        align: str = "",
    ) -> None:
        """A table of one-line rows; the header repeats after a page break."""
        line = size * 0.55

        def head() -> None:
            self.set_font(FAMILY, "B", size)
            self.set_fill_color(230, 230, 230)
            self.table_row(
                widths,
                line,
                [self.fit(h, w) for w, h in zip(widths, header, strict=True)],
                fill=True,
            )
            self.ln(line)
            self.set_font(FAMILY, "", size)

        head()
        for row in rows:
            if self.will_page_break(line):
                self.add_page()
                head()
            texts = [
                self.fit(str(value), w, keep_end=align[i] == "M" if align else False)
                for i, (w, value) in enumerate(zip(widths, row, strict=True))
            ]
            self.table_row(widths, line, texts, align.replace("M", "L"))
            self.ln(line)


def _prefix(widths: Sequence[float], room: float) -> int:
    """How many of the leading characters fit into ``room``."""
    used = 0.0
    for n, w in enumerate(widths):
        if used + w > room:
            return n
        used += w
    return len(widths)


def render_index(
    tree: InspectionTree,
    paths: dict[int, str],
    fingerprint: str,
    differences: Sequence[str],
) -> bytes:
    """The index PDF; ``paths`` maps evidence id to its path inside the bag."""
    scope = f" – Teilziel {tree.subgoal_id}" if tree.subgoal_id else ""
    doc = _Index(
        f"Prüfpaket {tree.agency_name} – Förderjahr {tree.year}{scope}",
        subtitle=(
            f"Träger: {tree.carrier} · erstellt am {fmt_datetime(tree.generated_at)} Uhr · "
            f"Signaturschlüssel (Fingerabdruck): {fingerprint}"
        ),
        orientation="L",
        # Fonts embedded by blocks, subset once per process (~40 % of a small index's
        # time was fontTools subsetting the same four fonts again at every export).
        shared_subsets=True,
        # HarfBuzz only for texts with Arabic or Hebrew letters (a title, a place): the
        # header's shaped subtitle alone cost more than a page of rows.
        shape_on_demand=True,
    )
    _plan(doc, tree)
    _subgoals(doc, tree)
    _findings(doc, tree)
    _occurrences(doc, tree)
    _evidence(doc, tree, paths)
    doc.heading("Abweichungen der eingefrorenen Fassungen vom heutigen Stand")
    doc.para("\n".join(differences) if differences else "Keine Abweichungen.")
    return doc.render()


def _plan(doc: _Index, tree: InspectionTree) -> None:
    doc.heading("Aufgabenplanung")
    if tree.plan is None:
        doc.para("Für dieses Förderjahr ist keine Aufgabenplanung erfasst.")
        return
    p = tree.plan
    approved = tree.approved
    status = (
        f"freigegeben (Fassung {approved['version']}"
        + (f", am {fmt_date(approved['approved_at'])}" if approved.get("approved_at") else "")
        + (f" durch {approved['approved_by']}" if approved.get("approved_by") else "")
        + ")"
        if approved
        else f"nicht freigegeben (Status: {status_label(p['status'])})"
    )
    doc.para(
        f"Thema: {p['topic']}\nZiel: {p['goal']}\nMethoden: {p['methods'] or '–'}\nStatus: {status}"
    )


def _subgoals(doc: _Index, tree: InspectionTree) -> None:
    doc.heading("Teilziele: Soll und Ist")
    if not tree.subgoals:
        doc.para("Keine Teilziele erfasst.")
        return
    rows = []
    for g in tree.subgoals:
        try:
            fld = FIELD_LABELS[FieldOfAction(g.field)]
        except ValueError:
            fld = g.field
        rows.append(
            [
                g.id,
                g.title,
                fld,
                INDICATOR_LABELS.get(g.indicator, g.indicator),
                fmt_number(g.target),
                fmt_number(g.actual),
                fmt_percent(g.ratio),
                len(tree.evidence_for_subgoal(g.id)),
            ]
        )
    doc.rows(
        [14, 95, 50, 40, 18, 18, 16, 16],
        ["Nr.", "Teilziel", "Handlungsfeld", "Messgröße", "Soll", "Ist", "Erfüllt", "Nachw."],
        rows,
        size=8.5,
        align="RLLLRRRR",
    )


def _findings(doc: _Index, tree: InspectionTree) -> None:
    doc.heading(f"Hinweise zur Vollständigkeit ({len(tree.findings)})")
    if not tree.findings:
        doc.para("Keine Hinweise: alles vollständig.")
        return
    doc.rows(
        [22, 245],
        ["Art", "Hinweis"],
        [["Warnung" if f.severity == "warning" else "Info", f.text] for f in tree.findings],
    )


def _occurrences(doc: _Index, tree: InspectionTree) -> None:
    doc.heading("Angebote und Termine mit Teilnahmezahlen")
    for act in tree.activities.values():
        doc.body(10, bold=True)
        goals = ", ".join(str(i) for i in act.subgoal_ids) or "–"
        doc.cell(
            0,
            6,
            doc.fit(
                f"{act.title} ({act.field}; Teilziele {goals}; Erfassung {act.attendance_mode})",
                267,
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        rows = []
        for oid in act.occurrence_ids:
            o = tree.occurrences[oid]
            methods = ", ".join(
                f"{METHOD_LABELS.get(m, m)} {n}" for m, n in sorted(o.by_method.items())
            )
            cats = ", ".join(f"{c} {n}" for c, n in sorted(o.by_category.items()))
            status = (
                STATUS_LABELS.get(o.status, o.status)
                if o.held or o.status != "scheduled"
                else "geplant"
            )
            rows.append(
                [
                    o.id,
                    fmt_date(o.starts_at),
                    f"{fmt_time(o.starts_at)}–{fmt_time(o.ends_at)}",
                    status,
                    o.participants,
                    o.distinct_cards or "",
                    "; ".join(x for x in (methods, cats) if x),
                    len(o.evidence_ids),
                ]
            )
        if rows:
            doc.rows(
                [16, 22, 24, 26, 20, 16, 125, 18],
                ["Nr.", "Datum", "Zeit", "Status", "Teiln.", "Karten", "nach Art", "Nachw."],
                rows,
                align="RLLLRRLR",
            )
        doc.ln(1)


def _evidence(doc: _Index, tree: InspectionTree, paths: dict[int, str]) -> None:
    doc.heading(f"Nachweise ({fmt_count(len(tree.evidence), 'Datei')})")
    rows = [
        [
            e.id,
            e.kind,
            fmt_date(e.doc_date) if e.doc_date else "",
            paths.get(e.id, e.filename),
            fmt_number(e.size, 0),
            e.sha256,
        ]
        for e in tree.evidence.values()
    ]
    doc.rows(
        [13, 26, 18, 96, 18, 96],
        ["Nr.", "Art", "Datum", "Datei im Paket", "Bytes", "SHA-256"],
        rows,
        size=6.5,
        align="RLLMRL",
    )
