"""Telegram faults against the real python-telegram-bot and the fake Bot API: every citizen message
answered exactly once through hangs, re-delivered updates, repeated button presses and refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine

from bot.channels.telegram import WEBHOOK_MAX_BYTES, MemorySeenUpdates, SeenUpdates, TelegramChannel, TelegramSettings
from bot.core.models import Button, Incoming, Reply
from bot.ops.logs import pseudonym
from bot.storage.telegram_updates import SqlSeenUpdates
from tests.channels.test_telegram import TOKEN, dialogue_for, free_port, run
from tests.fakes.aio import reap_tasks
from tests.fakes.telegram_api import FakeBotApi

SECRET = "s3cret-Token"


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def sends(fake: FakeBotApi, chat_id: int) -> list[tuple[dict[str, Any], int]]:
    """Every sendMessage request to the chat that reached the fake, with its HTTP status."""
    return [(params, status) for method, params, status in fake.calls if method == "sendMessage" and params.get("chat_id") == chat_id]


def answer(text: str) -> Callable[[Incoming], list[Reply]]:
    return lambda msg: [Reply(text)]


# ---- a send that hangs ---------------------------------------------------------------------------


def test_a_reply_telegram_answers_late_is_waited_for_and_sent_once(tiny_kb: Path) -> None:
    """Telegram carries out the sendMessage but answers after 6 s: longer than python-telegram-bot's
    usual 5 s, well within the send timeout. Cutting it off and sending again doubled the answer."""

    async def scenario(fake: FakeBotApi) -> None:
        fake.hang_next("sendMessage", 6.0)
        fake.push_message(80, "Sperrmüll anmelden")
        await fake.wait_for(1, chat_id=80)
        await asyncio.sleep(6.5)  # the answer to the first send has come by now
        assert len(fake.messages_to(80)) == 1
        assert len(sends(fake, 80)) == 1

    run(scenario, dialogue_for(tiny_kb).handle)


def test_a_reply_still_unanswered_at_the_timeout_is_not_sent_again(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        fake.hang_next("sendMessage", 1.5)
        fake.push_message(81, "Hallo")
        fake.push_message(82, "Hallo")  # the next message is answered as usual
        await fake.wait_for(1, chat_id=82)
        await asyncio.sleep(2.0)
        assert [len(fake.messages_to(c)) for c in (81, 82)] == [1, 1]
        assert len(sends(fake, 81)) == 1

    with caplog.at_level(logging.WARNING, logger="bot.channels.telegram"):
        run(scenario, answer("Antwort"), send_timeout=0.5, concurrency=1)
    assert any("not sent again" in r.getMessage() for r in caplog.records)


# ---- the same update twice -----------------------------------------------------------------------


def test_an_update_posted_twice_to_the_webhook_is_answered_once(tiny_kb: Path) -> None:
    port = free_port()

    async def scenario(fake: FakeBotApi) -> None:
        update = fake.make_update(90, "Perso beantragen")
        later = fake.make_update(91, "Perso beantragen")
        async with aiohttp.ClientSession(headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as http:
            for body in (update, update, later):
                async with http.post(f"http://127.0.0.1:{port}/telegram", json=body) as response:
                    assert response.status == 200
        await fake.wait_for(1, chat_id=91)
        await fake.wait_for(1, chat_id=90)
        await asyncio.sleep(0.3)
        assert len(fake.messages_to(90)) == 1

    run(scenario, dialogue_for(tiny_kb).handle, webhook_url="https://bot.musterstadt.example:8443/telegram",
        webhook_secret=SECRET, port=port)


def test_an_update_polled_again_after_a_restart_is_answered_once(tiny_kb: Path, engine: Engine) -> None:
    """Telegram hands out an update again when the bot died before confirming it; the claim in the
    database, shared with the restarted process (or a second replica), keeps it from a second answer."""
    handle = dialogue_for(tiny_kb).handle

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            settings = TelegramSettings(token=TOKEN, base_url=fake.base_url, poll_timeout=1)
            first = TelegramChannel(settings, handle, SqlSeenUpdates(engine))
            update = fake.push_message(95, "Sperrmüll anmelden")
            await first.start()
            await fake.wait_for(1, chat_id=95)
            await first.stop()
            fake.redeliver(update)
            again = TelegramChannel(settings, handle, SqlSeenUpdates(engine))
            await again.start()
            fake.push_message(96, "Perso beantragen")
            await fake.wait_for(1, chat_id=96)
            await again.stop()
            assert fake.pending_updates == []  # the re-delivered update was taken and confirmed
            assert len(fake.messages_to(95)) == 1
            await reap_tasks()

    asyncio.run(main())


def test_updates_are_answered_when_claiming_them_fails(caplog: pytest.LogCaptureFixture) -> None:
    """With the database away, an update is answered rather than dropped (a duplicate is the lesser harm)."""

    class Unreachable:
        def claim(self, profile: str, update_ids: object) -> set[int]:
            raise ConnectionError("database away")

        def claim_polled(self, profile: str, update_ids: object, owner: str, lease: object) -> tuple[set[int], set[int]]:
            raise ConnectionError("database away")

        def mark_sending(self, profile: str, update_ids: object) -> None:
            raise ConnectionError("database away")

        def release(self, profile: str, update_ids: object, owner: str) -> None:
            raise ConnectionError("database away")

    seen: SeenUpdates = Unreachable()

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, poll_timeout=1), answer("Antwort"), seen)
            await channel.start()
            fake.push_message(97, "Hallo")
            await fake.wait_for(1, chat_id=97)
            await channel.stop()
            await reap_tasks()

    with caplog.at_level(logging.WARNING, logger="bot.channels.telegram"):
        asyncio.run(main())
    assert any("claiming 1 updates failed (ConnectionError)" in r.getMessage() for r in caplog.records)


def test_a_polled_batch_is_claimed_with_one_statement() -> None:
    """One database round trip for a batch getUpdates brought, not one per update (throughput)."""
    claims: list[list[int]] = []

    class Counted(MemorySeenUpdates):
        def claim_polled(self, profile: str, update_ids: Sequence[int], owner: str, lease: dt.timedelta) -> tuple[set[int], set[int]]:
            claims.append(list(update_ids))
            return super().claim_polled(profile, update_ids, owner, lease)

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            pushed = [fake.push_message(200 + i, "Hallo")["update_id"] for i in range(40)]
            channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, poll_timeout=1), answer("Antwort"), Counted())
            await channel.start()
            await fake.wait_for(40)
            await channel.stop()
            await reap_tasks()
            assert claims == [pushed]

    asyncio.run(main())


# ---- a choice pressed twice ----------------------------------------------------------------------


def test_a_choice_pressed_twice_is_answered_once() -> None:
    def handle(msg: Incoming) -> list[Reply]:
        if msg.choice:
            return [Reply(f"Antwort zu {msg.choice}")]
        return [Reply("Meinten Sie …?", choices=(Button("Sperrmüll", payload="entry:sperrmuell"), Button("Perso", payload="entry:personalausweis")))]

    async def scenario(fake: FakeBotApi) -> None:
        fake.push_message(100, "Sperr")
        [offer] = await fake.wait_for(1, chat_id=100)
        assert offer["reply_markup"]["inline_keyboard"]
        first = fake.push_callback_query(100, "entry:sperrmuell")
        second = fake.push_callback_query(100, "entry:sperrmuell")
        assert first["callback_query"]["message"]["message_id"] == second["callback_query"]["message"]["message_id"]
        await fake.wait_for(2, method="answerCallbackQuery")
        await fake.wait_for(2, chat_id=100)
        await asyncio.sleep(1.5)  # a second answer would come one per-chat pace (1 s) after the first
        assert [m["text"] for m in fake.messages_to(100)] == ["Meinten Sie …?", "Antwort zu entry:sperrmuell"]
        fake.push_callback_query(100, "entry:personalausweis", message_id=first["callback_query"]["message"]["message_id"])
        await fake.wait_for(3, chat_id=100)  # another choice of the same message is a new question
        assert fake.messages_to(100)[2]["text"] == "Antwort zu entry:personalausweis"

    run(scenario, handle)


# ---- refusals ------------------------------------------------------------------------------------


def test_html_telegram_cannot_parse_is_sent_once_more_as_plain_text(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        fake.reject_next("sendMessage", 400, 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0')
        fake.push_message(110, "Hallo")
        [sent] = await fake.wait_for(1, chat_id=110)
        assert sent["text"] == "Fett und Link (https://musterstadt.example/a)"
        assert "parse_mode" not in sent
        assert [status for _, status in sends(fake, 110)] == [400, 200]

    with caplog.at_level(logging.WARNING, logger="bot.channels.telegram"):
        run(scenario, answer("**Fett** und [Link](https://musterstadt.example/a)"))
    assert any("sending it as plain text" in r.getMessage() for r in caplog.records)


def test_a_refusal_is_not_retried_but_5xx_and_429_are(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        fake.reject_next("sendMessage", 413, "Request Entity Too Large")
        fake.push_message(120, "Hallo")
        await asyncio.sleep(1.5)
        assert [status for _, status in sends(fake, 120)] == [413]
        fake.reject_next("sendMessage", 500, "Internal Server Error")
        fake.fail_next("sendMessage", retry_after=1)
        fake.push_message(121, "Hallo")
        await fake.wait_for(1, chat_id=121, timeout=15)
        assert [status for _, status in sends(fake, 121)] == [429, 500, 200]

    with caplog.at_level(logging.INFO):
        run(scenario, answer("Antwort"))
    assert any("refused a reply: Request Entity Too Large" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_chat_that_blocked_the_bot_is_one_line_without_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        fake.block_chat(130)
        fake.push_message(130, "Hallo")
        fake.push_message(131, "Hallo")
        await fake.wait_for(1, chat_id=131)
        await asyncio.sleep(0.3)
        assert [status for _, status in sends(fake, 130)] == [403]

    with caplog.at_level(logging.INFO):
        run(scenario, lambda msg: [Reply("Teil 1"), Reply("Teil 2")], concurrency=1)
    ours = [r for r in caplog.records if r.name == "bot.channels.telegram"]
    assert not any("130" in r.getMessage() for r in ours)  # the chat is named by its pseudonym only
    blocked = [r for r in ours if "bot was blocked by the user" in r.getMessage()]
    assert len(blocked) == 1 and blocked[0].levelno == logging.INFO and blocked[0].exc_info is None
    assert blocked[0].__dict__["chat"] == pseudonym("telegram", 130)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_second_poller_with_the_same_token_is_named_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            settings = TelegramSettings(token=TOKEN, base_url=fake.base_url, poll_timeout=1)
            one, two = TelegramChannel(settings, answer("a")), TelegramChannel(settings, answer("b"))
            await one.start()
            await two.start()
            await asyncio.sleep(2.5)
            await two.stop()
            await one.stop()
            await reap_tasks()

    with caplog.at_level(logging.WARNING, logger="bot.channels.telegram"):
        asyncio.run(main())
    hints = [r.getMessage() for r in caplog.records if "Conflict" in r.getMessage()]
    assert hints and all("Another process polls with the same bot token" in h for h in hints)


# ---- webhook input -------------------------------------------------------------------------------


def test_the_webhook_refuses_what_is_not_an_update_and_logs_no_contents(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    unreadable = {"update_id": 7, "message": {"message_id": 1, "date": "gestern", "chat": {"id": 7777, "type": "private"},
                                              "from": {"id": 9999, "first_name": "Erika", "is_bot": False}, "text": "Mein Name ist Erika Muster"}}

    async def scenario(fake: FakeBotApi) -> None:
        url = f"http://127.0.0.1:{port}/telegram"
        async with aiohttp.ClientSession(headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}) as http:
            async with http.post(url, data=b'{"update_id": 1, "message": {') as response:
                assert response.status == 400
            async with http.post(url, data=b"[1, 2]") as response:
                assert response.status == 400
            async with http.post(url, data=b'{"update_id": 2, "x": "' + b"a" * WEBHOOK_MAX_BYTES + b'"}') as response:
                assert response.status == 413
            async with http.post(url, data=json.dumps(unreadable).encode()) as response:
                assert response.status == 200  # it could never be read: Telegram must not send it again
            async with http.post(url, data=json.dumps(fake.make_update(140, "Hallo")).encode()) as response:
                assert response.status == 200
        await fake.wait_for(1, chat_id=140)  # the receiver still works

    with caplog.at_level(logging.INFO):  # the level the bot runs at (the library logs whole updates at DEBUG)
        run(scenario, answer("Antwort"), webhook_url="https://bot.musterstadt.example:8443/telegram", webhook_secret=SECRET, port=port)
    logged = "\n".join(f"{r.levelname} {r.getMessage()} {r.__dict__}" for r in caplog.records if r.name.startswith(("bot", "telegram")))
    assert "Erika" not in logged and "9999" not in logged and "7777" not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    [skipped] = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert skipped.levelno == logging.WARNING and skipped.__dict__["chat"] == pseudonym("telegram", 7777)


# ---- groups --------------------------------------------------------------------------------------


def test_answers_in_a_group_are_replies_to_the_question() -> None:
    async def scenario(fake: FakeBotApi) -> None:
        question = fake.push_message(-150, "@musterstadt_bot Hallo", chat_type="group")
        command = fake.push_message(-150, "/help@musterstadt_bot", chat_type="group")
        fake.push_message(151, "Hallo")
        await fake.wait_for(2, chat_id=-150)
        await fake.wait_for(1, chat_id=151)
        replied = [m["reply_parameters"] for m in fake.messages_to(-150)]
        assert replied == [{"message_id": u["message"]["message_id"], "allow_sending_without_reply": True} for u in (question, command)]
        assert "reply_parameters" not in fake.messages_to(151)[0]  # a private chat has no one else to tell apart

    run(scenario, answer("Antwort"))

