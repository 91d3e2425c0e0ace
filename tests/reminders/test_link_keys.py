"""The deep-link signer from the environment: rotation order, and clear refusals of unusable keys."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.credentials import MissingSecret
from bot.reminders.link_keys import link_signer
from bot.reminders.tokens import key_id
from tests.reminders.conftest import NOW

OLD_KEY, NEW_KEY = "11" * 32, "22" * 32


def test_newest_key_signs_and_older_ones_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", OLD_KEY)
    token = link_signer(Settings(), lambda: NOW).issue().token
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", f" {NEW_KEY} , {OLD_KEY} ")
    rotated = link_signer(Settings(), lambda: NOW)
    assert rotated.issue().token[1] == key_id(bytes.fromhex(NEW_KEY))  # the character after the version names the key
    assert rotated.verify(token)


@pytest.mark.parametrize(("value", "message"), [(None, "missing"), (" , ", "missing"), ("xyz", "hexadecimal"), ("ab" * 16, "at least 32"),
                                                (f"{'ab' * 32},{'ab' * 32}", "twice")])
def test_unusable_keys_are_refused(monkeypatch: pytest.MonkeyPatch, value: str | None, message: str) -> None:
    if value is None:
        monkeypatch.delenv("BUERGERBOT_LINK_KEYS", raising=False)
    else:
        monkeypatch.setenv("BUERGERBOT_LINK_KEYS", value)
    with pytest.raises(MissingSecret, match=message):
        link_signer(Settings())
