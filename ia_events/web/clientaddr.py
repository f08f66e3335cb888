"""The address of the client behind a request, for rate limits: proxies only when trusted.

``X-Forwarded-For`` is a header anyone can send; it names the client only when
the connection comes from a reverse proxy the operator named in
``IA_EVENTS_TRUSTED_PROXIES`` (addresses or networks, comma-separated, e.g.
``127.0.0.1,10.0.0.0/8``). Then the right-most address in the header that is
not itself a trusted proxy is the client; otherwise the connecting address is.

uvicorn (under ``streamlit run``) already replaces the connecting address by
the header for connections from 127.0.0.1 and ::1 (its ``FORWARDED_ALLOW_IPS``
default) and marks that with port 0. Such an address is believed only when
those proxies are ours too; else all such requests share one bucket
(``forwarded-untrusted``), so nobody from the server itself can pick a fresh
address per request.
"""

from __future__ import annotations

import os

from starlette.requests import Request

from ia_events.core.addresses import Network, networks, uvicorn_is_ours, uvicorn_networks
from ia_events.core.addresses import ip as _ip
from ia_events.core.addresses import trusted as _trusted

UNTRUSTED_FORWARD = "forwarded-untrusted"


def _from_header(header: str, trusted: tuple[Network, ...]) -> str | None:
    """The right-most address of ``X-Forwarded-For`` that is not a trusted proxy."""
    for item in reversed([h.strip() for h in header.split(",") if h.strip()]):
        if _ip(item) is None:
            return None  # a forged or broken header: believe nothing in it
        if not _trusted(item, trusted):
            return str(_ip(item))
    return None


def _uvicorn_trusts() -> tuple[Network, ...]:
    return uvicorn_networks(os.environ.get("FORWARDED_ALLOW_IPS"))


def client_address(request: Request, trusted_spec: str) -> str:
    """The address to count a request against (see the module docstring)."""
    trusted = networks(trusted_spec)
    host, port = (request.client.host, request.client.port) if request.client else ("?", 1)
    header = ",".join(request.headers.getlist("x-forwarded-for"))
    if port == 0:  # uvicorn took ``host`` from the header: the peer was one of its proxies
        if not uvicorn_is_ours(trusted, _uvicorn_trusts()):
            return UNTRUSTED_FORWARD
        return _from_header(header, trusted) or host
    if header and _trusted(host, trusted):
        return _from_header(header, trusted) or host
    return host
