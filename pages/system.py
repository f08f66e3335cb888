"""System (admin): integrity check with progress, archive location and lock, e-mail
notifications, signing key."""

from __future__ import annotations

import streamlit as st

from ia_events.archive import fixity
from ia_events.core import outbox
from ia_events.core.access import Actor
from ia_events.core.messages import fmt_count, fmt_datetime
from ia_events.notify import delivery, kinds, mail
from pages._ui import actor, commit, guard, inst

STATE_LABELS = {
    "pending": "wartet",
    "sending": "wird gesendet",
    "committing": "wird übergeben",
    "sent": "gesendet",
    "failed": "fehlgeschlagen",
    "review": "unklar – prüfen",
    "skipped": "übersprungen",
}


def render() -> None:
    who = actor()
    st.title("System")
    _verify(who)
    _mail(who)
    _archive(who)
    _keys(who)
    _signing_key()


def _verify(who: Actor) -> None:
    st.subheader("Prüfsummen und Audit-Kette")
    st.write(
        "Liest jede archivierte Datei neu, prüft Verschlüsselung (GCM) und SHA-256 und die "
        "lückenlose Verkettung des Audit-Logs. Dasselbe prüft `ia-events verify` auf dem Server."
    )
    if st.button("Jetzt prüfen", type="primary", key="system_verify"):
        bar = st.progress(0.0, text="Prüfung startet …")
        with guard():
            report = fixity.verify(
                inst(), who, progress=lambda f, t: bar.progress(min(f, 1.0), text=t)
            )
            if report.ok:
                st.success(
                    f"Alles in Ordnung: {fmt_count(report.blobs_checked, 'Datei')} und "
                    f"{fmt_count(report.events_checked, 'Audit-Ereignis')} geprüft."
                )
            else:
                st.error(f"{fmt_count(len(report.findings), 'Fehler')} gefunden:")
                st.dataframe(
                    [
                        {"Art": f.kind, "Betrifft": f.subject, "Befund": f.detail}
                        for f in report.findings
                    ],
                    hide_index=True,
                    width="stretch",
                    height="content",
                )


def _mail(who: Actor) -> None:
    st.subheader("E-Mail-Benachrichtigungen")
    smtp = None
    with guard():
        smtp = mail.config_from_env()
        if smtp is None:
            st.warning(
                "Kein Mailserver eingerichtet: Es werden keine E-Mails gesendet. Einrichten mit "
                "der Umgebungsvariable IA_EVENTS_SMTP_URL (z. B. "
                "smtp://benutzer:passwort@mail.example.org:587?starttls=1&from=ia@example.org), "
                "siehe docs/operations.md. Unten steht, was gesendet worden wäre."
            )
        else:
            st.write(f"Mailserver: {smtp.describe()}")
    with guard(stop=True), inst().db.read() as s:
        tally = outbox.counts(s, who)
        problems = outbox.overview(s, who, (outbox.FAILED, outbox.REVIEW))
        waiting = outbox.overview(s, who, (outbox.PENDING,), limit=100)
    st.caption(
        " · ".join(f"{STATE_LABELS.get(k, k)}: {n}" for k, n in sorted(tally.items()))
        or "Noch keine Nachrichten."
    )
    if problems:
        count = fmt_count(len(problems), "Nachricht", "Nachrichten")
        st.error(
            f"Nicht zugestellt oder Zustellung unklar: {count} "
            "(unklar heißt: Abbruch während der Übergabe). Unklare werden nicht von selbst erneut "
            "gesendet, damit niemand eine E-Mail doppelt bekommt."
        )
        st.dataframe(
            [
                {
                    "Nr.": m.id,
                    "Art": kinds.label(m.kind),
                    "An (Benutzer)": m.user,
                    "Zustand": STATE_LABELS.get(m.status, m.status),
                    "Versuche": m.attempts,
                    "Antwort des Mailservers": m.last_error or "",
                }
                for m in problems
            ],
            hide_index=True,
            width="stretch",
            height="content",
        )
        chosen = st.selectbox(
            "Nachricht erneut senden (nach Prüfung, dass sie nicht angekommen ist)",
            [m.id for m in problems],
            format_func=lambda i: f"Nr. {i}",
            key="system_notify_requeue",
            placeholder="Nachricht wählen",
        )
        if st.button("Erneut senden", key="system_notify_requeue_go") and chosen is not None:
            commit(
                lambda s: outbox.requeue(s, who, int(chosen)),
                f"Nachricht Nr. {chosen} wird erneut gesendet.",
            )
    if waiting:
        label = "Was gesendet worden wäre" if smtp is None else "Wartende Nachrichten"
        with st.expander(f"{label} ({len(waiting)})", expanded=smtp is None):
            st.dataframe(
                [
                    {
                        "Nr.": m.id,
                        "Art": kinds.label(m.kind),
                        "An (Benutzer)": m.user,
                        "Fällig": fmt_datetime(m.due_at),
                        "Versuche": m.attempts,
                    }
                    for m in waiting
                ],
                hide_index=True,
                width="stretch",
                height="content",
            )
            with guard():
                previews = delivery.preview(inst(), who, [m.id for m in waiting[:5]])
            st.caption("Die ersten Nachrichten im Wortlaut (ohne Empfängeradresse):")
            for subject, body in previews:
                st.text(f"Betreff: {subject}\n\n{body}")


def _archive(who: Actor) -> None:
    st.subheader("Archiv: Ablage und Objektsperre")
    with guard():
        from ia_events.archive.objectlock import archive_status

        for line in archive_status(inst(), who).lines():
            st.text(line)


def _keys(who: Actor) -> None:
    st.subheader("Schlüssel und Sicherung")
    with guard():
        from ia_events.archive.backup import key_status

        ks = key_status(inst(), who)
        st.write(
            f"Aktiver Schlüsselverschlüsselungsschlüssel: **{ks.current_kek}** · "
            + " · ".join(f"KEK {k}: {ks.wrapped_by.get(k, 0)} Schlüssel" for k in ks.kek_ids)
        )
    # st.write, not st.caption: inline code in a caption is drawn at 60 % opacity (2.97:1).
    st.write(
        "Rotation (`ia-events keys rotate`) verpackt alle Datenschlüssel neu, ohne Dateien "
        "anzufassen. Sicherung: `ia-events backup DIR` – die Schlüssel liegen dabei getrennt im "
        "Ordner KEYS-SEPARATELY und gehören an einen anderen Ort (siehe docs/operations.md)."
    )


def _signing_key() -> None:
    st.subheader("Signaturschlüssel")
    st.write("Fingerabdruck (steht auf jedem Sachbericht und Prüfpaket):")
    st.code(inst().keys.fingerprint(), language=None)
    st.download_button(
        "Öffentlichen Schlüssel herunterladen (PEM)",
        inst().keys.public_pem(),
        file_name="ia-events-signing-public.pem",
        mime="application/x-pem-file",
    )


render()
