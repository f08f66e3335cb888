"""BagIt details of the inspection bundle: the tag files we write and checking a bag in a ZIP.

Tag files (all covered by ``tagmanifest-sha256.txt``): ``bagit.txt``,
``bag-info.txt``, ``manifest-sha256.txt``, ``README-VERIFY.txt`` (German,
how to check the bundle with standard tools), ``signing-key.pem`` and
``signing-key-fingerprint.txt``. The detached signature over the tag manifest
lies in the ZIP *beside* the bag directory, as ``<bag>.tagmanifest-sha256.txt.sig``:
inside the bag it would be a tag file no manifest lists, which strict
validators (``bagit-utils``) rightly reject. Bundles made before that change
carry it inside the bag; ``check_zip`` still accepts those.

``check_zip`` reads a bag straight out of its ZIP (no extraction, streamed)
and names every change: a changed or missing file, an extra one, a wrong
Payload-Oxum, an unlisted tag file, a signature that does not verify, an
audit checkpoint whose signature does not verify.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ia_events.core import audit
from ia_events.core.messages import berlin, fmt_date, fmt_datetime, fmt_size
from ia_events.inspection.completeness import InspectionTree

TAGMANIFEST = "tagmanifest-sha256.txt"
SIGNATURE = TAGMANIFEST + ".sig"  # inside the bag: only in bundles made before 2026-12
KEY_FILE = "signing-key.pem"
FINGERPRINT_FILE = "signing-key-fingerprint.txt"
CHUNK = 1024 * 1024
HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}


def signature_name(bag_name: str) -> str:
    """The ZIP entry of the detached signature: beside the bag directory, not in it."""
    return f"{bag_name}.{TAGMANIFEST}.sig"


@dataclass(frozen=True)
class Checkpoint:
    """The signed audit checkpoint shipped in ``data/05_Audit/``, with the exact bytes its
    signature covers and the raw signature, so openssl alone can check it."""

    name: str  # checkpoint-<seq>.json
    data: bytes  # the JSON file as written by ``audit.checkpoint``

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".json")

    @property
    def fields(self) -> dict[str, object]:
        return dict(json.loads(self.data))

    @property
    def signed_bytes(self) -> bytes:
        return audit.checkpoint_signed_bytes(self.fields)

    @property
    def signature(self) -> bytes:
        return audit.checkpoint_signature(self.fields)

    def files(self) -> list[tuple[str, bytes]]:
        """Payload files in ``data/05_Audit/``: checkpoint, signed bytes, raw signature."""
        return [
            (f"05_Audit/{self.name}", self.data),
            (f"05_Audit/{self.stem}.signiert.txt", self.signed_bytes),
            (f"05_Audit/{self.stem}.sig", self.signature),
        ]


def _info_value(text: str) -> str:
    return " ".join(str(text).split())


def tag_files(
    *,
    tree: InspectionTree,
    bag_name: str,
    now: datetime,
    manifest: Sequence[tuple[str, str]],
    payload_bytes: int,
    public_pem: str,
    fingerprint: str,
    checkpoint: Checkpoint,
) -> list[tuple[str, bytes]]:
    scope = f":teilziel-{tree.subgoal_id}" if tree.subgoal_id else ""
    info = {
        "Source-Organization": f"{tree.carrier} – {tree.agency_name}",
        "External-Description": (
            f"Prüfpaket (Nachweise) {tree.agency_name}, Förderjahr {tree.year}"
            + (f", Teilziel {tree.subgoal_id}" if tree.subgoal_id else "")
        ),
        "Bagging-Date": berlin(now).date().isoformat(),
        "External-Identifier": (
            f"ia-events:{tree.agency_slug}:{tree.year}{scope}:{berlin(now).strftime('%Y%m%dT%H%M%S')}"
        ),
        "Bag-Group-Identifier": str(tree.year),
        "Payload-Oxum": f"{payload_bytes}.{len(manifest)}",
        "Bag-Size": fmt_size(payload_bytes),
        "Bag-Software-Agent": "ia-events",
        "Signing-Key-Fingerprint": fingerprint,
    }
    bag_info = "".join(f"{k}: {_info_value(v)}\n" for k, v in info.items())
    lines = "".join(f"{digest}  {_encode(path)}\n" for digest, path in manifest)
    return [
        ("bagit.txt", b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"),
        ("bag-info.txt", bag_info.encode()),
        ("manifest-sha256.txt", lines.encode()),
        (
            "README-VERIFY.txt",
            readme(tree, bag_name, fingerprint, [p for _d, p in manifest], checkpoint).encode(),
        ),
        (KEY_FILE, public_pem.encode()),
        (FINGERPRINT_FILE, f"{fingerprint}\n".encode()),
    ]


def _encode(path: str) -> str:
    """RFC 8493 2.1.3: percent-encode CR, LF and % in manifest paths."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _decode(path: str) -> str:
    return path.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def differences_text(tree: InspectionTree, diffs: Sequence[str]) -> bytes:
    lines = [f"Eingefrorene Fassungen und heutiger Stand – {tree.agency_name}, {tree.year}", ""]
    if tree.approved:
        a = tree.approved
        when = f" am {fmt_date(a['approved_at'])}" if a.get("approved_at") else ""
        who = f" durch {a['approved_by']}" if a.get("approved_by") else ""
        lines.append(f"Aufgabenplanung: freigegebene Fassung {a['version']}{when}{who}.")
    else:
        lines.append("Aufgabenplanung: keine freigegebene Fassung vorhanden.")
    r = tree.report
    if r and r["status"] == "submitted" and r.get("submitted_at"):
        lines.append(
            f"Sachbericht: eingereicht am {fmt_datetime(r['submitted_at'])} Uhr "
            f"(Nachweis {r['evidence_id']})."
        )
    else:
        lines.append("Sachbericht: noch nicht eingereicht.")
    lines += ["", f"Stand der Live-Zahlen: {fmt_datetime(tree.generated_at)} Uhr", ""]
    lines += [f"- {d}" for d in diffs] or ["Keine Abweichungen."]
    return ("\n".join(lines) + "\n").encode()


