"""Check-in an der Tür: today's occurrence, a live counter, and the door's tools.

Two views. The staff's own device (``render``) shows the check-in controls first
(on a phone they stack above the list) and the live list with names; the QR code
for participants sits under "Drucken". The display for a tablet or projector at
the door (``?anzeige=1&occurrence=ID``, "Anzeige für die Tür") shows only the
QR code, the occurrence and the count -- never a name -- without the sidebar.

Specialists and volunteers: add a person by hand, scan a personal QR card
with the camera (decoded on the server, QR only), count heads per category,
undo a wrong entry with a reason, download the participant list and the
posters, and close ("Liste abschließen": seal) the list early, seeing its sealed
state and version. The counter refreshes itself (``st.fragment(run_every=...)``)
without rerunning the page.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from ia_events.attendance import bursts, cards, checkin, lists, records, regulars, sealing
from ia_events.attendance.records import METHOD_LABELS
from ia_events.core.access import Actor, Permission, can
from ia_events.core.addresses import is_local
from ia_events.core.messages import fmt_count, fmt_datetime, fmt_time, fmt_weekday_date, text
from pages._ui import actor, base_url, guard, inst, md, now, style, writing

REFRESH = "5s"
_BACK = "door_back"  # "Anzeige beenden": the occurrence to show again in the staff view
DISPLAY, OCCURRENCE = "anzeige", "occurrence"  # the display's query parameters


def _choose(who: Actor) -> int | None:
    with inst().db.read() as s:
        rows = records.today_occurrences(s, who, now())
    if not rows:
        st.info("Heute finden keine Termine Ihrer Integrationsagentur statt.")
        return None
    current = now()
    running = [o.id for o in rows if o.starts_at <= current <= o.ends_at]
    ids = [o.id for o in rows]
    labels = {
        o.id: f"{fmt_time(o.starts_at)}–{fmt_time(o.ends_at)} · {o.title}"
        + (" (abgesagt)" if o.status == "cancelled" else "")
        for o in rows
    }
    back = st.session_state.pop(_BACK, None)  # the occurrence the display showed
    if back in ids:
        st.session_state.pop("door_occ", None)
    chosen = back if back in ids else st.session_state.get("door_occ")
    if chosen not in ids:
        chosen = running[0] if running else ids[0]
    return st.selectbox(
        "Termin heute",
        ids,
        index=ids.index(chosen),
        format_func=lambda i: labels[i],
        key="door_occ",
    )


def _burst(who: Actor, occ_id: int, burst: bursts.Burst, may_stop: bool) -> None:
    """An unusual burst of self check-ins, and one action to stop it."""
    st.error(
        f"Ungewöhnlich viele QR-Check-ins in kurzer Zeit: {burst.count} zwischen "
        f"{fmt_time(burst.since)} und {fmt_time(burst.until)} Uhr. Stimmt das mit den "
        "Menschen an der Tür überein?",
        icon=":material/warning:",
    )
    if may_stop and st.button(
        f"Link schließen und diese {burst.count} Check-ins rückgängig machen",
        key=f"door_burst_stop_{occ_id}",
        type="primary",
    ):
        with guard(), writing() as s:
            n = bursts.stop_burst(s, who, occ_id, burst.since, now=now())
            st.session_state["door_burst_done"] = n
            st.rerun(scope="app")  # the QR code changes with the link


@st.fragment(run_every=REFRESH)
def _live(occ_id: int, may_stop: bool = False) -> None:
    who = actor()
    with guard():
        with inst().db.read() as s:
            c = records.counter(s, who, occ_id)
            rows = records.list_attendance(s, inst().keys, who, occ_id, names=True)
            burst = bursts.find_burst(s, who, occ_id)
        if burst is not None:
            _burst(who, occ_id, burst, may_stop)
        st.metric("Eingecheckt", c.total)
        parts = [f"{METHOD_LABELS.get(m, m)}: {n}" for m, n in sorted(c.by_method.items())]
        parts += [f"{k}: {n}" for k, n in sorted(c.by_category.items())]
        if c.denied:
            parts.append(f"abgewiesene Versuche: {c.denied}")
        st.caption(" · ".join(parts) or "Noch niemand eingecheckt.")
        if rows:
            st.dataframe(
                [
                    {
                        "Zeit": fmt_time(r.recorded_at),
                        "Art": METHOD_LABELS.get(r.method, r.method),
                        "Wer": r.name
                        or (f"Karte {r.card_code}" if r.card_code else "")
                        or (r.category or "–"),
                        "Anzahl": r.count,
                    }
                    for r in reversed(rows[-30:])
                ],
                hide_index=True,
                width="stretch",
                height="content",
            )


def _show(answer: checkin.Answer) -> None:
    message = text(f"checkin_{answer.state}")
    if answer.ok:
        st.success(message)
    elif answer.state == checkin.ALREADY:
        st.warning(message)
    else:
        st.error(message)


def _manual(who: Actor, info: records.DoorInfo) -> None:
    named = info.occurrence.attendance_mode == "named"
    with st.form("door_manual", clear_on_submit=True):
        name = st.text_input("Name" if named else "Name (freiwillig)", max_chars=120)
        other = st.checkbox("Eine andere Person mit gleichem Namen")
        paper = st.checkbox("Aus der unterschriebenen Papierliste übertragen")
        sent = st.form_submit_button("Eintragen", type="primary")
    if sent:
        with guard(), writing() as s:
            answer = checkin.door_checkin(
                s,
                inst().keys,
                who,
                info.occurrence.id,
                name=name,
                method="paper" if paper else "door_manual",
                other_person=other,
                now=now(),
            )
            _show(answer)


_PICKED = "door_regular_picked"


def _pick(key: str) -> None:
    """The type-ahead's choice is checked in on this run; the box is empty again."""
    st.session_state[_PICKED] = st.session_state.get(key)
    st.session_state[key] = None


