"""A real SMTP server for the notification tests: ``aiosmtpd`` on 127.0.0.1.

The handler keeps every message it accepted, and can be told to answer 451
(temporarily) or 550 (for good), or to stop at a point of the dialogue and
write a marker file there (so a test can ``kill -9`` the sending process at
exactly that point). Without aiosmtpd the tests skip -- or fail when
``IA_EVENTS_REQUIRE_SMTP=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Collector:
    """The aiosmtpd handler: what arrived, and how to misbehave."""

    messages: list[EmailMessage] = field(default_factory=list)
    temp_failures: int = 0  # answer 451 to this many DATA commands first
    permanent: bool = False  # answer 550 to every RCPT
    hold_at: str | None = None  # "rcpt" or "data": stop there (after writing the marker)
    marker: Path | None = None
    delay: float = 0.0  # seconds before answering DATA (lets concurrent senders interleave)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def _hold(self, point: str) -> None:
        if self.hold_at == point and self.marker is not None:
            self.marker.write_text(point)
            await asyncio.sleep(3600)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if self.permanent:
            return "550 5.1.1 Empfänger unbekannt"
        await self._hold("rcpt")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.temp_failures > 0:
                self.temp_failures -= 1
                return "451 4.3.0 Bitte später noch einmal"
            msg = email.message_from_bytes(envelope.content, policy=default)
            msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
            self.messages.append(msg)  # type: ignore[arg-type]
        # Held after accepting: the message is here, the sender never hears "250".
        await self._hold("data")
        return "250 OK"

    def by_subject(self, text: str) -> list[EmailMessage]:
        return [m for m in self.messages if text in str(m["Subject"])]


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Collector

    def url(self, sender: str = "ia@example.org") -> str:
        return f"smtp://{self.host}:{self.port}?from={sender}&timeout=5"


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def body_html(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def calendar_parts(msg: EmailMessage) -> list[bytes]:
    out = []
    for part in msg.iter_attachments():
        if part.get_content_type() == "text/calendar":
            data = part.get_payload(decode=True)
            out.append(data if isinstance(data, bytes) else str(data).encode())
    return out