# What each top-level entry under data/ holds; README-VERIFY.txt lists only those present.
PAYLOAD_PARTS = {
    "00_Inhaltsverzeichnis.pdf": (
        "Aufgabenplanung, Teilziele (Soll/Ist), Hinweise zur Vollständigkeit, Angebote und "
        "Termine mit Teilnahmezahlen, alle Nachweisdateien mit SHA-256-Prüfsumme"
    ),
    "01_Aufgabenplanung/": "die von der Koordination freigegebene Fassung (eingefroren)",
    "02_Sachbericht/": "der Sachbericht, wie er eingereicht wurde (eingefroren)",
    "03_Nachweise/": "die Nachweise, geordnet nach Teilziel und Termin",
    "04_Teilnahme/": "Teilnahmezahlen je Termin und Erfassungsart (ohne Namen)",
    "05_Audit/": ("Auszug aus dem hashverketteten Audit-Log und der signierte Prüfpunkt des Logs"),
    "Abweichungen_zum_heutigen_Stand.txt": ("was sich seit Freigabe bzw. Einreichung geändert hat"),
}


def _parts_present(payload_paths: Sequence[str]) -> list[str]:
    present = set()
    for path in payload_paths:
        rel = path.removeprefix("data/")
        present.add(rel.split("/", 1)[0] + "/" if "/" in rel else rel)
    return sorted(present)


def _wrap(text: str, indent: str, width: int = 86) -> str:
    import textwrap

    return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent)


