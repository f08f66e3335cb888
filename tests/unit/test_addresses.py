"""The base of the check-in links: configured wins; else the browser's Host; forwarded
headers only from a trusted proxy; links to the server itself are recognised."""

from __future__ import annotations

import pytest

from ia_events.core.addresses import FALLBACK, is_local, public_base_url

LAN = {"Host": "192.168.1.20:8501"}
PROXIED = {
    "Host": "127.0.0.1:8501",
    "X-Forwarded-Host": "ia.example.org",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "203.0.113.7",
}


def test_the_configured_address_wins() -> None:
    assert public_base_url("https://ia.example.org/", LAN, "192.168.1.5", "") == (
        "https://ia.example.org"
    )
    assert public_base_url("https://ia.example.org", PROXIED, "10.0.0.2", "10.0.0.0/8") == (
        "https://ia.example.org"
    )


def test_without_configuration_the_host_the_browser_used() -> None:
    assert public_base_url(None, LAN, "192.168.1.5", "") == "http://192.168.1.20:8501"
    assert public_base_url("", {"host": "laptop-ia.fritz.box:8501"}, None, "") == (
        "http://laptop-ia.fritz.box:8501"
    )
    assert public_base_url(None, {"Host": "[fe80::1]:8501"}, None, "") == "http://[fe80::1]:8501"
    assert public_base_url(None, LAN, "192.168.1.5", "", scheme="https") == (
        "https://192.168.1.20:8501"
    )


def test_forwarded_headers_of_an_untrusted_peer_are_ignored() -> None:
    # A browser may send any header: without a configured proxy they count for nothing.
    assert public_base_url(None, PROXIED, "10.0.0.2", "") == "http://127.0.0.1:8501"
    # A configured proxy, but the request came from somewhere else.
    assert public_base_url(None, PROXIED, "192.168.1.5", "10.0.0.0/8") == "http://127.0.0.1:8501"


def test_forwarded_headers_of_a_trusted_proxy_are_honoured() -> None:
    assert public_base_url(None, PROXIED, "10.0.0.2", "10.0.0.0/8") == "https://ia.example.org"
    # uvicorn put the forwarded client in place of its local proxy: ours only when all of
    # uvicorn's proxies (127.0.0.1, ::1 by default) are ours too.
    assert public_base_url(None, PROXIED, "203.0.113.7", "127.0.0.1,::1") == (
        "https://ia.example.org"
    )
    assert public_base_url(None, PROXIED, "203.0.113.7", "127.0.0.1") == "http://127.0.0.1:8501"
    # A proto other than http/https is not believed; the host is.
    odd = {**PROXIED, "X-Forwarded-Proto": "javascript"}
    assert public_base_url(None, odd, "10.0.0.2", "10.0.0.0/8") == "http://ia.example.org"


@pytest.mark.parametrize(
    "host", ["", "evil.example/path", "a b", "x@evil.example", "host:port", "<script>"]
)
def test_a_broken_host_falls_back(host: str) -> None:
    assert public_base_url(None, {"Host": host}, None, "") == FALLBACK
    forged = {"Host": "192.168.1.20:8501", "X-Forwarded-Host": host}
    assert public_base_url(None, forged, "10.0.0.2", "10.0.0.0/8") == "http://192.168.1.20:8501"


def test_no_headers_at_all() -> None:
    assert public_base_url(None, {}, None, "") == FALLBACK


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:8501", True),
        ("http://LOCALHOST", True),
        ("http://app.localhost:8501", True),
        ("http://127.0.0.1:8501", True),
        ("http://127.1.2.3", True),
        ("http://[::1]:8501", True),
        ("http://0.0.0.0:8501", True),
        ("http://192.168.1.20:8501", False),
        ("https://ia.example.org", False),
        ("http://laptop-ia.fritz.box:8501", False),
        ("http://[fe80::1]:8501", False),
    ],
)
def test_links_to_the_server_itself(url: str, local: bool) -> None:
    assert is_local(url) is local
