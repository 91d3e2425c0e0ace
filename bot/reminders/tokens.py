"""Signed deep-link tokens for appointment booking links.

The city's booking confirmation carries ``https://t.me/<bot>?start=<token>`` (Telegram) or
``!link <token>`` (Matrix); redeeming the token subscribes that chat to the appointment's reminders.

Token format (version ``1``), always 30 to 64 characters of ``A-Z a-z 0-9 _ -`` (Telegram's
``/start`` payload rule), 50 characters with the default 16-byte token id::

    "1" <key id: 1 char> <base64url, no padding: expires (4 bytes) | token id (1-26 bytes) | mac (16 bytes)>

* ``expires``: big-endian unsigned minutes since 2024-01-01T00:00Z (good until the year 10190).
* ``token id``: opaque random (default 16 bytes) or caller-given bytes; the database maps it to the
  appointment. The appointment reference itself is never in the token. Exposed as lower-case hex.
* ``key id``: one base64url character derived from the key (:func:`key_id`), so it stays the same
  when keys are reordered during rotation.
* ``mac``: HMAC-SHA256 over a domain label, the version, the key id and the payload bytes, truncated
  to 128 bits.

The body must be canonical base64url (no padding, unused trailing bits zero), so every change of a
character either makes the token malformed or changes the signed bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "BadSignature",
    "ExpiredToken",
    "IssuedToken",
    "MalformedToken",
    "TokenError",
    "TokenSigner",
    "VerifiedToken",
    "key_id",
    "token_shaped",
]

VERSION = "1"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # base64url order
MAX_TOKEN_LENGTH = 64  # Telegram: the /start payload is at most 64 characters
MIN_KEY_BYTES = 32
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
EXPIRES_BYTES = 4  # 2**32 minutes: about 8166 years after EPOCH
# 128 bits. Forging a token is an online attack (each guess is a message to the bot, rate-limited by
# Telegram/Matrix and the bot), so 96 bits would already do; 128 bits leaves a wide margin against
# many keys/tokens in circulation and matches the usual HMAC truncation guidance (NIST SP 800-107:
# at least half the hash output for general use), and still fits 64 characters with a 26-byte id.
MAC_BYTES = 16
DEFAULT_TOKEN_ID_BYTES = 16  # 128 random bits: unguessable and collision-free in practice
HEADER_CHARS = 2  # version + key id
MAX_PAYLOAD_BYTES = (MAX_TOKEN_LENGTH - HEADER_CHARS) * 6 // 8  # 62 base64 characters carry 46 bytes
MAX_TOKEN_ID_BYTES = MAX_PAYLOAD_BYTES - EXPIRES_BYTES - MAC_BYTES  # 26
MIN_PAYLOAD_BYTES = EXPIRES_BYTES + 1 + MAC_BYTES
MIN_TOKEN_LENGTH = HEADER_CHARS + -(-MIN_PAYLOAD_BYTES * 4 // 3)  # unpadded base64 length of 21 bytes
MIN_TTL = timedelta(minutes=1)

_MAC_LABEL = b"buergerbot/reminder-link-token\x00"
_KEY_ID_LABEL = b"buergerbot/reminder-link-token/key-id"
_ALPHABET_SET = frozenset(ALPHABET)
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")  # explicit ASCII class; used with fullmatch (no "$" newline hole)


class TokenError(Exception):
    """A token that must not be honoured; ``reason`` is a short English explanation for logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedToken(TokenError):
    """Wrong length, alphabet, version or structure: not a token this bot could have issued."""


class BadSignature(TokenError):
    """Well-formed but forged, altered, or signed with a key that is not (or no longer) configured."""


class ExpiredToken(TokenError):
    """Genuine but past its expiry; ``token_id`` and ``expires_at`` allow a helpful reply."""

    def __init__(self, reason: str, token_id: str, expires_at: datetime) -> None:
        super().__init__(reason)
        self.token_id = token_id
        self.expires_at = expires_at


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str  # goes into the link: ``?start=<token>`` or ``!link <token>``
    token_id: str  # lower-case hex of the token id bytes; store it with the appointment reference
    expires_at: datetime  # UTC, whole minutes


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    token_id: str  # lower-case hex, as in IssuedToken.token_id
    expires_at: datetime  # UTC, whole minutes


def key_id(key: bytes) -> str:
    """The one-character id of ``key`` as written into its tokens (derived from the key, not its position)."""
    digest = hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).digest()
    return ALPHABET[digest[0] & 0x3F]