def readme(
    tree: InspectionTree,
    bag_name: str,
    fingerprint: str,
    payload_paths: Sequence[str],
    checkpoint: Checkpoint,
) -> str:
    """README-VERIFY.txt for exactly this bag: its folders, its signature file, its checkpoint."""
    plain = fingerprint.replace(":", "").lower()
    contents = []
    for part in _parts_present(payload_paths):
        contents.append(f"  {part}")
        contents.append(_wrap(PAYLOAD_PARTS.get(part, ""), " " * 6))
    sig = signature_name(bag_name)
    cp, cp_bytes = checkpoint, checkpoint.signed_bytes
    cp_dir = "data/05_Audit"
    cp_fields = cp.fields
    return f"""Prüfpaket {tree.agency_name} – Förderjahr {tree.year}
{"=" * 60}

Dieses Paket ist ein BagIt-Paket nach RFC 8493 (BagIt-Version 1.0). Es lässt
sich ohne die Software ia-events mit Standardwerkzeugen prüfen (sha256sum und
openssl genügen).

Die ZIP-Datei enthält genau zwei Dinge:
  {bag_name}/
      das BagIt-Paket (diese Datei liegt darin)
  {sig}
      die Signatur (Ed25519, 64 Bytes roh) über {bag_name}/{TAGMANIFEST};
      sie liegt bewusst AUSSERHALB des Pakets, denn im Paket wäre sie eine Datei,
      die kein Manifest verzeichnet

Inhalt dieses Pakets (Ordner data/)
{chr(10).join(contents)}

So prüfen Sie das Paket (Linux/macOS): ZIP-Datei entpacken, dann im Ordner
{bag_name}/ :

1. Sind alle Dateien vollständig und unverändert?
     sha256sum -c manifest-sha256.txt
     sha256sum -c tagmanifest-sha256.txt
   (macOS: „shasum -a 256 -c …“; Windows PowerShell: Get-FileHash -Algorithm SHA256.)
   Jede Zeile muss „OK“ melden. Unter data/ darf keine Datei liegen, die nicht in
   manifest-sha256.txt steht; „Payload-Oxum“ in bag-info.txt nennt Bytes.Anzahl
   der Dateien unter data/. Das Werkzeug der Library of Congress prüft all das
   in einem Schritt:  bagit.py --validate .

2. Ist das Paket unverändert so, wie es signiert wurde?
     openssl pkeyutl -verify -pubin -inkey {KEY_FILE} -rawin \\
         -in {TAGMANIFEST} -sigfile ../{sig}
   Erwartet: „Signature Verified Successfully“. Die Signatur deckt genau die Bytes
   der Datei {TAGMANIFEST} ab; diese nennt die SHA-256-Prüfsummen aller
   anderen Dateien im Paket außerhalb von data/ (darunter manifest-sha256.txt,
   das wiederum jede Datei unter data/ nennt).

3. Stammt die Signatur wirklich von der Installation der Integrationsagentur?
   Der öffentliche Schlüssel im Paket ({KEY_FILE}) beweist für sich allein
   NICHTS: Wer ein Paket fälscht, kann auch einen eigenen Schlüssel beilegen.
   Vergleichen Sie deshalb seinen Fingerabdruck
     openssl pkey -pubin -in {KEY_FILE} -outform DER | tail -c 32 | sha256sum
   (die ersten 32 Zeichen, hier: {plain[:32]})
   mit dem Fingerabdruck, der auf dem eingereichten Sachbericht gedruckt ist
   und dem Zuwendungsgeber vorliegt:
     {fingerprint}
   Oder nehmen Sie gleich den Ihnen bekannten Schlüssel (Ausgabe von
   „ia-events keys public“ der Installation) statt {KEY_FILE} in Schritt 2 und 4.
   Mit der Software geht es so:
     ia-events verify-bundle PAKET.zip --public-key BEKANNTER-SCHLUESSEL.pem

4. Audit-Log: Jede Zeile in {cp_dir}/Audit-Auszug.jsonl trägt ihren Hash und
   den ihres Vorgängers in der Gesamtkette. Der signierte Prüfpunkt
   {cp_dir}/{cp.name} hält den Kopf der Kette zum Zeitpunkt des Exports
   fest (Ereignis Nr. {cp_fields["seq"]}). Seine Signatur (Feld „signature“, URL-sicheres
   Base64 ohne „=“) deckt genau diese {len(cp_bytes)} Bytes ab – die Felder at, hash, key
   und seq als JSON, Schlüssel alphabetisch, ohne Leerzeichen, UTF-8, ohne
   Zeilenumbruch am Ende:
{cp_bytes.decode()}
   Dieselben Bytes liegen als {cp_dir}/{cp.stem}.signiert.txt bei
   (SHA-256: {hashlib.sha256(cp_bytes).hexdigest()}),
   die Signatur roh (64 Bytes) als {cp_dir}/{cp.stem}.sig:
     openssl pkeyutl -verify -pubin -inkey {KEY_FILE} -rawin \\
         -in {cp_dir}/{cp.stem}.signiert.txt -sigfile {cp_dir}/{cp.stem}.sig
   Erwartet: „Signature Verified Successfully“. Vergleichen Sie die Werte in
   {cp.stem}.signiert.txt mit denen in {cp.name}.

Teilnahmedaten enthalten keine Namen: Listen mit Namen liegen, wo vorhanden,
als Nachweis (Teilnehmerliste, unterschriebener Scan) bei den Terminen.
"""


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, algo: str) -> str | None:
    digest = HASHES[algo]()
    try:
        with zf.open(info) as fh:
            while block := fh.read(CHUNK):
                digest.update(block)
    except (zipfile.BadZipFile, OSError, EOFError):
        return None  # CRC error or truncated entry: the file has changed
    return digest.hexdigest()


def _parse_manifest(data: bytes) -> list[tuple[str, str]]:
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        parts = line.split(None, 1)
        out.append((parts[0].lower(), _decode(parts[1].lstrip("*")) if len(parts) > 1 else ""))
    return out


