"""The Telegram adapter with the real python-telegram-bot against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels.telegram import TelegramChannel, TelegramSettings
from bot.core.chat_commands import CHAT_COMMANDS
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.models import Button, Incoming, Reply
from bot.core.ports import MemoryFeedbackLog, MemoryUnansweredLog, MemoryUserStates
from tests.conftest import MONDAY_10
from tests.fakes.aio import reap_tasks
from tests.fakes.slow_states import SLOW_SECONDS, SlowStates
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def dialogue_for(kb: Path) -> Dialogue:
    live = LiveKnowledge([kb])
    return Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(),
                    DialogueSettings(popular=("personalausweis", "sperrmuell")), clock=lambda: MONDAY_10)


def run(scenario: Callable[[FakeBotApi], Awaitable[None]], handle: Callable[[Incoming], Sequence[Reply]], **settings: Any) -> None:
    async def main() -> None:
        async with FakeBotApi(TOKEN, allow_any_webhook_url=True) as fake:
            channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, poll_timeout=1, **settings), handle)
            await channel.start()
            try:
                await scenario(fake)
            finally:
                await channel.stop()
                await reap_tasks()

    asyncio.run(main())


def test_question_answered_with_form_button(tiny_kb: Path) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        fake.push_message(42, "Perso beantragen")
        [msg] = await fake.wait_for(1, chat_id=42)
        assert msg["parse_mode"] == "HTML"
        assert "<b>Titel personalausweis</b>" in msg["text"]
        rows = msg["reply_markup"]["inline_keyboard"]
        assert rows[0][0] == {"text": "Termin buchen", "url": "https://musterstadt.example/online/personalausweis"}

    run(scenario, dialogue_for(tiny_kb).handle)


def test_start_help_and_callback_choice(tiny_kb: Path) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        fake.push_message(7, "/start")
        [greeting] = await fake.wait_for(1, chat_id=7)
        buttons = [row[0] for row in greeting["reply_markup"]["inline_keyboard"]]
        assert buttons[0] == {"text": "1. Titel personalausweis", "callback_data": "entry:personalausweis"}
        fake.push_callback_query(7, "entry:sperrmuell")
        await fake.wait_for(2, chat_id=7)
        assert "Antwort zu sperrmuell." in fake.messages_to(7)[1]["text"]
        assert fake.answered_callback_queries
        fake.push_message(7, "/language")
        await fake.wait_for(3, chat_id=7)
        langs = [row[0]["callback_data"] for row in fake.messages_to(7)[2]["reply_markup"]["inline_keyboard"]]
        assert langs == ["lang:de", "lang:en"]

    run(scenario, dialogue_for(tiny_kb).handle)


def test_the_command_menu_comes_from_the_command_registry() -> None:
    async def scenario(fake: FakeBotApi) -> None:
        default = '{"type": "default"}'
        german, english, other = fake.commands[(default, "de")], fake.commands[(default, "en")], fake.commands[(default, "")]
        assert [c["command"] for c in german] == [c.name("de") for c in CHAT_COMMANDS]
        assert {"command": "termin", "description": "An einen Termin erinnern lassen"} in german
        assert {"command": "mydata", "description": "See the data stored about me"} in english
        assert other == english  # apps in other languages see the profile's language

    run(scenario, lambda msg: [], language="en")


def test_start_payload_reaches_the_core() -> None:
    seen: list[Incoming] = []

    def handle(msg: Incoming) -> list[Reply]:
        seen.append(msg)
        return [Reply("ok")]

    async def scenario(fake: FakeBotApi) -> None:
        fake.push_message(5, "/start abc_DEF-123")
        await fake.wait_for(1, chat_id=5)
        assert (seen[0].command, seen[0].argument, seen[0].channel, seen[0].chat_id) == ("start", "abc_DEF-123", "telegram", "5")
        fake.push_message(5, "Wo ist mein Ausweis?")
        await fake.wait_for(2, chat_id=5)
        # The message id is unique within the chat: a replayed update is known by it.
        ids = [msg.message_id for msg in seen]
        assert all(ids) and len(set(ids)) == 2 and seen[1].text == "Wo ist mein Ausweis?"

    run(scenario, handle)


def test_long_answers_split_and_everything_escaped() -> None:
    long_text = "\n\n".join([f"Absatz {i}: <b>kein Tag</b> & " + "x" * 900 for i in range(10)])

    def handle(msg: Incoming) -> list[Reply]:
        return [Reply(long_text, buttons=(Button("Formular", url="https://musterstadt.example/f"),))]

    async def scenario(fake: FakeBotApi) -> None:
        fake.push_message(9, "<script>alert(1)</script>")
        await asyncio.sleep(0.5)
        msgs = await fake.wait_for(lambda m: "reply_markup" in m, chat_id=9)
        sent = fake.messages_to(9)
        assert len(sent) >= 3 and all(len(m["text"]) <= 4096 for m in sent)
        assert all("&lt;b&gt;kein Tag&lt;/b&gt; &amp;" in m["text"] for m in sent)
        assert msgs[-1] is sent[-1]  # the button rides on the last part
        assert "".join(m["text"] for m in sent).count("Absatz") == 10

    run(scenario, handle, per_chat_per_second=100)


def test_429_is_honoured_and_nothing_lost(tiny_kb: Path) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        fake.fail_next("sendMessage", times=1, retry_after=1)
        fake.push_message(11, "Sperrmüll anmelden")
        [msg] = await fake.wait_for(1, chat_id=11, timeout=15)
        assert fake.rate_limited == 1
        assert "Antwort zu sperrmuell." in msg["text"]

    run(scenario, dialogue_for(tiny_kb).handle)


def test_non_text_updates_and_groups(tiny_kb: Path) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        sticker = fake.make_update(21, "x")
        msg = sticker["message"]
        del msg["text"]
        msg["sticker"] = {"file_id": "s1", "file_unique_id": "u1", "width": 512, "height": 512, "is_animated": False,
                          "is_video": False, "type": "regular"}
        fake.push_update(sticker)
        edited = fake.make_update(22, "Perso")
        edited["edited_message"] = edited.pop("message")
        edited["edited_message"]["edit_date"] = edited["edited_message"]["date"]
        fake.push_update(edited)
        fake.push_message(-100, "Perso beantragen", chat_type="group")  # not addressed: silence
        fake.push_message(-100, "@musterstadt_bot Perso beantragen", chat_type="group")
        fake.push_callback_query(23, "entry:../../etc/passwd")
        await fake.wait_for(3)
        await asyncio.sleep(0.5)
        assert "nur Textnachrichten" in fake.messages_to(21)[0]["text"]
        assert fake.messages_to(22) == []
        assert len(fake.messages_to(-100)) == 1 and "personalausweis" in fake.messages_to(-100)[0]["text"]
        assert "nicht verstanden" in fake.messages_to(23)[0]["text"]

    run(scenario, dialogue_for(tiny_kb).handle)


def test_pending_updates_survive_a_restart(tiny_kb: Path) -> None:
    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            handle = dialogue_for(tiny_kb).handle
            fake.push_message(31, "Sperrmüll anmelden")
            fake.push_message(32, "Perso beantragen")
            channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, poll_timeout=1), handle)
            await channel.start()
            await fake.wait_for(2)
            await channel.stop()
            fake.push_message(33, "Hallo")  # arrives while the bot is down
            again = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, poll_timeout=1), handle)
            await again.start()
            await fake.wait_for(3)
            await again.stop()
            assert [len(fake.messages_to(c)) for c in (31, 32, 33)] == [1, 1, 1]
            await reap_tasks()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_webhook_requires_the_secret(tiny_kb: Path) -> None:
    port = free_port()

    async def scenario(fake: FakeBotApi) -> None:
        url = f"http://127.0.0.1:{port}/telegram"
        update = fake.make_update(51, "Perso beantragen")
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update) as r:
                assert r.status == 403
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
                assert r.status == 403
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token"}) as r:
                assert r.status == 200
        [msg] = await fake.wait_for(1, chat_id=51)
        assert "personalausweis" in msg["text"]
        assert fake.webhook_secret == "s3cret-Token"

    run(scenario, dialogue_for(tiny_kb).handle, webhook_url="https://bot.musterstadt.example:8443/telegram",
        webhook_secret="s3cret-Token", port=port, url_path="telegram")


def test_webhook_without_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        TelegramChannel(TelegramSettings(token=TOKEN, webhook_url="https://x.example/t"), lambda m: [])


HOSTILE = [
    "A" * 4096,
    "\x01\x02\ufffd binär \ud7ff",
    "<b>fett</b> <a href='javascript:alert(1)'>x</a> & <script>",
    "*fett* _kursiv_ `code` [link](http://evil.example) **doppelt**",
    "\u202eevil\u200b\u200d\u2066",
    "🙂🎉🔥",
    "Sperrmüll please und auch Wohnsitz",
]


def test_hostile_texts_get_a_reply_telegram_accepts(tiny_kb: Path) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        for i, text in enumerate(HOSTILE):
            fake.push_message(600 + i, text)
        await fake.wait_for(len(HOSTILE), timeout=20)
        for i in range(len(HOSTILE)):
            [msg] = fake.messages_to(600 + i)
            assert "<script>" not in msg["text"] and "javascript:" not in msg["text"]
        assert not any(status >= 400 for _, _, status in fake.calls)  # the fake's HTML parser accepted every reply

    run(scenario, dialogue_for(tiny_kb).handle)


def test_network_errors_are_retried(tiny_kb: Path) -> None:
    async def scenario(fake: FakeBotApi) -> None:
        fake.break_next("sendMessage", times=2)
        fake.push_message(70, "Sperrmüll anmelden")
        [msg] = await fake.wait_for(1, chat_id=70, timeout=15)
        assert "Antwort zu sperrmuell." in msg["text"]
        assert sum(1 for method, _, status in fake.calls if method == "sendMessage" and status == 502) == 2

    run(scenario, dialogue_for(tiny_kb).handle)


def test_answers_can_be_rated_once_with_inline_buttons(tiny_kb: Path) -> None:
    live = LiveKnowledge([tiny_kb])
    votes = MemoryFeedbackLog()
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), clock=lambda: MONDAY_10, feedback=votes)

    async def scenario(fake: FakeBotApi) -> None:
        fake.push_message(42, "Perso beantragen")
        [answer] = await fake.wait_for(1, chat_id=42)
        link_row, vote_row = answer["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in vote_row] == ["👍 Hilfreich", "👎 Nicht hilfreich"]
        down = vote_row[1]["callback_data"]
        assert down.startswith("fb:d:") and len(down.encode()) <= 64
        pressed = fake.push_callback_query(42, down)  # on the newest message with a keyboard: the answer
        message_id = pressed["callback_query"]["message"]["message_id"]
        fake.push_callback_query(42, vote_row[0]["callback_data"], message_id=message_id)  # a second press, other button
        [_, ask] = await fake.wait_for(2, chat_id=42)
        assert "Was hat Ihnen an der Antwort gefehlt?" in ask["text"]
        await fake.wait_for(1, method="editMessageReplyMarkup")
        rated = fake.message(42, message_id)
        assert rated is not None and rated["reply_markup"]["inline_keyboard"] == [link_row]  # the form link stays
        fake.push_message(42, "Die Öffnungszeiten am Samstag fehlen")
        [*_, noted] = await fake.wait_for(3, chat_id=42)
        assert "Team" in noted["text"]
        await asyncio.sleep(0.2)
        assert len(fake.answered_callback_queries) == 2  # both presses stop their spinner
        assert len(fake.messages_to(42)) == 3  # the second press sent nothing
        assert [(v.entry_id, v.vote, v.channel) for v in votes.records] == [
            ("personalausweis", "down", "telegram"), ("personalausweis", "note", "telegram")]
        assert votes.records[1].missing == "Die Öffnungszeiten am Samstag fehlen"

    run(scenario, dialogue.handle)


def test_a_slow_database_for_one_chat_does_not_delay_another_chat_and_each_chat_keeps_its_order(tiny_kb: Path) -> None:
    live = LiveKnowledge([tiny_kb])
    dialogue = Dialogue(lambda: live.snapshot, SlowStates(slow_chat="31"), MemoryUnansweredLog(), clock=lambda: MONDAY_10)

    async def scenario(fake: FakeBotApi) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        fake.push_message(31, "Sperrmüll anmelden")
        fake.push_message(31, "Perso beantragen")
        await asyncio.sleep(0.1)
        fake.push_message(32, "Perso beantragen")
        await fake.wait_for(1, chat_id=32)
        assert loop.time() - began < SLOW_SECONDS  # not behind the slow chat's database write
        assert not fake.messages_to(31)
        await fake.wait_for(2, chat_id=31, timeout=10)
        first, second = fake.messages_to(31)
        assert "Antwort zu sperrmuell" in first["text"] and "personalausweis" in second["text"]

    run(scenario, dialogue.handle, per_chat_per_second=100)