def _regulars(who: Actor, info: records.DoorInfo) -> None:
    """Type-ahead over the people who came to earlier dates of this series: one tap."""
    if not info.may_see_names:
        return
    occ_id = info.occurrence.id
    picked = st.session_state.pop(_PICKED, None)
    if picked:
        with guard(), writing() as s:
            answer = checkin.door_checkin(
                s, inst().keys, who, occ_id, name=picked, method="door_manual", now=now()
            )
            _show(answer)
            if answer.ok:
                st.toast(f"{md(picked)}: eingecheckt", icon=":material/check_circle:")
    with inst().db.read() as s:
        people = regulars.series_regulars(s, inst().keys, who, occ_id)
    if not people:
        return
    labels = {
        p.name: f"{p.name} · {fmt_count(p.visits, 'Termin', 'Termine')}"
        + (" · schon eingecheckt" if p.present else "")
        for p in people
    }
    key = f"door_regular_{occ_id}"
    st.selectbox(
        "Wer schon einmal da war",
        list(labels),
        index=None,
        format_func=labels.__getitem__,
        placeholder="Namen tippen und antippen – wird sofort eingecheckt",
        key=key,
        on_change=_pick,
        args=(key,),
        help="Alle, die zu früheren Terminen dieser Reihe kamen, die Häufigsten zuerst.",
    )


def _card(who: Actor, info: records.DoorInfo) -> None:
    st.caption("Persönliche QR-Karte vor die Kamera halten und auslösen.")
    photo = st.camera_input("Karte scannen", key=f"door_cam_{info.occurrence.id}")
    with st.form("door_card_code", clear_on_submit=True):
        typed = st.text_input("… oder Kartennummer eingeben", placeholder="K-XXXX-XXXX")
        sent = st.form_submit_button("Karte prüfen")
    if photo is not None:
        with guard():
            data = photo.getvalue()
            codes = cards.decode_qr(data)
            if not codes:
                st.warning("Auf dem Foto ist kein QR-Code lesbar. Bitte näher heran und erneut.")
            else:
                # The photo stays in the widget across reruns: its hash is the nonce, so
                # it is recorded once, however often the page reruns.
                nonce = "cam-" + hashlib.sha256(data).hexdigest()[:40]
                _scan_card(who, info, codes[0], nonce)
    if sent and typed.strip():
        with guard():
            _scan_card(who, info, typed, None)