def _odd_entries(zf: zipfile.ZipFile) -> list[str]:
    """Entries no bundle of ours has: the same name twice (also when spelled with other
    case, Unicode form or a backslash -- unpackers differ in which copy they keep, so
    a forged copy before the original would be what the inspector sees), links,
    absolute or Windows paths."""
    problems: list[str] = []
    seen: set[str] = set()
    for info in zf.infolist():
        name = info.filename
        key = unicodedata.normalize("NFC", name.replace("\\", "/")).casefold().rstrip("/")
        if key in seen:
            problems.append(f"Doppelter Eintrag im Paket: {name}")
        seen.add(key)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            problems.append(f"Unerwarteter Eintrag (Verknüpfung): {name}")
        if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            problems.append(f"Unsicherer Pfad im Paket: {name}")
    return problems


def check_zip(zf: zipfile.ZipFile, public_key: Ed25519PublicKey, check: BundleCheck) -> None:
    odd = _odd_entries(zf)
    if odd:
        check.problems.extend(odd)
        return
    layout = _bag_layout(zf, check)
    if layout is None:
        return
    files, detached = layout

    def read(name: str) -> bytes | None:
        return zf.read(files[name]) if name in files else None

    bagit_txt = read("bagit.txt") or b""
    if b"BagIt-Version: 1.0" not in bagit_txt:
        check.problems.append("bagit.txt fehlt oder nennt nicht BagIt-Version 1.0.")
    tagmanifest = read(TAGMANIFEST)
    _check_signatures(zf, files, detached, public_key, check)
    listed_tags: set[str] = set()
    for digest, name in _parse_manifest(tagmanifest or b""):
        listed_tags.add(name)
        _compare(zf, files, name, digest, "sha256", check)
    for name in sorted(files):
        allowed = {TAGMANIFEST} | ({SIGNATURE} if detached is None else set())
        if not name.startswith("data/") and name not in listed_tags | allowed:
            check.problems.append(f"Nicht verzeichnet (zusätzlich): {name}")
    _check_payload(zf, files, check)


def _bag_layout(
    zf: zipfile.ZipFile, check: BundleCheck
) -> tuple[dict[str, zipfile.ZipInfo], zipfile.ZipInfo | None] | None:
    """The bag's files by their path inside the bag folder and the detached signature
    beside it (None if absent); None when the ZIP holds not exactly one bag folder.
    Entries beside the folder and unsafe paths are recorded as problems."""
    members = [i for i in zf.infolist() if not i.is_dir()]
    roots = {m.filename.split("/", 1)[0] for m in members if "/" in m.filename}
    if len(roots) != 1:
        check.problems.append("Die ZIP-Datei enthält nicht genau einen Paket-Ordner.")
        return None
    root = roots.pop()
    check.bag_name = root
    beside = {m.filename: m for m in members if "/" not in m.filename}
    detached = beside.pop(signature_name(root), None)
    for name in sorted(beside):
        check.problems.append(f"Zusätzlich (neben dem Paket-Ordner): {name}")
    files: dict[str, zipfile.ZipInfo] = {}
    for m in members:
        if "/" not in m.filename:
            continue
        rel = m.filename[len(root) + 1 :]
        if rel.startswith("/") or ".." in rel.split("/"):
            check.problems.append(f"Unsicherer Pfad im Paket: {m.filename}")
            continue
        files[rel] = m
    return files, detached


def _check_signatures(
    zf: zipfile.ZipFile,
    files: dict[str, zipfile.ZipInfo],
    detached: zipfile.ZipInfo | None,
    public_key: Ed25519PublicKey,
    check: BundleCheck,
) -> None:
    """The signature over the tag manifest, the key inside the bag, the signed audit
    checkpoints."""
    root = check.bag_name

    def read(name: str) -> bytes | None:
        return zf.read(files[name]) if name in files else None

    tagmanifest = read(TAGMANIFEST)
    # Beside the bag; inside it (as SIGNATURE) only in bundles made before 2026-12.
    signature = zf.read(detached) if detached is not None else read(SIGNATURE)
    sig_name = signature_name(root) if detached is not None else SIGNATURE
    if tagmanifest is None:
        check.problems.append(f"Fehlt: {TAGMANIFEST}")
    if signature is None:
        check.problems.append(f"Fehlt: {signature_name(root)} (Signatur neben dem Paket-Ordner)")
    if tagmanifest is not None and signature is not None:
        try:
            public_key.verify(signature, tagmanifest)
            check.signature_ok = True
        except InvalidSignature:
            check.problems.append(
                f"Signatur ungültig: {sig_name} passt nicht zu {TAGMANIFEST} "
                f"und dem Schlüssel {check.key_fingerprint}."
            )
    embedded = read(KEY_FILE)
    if embedded is not None:
        try:
            check.embedded_fingerprint = fingerprint_of(load_public_key(embedded))
        except Exception:
            check.problems.append(f"{KEY_FILE} ist kein gültiger Ed25519-Schlüssel.")
        if check.embedded_fingerprint and check.embedded_fingerprint != check.key_fingerprint:
            check.problems.append(
                f"Der Schlüssel im Paket ({check.embedded_fingerprint}) ist nicht der zur "
                f"Prüfung verwendete ({check.key_fingerprint})."
            )
    for name in sorted(files):
        if name.startswith("data/05_Audit/checkpoint-") and name.endswith(".json"):
            _check_checkpoint(name, read(name) or b"", public_key, check)


