"""SMTP: the one setting, building a message, and handing it over with a commit point.

``IA_EVENTS_SMTP_URL`` configures everything: ``smtp://user:pass@host:587?starttls=1&from=ia@example.org``
or ``smtps://user:pass@host:465?from=...`` (TLS from the first byte). Unset: no mail.

``transmit`` speaks the SMTP dialogue itself (standard library ``smtplib``) so
that the caller can record "committing" *after* the server accepted the
envelope and said 354 but *before* the final dot that makes the server take
the message (``before_commit``). A crash before that point leaves nothing at
the server (a transaction without its dot is discarded); after it, the
outbox knows the message may have arrived. Failures are classified: 4xx and
an unreachable server are temporary, 5xx permanent, a connection lost after
the dot unclear.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from urllib.parse import parse_qs, unquote, urlsplit

from ia_events.core.errors import InvalidInput
from storage.db import utcnow

ENV = "IA_EVENTS_SMTP_URL"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    user: str = ""
    password: str = ""
    starttls: bool = False
    tls: bool = False  # smtps://
    timeout: float = 30.0

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2] or "ia-events.local"

    def describe(self) -> str:
        scheme = "smtps" if self.tls else "smtp"
        tls = " mit STARTTLS" if self.starttls else ""
        return f"{scheme}://{self.host}:{self.port}{tls}, Absender {self.sender}"


def parse_url(url: str) -> SmtpConfig:
    """The setting as a config; ``InvalidInput`` names what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise InvalidInput(field=ENV, reason="Die Adresse muss mit smtp:// oder smtps:// beginnen.")
    if not parts.hostname:
        raise InvalidInput(field=ENV, reason="Es fehlt der Name des Mailservers.")
    query = parse_qs(parts.query)
    sender = (query.get("from") or [""])[0]
    if "@" not in sender:
        raise InvalidInput(field=ENV, reason="Es fehlt der Absender (?from=name@beispiel.de).")
    tls = parts.scheme == "smtps"
    flag = (query.get("starttls") or ["0"])[0].lower() in ("1", "true", "yes")
    try:
        port = parts.port or (465 if tls else 587 if flag else 25)
    except ValueError as exc:
        raise InvalidInput(field=ENV, reason="Der Port ist keine Zahl.") from exc
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        sender=sender,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        starttls=flag and not tls,
        tls=tls,
        timeout=float((query.get("timeout") or ["30"])[0]),
    )


def config_from_env(environ: dict[str, str] | None = None) -> SmtpConfig | None:
    import os

    url = (environ if environ is not None else os.environ).get(ENV, "").strip()
    return parse_url(url) if url else None


def build(
    cfg: SmtpConfig,
    *,
    sender_name: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    unsubscribe_url: str,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((sender_name, cfg.sender))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    # RFC 8058: mail programs offer "abbestellen" and POST to the link themselves.
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if attachment is not None:
        name, data = attachment
        msg.add_attachment(data, maintype="text", subtype="calendar", filename=name)
    return msg


class TemporaryFailure(Exception):
    """Try again later (4xx, server unreachable)."""


class PermanentFailure(Exception):
    """The server refused for good (5xx)."""


class Unclear(Exception):
    """The connection broke after the final dot: the server may have the message."""


def _check(code: int, reply: bytes | str, ok: tuple[int, ...]) -> None:
    if code in ok:
        return
    said = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    text = f"{code} {said}"[:400]
    if 400 <= code < 500 or code == -1:
        raise TemporaryFailure(text)
    raise PermanentFailure(text)


def _payload(msg: EmailMessage) -> bytes:
    data = msg.as_bytes(policy=SMTP)
    data = re.sub(rb"(?m)^\.", b"..", data)  # dot-stuffing (RFC 5321 4.5.2)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def transmit(
    cfg: SmtpConfig, msg: EmailMessage, to: str, before_commit: Callable[[], None]
) -> None:
    """Hand ``msg`` to the server; ``before_commit`` runs between 354 and the final dot
    (if it raises, the connection is dropped without the dot: nothing is delivered)."""
    context = ssl.create_default_context()
    try:
        if cfg.tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=cfg.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
    except smtplib.SMTPConnectError as exc:
        _check(exc.smtp_code, exc.smtp_error, ())
        raise
    except OSError as exc:  # refused, unreachable, DNS, TLS handshake
        raise TemporaryFailure(f"Mailserver nicht erreichbar: {exc}") from exc
    committed = False
    try:
        smtp.ehlo()
        if cfg.starttls:
            smtp.starttls(context=context)
            smtp.ehlo()
        if cfg.user:
            try:
                smtp.login(cfg.user, cfg.password)
            except smtplib.SMTPAuthenticationError as exc:
                _check(exc.smtp_code, exc.smtp_error, ())
        _check(*smtp.mail(cfg.sender), (250,))
        _check(*smtp.rcpt(to), (250, 251))
        _check(*smtp.docmd("DATA"), (354,))
        before_commit()
        committed = True
        smtp.send(_payload(msg))
        code, reply = smtp.getreply()
        _check(code, reply, (250,))
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        if committed:
            raise Unclear(f"Verbindung nach der Übergabe abgebrochen: {exc}") from exc
        raise TemporaryFailure(f"Verbindung abgebrochen: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        _check(exc.smtp_code, exc.smtp_error, ())
        raise
    finally:
        try:
            if committed:
                smtp.quit()
            else:
                smtp.close()  # in DATA mode a QUIT would be message text: just hang up
        except (smtplib.SMTPException, OSError):
            smtp.close()