def _scan_card(who: Actor, info: records.DoorInfo, code: str, nonce: str | None) -> None:
    with writing() as s:
        answer = checkin.card_checkin(
            s, inst().keys, who, info.occurrence.id, code, nonce=nonce, now=now()
        )
    _show(answer)


def _count(who: Actor, info: records.DoorInfo) -> None:
    categories = info.categories or [None]
    for category in categories:
        label = category or "Personen"
        cols = st.columns([3, 1, 1])
        cols[0].markdown(f"**{md(label)}**")
        minus = cols[1].button("−", key=f"door_minus_{label}", width="stretch")
        plus = cols[2].button("+", key=f"door_plus_{label}", width="stretch", type="primary")
        if plus or minus:
            with guard(), writing() as s:
                total = records.headcount(
                    s, who, info.occurrence.id, category, 1 if plus else -1, now=now()
                )
                st.toast(f"{md(label)}: {total}")


def _undo(who: Actor, info: records.DoorInfo) -> None:
    with inst().db.read() as s:
        rows = records.list_attendance(s, inst().keys, who, info.occurrence.id, names=True)
    if not rows:
        st.caption("Noch nichts zum Rückgängigmachen.")
        return
    labels = {
        r.id: f"{fmt_time(r.recorded_at)} · {METHOD_LABELS.get(r.method, r.method)} · "
        + (r.name or (f"Karte {r.card_code}" if r.card_code else (r.category or f"Nr. {r.id}")))
        + (f" ({r.count})" if r.count > 1 else "")
        for r in reversed(rows)
    }
    with st.form("door_undo"):
        chosen = st.selectbox("Eintrag", list(labels), format_func=lambda i: labels[i])
        reason = st.text_input("Grund", placeholder="z. B. doppelt erfasst")
        sent = st.form_submit_button("Rückgängig machen")
    if sent:
        with guard(), writing() as s:
            records.undo(s, who, int(chosen), reason, now=now())
            st.success("Rückgängig gemacht (bleibt im Protokoll sichtbar).")


@st.cache_data(max_entries=64, show_spinner=False)
def _qr_png(url: str, box: int) -> bytes:
    """The PNG of one link's QR code, drawn once per server process (about 25 ms each,
    on every run of the door page). Keyed by the link itself: a cached image only ever
    shows the address it was made from, to someone whose page holds that address."""
    return cards.qr_png(url, box=box)


def _qr(info: records.DoorInfo, box: int = 12) -> None:
    """The participants' QR code with its address (no names anywhere near it)."""
    o = info.occurrence
    st.image(
        _qr_png(info.participant_url, box),
        width="stretch",
        alt=f"QR-Code zum Selbst-Check-in: {o.title}, Adresse {info.participant_url}",
    )
    # Wrapped, so the address never becomes a scroll box a keyboard cannot reach.
    st.code(info.participant_url, language=None, wrap_lines=True)


def _downloads(who: Actor, info: records.DoorInfo) -> None:
    occ_id, base = info.occurrence.id, base_url()
    o = info.occurrence
    left, _ = st.columns([2, 3])
    with left:
        _qr(info)
        st.caption(f"{md(o.title)} · {md(o.place)}")
    with st.expander("QR für Ehrenamtliche (Schicht-Check-in)"):
        st.image(
            _qr_png(info.volunteer_url, 8),
            width=220,
            alt=f"QR-Code zum Schicht-Check-in für Ehrenamtliche: {o.title}",
        )

    def render(kind: str):  # type: ignore[no-untyped-def]
        def make() -> bytes:
            with inst().db.read() as s:
                if kind == "list":
                    return lists.participant_list(s, inst().keys, who, occ_id, base)
                if kind == "poster":
                    return lists.occurrence_poster(s, inst().keys, who, occ_id, base)
                return lists.series_poster(s, inst().keys, who, info.activity_id, base)

        return make

    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Teilnehmerliste (PDF)",
        render("list"),
        file_name=f"teilnehmerliste-{occ_id}.pdf",
        mime="application/pdf",
        on_click="ignore",
    )
    c2.download_button(
        "QR-Plakat für den Raum",
        render("poster"),
        file_name=f"qr-plakat-{occ_id}.pdf",
        mime="application/pdf",
        on_click="ignore",
    )
    c3.download_button(
        "Plakat für die ganze Reihe",
        render("series"),
        file_name=f"qr-plakat-reihe-{info.activity_id}.pdf",
        mime="application/pdf",
        on_click="ignore",
    )
    if info.may_revoke and st.button("Check-in-Link erneuern (alte Links und Plakate ungültig)"):
        with guard(), writing() as s:
            checkin.revoke_links(s, who, occ_id, now=now())
            st.success("Neuer Link erstellt. Bitte das Plakat neu drucken.")
            st.rerun()