def token_shaped(text: str) -> bool:
    """Whether ``text`` looks like a link token, perhaps a damaged one, rather than some other
    ``/start`` payload (a campaign such as ``flyer2026``): the version first, then at least 15 token
    characters and at most a few others. That is what is left of a token cut short, or of one with
    characters changed or added on its way (a mail client, a copy and paste)."""
    if not isinstance(text, str) or not text.startswith(VERSION):
        return False
    tokenish = sum(c in _ALPHABET_SET for c in text)
    return tokenish >= 16 and len(text) - tokenish <= 4


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenSigner:
    """Issues and verifies signed deep-link tokens; pure computation, no I/O and no database.

    ``keys`` come from configuration, each at least 32 random bytes (e.g. ``secrets.token_bytes(32)``).
    New tokens are signed with ``keys[0]``; a token verifies with whichever configured key its key id
    names. To rotate, put the new key first and keep the old one until the longest-lived token signed
    with it has expired, then drop it. Key ids are derived from the keys; if two configured keys get the
    same id the constructor raises ``ValueError`` and a fresh key must be generated.

    ``now`` returns the current time as a timezone-aware datetime (injected in tests).

    Tokens are not single-use by themselves: a valid token verifies again and again until it expires.
    The caller makes them single-use by recording ``token_id`` when it is redeemed (e.g. a unique
    column or a "redeemed_at" timestamp on the row that maps the token id to the appointment) and
    refusing a token id that is already redeemed.
    """

    def __init__(self, keys: Sequence[bytes], now: Callable[[], datetime] | None = None) -> None:
        if isinstance(keys, bytes | bytearray | str) or not keys:
            raise ValueError("need a non-empty sequence of keys")
        by_id: dict[str, bytes] = {}
        for key in keys:
            if not isinstance(key, bytes):
                raise TypeError("keys must be bytes")
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(f"each key needs at least {MIN_KEY_BYTES} bytes")
            kid = key_id(key)
            if kid in by_id:
                if by_id[kid] == key:
                    raise ValueError("the same key is configured twice")
                raise ValueError(f"two keys share the key id {kid!r}; generate a new key")
            by_id[kid] = key
        self._keys = by_id
        self._signing_kid = key_id(keys[0])
        self._now = now if now is not None else _utc_now

    def issue(self, token_id: bytes | None = None, ttl: timedelta = timedelta(days=90)) -> IssuedToken:
        """A new token valid for ``ttl`` (rounded down to whole minutes; at least one minute).

        ``token_id``: 1 to 26 caller-given bytes, or ``None`` for 16 random bytes.
        """
        if token_id is None:
            token_id = secrets.token_bytes(DEFAULT_TOKEN_ID_BYTES)
        elif not isinstance(token_id, bytes):
            raise TypeError("token_id must be bytes")
        elif not 1 <= len(token_id) <= MAX_TOKEN_ID_BYTES:
            raise ValueError(f"token_id must be 1 to {MAX_TOKEN_ID_BYTES} bytes")
        if ttl < MIN_TTL:
            raise ValueError("ttl must be at least one minute")
        try:
            minutes = (self._current_time() + ttl - EPOCH) // timedelta(minutes=1)
        except OverflowError:
            raise ValueError("ttl too long") from None
        if not 0 <= minutes < 2 ** (8 * EXPIRES_BYTES):
            raise ValueError("expiry outside the representable range")
        header = VERSION + self._signing_kid
        signed = minutes.to_bytes(EXPIRES_BYTES, "big") + token_id
        mac = self._mac(self._keys[self._signing_kid], header, signed)
        token = header + _b64encode(signed + mac)
        assert MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH
        return IssuedToken(token=token, token_id=token_id.hex(), expires_at=EPOCH + timedelta(minutes=minutes))

    def verify(self, token: str) -> VerifiedToken:
        """The token's id and expiry, or a ``TokenError`` subclass saying why it is refused.

        Verifying does not consume the token; see the class docstring for single use.
        """
        if not isinstance(token, str):
            raise MalformedToken("not a string")
        if not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH:  # first, so junk of any size is cheap
            raise MalformedToken(f"length must be {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} characters")
        if not token.isascii() or _TOKEN_RE.fullmatch(token) is None:
            raise MalformedToken("characters outside A-Z a-z 0-9 _ -")
        if token[0] != VERSION:
            raise MalformedToken("unknown token version")
        header, body = token[:HEADER_CHARS], token[HEADER_CHARS:]
        if len(body) % 4 == 1:
            raise MalformedToken("truncated base64")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if _b64encode(payload) != body:
            raise MalformedToken("non-canonical base64")
        if not MIN_PAYLOAD_BYTES <= len(payload) <= MAX_PAYLOAD_BYTES:  # implied by the length check
            raise MalformedToken("wrong payload length")
        key = self._keys.get(header[1])
        if key is None:
            raise BadSignature("unknown key id")
        signed, mac = payload[:-MAC_BYTES], payload[-MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(key, header, signed)):
            raise BadSignature("signature mismatch")
        expires_at = EPOCH + timedelta(minutes=int.from_bytes(signed[:EXPIRES_BYTES], "big"))
        token_id = signed[EXPIRES_BYTES:].hex()
        if self._current_time() >= expires_at:
            raise ExpiredToken("token expired", token_id=token_id, expires_at=expires_at)
        return VerifiedToken(token_id=token_id, expires_at=expires_at)

    @staticmethod
    def _mac(key: bytes, header: str, signed: bytes) -> bytes:
        return hmac.new(key, _MAC_LABEL + header.encode("ascii") + signed, hashlib.sha256).digest()[:MAC_BYTES]

    def _current_time(self) -> datetime:
        now = self._now()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the clock must return a timezone-aware datetime")
        return now
