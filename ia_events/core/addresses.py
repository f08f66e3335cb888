"""Addresses of this server: which proxies are trusted, and the base of the check-in links.

``IA_EVENTS_BASE_URL`` wins when it is set. Without it the check-in links use the
address the staff's browser reached the server at: the ``Host`` header of its
request. ``X-Forwarded-Host`` and ``X-Forwarded-Proto`` are headers anyone can
send; they count only when the request came from a reverse proxy the operator named
in ``IA_EVENTS_TRUSTED_PROXIES`` (addresses or networks, comma-separated, the same
list ``web/clientaddr.py`` uses for ``X-Forwarded-For``).

uvicorn (under ``streamlit run``) replaces the connecting address of a request from
one of *its* trusted proxies (``FORWARDED_ALLOW_IPS``, default 127.0.0.1 and ::1) by
the client's address from ``X-Forwarded-For``. Such a request came from a proxy of
ours only when all of uvicorn's proxies are in our list too (``uvicorn_is_ours``).

A link to ``localhost``, 127.0.0.1 or ::1 works only on the server itself: a phone
cannot open it (``is_local``); the door screen says so.

Limits: pure rules, no Streamlit and no Starlette (the glue is ``pages/_ui.py`` and
``web/clientaddr.py``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FALLBACK = "http://localhost:8501"  # the Settings default, when nothing better is known
UVICORN_DEFAULT = "127.0.0.1,::1"  # uvicorn's FORWARDED_ALLOW_IPS when unset

# host, host:port, IPv4:port or [IPv6]:port -- nothing that could end the URL's authority.
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$"
)


@lru_cache(maxsize=32)
def networks(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` -> networks; junk entries are ignored."""
    out: list[Network] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue
    return tuple(out)


def ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def trusted(value: str | None, nets: tuple[Network, ...]) -> bool:
    """Is ``value`` (an address) inside one of ``nets``?"""
    address = ip(value) if value else None
    return address is not None and any(address in net for net in nets)


def uvicorn_networks(spec: str | None) -> tuple[Network, ...]:
    """uvicorn's trusted proxies (``FORWARDED_ALLOW_IPS``; ``*`` trusts everyone)."""
    spec = UVICORN_DEFAULT if spec is None else spec
    return networks("0.0.0.0/0,::/0" if "*" in spec else spec)


def uvicorn_is_ours(ours: tuple[Network, ...], theirs: tuple[Network, ...]) -> bool:
    """Are all of uvicorn's trusted proxies also ours?"""
    return bool(ours) and all(
        any(net.subnet_of(t) for t in ours if t.version == net.version)  # type: ignore[arg-type]  # same IP version, checked
        for net in theirs
    )


def from_trusted_proxy(
    peer: str | None, forwarded_for: str, trusted_spec: str, uvicorn_spec: str | None = None
) -> bool:
    """Did the request come from a proxy named in ``trusted_spec``?

    ``peer`` is the connecting address as the server saw it; ``forwarded_for`` the
    ``X-Forwarded-For`` header. When uvicorn put a forwarded address in place of the
    peer (it is one of the header's addresses), the peer was one of uvicorn's proxies."""
    ours = networks(trusted_spec)
    if not ours or not peer:
        return False
    seen = [item.strip() for item in forwarded_for.split(",") if item.strip()]
    if peer in seen:
        return uvicorn_is_ours(ours, uvicorn_networks(uvicorn_spec))
    return trusted(peer, ours)


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


def public_base_url(
    configured: str | None,
    headers: Mapping[str, str],
    peer: str | None,
    trusted_spec: str,
    *,
    scheme: str = "http",
    uvicorn_spec: str | None = None,
) -> str:
    """The base of the check-in links (no trailing slash).

    ``configured`` (``IA_EVENTS_BASE_URL``) wins; else the forwarded host and scheme of
    a trusted proxy; else the ``Host`` header with ``scheme``; else ``FALLBACK``."""
    if configured and configured.strip():
        return configured.strip().rstrip("/")
    lower = {k.lower(): v for k, v in headers.items()}
    host = _first(lower.get("host"))
    if from_trusted_proxy(peer, lower.get("x-forwarded-for", ""), trusted_spec, uvicorn_spec):
        forwarded = _first(lower.get("x-forwarded-host"))
        if forwarded and _HOST.match(forwarded):
            host = forwarded
        proto = _first(lower.get("x-forwarded-proto")).lower()
        if proto in ("http", "https"):
            scheme = proto
    if not host or not _HOST.match(host):
        return FALLBACK
    return f"{scheme}://{host}"


def is_local(url: str) -> bool:
    """Does ``url`` point at the server itself (localhost, 127.x, ::1, 0.0.0.0)?
    Such a link opens nothing on a participant's phone."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = ip(host)
    return address is not None and (address.is_loopback or address.is_unspecified)