def _seal(who: Actor, info: records.DoorInfo) -> None:
    """The sealed state and version; "Liste abschließen" seals early (before end + grace)."""
    occ_id = info.occurrence.id
    with inst().db.read() as s:
        state = sealing.seal_state(s, who, occ_id)
    if state is None:
        st.caption(
            "Die Liste wird nach Ende des Termins automatisch abgeschlossen (versiegelt "
            "und archiviert). Sie können sie auch jetzt schon abschließen."
        )
    else:
        st.success(
            f"Liste abgeschlossen: Fassung {state.version}, versiegelt am "
            f"{fmt_datetime(state.sealed_at)} Uhr (Nachweis {state.evidence_id})."
        )
        if state.version > 1:
            st.caption(
                f"Gegenüber Fassung {state.version - 1}: {state.added} nachgetragen, "
                f"{state.removed} rückgängig gemacht."
            )
            st.text(f"Grund: {state.reason}")
    if not can(who, Permission.evidence_add) or info.state == "cancelled":
        return
    if state is None:
        if st.button("Liste abschließen", type="primary", key="door_seal"):
            with guard():
                result = sealing.seal_occurrence(inst(), who, occ_id, now=now())
                st.success(f"Liste abgeschlossen (Fassung {result.version}).")
                st.rerun()
    elif state.stale:
        st.warning("Seit dem Abschließen wurde nachgetragen oder rückgängig gemacht.")
        with st.form("door_reseal"):
            reason = st.text_input("Grund der Korrektur", placeholder="z. B. Person vergessen")
            sent = st.form_submit_button("Neue Fassung abschließen", type="primary")
        if sent:
            with guard():
                result = sealing.seal_occurrence(inst(), who, occ_id, reason=reason, now=now())
                st.success(f"Neue Fassung {result.version} abgeschlossen.")
                st.rerun()


def _cards(who: Actor) -> None:
    with st.form("door_cards"):
        count = st.number_input("Anzahl neuer Karten", 1, cards.MAX_CARDS, 8)
        sent = st.form_submit_button("Karten erzeugen")
    if sent and who.agency_id is not None:
        with guard(), writing() as s:
            issued = cards.issue_cards(s, who, who.agency_id, int(count), now=now())
            pdf = cards.cards_pdf(s, who, who.agency_id, issued)
        st.download_button(
            f"{len(issued)} Karten herunterladen (PDF)",
            pdf,
            file_name="teilnahmekarten.pdf",
            mime="application/pdf",
            on_click="ignore",
        )


def _info(who: Actor, occ_id: int | None = None) -> records.DoorInfo | None:
    occ_id = occ_id if occ_id is not None else _choose(who)
    if occ_id is None:
        return None
    with inst().db.read() as s:
        return records.door_info(s, inst().keys, who, occ_id, base_url(), now())


def _local_warning() -> None:
    """A link to this computer itself opens nothing on a participant's phone."""
    base = base_url()
    if is_local(base):
        shown = base.replace("`", "")  # a checked host or the operator's setting
        st.warning(
            f"Handys können die Check-in-Links und QR-Codes nicht öffnen: Sie zeigen auf "
            f"`{shown}`, also nur auf diesen Rechner. Den Server im Netzwerk erreichbar "
            "starten (`--server.address 0.0.0.0`) und "
            "`IA_EVENTS_BASE_URL=http://<Rechnername-oder-IP>:8501` setzen.",
            icon=":material/warning:",
        )


# -- the display at the door: QR, occurrence, count; never a name ----------------------------

_FULL_SCREEN_CSS = """
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"] { display: none !important; }
.block-container { max-width: 100% !important; padding-top: 1rem !important; }
[data-testid="stMetricValue"] { font-size: 4rem !important; }
"""