def _check_payload(
    zf: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo], check: BundleCheck
) -> None:
    """Every payload file against the manifests, none unlisted, the Payload-Oxum."""
    listed: set[str] = set()
    manifests = [n for n in files if n.startswith("manifest-") and n.endswith(".txt")]
    if "manifest-sha256.txt" not in manifests:
        check.problems.append("Fehlt: manifest-sha256.txt")
    for mname in manifests:
        algo = mname.removeprefix("manifest-").removesuffix(".txt")
        if algo not in HASHES:
            check.problems.append(f"Unbekanntes Prüfsummenverfahren: {mname}")
            continue
        for digest, name in _parse_manifest(zf.read(files[mname])):
            listed.add(name)
            _compare(zf, files, name, digest, algo, check)
    payload = {n: i for n, i in files.items() if n.startswith("data/")}
    for name in sorted(set(payload) - listed):
        check.problems.append(f"Zusätzlich (in keinem Manifest): {name}")
    info = _parse_info(zf.read(files["bag-info.txt"]) if "bag-info.txt" in files else b"")
    check.info = info
    oxum = info.get("Payload-Oxum", "")
    actual = f"{sum(i.file_size for i in payload.values())}.{len(payload)}"
    if oxum != actual:
        check.problems.append(
            f"Payload-Oxum stimmt nicht: bag-info.txt nennt {oxum or '–'}, "
            f"vorhanden sind {actual} (Bytes.Dateien)."
        )


def _check_checkpoint(
    name: str, data: bytes, public_key: Ed25519PublicKey, check: BundleCheck
) -> None:
    try:
        fields = json.loads(data)
        public_key.verify(audit.checkpoint_signature(fields), audit.checkpoint_signed_bytes(fields))
    except (ValueError, KeyError, TypeError, InvalidSignature):
        check.problems.append(f"Signatur des Audit-Prüfpunkts ungültig: {name}")


def _compare(
    zf: zipfile.ZipFile,
    files: dict[str, zipfile.ZipInfo],
    name: str,
    digest: str,
    algo: str,
    check: BundleCheck,
) -> None:
    if name not in files:
        check.problems.append(f"Fehlt: {name}")
        return
    check.files_checked += 1
    if _hash_member(zf, files[name], algo) != digest:
        check.problems.append(f"Geändert: {name} ({algo} stimmt nicht)")


def _parse_info(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    key = None
    for line in data.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and key:
            out[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip()
            out.setdefault(key, value.strip())
    return out


# -- verification ------------------------------------------------------------------------------


@dataclass
class BundleCheck:
    """What ``verify_bundle`` found; ``ok`` only when nothing at all changed."""

    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    bag_name: str = ""
    signature_ok: bool = False
    embedded_fingerprint: str | None = None
    key_fingerprint: str = ""
    info: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and self.signature_ok


def fingerprint_of(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).hexdigest().upper()
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    from ia_events.core.errors import InvalidInput

    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except ValueError as exc:
        raise InvalidInput(field="Öffentlicher Schlüssel", reason="kein PEM-Schlüssel.") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(field="Öffentlicher Schlüssel", reason="kein Ed25519-Schlüssel.")
    return key


def verify_bundle(source: Path | BinaryIO, public_key: Ed25519PublicKey) -> BundleCheck:
    """Check a bundle ZIP completely; every change is named in ``problems`` (German)."""
    check = BundleCheck(key_fingerprint=fingerprint_of(public_key))
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        check.problems.append("Die Datei ist keine lesbare ZIP-Datei.")
        return check
    with zf:
        check_zip(zf, public_key, check)
    return check
