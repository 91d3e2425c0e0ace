"""Signed deep-link tokens: format, round trip, tampering, expiry, key rotation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reminders.tokens import (
    ALPHABET,
    MAX_TOKEN_ID_BYTES,
    BadSignature,
    ExpiredToken,
    MalformedToken,
    TokenError,
    TokenSigner,
    key_id,
    token_shaped,
)
from tests.fakes.clock import Clock

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
START = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


def distinct_keys(n: int) -> list[bytes]:
    """n deterministic 32-byte keys with pairwise different key ids."""
    keys: list[bytes] = []
    seen: set[str] = set()
    i = 0
    while len(keys) < n:
        key = i.to_bytes(4, "big") * 8
        if key_id(key) not in seen:
            seen.add(key_id(key))
            keys.append(key)
        i += 1
    return keys


KEY_A, KEY_B, KEY_C = distinct_keys(3)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def signer(clock: Clock) -> TokenSigner:
    return TokenSigner([KEY_A], now=clock)


def test_round_trip(signer: TokenSigner, clock: Clock) -> None:
    issued = signer.issue()
    assert TOKEN_RE.match(issued.token)
    assert len(issued.token) == 50
    assert len(issued.token_id) == 32
    assert issued.expires_at == datetime(2025, 6, 12, 9, 26, tzinfo=UTC)  # 90 days, rounded down to the minute
    verified = signer.verify(issued.token)
    assert verified.token_id == issued.token_id
    assert verified.expires_at == issued.expires_at


def test_random_token_ids_differ(signer: TokenSigner) -> None:
    ids = {signer.issue().token_id for _ in range(50)}
    assert len(ids) == 50


def test_caller_given_token_id(signer: TokenSigner) -> None:
    issued = signer.issue(token_id=b"\x00\x01appt")
    assert issued.token_id == b"\x00\x01appt".hex()
    assert signer.verify(issued.token).token_id == issued.token_id


def test_appointment_reference_is_not_readable_from_token(signer: TokenSigner) -> None:
    assert "appt" not in signer.issue(token_id=b"appt-2025-000123").token


@pytest.mark.parametrize("size", [0, MAX_TOKEN_ID_BYTES + 1])
def test_token_id_size_limits(signer: TokenSigner, size: int) -> None:
    with pytest.raises(ValueError):
        signer.issue(token_id=b"x" * size)


@given(token_id=st.binary(min_size=1, max_size=MAX_TOKEN_ID_BYTES), ttl_minutes=st.integers(1, 10 * 365 * 24 * 60))
def test_every_token_fits_telegram_start_payload(token_id: bytes, ttl_minutes: int) -> None:
    signer = TokenSigner([KEY_A], now=Clock(START))
    issued = signer.issue(token_id=token_id, ttl=timedelta(minutes=ttl_minutes))
    assert TOKEN_RE.match(issued.token), issued.token
    assert signer.verify(issued.token).token_id == token_id.hex()


def test_longest_token_is_64_characters(signer: TokenSigner) -> None:
    assert len(signer.issue(token_id=b"\xff" * MAX_TOKEN_ID_BYTES).token) == 64


@pytest.mark.parametrize("token_id", [None, b"a", b"ab", b"abc", b"\xff" * MAX_TOKEN_ID_BYTES])
def test_any_single_character_change_is_refused(signer: TokenSigner, token_id: bytes | None) -> None:
    token = signer.issue(token_id=token_id).token
    replacements = [*ALPHABET, "=", " ", "+", "/", ".", "\n", "ä", "\x00"]
    for i, original in enumerate(token):
        for c in replacements:
            if c == original:
                continue
            tampered = token[:i] + c + token[i + 1 :]
            with pytest.raises((BadSignature, MalformedToken)):
                signer.verify(tampered)


def test_tampered_body_is_a_bad_signature(signer: TokenSigner) -> None:
    token = signer.issue().token
    tampered = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    with pytest.raises(BadSignature):
        signer.verify(tampered)


@pytest.mark.parametrize(
    "junk",
    [
        "",
        " ",
        "1",
        "x" * 10_000,
        "ä" * 50,
        "1A" + "é" * 48,
        "1A" + "A" * 47 + "\n",
        "1A" + "A" * 47 + " ",
        " 1A" + "A" * 47,
        "1A" + "A" * 46 + "=",
        "1A" + "A" * 62 + "A",  # 65 characters
        "2A" + "A" * 48,  # unknown version
        "1A" + "A" * 29,  # payload length 4n+1: impossible in base64
        "1A" + "A" * 27,  # one character too short
    ],
)
def test_malformed(signer: TokenSigner, junk: str) -> None:
    with pytest.raises(MalformedToken) as info:
        signer.verify(junk)
    assert info.value.reason


def test_trailing_newline_is_malformed(signer: TokenSigner) -> None:
    token = signer.issue().token
    for bad in (token + "\n", "\n" + token, token + " "):
        with pytest.raises(MalformedToken):
            signer.verify(bad)
    # One character short may still decode (to a shorter id): then the signature fails instead.
    with pytest.raises((MalformedToken, BadSignature)):
        signer.verify(token[:-1])


def test_non_canonical_base64_is_malformed(signer: TokenSigner) -> None:
    short = signer.issue(token_id=b"ab").token  # 22 payload bytes: the last character has 4 unused bits
    last = ALPHABET.index(short[-1])
    assert last & 0x0F == 0
    with pytest.raises(MalformedToken):
        signer.verify(short[:-1] + ALPHABET[last | 1])


def test_expiry_with_injected_clock(signer: TokenSigner, clock: Clock) -> None:
    issued = signer.issue(ttl=timedelta(hours=2))
    assert issued.expires_at == datetime(2025, 3, 14, 11, 26, tzinfo=UTC)
    clock.now = issued.expires_at - timedelta(seconds=1)
    assert signer.verify(issued.token).token_id == issued.token_id
    clock.now = issued.expires_at
    with pytest.raises(ExpiredToken) as info:
        signer.verify(issued.token)
    assert info.value.token_id == issued.token_id
    assert info.value.expires_at == issued.expires_at
    clock.now = issued.expires_at + timedelta(days=400)
    with pytest.raises(ExpiredToken):
        signer.verify(issued.token)


def test_default_ttl_is_90_days(signer: TokenSigner, clock: Clock) -> None:
    issued = signer.issue()
    clock.now = START + timedelta(days=89, hours=23)
    signer.verify(issued.token)
    clock.now = START + timedelta(days=90)
    with pytest.raises(ExpiredToken):
        signer.verify(issued.token)


def test_expiry_is_checked_only_after_the_signature(signer: TokenSigner, clock: Clock) -> None:
    token = signer.issue(ttl=timedelta(minutes=5)).token
    clock.now = START + timedelta(days=1)
    with pytest.raises(BadSignature):
        signer.verify(token[:-1] + ("A" if token[-1] != "A" else "B"))


def test_ttl_must_be_at_least_a_minute(signer: TokenSigner) -> None:
    for ttl in (timedelta(0), timedelta(seconds=59), timedelta(days=-1)):
        with pytest.raises(ValueError):
            signer.issue(ttl=ttl)


def test_expiry_outside_range(signer: TokenSigner) -> None:
    with pytest.raises(ValueError):
        signer.issue(ttl=timedelta(days=999_999_999))
    early = TokenSigner([KEY_A], now=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        early.issue()


def test_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenSigner([KEY_A], now=lambda: datetime(2025, 1, 1)).issue()


def test_key_rotation(clock: Clock) -> None:
    old = TokenSigner([KEY_A], now=clock)
    old_token = old.issue().token
    rotated = TokenSigner([KEY_B, KEY_A], now=clock)
    new_token = rotated.issue().token
    assert new_token[1] == key_id(KEY_B)
    assert old_token[1] == key_id(KEY_A)
    assert rotated.verify(old_token)  # old key still verifies
    assert rotated.verify(new_token)
    with pytest.raises(BadSignature, match="unknown key id"):  # the old signer does not know the new key
        old.verify(new_token)
    retired = TokenSigner([KEY_B], now=clock)
    with pytest.raises(BadSignature, match="unknown key id"):  # old key dropped after rotation
        retired.verify(old_token)


def test_unknown_key_id(signer: TokenSigner) -> None:
    token = signer.issue().token
    other = next(c for c in ALPHABET if c != key_id(KEY_A))
    with pytest.raises(BadSignature, match="unknown key id"):
        signer.verify(token[0] + other + token[2:])


def test_token_signed_with_another_key_fails(clock: Clock) -> None:
    ours = TokenSigner([KEY_A], now=clock)
    theirs = TokenSigner([KEY_B], now=clock)
    with pytest.raises(BadSignature):
        ours.verify(theirs.issue().token)


def test_another_key_with_the_same_key_id_fails(clock: Clock) -> None:
    impostor = next(k for k in (i.to_bytes(4, "big") * 8 for i in range(1000, 10_000)) if key_id(k) == key_id(KEY_A) and k != KEY_A)
    ours = TokenSigner([KEY_A], now=clock)
    theirs = TokenSigner([impostor], now=clock)
    token = theirs.issue().token
    assert token[1] == key_id(KEY_A)
    with pytest.raises(BadSignature, match="signature mismatch"):
        ours.verify(token)


def test_key_validation() -> None:
    with pytest.raises(ValueError):
        TokenSigner([])
    with pytest.raises(ValueError):
        TokenSigner([b"short"])
    with pytest.raises(ValueError):
        TokenSigner([KEY_A, KEY_A])
    clash = next(k for k in (i.to_bytes(4, "big") * 8 for i in range(1000, 10_000)) if key_id(k) == key_id(KEY_A))
    with pytest.raises(ValueError, match="key id"):
        TokenSigner([KEY_A, clash])
    TokenSigner([KEY_A, KEY_B, KEY_C])


def test_key_id_is_one_alphabet_character() -> None:
    for key in (KEY_A, KEY_B, KEY_C):
        assert len(key_id(key)) == 1 and key_id(key) in ALPHABET


@settings(max_examples=500)
@given(junk=st.text())
def test_random_text_never_verifies(junk: str) -> None:
    signer = TokenSigner([KEY_A, KEY_B], now=Clock(START))
    with pytest.raises(TokenError):
        signer.verify(junk)


@settings(max_examples=500)
@given(junk=st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
def test_random_alphabet_strings_never_verify(junk: str) -> None:
    signer = TokenSigner([KEY_A, KEY_B], now=Clock(START))
    with pytest.raises(TokenError):
        signer.verify(junk)


@settings(max_examples=500)
@given(body=st.from_regex(r"[A-Za-z0-9_-]{28,62}", fullmatch=True), use_b=st.booleans())
def test_well_formed_forgeries_never_verify(body: str, use_b: bool) -> None:
    """Right version, a configured key id, plausible length: only the MAC stands in the way."""
    signer = TokenSigner([KEY_A, KEY_B], now=Clock(START))
    forged = "1" + key_id(KEY_B if use_b else KEY_A) + body
    with pytest.raises((BadSignature, MalformedToken)):
        signer.verify(forged)


@given(token_id=st.binary(min_size=1, max_size=MAX_TOKEN_ID_BYTES), position=st.integers(0, 63), data=st.data())
def test_hypothesis_single_character_change(token_id: bytes, position: int, data: st.DataObject) -> None:
    signer = TokenSigner([KEY_A, KEY_B], now=Clock(START))
    token = signer.issue(token_id=token_id).token
    i = position % len(token)
    c = data.draw(st.characters().filter(lambda ch: ch != token[i]))
    with pytest.raises((BadSignature, MalformedToken)):
        signer.verify(token[:i] + c + token[i + 1 :])


def test_a_damaged_token_still_looks_like_one_and_a_campaign_payload_does_not(signer: TokenSigner) -> None:
    token = signer.issue().token
    for damaged in (token, token[:20], token[:-1], token + "%3D", token[:30] + "." + token[30:]):
        assert token_shaped(damaged), damaged
    for other in ("", "flyer2026", "campaign-flyer", "welcome_center_2026", "1st", "1000flyers", "x" + token):
        assert not token_shaped(other), other