def _display_occurrence() -> int | None:
    """The occurrence named by ``?anzeige=1&occurrence=ID``; None: the staff view."""
    if st.query_params.get(DISPLAY) != "1":
        return None
    try:
        return int(st.query_params.get(OCCURRENCE, ""))
    except ValueError:
        return 0  # no such occurrence: door_info answers "not found"


def _show_display(occ_id: int) -> None:
    st.query_params[DISPLAY] = "1"
    st.query_params[OCCURRENCE] = str(occ_id)
    st.rerun()


def _end_display(occ_id: int) -> None:
    st.query_params.pop(DISPLAY, None)
    st.query_params.pop(OCCURRENCE, None)
    st.session_state[_BACK] = occ_id
    st.rerun()


@st.fragment(run_every=REFRESH)
def _display_count(occ_id: int) -> None:
    with guard(), inst().db.read() as s:
        c = records.counter(s, actor(), occ_id)
        st.metric("Eingecheckt", c.total)


def render_display(occ_id: int) -> None:
    """Full screen for a tablet or projector: only the QR, the occurrence and the count."""
    who = actor()
    style(_FULL_SCREEN_CSS)
    info = None
    with guard():
        info = _info(who, occ_id)
    if info is None:
        if st.button("Anzeige beenden", icon=":material/close_fullscreen:"):
            _end_display(occ_id)
        return
    o = info.occurrence
    st.title(md(o.title), anchor=False)
    st.subheader(
        f"{fmt_weekday_date(o.starts_at)} · {fmt_time(o.starts_at)}–{fmt_time(o.ends_at)} Uhr"
        + (f" · {md(o.place)}" if o.place else ""),
        anchor=False,
    )
    if info.state == "cancelled":
        st.error("Dieser Termin ist abgesagt – Check-in nicht möglich.")
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        _qr(info, box=16)
    with right:
        st.markdown("### Mit der Handy-Kamera scannen und einchecken")
        _display_count(o.id)
        st.divider()
        if st.button("Anzeige beenden", icon=":material/close_fullscreen:"):
            _end_display(o.id)


# -- the staff's own device: controls first, then the list with names -----------------------


def render() -> None:
    shown = _display_occurrence()
    if shown is not None:
        render_display(shown)
        return
    who = actor()
    st.title("Check-in an der Tür")
    info = None
    with guard():
        info = _info(who)
    if info is None:
        return
    occ_id = info.occurrence.id
    _local_warning()
    if info.state == "cancelled":
        st.error("Dieser Termin ist abgesagt – Check-in nicht möglich.")
    elif info.state == "not_open":
        st.info("Der Check-in öffnet eine Stunde vor Beginn.")
    done = st.session_state.pop("door_burst_done", None)
    if done is not None:
        st.success(
            f"Der Check-in-Link ist geschlossen und {done} Check-ins sind rückgängig gemacht "
            "(im Protokoll sichtbar). Der neue Link und QR-Code stehen unter „Drucken“; "
            "bitte das Plakat neu drucken."
        )
    if st.button(
        "Anzeige für die Tür",
        icon=":material/fullscreen:",
        help="Für ein Tablet oder einen Beamer am Eingang: nur QR-Code, Termin und Anzahl, "
        "keine Namen.",
    ):
        _show_display(occ_id)
    # On a phone the columns stack: the controls come first, the list after them.
    controls, listing = st.columns([3, 2])
    with controls:
        with guard():
            _regulars(who, info)
        tabs = st.tabs(
            ["Von Hand", "Karte scannen", "Zählen", "Rückgängig", "Drucken", "Karten", "Liste"]
        )
        with tabs[0], guard():
            _manual(who, info)
        with tabs[1], guard():
            _card(who, info)
        with tabs[2], guard():
            _count(who, info)
        with tabs[3], guard():
            _undo(who, info)
        with tabs[4], guard():
            _downloads(who, info)
        with tabs[5], guard():
            _cards(who)
        with tabs[6], guard():
            _seal(who, info)
    with listing:  # filled last, so it already shows what the tabs above just recorded
        _live(occ_id, info.may_revoke)


render()
