"""Check-in tokens and nonces: only our own, unaltered tokens are accepted."""

from __future__ import annotations

import string
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ia_events.attendance.checkin_texts import LANGS, T, pick_language
from ia_events.attendance.tokens import (
    TokenInfo,
    make_token,
    new_nonce,
    nonce_valid,
    parse_token,
)
from ia_events.core.errors import CheckInError
from storage.keys import KeyRing


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    return KeyRing.create_or_load(tmp_path_factory.mktemp("keys") / "keys")


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    return KeyRing.create_or_load(tmp_path_factory.mktemp("other") / "keys")


INFO = TokenInfo("participant", "occurrence", 4711, 3, timedelta(minutes=30), timedelta(hours=3))


def test_round_trip_keeps_target_purpose_generation_and_window(keys: KeyRing) -> None:
    token = make_token(keys, INFO)
    assert parse_token(keys, token) == INFO
    assert parse_token(keys, token).occurrence_id == 4711
    series = TokenInfo("participant", "series", 12, 1)
    assert parse_token(keys, make_token(keys, series)).activity_id == 12
    volunteer = TokenInfo("volunteer", "occurrence", 9, 1)
    assert parse_token(keys, make_token(keys, volunteer)).purpose == "volunteer"


def test_token_is_url_safe_and_short_enough_for_a_small_qr(keys: KeyRing) -> None:
    token = make_token(keys, INFO)
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")
    assert len(token) <= 40


def test_purpose_and_generation_change_the_token(keys: KeyRing) -> None:
    base = make_token(keys, INFO)
    assert make_token(keys, TokenInfo("volunteer", "occurrence", 4711, 3)) != base
    bumped = TokenInfo("participant", "occurrence", 4711, 4, INFO.before, INFO.after)
    assert make_token(keys, bumped) != base


def test_another_installations_token_is_invalid(keys: KeyRing, other_keys: KeyRing) -> None:
    with pytest.raises(CheckInError) as err:
        parse_token(keys, make_token(other_keys, INFO))
    assert err.value.code == "invalid"


@pytest.mark.parametrize("cut", [1, 5, 16, 37])
def test_truncated_token_is_invalid(keys: KeyRing, cut: int) -> None:
    token = make_token(keys, INFO)
    with pytest.raises(CheckInError) as err:
        parse_token(keys, token[:-cut])
    assert err.value.code == "invalid"


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=80))
def test_arbitrary_text_is_refused_as_invalid(keys: KeyRing, text: str) -> None:
    with pytest.raises(CheckInError) as err:
        parse_token(keys, text)
    assert err.value.code == "invalid"


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_single_change_of_a_valid_token_is_refused(keys: KeyRing, data: st.DataObject) -> None:
    token = make_token(keys, INFO)
    pos = data.draw(st.integers(0, len(token) - 1))
    alphabet = string.ascii_letters + string.digits + "-_"
    ch = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[pos]))
    forged = token[:pos] + ch + token[pos + 1 :]
    with pytest.raises(CheckInError):
        parse_token(keys, forged)


@settings(max_examples=100, deadline=None)
@given(
    target=st.integers(1, 2**32 - 1),
    generation=st.integers(1, 0xFFFF),
    purpose=st.sampled_from(["participant", "volunteer"]),
)
def test_forged_payload_without_the_key_is_refused(
    keys: KeyRing, other_keys: KeyRing, target: int, generation: int, purpose: str
) -> None:
    # Valid structure, but signed with the wrong key (what a forger can build).
    forged = make_token(other_keys, TokenInfo(purpose, "occurrence", target, generation))
    with pytest.raises(CheckInError):
        parse_token(keys, forged)
    assert parse_token(other_keys, forged).target_id == target


def test_nonce_is_bound_to_its_token(keys: KeyRing) -> None:
    token = make_token(keys, INFO)
    other = make_token(keys, TokenInfo("participant", "occurrence", 4712, 1))
    nonce = new_nonce(keys, token)
    assert nonce_valid(keys, token, nonce)
    assert not nonce_valid(keys, other, nonce)
    assert not nonce_valid(keys, token, nonce[:-1] + ("A" if nonce[-1] != "A" else "B"))
    assert not nonce_valid(keys, token, "")
    assert new_nonce(keys, token) != nonce


def test_language_from_query_then_accept_language() -> None:
    assert pick_language("ar", "de-DE") == "ar"
    assert pick_language(None, "uk-UA,uk;q=0.9,en;q=0.5") == "uk"
    assert pick_language(None, "fr-FR, fa;q=0.8, en;q=0.3") == "fa"
    assert pick_language("xx", "") == "de"


def test_every_language_has_every_text() -> None:
    assert set(T) == set(LANGS)
    for lang, table in T.items():
        assert set(table) == set(T["de"]), lang


def test_key_file_is_required(tmp_path: Path) -> None:
    from storage.keys import KeyMissing

    with pytest.raises(KeyMissing):
        KeyRing.load(tmp_path)
