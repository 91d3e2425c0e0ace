"""The fake Bot API, driven by the real python-telegram-bot (each test runs its own event loop)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter, TimedOut
from telegram.ext import Application, CommandHandler, ContextTypes

from tests.fakes.aio import reap_tasks
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeBotApi, HtmlParseError, parse_html

TOKEN = DEFAULT_TOKEN
CHAT = 4711


def run(body: Callable[[FakeBotApi, Bot], Awaitable[None]], **fake_options: object) -> None:
    """Run ``body(fake, bot)`` against a fresh fake with an initialised PTB Bot; at most 5 s."""

    async def main() -> None:
        fake = FakeBotApi(token=TOKEN, **fake_options)  # type: ignore[arg-type]
        async with fake, Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
            try:
                await asyncio.wait_for(body(fake, bot), 5)
            finally:
                await reap_tasks()

    asyncio.run(main())


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("Website", url="https://www.musterstadt.de/buergerbuero"),
        InlineKeyboardButton("Mehr dazu", callback_data="more:personalausweis"),
    ]])


# ---- identity and transport -------------------------------------------------------------------


def test_get_me_describes_the_bot() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        me = await bot.get_me()
        assert me.is_bot and me.username == "musterstadt_bot" and me.id == 123456
        assert bot.username == "musterstadt_bot"  # PTB called getMe in initialize()
        assert fake.sent == []  # getMe is not recorded

    run(body)


def test_wrong_token_is_invalid_token() -> None:
    async def main() -> None:
        async with FakeBotApi(token=TOKEN) as fake:
            with pytest.raises(InvalidToken):
                async with Bot("999:WRONG", base_url=fake.base_url):
                    pass

    asyncio.run(main())


def test_raw_envelopes_and_parameter_sources() -> None:
    async def main() -> None:
        async with FakeBotApi(token=TOKEN) as fake, aiohttp.ClientSession() as http:
            async with http.post(f"{fake.base_url}999:WRONG/getMe") as response:
                assert response.status == 401
                assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
            async with http.post(f"{fake.base_url}{TOKEN}/sendTelepathy") as response:
                assert response.status == 404
                assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
            async with http.get(f"{fake.base_url}{TOKEN}/getme") as response:  # case-insensitive
                assert (await response.json())["result"]["username"] == "musterstadt_bot"
            markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
            async with http.post(f"{fake.base_url}{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "json", "reply_markup": markup}) as response:
                assert (await response.json())["result"]["reply_markup"] == markup
            async with http.get(f"{fake.base_url}{TOKEN}/sendMessage", params={"chat_id": str(CHAT), "text": "query"}) as response:
                assert (await response.json())["ok"] is True
            async with http.post(f"{fake.base_url}{TOKEN}/sendMessage", data={"chat_id": CHAT, "text": "x", "reply_markup": "{nope"}) as response:
                assert response.status == 400
                assert (await response.json())["description"] == "Bad Request: can't parse reply keyboard markup JSON object"
            assert [p["text"] for p in fake.messages_to(CHAT)] == ["json", "query"]
            assert fake.messages_to(str(CHAT)) == fake.messages_to(CHAT)

    asyncio.run(main())


# ---- sendMessage ----------------------------------------------------------------------------------


def test_send_message_html_with_inline_keyboard() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        message = await bot.send_message(
            CHAT, "<b>Bürgerbüro</b> &amp; <a href=\"https://www.musterstadt.de\">Website</a> 🙂 <i>offen</i>",
            parse_mode=ParseMode.HTML, reply_markup=keyboard(),
        )
        assert message.text == "Bürgerbüro & Website 🙂 offen"
        assert message.from_user is not None and message.from_user.is_bot and message.from_user.id == bot.id
        assert message.chat.id == CHAT and message.chat.type == "private" and message.message_id == 1
        assert [(e.type, e.offset, e.length, e.url) for e in message.entities] == [
            ("bold", 0, 10, None), ("text_link", 13, 7, "https://www.musterstadt.de"), ("italic", 24, 5, None),  # 🙂 is 2 UTF-16 units
        ]
        assert message.reply_markup == keyboard()

        (params,) = fake.messages_to(CHAT)
        assert params["parse_mode"] == "HTML" and params["chat_id"] == CHAT
        assert params["reply_markup"] == {"inline_keyboard": [[
            {"text": "Website", "url": "https://www.musterstadt.de/buergerbuero"},
            {"text": "Mehr dazu", "callback_data": "more:personalausweis"},
        ]]}
        assert fake.sent == [("sendMessage", params)]

    run(body)


@pytest.mark.parametrize(("html", "detail"), [
    ("<b>offen", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<p>Absatz</p>", 'Unsupported start tag "p" at byte offset 0'),
    ("Öffnungszeiten<br>Mo", 'Unsupported start tag "br" at byte offset 15'),
    ("<b>fett</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
    ("a < b", 'Unsupported start tag "" at byte offset 2'),
    ("</b>", "Unexpected end tag at byte offset 0"),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
])
def test_bad_html_is_bad_request(html: str, detail: str) -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        with pytest.raises(BadRequest) as caught:
            await bot.send_message(CHAT, html, parse_mode=ParseMode.HTML)
        # PTB drops "Bad Request: " and str.capitalize()s the rest, lower-casing the detail
        assert caught.value.message == f"Can't parse entities: {detail}".capitalize()
        assert fake.sent == [] and fake.calls[-1][2] == 400

    run(body)


def test_message_length_counts_text_after_parsing() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        fits = "<b>" + "&lt;" * 4096 + "</b>"  # 16 kB of markup, 4096 characters of text
        assert (await bot.send_message(CHAT, fits, parse_mode=ParseMode.HTML)).text == "<" * 4096
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(CHAT, "x" * 4097)
        with pytest.raises(BadRequest, match="text is empty"):
            await bot.send_message(CHAT, "<b> </b>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(CHAT, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="x" * 65)]]))

    run(body)


def test_rate_limit_raises_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22: retry_after as a timedelta, no deprecation warning

    async def body(fake: FakeBotApi, bot: Bot) -> None:
        fake.fail_next("sendMessage", retry_after=3)
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(CHAT, "Hallo")
        assert caught.value.retry_after == dt.timedelta(seconds=3)
        assert fake.rate_limited == 1 and fake.messages_to(CHAT) == []
        await bot.send_message(CHAT, "Hallo")  # only the next call failed
        assert len(fake.messages_to(CHAT)) == 1

    run(body)


def test_blocked_chat_is_forbidden() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        fake.block_chat(CHAT)
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(CHAT, "Hallo")

    run(body)


def test_injected_refusals_and_a_late_answer() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        fake.reject_next("sendMessage", 400, "Bad Request: can't parse entities: Unclosed start tag at byte offset 0")
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(CHAT, "Hallo")
        fake.reject_next("sendMessage", 403, "Forbidden: bot was kicked from the group chat")
        with pytest.raises(Forbidden, match="kicked"):
            await bot.send_message(CHAT, "Hallo")
        assert fake.messages_to(CHAT) == []
        fake.hang_next("sendMessage", 1.0)
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "spät", read_timeout=0.2)
        assert [m["text"] for m in fake.messages_to(CHAT)] == ["spät"]  # carried out all the same

    run(body)


def test_a_reply_to_a_missing_message_needs_allow_sending_without_reply() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        question = fake.push_message(CHAT, "Frage")["message"]["message_id"]
        answer = await bot.send_message(CHAT, "Antwort", reply_parameters=ReplyParameters(question))
        assert answer.reply_to_message is not None and answer.reply_to_message.text == "Frage"
        with pytest.raises(BadRequest, match="Message to be replied not found"):
            await bot.send_message(CHAT, "x", reply_parameters=ReplyParameters(question + 99))
        sent = await bot.send_message(CHAT, "x", reply_parameters=ReplyParameters(question + 99, allow_sending_without_reply=True))
        assert sent.reply_to_message is None

    run(body)


def test_a_redelivered_update_keeps_its_id() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        update = fake.push_message(CHAT, "Hallo")
        [first] = await bot.get_updates(timeout=0)
        assert (await bot.get_updates(offset=first.update_id + 1, timeout=0)) == ()
        fake.redeliver(update)
        [again] = await bot.get_updates(timeout=0)
        assert again.update_id == first.update_id and again.message == first.message

    run(body)


def test_unknown_chat_with_known_chats_only() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        with pytest.raises(BadRequest, match="not found"):
            await bot.send_message(CHAT, "Hallo")
        fake.push_message(CHAT, "Hallo")
        assert (await bot.send_message(CHAT, "Hallo zurück")).chat.first_name == "Erika"
        assert (await bot.get_chat(CHAT)).type == "private"

    run(body, known_chats_only=True)


# ---- getUpdates --------------------------------------------------------------------------------


def test_get_updates_returns_pushed_messages_and_respects_offset() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        fake.push_message(CHAT, "/start")
        fake.push_message(-100123, "Wann hat das Bürgerbüro offen?", chat_type="supergroup", user_id=99)
        first, second = await bot.get_updates(timeout=0)
        assert second.update_id == first.update_id + 1
        assert first.message is not None and first.message.text == "/start"
        assert [(e.type, e.offset, e.length) for e in first.message.entities] == [("bot_command", 0, 6)]
        assert first.message.from_user is not None and first.message.from_user.first_name == "Erika"
        assert first.message.chat.type == "private" and first.message.from_user.id == CHAT
        assert second.message is not None and second.message.chat.type == "supergroup"
        assert second.message.from_user is not None and second.message.from_user.id == 99

        assert len(await bot.get_updates(limit=1)) == 1
        again = await bot.get_updates(offset=first.update_id + 1, timeout=0)
        assert [u.update_id for u in again] == [second.update_id]
        assert await bot.get_updates(offset=second.update_id + 1, timeout=0) == ()
        assert fake.pending_updates == []

    run(body)


def test_long_poll_returns_early_and_times_out() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        started = time.monotonic()
        assert await bot.get_updates(timeout=1) == ()
        assert 0.9 <= time.monotonic() - started < 2

        poll = asyncio.create_task(bot.get_updates(timeout=3))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        fake.push_message(CHAT, "Hallo")
        updates = await poll
        assert time.monotonic() - started < 1
        assert updates[0].message is not None and updates[0].message.text == "Hallo"

    run(body)


def test_allowed_updates_filters_later_updates() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        await bot.get_updates(allowed_updates=["callback_query"])
        fake.push_message(CHAT, "nicht erlaubt")
        fake.push_update({"chat_member": {}})
        assert await bot.get_updates() == ()
        assert len(fake.dropped_updates) == 2
        await bot.get_updates(allowed_updates=Update.ALL_TYPES)
        sticker = fake.push_update({"message": {"message_id": 7, "date": 0, "chat": {"id": CHAT, "type": "private"},
                                                "sticker": {"file_id": "f", "file_unique_id": "u", "width": 512, "height": 512,
                                                            "is_animated": False, "is_video": False, "type": "regular"}}})
        (update,) = await bot.get_updates()
        assert update.update_id == sticker["update_id"] and update.message is not None and update.message.sticker is not None

    run(body)


def test_second_poller_ends_the_first_with_conflict() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        first = asyncio.create_task(bot.get_updates(timeout=3))
        await asyncio.sleep(0.2)
        async with Bot(TOKEN, base_url=fake.base_url) as second_instance:  # PTB allows one poll per Bot
            assert await second_instance.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
            await first

    run(body)


# ---- webhooks, commands, callbacks, edits ----------------------------------------------------------


def test_webhook_blocks_get_updates_until_deleted() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        with pytest.raises(BadRequest, match=r"(?i)https url"):
            await bot.set_webhook("http://127.0.0.1:8080/telegram")
        assert await bot.set_webhook("https://buergerbot.example/telegram", secret_token="s3cr3t-Token_1", allowed_updates=["message"])
        assert fake.webhook_secret == "s3cr3t-Token_1"
        fake.push_message(CHAT, "Hallo")
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count, info.allowed_updates) == ("https://buergerbot.example/telegram", 1, ("message",))
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert (await bot.get_webhook_info()).url == ""
        assert await bot.get_updates() == ()
        update = fake.make_update(CHAT, "per Webhook")
        assert Update.de_json(update, bot).message.text == "per Webhook"  # type: ignore[union-attr]
        assert fake.pending_updates == []  # make_update does not queue

    run(body)


def test_commands_per_scope_and_language() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        assert await bot.set_my_commands([BotCommand("start", "Begrüßung"), BotCommand("hilfe", "Was ich kann")])
        assert await bot.set_my_commands([BotCommand("help", "What I can do")], language_code="en")
        assert [c.command for c in await bot.get_my_commands()] == ["start", "hilfe"]
        assert [c.command for c in await bot.get_my_commands(language_code="en")] == ["help"]
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Hilfe!", "x")])
        assert await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()
        assert fake.sent[0][1]["commands"] == [{"command": "start", "description": "Begrüßung"}, {"command": "hilfe", "description": "Was ich kann"}]

    run(body)


def test_callback_query_edit_and_answer() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        sent = await bot.send_message(CHAT, "Welcher Ausweis?", reply_markup=keyboard())
        fake.push_callback_query(CHAT, "more:personalausweis")
        (update,) = await bot.get_updates()
        query = update.callback_query
        assert query is not None and query.data == "more:personalausweis" and query.from_user.id == CHAT
        assert query.message is not None and query.message.message_id == sent.message_id
        assert await bot.answer_callback_query(query.id)
        with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
            await bot.answer_callback_query(query.id)

        edited = await bot.edit_message_text("<b>Personalausweis</b>", chat_id=CHAT, message_id=sent.message_id, parse_mode=ParseMode.HTML)
        assert isinstance(edited, type(sent)) and edited.text == "Personalausweis" and edited.reply_markup is None
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("<b>Personalausweis</b>", chat_id=CHAT, message_id=sent.message_id, parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="not found"):
            await bot.edit_message_text("x", chat_id=CHAT, message_id=999)

    run(body)


def test_chat_action_and_get_chat() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        assert await bot.send_chat_action(CHAT, "typing")
        with pytest.raises(BadRequest, match="action"):
            await bot.send_chat_action(CHAT, "dancing")
        fake.push_message(-4242, "Hallo", chat_type="group")
        chat = await bot.get_chat(-4242)
        assert chat.type == "group" and chat.title == "Gruppe -4242"

    run(body)


def test_wait_for_count_and_predicate() -> None:
    async def body(fake: FakeBotApi, bot: Bot) -> None:
        async def later() -> None:
            await asyncio.sleep(0.1)
            await bot.send_message(CHAT, "eins")
            await bot.send_message(CHAT + 1, "zwei")

        task = asyncio.create_task(later())
        assert [p["text"] for p in await fake.wait_for(2, timeout=2)] == ["eins", "zwei"]
        assert [p["text"] for p in await fake.wait_for(lambda p: p["text"] == "zwei")] == ["zwei"]
        assert [p["text"] for p in await fake.wait_for(1, chat_id=CHAT)] == ["eins"]
        await task
        with pytest.raises(TimeoutError):
            await fake.wait_for(3, timeout=0.2)

    run(body)


# ---- the whole PTB Application ------------------------------------------------------------------------


def test_application_polls_and_answers() -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "<b>Willkommen</b> in Musterstadt!", parse_mode=ParseMode.HTML)

    async def main() -> None:
        async with FakeBotApi(token=TOKEN) as fake:
            app = Application.builder().token(TOKEN).base_url(fake.base_url).base_file_url(fake.base_file_url).build()
            app.add_handler(CommandHandler("start", start))
            await app.initialize()
            await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)  # type: ignore[union-attr]
            await app.start()
            try:
                fake.push_message(CHAT, "/start")
                (reply,) = await fake.wait_for(1, timeout=3)
                assert reply["text"] == "<b>Willkommen</b> in Musterstadt!" and reply["chat_id"] == CHAT
            finally:
                await app.updater.stop()  # type: ignore[union-attr]
                await app.stop()
                await app.shutdown()

    asyncio.run(main())


# ---- the HTML parser on its own -----------------------------------------------------------------------


def test_parse_html_entities_and_references() -> None:
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre> &#228;&#x1F642;&foo; <tg-spoiler>s</tg-spoiler>'
                                '<blockquote expandable>q</blockquote>')
    assert text == "x = 1 ä🙂&foo; sq"
    assert entities == [
        {"offset": 0, "length": 5, "type": "pre", "language": "python"},
        {"offset": 15, "length": 1, "type": "spoiler"},
        {"offset": 16, "length": 1, "type": "expandable_blockquote"},
    ]
    with pytest.raises(HtmlParseError, match="Expected equal sign"):
        parse_html("<a href>x</a>")
