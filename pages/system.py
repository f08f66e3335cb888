"""System (admin): integrity check with progress, archive location and lock, signing key."""

from __future__ import annotations

import streamlit as st

from ia_events.archive import fixity
from pages._ui import actor, guard, inst

who = actor()
st.title("System")

st.subheader("Prüfsummen und Audit-Kette")
st.write(
    "Liest jede archivierte Datei neu, prüft Verschlüsselung (GCM) und SHA-256 und die "
    "lückenlose Verkettung des Audit-Logs. Dasselbe prüft `ia-events verify` auf dem Server."
)
if st.button("Jetzt prüfen", type="primary", key="system_verify"):
    bar = st.progress(0.0, text="Prüfung startet …")
    with guard():
        report = fixity.verify(inst(), who, progress=lambda f, t: bar.progress(min(f, 1.0), text=t))
        if report.ok:
            st.success(
                f"Alles in Ordnung: {report.blobs_checked} Dateien und "
                f"{report.events_checked} Audit-Ereignisse geprüft."
            )
        else:
            st.error(f"{len(report.findings)} Fehler gefunden:")
            st.dataframe(
                [
                    {"Art": f.kind, "Betrifft": f.subject, "Befund": f.detail}
                    for f in report.findings
                ],
                hide_index=True,
                width="stretch",
            )

st.subheader("Archiv: Ablage und Objektsperre")
with guard():
    from ia_events.archive.objectlock import archive_status

    for line in archive_status(inst(), who).lines():
        st.text(line)

st.subheader("Schlüssel und Sicherung")
with guard():
    from ia_events.archive.backup import key_status

    ks = key_status(inst(), who)
    st.write(
        f"Aktiver Schlüsselverschlüsselungsschlüssel: **{ks.current_kek}** · "
        + " · ".join(f"KEK {k}: {ks.wrapped_by.get(k, 0)} Schlüssel" for k in ks.kek_ids)
    )
st.caption(
    "Rotation (`ia-events keys rotate`) verpackt alle Datenschlüssel neu, ohne Dateien "
    "anzufassen. Sicherung: `ia-events backup DIR` – die Schlüssel liegen dabei getrennt im "
    "Ordner KEYS-SEPARATELY und gehören an einen anderen Ort (siehe docs/operations.md)."
)

st.subheader("Signaturschlüssel")
st.write("Fingerabdruck (steht auf jedem Sachbericht und Prüfpaket):")
st.code(inst().keys.fingerprint(), language=None)
st.download_button(
    "Öffentlichen Schlüssel herunterladen (PEM)",
    inst().keys.public_pem(),
    file_name="ia-events-signing-public.pem",
    mime="application/x-pem-file",
)
