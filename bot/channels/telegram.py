"""Telegram adapter (python-telegram-bot ≥ 22): updates → core.Incoming, core.Reply → messages.

It holds no business rules: it decides only what Telegram forces on it (which updates to read,
HTML escaping, the 4096-character limit, keyboards, flood limits).

Each citizen message is answered once:

* Replies are never sent again after a timeout: Telegram may have carried out a request whose
  answer did not come, and sendMessage has no idempotency key. Sends wait ``send_timeout`` (30 s,
  against python-telegram-bot's 5 s) for Telegram's answer, so a slow moment of Telegram is waited
  out instead of cut off; a reply whose answer does not come within it stays in doubt, is logged
  and not resent. The price is the rare reply lost in a hang longer than that. Resent are only
  requests Telegram refused or failed before carrying them out: 429 (after ``retry_after``), a
  5xx answer other than 504, and a connection that failed before the request left. Other refusals
  (4xx) are final; HTML that Telegram cannot parse is sent once more as plain text.
* Polling is our own getUpdates loop (:class:`_Poller`), not python-telegram-bot's updater, which
  confirms a whole batch (by asking for the next ``offset``) before handling it, so a kill loses
  every update still queued. Ours confirms an update only once its handling has finished: the
  ``offset`` never passes the oldest unfinished update. A polled batch is claimed in the database
  with one statement (``SeenUpdates.claim_polled``); just before the first message of an answer is
  sent, the update is marked "sending" (``mark_sending``, in the pool call of the turn itself).
  Delivered again after a crash, an update is answered again if nothing of its answer had been
  sent, and never if it had; one the dead process had taken on but not answered falls to the next
  process once the dead one's ``claim_lease`` has run out (a live second poller keeps its own).
  The guarantee: every update is answered exactly once, except one whose process died between the
  "sending" mark and Telegram's confirmation of its answer's messages (the time of the sendMessage
  calls of one answer, typically one); that one is not answered again and may have reached the
  citizen in full, in part or not at all. With the database failing, an update is answered
  unclaimed or unmarked, and a crash then may repeat it. Updates of one chat are handled in
  order, different chats in parallel (``concurrency`` at a time). The price of confirming late:
  getUpdates returns at most 100 updates from the offset on, so while one update takes long (a
  send hanging up to ``send_timeout``) at most the 99 after it are taken on; newer ones wait.
* Webhook calls (and a second replica) are claimed by ``update_id`` too (``SeenUpdates.claim``),
  so an update delivered twice is answered once. In webhook mode Telegram counts an update as
  delivered when the call returns, before it is handled: a kill loses what was queued.
* A choice button pressed again on the same message stops the button's spinner and sends nothing.
* An answer the citizen may rate (``Reply.feedback``) gets a 👍/👎 row under it. A press is the
  message's one vote: the row is taken off the message (editMessageReplyMarkup) and a second
  press, before Telegram shows that, counts nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import functools
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from telegram import (
    BotCommand,
    Message,
    Update,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.blocking import ChatTurns, Handle, run_blocking
from bot.channels.markup import to_html, to_plain
from bot.channels.splitting import split_message
from bot.channels.telegram_http import AiohttpRequest, ServerError, json_request
from bot.channels.telegram_limits import FloodLimits
from bot.core.chat_commands import CHAT_COMMANDS
from bot.core.models import Incoming, Reply, Vote
from bot.core.ports import DeliveryFailed
from bot.core.texts import text as core_text
from bot.ops.logs import pseudonym

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
CHANNEL = "telegram"
# Telegram counts the text without markup; our limit leaves room for the difference in counting.
_TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH - 96
_CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts
# Callback data of the 👍/👎 buttons: prefix, then the answer's token (bot.core.feedback, ≤ 20 characters).
VOTE_UP = "fb:u:"
VOTE_DOWN = "fb:d:"
_VOTE_PREFIX = "fb:"
WEBHOOK_MAX_BYTES = 1 << 20  # Telegram's updates are a few kB; anything this big is not from Telegram
_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_PARSE_ERROR = "can't parse entities"


class SeenUpdates(Protocol):
    """Where update ids are claimed (bot.storage.telegram_updates.SqlSeenUpdates in production,
    whose docstring explains the states of a polled update)."""

    def claim(self, profile: str, update_ids: Sequence[int]) -> set[int]:
        """The ids among ``update_ids`` claimed by this call; the others were claimed before."""
        ...

    def claim_polled(self, profile: str, update_ids: Sequence[int], owner: str, lease: dt.timedelta) -> tuple[set[int], set[int]]:
        """``(answer, busy)``: the ids ``owner`` is to answer now (new ones, and ones another process
        took on but sent nothing for within ``lease``), and those another process took on within
        ``lease``; the others are done."""
        ...

    def mark_sending(self, profile: str, update_ids: Sequence[int]) -> None:
        """The answers to ``update_ids`` start going out: never answer them again."""
        ...

    def release(self, profile: str, update_ids: Sequence[int], owner: str) -> None:
        """Forget ``owner``'s claims of ``update_ids`` that sent nothing: a stopping process did
        not handle them, the next one is to answer them at once."""
        ...


@dataclass
class _Claim:
    sending: bool
    owner: str | None
    at: float


class MemorySeenUpdates:
    """Claims kept in this process (the newest ``size``): for a bot without a database."""

    def __init__(self, size: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._clock = clock
        self._seen: OrderedDict[tuple[str, int], _Claim] = OrderedDict()

    def claim(self, profile: str, update_ids: Sequence[int]) -> set[int]:
        fresh = set()
        for update_id in update_ids:
            key = (profile, update_id)
            if key not in self._seen:
                self._seen[key] = _Claim(sending=True, owner=None, at=self._clock())
                fresh.add(update_id)
        self._trim()
        return fresh

    def claim_polled(self, profile: str, update_ids: Sequence[int], owner: str, lease: dt.timedelta) -> tuple[set[int], set[int]]:
        now = self._clock()
        answer, busy = set(), set()
        for update_id in update_ids:
            held = self._seen.get((profile, update_id))
            if held is None or (not held.sending and held.owner != owner and held.at < now - lease.total_seconds()):
                self._seen[(profile, update_id)] = _Claim(sending=False, owner=owner, at=now)
                answer.add(update_id)
            elif not held.sending and held.owner != owner:
                busy.add(update_id)
        self._trim()
        return answer, busy

    def mark_sending(self, profile: str, update_ids: Sequence[int]) -> None:
        for update_id in update_ids:
            held = self._seen.get((profile, update_id))
            if held is not None:
                held.sending = True

    def release(self, profile: str, update_ids: Sequence[int], owner: str) -> None:
        for update_id in update_ids:
            held = self._seen.get((profile, update_id))
            if held is not None and not held.sending and held.owner == owner:
                del self._seen[(profile, update_id)]

    def _trim(self) -> None:
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)


@dataclass(frozen=True)
class TelegramSettings:
    token: str
    profile: str = "default"
    base_url: str | None = None  # tests point this at the fake Bot API
    webhook_url: str | None = None  # set → webhook mode, else polling
    webhook_secret: str | None = None
    listen: str = "127.0.0.1"
    port: int = 8443
    url_path: str = "telegram"
    concurrency: int = 4  # updates handled at once; more gained nothing here
    per_chat_per_second: float = 1.0
    overall_per_second: float = 30.0  # Telegram's limit for one bot; 0 lifts it (benchmarks, local Bot API)
    poll_timeout: float = 10.0
    claim_lease: float = 30.0  # seconds an update another process took on, and sent nothing for, stays its own
    send_timeout: float = 30.0  # seconds to wait for Telegram's answer to a send; none is resent after it
    language: str = "de"  # the profile's default language: the command menu's for apps in a language the commands lack


class TelegramChannel:
    def __init__(self, settings: TelegramSettings, handle: Handle, seen: SeenUpdates | None = None) -> None:
        if settings.webhook_url and not settings.webhook_secret:
            raise ValueError("webhook mode needs a secret token")
        self.settings = settings
        self._turns = ChatTurns(handle)
        self._seen = seen if seen is not None else MemorySeenUpdates()
        self._claims: dict[int, asyncio.Future[bool]] = {}  # update ids waiting for the next claim
        self._claiming: asyncio.Task[None] | None = None
        self._poller: _Poller | None = None
        self._updates_request = AiohttpRequest(connection_pool_size=1)  # getUpdates' own connection
        self._pressed: OrderedDict[tuple[int, int, str], None] = OrderedDict()  # (chat, message, data) answered
        self._webhook: web.AppRunner | None = None
        self.app = self._build()

    def _build(self) -> Application:  # type: ignore[type-arg]
        s = self.settings
        urls: dict[str, Any] = {"base_url": s.base_url, "base_file_url": s.base_url.replace("/bot", "/file/bot")} if s.base_url else {}
        rate_limiter = FloodLimits(s.token, s.overall_per_second, s.per_chat_per_second)
        bot = ExtBot(
            s.token, **urls, rate_limiter=rate_limiter,
            request=AiohttpRequest(connection_pool_size=64, read_timeout=s.send_timeout),
            get_updates_request=self._updates_request,
        )
        app = Application.builder().bot(bot).concurrent_updates(s.concurrency).build()
        app.add_handler(TypeHandler(Update, self._claim), group=-1)
        app.add_handler(MessageHandler(filters.UpdateType.EDITED, self._ignore), group=0)
        app.add_handler(MessageHandler(filters.COMMAND, self._on_command))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self._on_text))
        app.add_handler(CallbackQueryHandler(self._on_callback))
        app.add_handler(MessageHandler(filters.ALL & ~filters.TEXT & ~filters.StatusUpdate.ALL, self._on_other))
        app.add_error_handler(self._on_error)
        return app

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        await self.app.initialize()
        await self._set_commands()
        if s.webhook_url:
            await self._start_webhook()
        await self.app.start()
        if not s.webhook_url:
            # A webhook left set makes getUpdates answer 409: polling means no webhook.
            with contextlib.suppress(TelegramError):
                await self.app.bot.delete_webhook(drop_pending_updates=False)
            self._poller = _Poller(self)
            self._poller.start()
        log.info("telegram channel started (%s, profile %s)", "webhook" if s.webhook_url else "polling", s.profile)

    async def stop(self) -> None:
        """Stop taking updates, let in-flight replies finish, then close."""
        if self._webhook is not None:
            await self._webhook.cleanup()
            self._webhook = None
        if self._poller is not None:
            await self._poller.stop()
            self._poller = None
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    def _on_polling_error(self, exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            # Telegram hands each update to one getUpdates call: two pollers take turns. Each claims
            # what it gets, so none is answered twice, but a message waits for the turns.
            log.warning("telegram polling: Conflict (%s). Another process polls with the same bot token "
                        "(a second instance or worker of this bot, or a webhook is set): run one poller per token",
                        exc, extra={"profile": self.settings.profile})
        else:
            log.warning("telegram polling: %s", type(exc).__name__)

    # -- webhook -------------------------------------------------------------------------------
    async def _start_webhook(self) -> None:
        """Our own receiver (python-telegram-bot's documented custom-webhook way: updates into
        ``update_queue``), for what the library's does not do: 400 for a body that is not JSON
        (Telegram retries anything but 2xx, and a 500 invites that), a size limit, and logging an
        unreadable update without its contents."""
        s = self.settings
        app = web.Application(client_max_size=WEBHOOK_MAX_BYTES)
        app.router.add_post(f"/{s.url_path.strip('/')}", self._on_webhook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, s.listen, s.port).start()
        self._webhook = runner
        await self.app.bot.set_webhook(url=s.webhook_url or "", secret_token=s.webhook_secret,
                                       allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)

    async def _on_webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(_SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), (self.settings.webhook_secret or "").encode()):
            return web.Response(status=403)
        if request.content_length is not None and request.content_length > WEBHOOK_MAX_BYTES:
            return web.Response(status=413)
        try:
            data = json.loads(await request.read())
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        except ValueError:  # also a body that is not UTF-8
            log.warning("telegram webhook: a request body that is not JSON was refused")
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            log.warning("telegram webhook: a request that is not an update was refused")
            return web.Response(status=400)
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as exc:  # whatever the library fails on, Telegram must not resend it
            kinds = ",".join(sorted(str(k) for k in data if k != "update_id"))[:100]
            log.warning("telegram webhook: update %d (%s) could not be read (%s); skipped", data["update_id"], kinds,
                        type(exc).__name__, extra=_chat_of(data))
            return web.Response(status=200)  # sending it again would not make it readable
        await self.app.update_queue.put(update)
        return web.Response(status=200)

    async def _set_commands(self) -> None:
        """The command menu: in each language the commands have, for apps set to it, and in the
        profile's language for every other app."""
        menus: list[tuple[str | None, str]] = [(None, self.settings.language), *((lang, lang) for lang in CHAT_COMMANDS.languages)]
        try:
            for language_code, lang in menus:
                commands = [BotCommand(name, description) for name, description in CHAT_COMMANDS.menu(lang)]
                await self.app.bot.set_my_commands(commands, language_code=language_code)
        except TelegramError as exc:  # a cosmetic call: never keep the bot from starting
            log.warning("could not set bot commands: %s", type(exc).__name__)

    # -- incoming ------------------------------------------------------------------------------
    async def _claim(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """First handler of every update: stops one that was claimed before (see the module docstring)."""
        if _POLLED.get() == update.update_id:
            return  # claimed by the poller before it was handed over
        if not await self._first_time(update.update_id):
            update_id = update.update_id
            log.info("telegram update %d was delivered again; answered before, skipped", update_id,
                     extra={"profile": self.settings.profile})
            raise ApplicationHandlerStop

    async def _first_time(self, update_id: int) -> bool:
        if update_id in self._claims:  # the same update twice at once
            return False
        waiting = asyncio.get_running_loop().create_future()
        self._claims[update_id] = waiting
        if self._claiming is None:
            self._claiming = asyncio.create_task(self._claim_waiting())
        return bool(await waiting)

    async def _claim_waiting(self) -> None:
        """Claims of webhook updates in batches: the ids that arrive while one claim is in the
        database go in the next; one statement each, in the process's pool (bot.blocking: the
        database must not stall the event loop)."""
        try:
            while self._claims:
                batch, self._claims = self._claims, {}
                try:
                    fresh = await run_blocking(self._seen.claim, self.settings.profile, list(batch))
                except Exception as exc:  # answered twice is better than not at all
                    log.warning("telegram: claiming %d updates failed (%s); they are answered unclaimed", len(batch),
                                type(exc).__name__)
                    fresh = set(batch)
                for update_id, waiting in batch.items():
                    if not waiting.done():
                        waiting.set_result(update_id in fresh)
        finally:
            self._claiming = None

    async def _ignore(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Edited messages are ignored on purpose: the original was answered already."""

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None or not self._addressed(update, message):
            return
        text = self._strip_mention(message.text, context.bot.username)
        await self._dispatch(update, Incoming(CHANNEL, str(message.chat_id), text, self._lang(update), self.settings.profile,
                                              message_id=str(message.message_id)), message)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None or not self._supported_chat(update):
            return
        head, _, argument = message.text.partition(" ")
        command, _, target = head[1:].partition("@")
        if target and target.lower() != (context.bot.username or "").lower():
            return  # a command for another bot in the same group
        incoming = Incoming(CHANNEL, str(message.chat_id), "", self._lang(update), self.settings.profile,
                            command=command.lower()[:32],
                            argument=argument.strip()[:64], message_id=str(message.message_id))
        await self._dispatch(update, incoming, message)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        with contextlib.suppress(TelegramError):  # the spinner stops by itself; the answer matters more
            await query.answer()
        data = query.data if isinstance(query.data, str) else ""
        chat = update.effective_chat
        if chat is None or not data or len(data.encode()) > _CALLBACK_LIMIT:
            return
        if data.startswith(_VOTE_PREFIX):
            await self._on_vote(update, data)
            return
        if query.message is not None and not self._first_press(chat.id, query.message.message_id, data):
            return  # answered already, right below that message
        await self._dispatch(update, Incoming(CHANNEL, str(chat.id), "", self._lang(update), self.settings.profile, choice=data))

    async def _on_vote(self, update: Update, data: str) -> None:
        """A 👍/👎 under an answer: one vote per message, whichever button and however often pressed."""
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None or not data.startswith((VOTE_UP, VOTE_DOWN)):
            return
        message = query.message
        if message is not None:
            if not self._first_press(chat.id, message.message_id, _VOTE_PREFIX):
                return
            await self._drop_vote_buttons(chat.id, message.message_id, message.to_dict().get("reply_markup"))
        vote = Vote(data[len(VOTE_UP):], helpful=data.startswith(VOTE_UP))
        await self._dispatch(update, Incoming(CHANNEL, str(chat.id), "", self._lang(update), self.settings.profile, vote=vote))

    async def _drop_vote_buttons(self, chat_id: int, message_id: int, markup: object) -> None:
        """Take the 👍/👎 row off the rated message; its links and choices stay."""
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        kept = [row for row in rows if not any(str(b.get("callback_data", "")).startswith(_VOTE_PREFIX) for b in row)]
        params: JSONDict = {"chat_id": chat_id, "message_id": message_id}
        if kept:
            params["reply_markup"] = {"inline_keyboard": kept}
        bot = self.app.bot
        # Cosmetic: the vote counts whether or not the buttons could be taken off.
        with contextlib.suppress(TelegramError):
            await bot.rate_limiter.process_request(
                bot.request.post, (f"{bot.base_url}/editMessageReplyMarkup", json_request(params)), {},
                "editMessageReplyMarkup", params, None,
            )

    def _first_press(self, chat_id: int, message_id: int, data: str) -> bool:
        """Whether this button of this message was not pressed before (kept for the newest 10,000
        presses: a second press comes within seconds). Another button of the same message still
        counts, as the citizen may want a second topic from one menu."""
        key = (chat_id, message_id, data)
        if key in self._pressed:
            return False
        self._pressed[key] = None
        if len(self._pressed) > 10_000:
            self._pressed.popitem(last=False)
        return True

    async def _on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice, locations: a polite note in private chats, silence in groups."""
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE or update.effective_message is None:
            return
        lang = self._lang(update) or "de"
        await self._send(chat.id, [Reply(core_text("text_only", lang), language=lang)])

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Logged without message content or chat id: what kind of thing failed, and a pseudonym
        # of the chat, so operators see whether failures hit one chat or many (bot.ops.logs).
        chat = update.effective_chat if isinstance(update, Update) else None
        extra = {"chat": pseudonym(CHANNEL, chat.id)} if chat is not None else {}
        if isinstance(context.error, Forbidden):  # blocked, or removed from the group: nothing is wrong with the bot
            log.info("telegram chat cannot be written to: %s", context.error, extra=extra)
            return
        log.error("telegram handler failed: %s", type(context.error).__name__, exc_info=context.error, extra=extra)

    async def _dispatch(self, update: Update, incoming: Incoming, question: Message | None = None) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        # In a group several people ask at once: the answer is marked as the reply to its question.
        reply_to = question.message_id if question is not None and chat.type != ChatType.PRIVATE else None
        # The turn runs in the process's pool (bot.blocking), and the chat's next message waits
        # until these replies are sent, so a chat's answers come in the order of its questions.
        async with self._turns.in_order(chat.id):
            update_id = _POLLED.get()
            if self._poller is not None and update_id is not None:
                replies = await self._turns.answer(incoming, functools.partial(self._poller.mark_in_pool, update_id))
                self._poller.marked(update_id, replies)
            else:
                replies = await self._turns.answer(incoming)
            await self._send(chat.id, replies, reply_to)

    def _supported_chat(self, update: Update) -> bool:
        chat = update.effective_chat
        return chat is not None and chat.type in (ChatType.PRIVATE, ChatType.GROUP, ChatType.SUPERGROUP)

    def _addressed(self, update: Update, message: Message) -> bool:
        """Private chats always; groups only when the bot is mentioned or replied to."""
        if not self._supported_chat(update):
            return False
        if message.chat.type == ChatType.PRIVATE:
            return True
        username = (self.app.bot.username or "").lower()
        if username and f"@{username}" in (message.text or "").lower():
            return True
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == self.app.bot.id)

    @staticmethod
    def _strip_mention(text: str, username: str | None) -> str:
        if username:
            text = text.replace(f"@{username}", " ")
        return text.strip()

    @staticmethod
    def _lang(update: Update) -> str | None:
        user = update.effective_user
        code = (user.language_code or "")[:2].lower() if user else ""
        return code or None

    # -- reminders -----------------------------------------------------------------------------
    idempotent = False  # sendMessage has no idempotency key: a message in doubt that is sent again may arrive twice

    @property
    def address(self) -> tuple[str, str]:
        """(channel, profile): the reminder rows this channel delivers."""
        return CHANNEL, self.settings.profile

    async def open_for_delivery(self) -> None:
        """Ready to send without taking updates (a reminder worker process)."""
        await self.app.initialize()

    async def deliver(self, chat_id: str, reply: Reply, key: str) -> None:
        """Send a reminder; this call tries it once. Only refusals Telegram gives before accepting
        the message (429) are retried here; a network error after the request left may have
        delivered it (``maybe_sent``), and the worker decides whether to send it again."""
        try:
            target = int(chat_id)
        except ValueError:
            raise DeliveryFailed("not a Telegram chat id", permanent=True) from None
        messages = self._messages(reply)
        for i, (html, markup) in enumerate(messages):
            for _ in range(5):
                try:
                    await self._post(target, html, markup)
                    break
                except RetryAfter as exc:
                    await asyncio.sleep(_seconds(exc.retry_after))
                except (Forbidden, ChatMigrated, BadRequest) as exc:
                    raise DeliveryFailed(type(exc).__name__, permanent=True, blocked=isinstance(exc, Forbidden)) from None
                except NetworkError as exc:
                    raise DeliveryFailed(type(exc).__name__, maybe_sent=i > 0 or _may_have_left(exc)) from None
            else:
                raise DeliveryFailed("still rate limited after five waits")

    # -- outgoing ------------------------------------------------------------------------------
    async def _send(self, chat_id: int, replies: Sequence[Reply], reply_to: int | None = None) -> None:
        if replies and self._poller is not None:
            await self._poller.sending(_POLLED.get())
        for reply in replies:
            for source, html, markup in self._parts(reply):
                if not await self._send_one(chat_id, source, html, markup, reply_to):
                    return

    def _messages(self, reply: Reply) -> list[tuple[str, JSONDict | None]]:
        """The reply as Telegram messages: HTML chunks below the length limit, the keyboard on the last."""
        return [(html, markup) for _, html, markup in self._parts(reply)]

    def _parts(self, reply: Reply) -> list[tuple[str, str, JSONDict | None]]:
        """:meth:`_messages` with the source text of each chunk (for the plain-text fallback)."""
        whole = to_html(reply.text)
        # Nearly every answer fits one message: render it once instead of once to measure and again to send.
        if len(whole) <= _TEXT_LIMIT:
            chunks = [(reply.text, whole)]
        else:
            chunks = [(c, to_html(c)) for c in split_message(reply.text, _TEXT_LIMIT, lambda t: len(to_html(t)))]
        markup = self._keyboard(reply)
        return [(source, html, markup if i == len(chunks) - 1 else None) for i, (source, html) in enumerate(chunks)]

    def _keyboard(self, reply: Reply) -> JSONDict | None:
        """Link buttons, then choices, one per row, as the Bot API's inline keyboard."""
        rows = [[{"text": b.label[:64], "url": b.url}] for b in reply.buttons if b.url]
        rows += [
            [{"text": f"{i}. {c.label}"[:64], "callback_data": c.payload}]
            for i, c in enumerate(reply.choices, 1)
            if c.payload and len(c.payload.encode()) <= _CALLBACK_LIMIT
        ]
        if reply.feedback and len((VOTE_DOWN + reply.feedback).encode()) <= _CALLBACK_LIMIT:
            rows.append([
                {"text": "👍 " + core_text("feedback_helpful", reply.language), "callback_data": VOTE_UP + reply.feedback},
                {"text": "👎 " + core_text("feedback_not_helpful", reply.language), "callback_data": VOTE_DOWN + reply.feedback},
            ])
        return {"inline_keyboard": rows} if rows else None

    async def _send_one(self, chat_id: int, source: str, html: str, markup: JSONDict | None, reply_to: int | None) -> bool:
        """Send one message of a reply (see the module docstring for what is resent); False when
        the chat cannot be written to, so the rest of the reply is not tried."""
        text: str | None = html
        delay = 0.5
        for attempt in range(4):
            try:
                await self._post(chat_id, text if text is not None else to_plain(source), markup, html=text is not None, reply_to=reply_to)
                return True
            except RetryAfter as exc:  # left over after the rate limiter's own retries
                await asyncio.sleep(_seconds(exc.retry_after))
            except BadRequest as exc:
                if text is not None and _PARSE_ERROR in exc.message.lower():
                    log.warning("telegram refused the HTML of a reply (%s); sending it as plain text", exc, extra=_pseudonymous_chat(chat_id))
                    text = None
                    continue
                log.warning("telegram refused a reply: %s", exc, extra=_pseudonymous_chat(chat_id))
                return True
            except (Forbidden, ChatMigrated) as exc:
                log.info("telegram chat cannot be written to: %s", exc, extra=_pseudonymous_chat(chat_id))
                return False
            except TimedOut:
                log.warning("telegram did not answer a reply within %.0f s; not sent again, as it may have arrived",
                            self.settings.send_timeout, extra=_pseudonymous_chat(chat_id))
                return True
            except ServerError as exc:
                if attempt == 3:
                    raise
                log.warning("telegram send failed (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay *= 2
            except NetworkError as exc:
                if _may_have_left(exc):
                    log.warning("telegram send failed after the request left (%s); not sent again, as it may have arrived",
                                type(exc.__cause__ or exc).__name__, extra=_pseudonymous_chat(chat_id))
                    return True
                if attempt == 3:
                    raise
                log.warning("telegram send failed (%s); retrying", type(exc.__cause__ or exc).__name__)
                await asyncio.sleep(delay)
                delay *= 2
        log.warning("telegram reply dropped: still refused after four tries", extra=_pseudonymous_chat(chat_id))
        return True

    async def _post(self, chat_id: int, text: str, markup: JSONDict | None, *, html: bool = True, reply_to: int | None = None) -> None:
        # The library's request layer (errors, RetryAfter) under the library's rate limiter, but
        # not its Bot methods: converting the parameters and parsing Telegram's echo of every sent
        # message into a Message took about as much CPU as the HTTP request itself (~0.25 ms), and
        # nothing reads that echo.
        params: JSONDict = {"chat_id": chat_id, "text": text, "link_preview_options": _NO_PREVIEW}
        if html:
            params["parse_mode"] = ParseMode.HTML
        if markup is not None:
            params["reply_markup"] = markup
        if reply_to is not None:
            # A question deleted in the meantime must not cost the answer.
            params["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        bot = self.app.bot
        # FloodLimits paces both the token's budget and each chat.
        await bot.rate_limiter.process_request(
            bot.request.post, (f"{bot.base_url}/sendMessage", json_request(params)), {}, "sendMessage", params, None,
        )


_BATCH = 100  # the most updates getUpdates returns
_REFILL = 75  # free places among the next 100 updates before asking for more while updates are in flight
_BUSY_POLL = 0.25  # seconds between getUpdates calls while updates are in flight and no new one came
_STUCK_POLL = 2.0  # seconds between getUpdates calls while fewer than _REFILL new updates would fit
_MAX_BACKOFF = 30.0
_READ_MARGIN = 10.0  # seconds a long poll may take beyond its timeout before it counts as failed


class _Poller:
    """getUpdates in a loop, for :class:`TelegramChannel` (see the module docstring): an update is
    confirmed once it is handled; each chat's updates in order, ``concurrency`` at a time."""

    def __init__(self, channel: TelegramChannel) -> None:
        self._channel = channel
        self._settings = channel.settings
        self._seen = channel._seen
        self._owner = secrets.token_hex(8)  # this process, in the claims
        self._lease = dt.timedelta(seconds=channel.settings.claim_lease)
        self._next = 0  # the id after the newest update taken on
        # Taken on and not finished, in id order: the offset stays at the first. A task cancelled
        # at stop stays in it, so that its update is not confirmed.
        self._unfinished: dict[int, asyncio.Task[None]] = {}
        self._handling: set[int] = set()  # in the application's handlers now
        self._chat_tails: dict[Hashable, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max(1, channel.settings.concurrency))
        self._progress = asyncio.Event()
        self._marks: dict[int, asyncio.Future[None]] = {}  # waiting for the next "sending" statement
        self._marked: set[int] = set()
        self._marking: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._taking = False  # claiming a batch: a claim cut off by stop would leave rows no one releases
        self._stopping = False

    @property
    def offset(self) -> int:
        """What getUpdates gets as ``offset``: everything below it is confirmed."""
        return next(iter(self._unfinished), self._next)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self) -> None:
        """Stop asking, finish the updates being handled, leave the others unconfirmed (and
        unclaimed, so the next process answers them at once)."""
        self._stopping = True
        if self._task is not None:
            if not self._taking:
                self._task.cancel()
            await asyncio.wait([self._task])
        waiting = [update_id for update_id in self._unfinished if update_id not in self._handling]
        for update_id in waiting:
            self._unfinished[update_id].cancel()
        if self._unfinished:
            await asyncio.wait(list(self._unfinished.values()))
        if waiting:
            try:
                await run_blocking(self._seen.release, self._settings.profile, waiting, self._owner)
            except Exception as exc:  # they are answered after the claims' lease instead
                log.warning("telegram: releasing %d unhandled updates failed (%s)", len(waiting), type(exc).__name__)
        with contextlib.suppress(TelegramError):
            await self._channel.app.bot.get_updates(offset=self.offset, limit=1, timeout=dt.timedelta(0))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.0
        brought_new = False
        asked_at = 0.0
        while True:
            if self._unfinished:
                await self._wait_for_room(brought_new, asked_at)
            asked_at = loop.time()
            try:
                # While updates are in flight Telegram answers at once anyway (they are past the offset).
                timeout = 0 if self._unfinished else int(self._settings.poll_timeout)
                fresh = await self._get_updates(timeout)
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except InvalidToken as exc:
                log.error("telegram polling stopped: %s", type(exc).__name__, extra={"profile": self._settings.profile})
                return
            except Exception as exc:  # network, Telegram, or an update the library cannot read: polling goes on
                if isinstance(exc, TelegramError):
                    self._channel._on_polling_error(exc)
                else:
                    log.error("telegram polling failed: %s", type(exc).__name__)
                backoff = min(_MAX_BACKOFF, max(1.0, backoff * 2))
                await asyncio.sleep(backoff)
                continue
            backoff = 0.0
            brought_new = bool(fresh)
            if fresh:
                self._next = max(update.update_id for update in fresh) + 1
                self._taking = True
                try:
                    await self._take(fresh)
                finally:
                    self._taking = False
            if self._stopping:
                return

    async def _get_updates(self, timeout: int) -> list[Update]:
        """getUpdates through the library's request layer (its errors: Conflict, RetryAfter, …),
        turning into Update objects only the updates not taken on yet: the unfinished ones come
        again with every call, and reading an update costs about as much as the request."""
        bot = self._channel.app.bot
        params = {"offset": self.offset, "limit": _BATCH, "timeout": timeout, "allowed_updates": list(Update.ALL_TYPES)}
        raw = await self._channel._updates_request.post(f"{bot.base_url}/getUpdates", json_request(params),
                                                        read_timeout=timeout + _READ_MARGIN)
        if not isinstance(raw, list):
            return []
        return [Update.de_json(data, bot) for data in raw if isinstance(data.get("update_id"), int) and data["update_id"] >= self._next]

    async def _wait_for_room(self, brought_new: bool, asked_at: float) -> None:
        """Before asking again while updates are in flight. getUpdates returns the unfinished ones
        (and those finished after the first unfinished one) again, and reading 100 updates costs
        more than answering a few: ask when at least ``_REFILL`` new ones fit, but not more often
        than every ``_BUSY_POLL`` when the last call brought nothing new; when fewer fit (the
        first unfinished update takes long), every ``_STUCK_POLL``."""
        loop = asyncio.get_running_loop()
        while self._unfinished:
            room = _BATCH - (self._next - self.offset)
            waited = loop.time() - asked_at
            if room >= _REFILL:
                if brought_new or waited >= _BUSY_POLL:
                    return
                timeout: float | None = _BUSY_POLL - waited
            elif room > 0:
                if waited >= _STUCK_POLL:
                    return
                timeout = _STUCK_POLL - waited
            else:
                timeout = None  # only a finished update makes room
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout)

    async def _take(self, updates: Sequence[Update]) -> None:
        ids = [update.update_id for update in updates]
        try:
            answer, busy = await run_blocking(self._seen.claim_polled, self._settings.profile, ids, self._owner, self._lease)
        except Exception as exc:  # answered twice is better than not at all
            log.warning("telegram: claiming %d updates failed (%s); they are answered unclaimed", len(ids), type(exc).__name__)
            answer, busy = set(ids), set()
        for update in updates:
            update_id = update.update_id
            if update_id not in answer and update_id not in busy:
                log.info("telegram update %d was delivered again; answered before, skipped", update_id,
                         extra={"profile": self._settings.profile})
                continue
            chat = update.effective_chat
            key: Hashable = chat.id if chat is not None else ("update", update_id)
            task = asyncio.create_task(self._handle(update, self._chat_tails.get(key), update_id in busy))
            self._chat_tails[key] = task
            self._unfinished[update_id] = task
            task.add_done_callback(functools.partial(self._finished, update_id, key))

    async def _handle(self, update: Update, previous: asyncio.Task[None] | None, busy: bool) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # only the order matters here, not how it ended
        if busy and not await self._wait_for_owner(update.update_id):
            return
        update_id = update.update_id
        async with self._slots:
            self._handling.add(update_id)
            _POLLED.set(update_id)  # this task's own context
            try:
                await self._channel.app.process_update(update)
            except Exception as exc:  # the handlers' own errors went to _on_error; this is the library's
                log.error("telegram update %d could not be handled: %s", update_id, type(exc).__name__)
            finally:
                self._handling.discard(update_id)

    async def _wait_for_owner(self, update_id: int) -> bool:
        """An update another process took on: whether it falls to this one (the other sent nothing
        within the lease) or not (the other answered it)."""
        while True:
            await asyncio.sleep(min(self._lease.total_seconds(), 5.0))
            try:
                answer, busy = await run_blocking(self._seen.claim_polled, self._settings.profile, [update_id], self._owner, self._lease)
            except Exception as exc:
                log.warning("telegram: claiming an update failed (%s); it is answered unclaimed", type(exc).__name__)
                return True
            if update_id not in busy:
                return update_id in answer

    def _finished(self, update_id: int, key: Hashable, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            # Only the first unfinished update moves the offset, and with it the room to ask for more.
            if next(iter(self._unfinished), None) == update_id:
                self._progress.set()
            self._unfinished.pop(update_id, None)
        if self._chat_tails.get(key) is task:
            del self._chat_tails[key]
        self._marked.discard(update_id)

    def mark_in_pool(self, update_id: int, replies: Sequence[Reply]) -> None:
        """In the pool, right after the turn: marks the update "sending" when the turn has replies
        (saves a second trip through the pool for :meth:`sending`)."""
        if replies:
            try:
                self._seen.mark_sending(self._settings.profile, [update_id])
            except Exception as exc:  # the answer goes out all the same; a crash now may repeat it
                log.warning("telegram: marking 1 update as answered failed (%s)", type(exc).__name__)

    def marked(self, update_id: int, replies: Sequence[Reply]) -> None:
        """On the loop, after :meth:`mark_in_pool`: :meth:`sending` has nothing more to do."""
        if replies:
            self._marked.add(update_id)

    async def sending(self, update_id: int | None) -> None:
        """Before the first message of the answer to ``update_id`` goes out: marks it "sending"
        (see the module docstring). Marks asked for while one is in the database share the next
        statement."""
        if update_id is None or update_id in self._marked:
            return
        self._marked.add(update_id)
        waiting = asyncio.get_running_loop().create_future()
        self._marks[update_id] = waiting
        if self._marking is None:
            self._marking = asyncio.create_task(self._mark_waiting())
        await waiting

    async def _mark_waiting(self) -> None:
        try:
            while self._marks:
                batch, self._marks = self._marks, {}
                try:
                    await run_blocking(self._seen.mark_sending, self._settings.profile, list(batch))
                except Exception as exc:  # the answer goes out all the same; a crash now may repeat it
                    log.warning("telegram: marking %d updates as answered failed (%s)", len(batch), type(exc).__name__)
                for waiting in batch.values():
                    if not waiting.done():
                        waiting.set_result(None)
        finally:
            self._marking = None


_POLLED: contextvars.ContextVar[int | None] = contextvars.ContextVar("polled_update", default=None)
"""The update the poller is handling in this task (claimed already; its replies mark it "sending")."""

_NO_PREVIEW = {"is_disabled": True}  # form links would otherwise unfold into large cards


def _pseudonymous_chat(chat_id: int) -> dict[str, str]:
    """The ``extra`` naming a chat in a log line: its pseudonym (bot.ops.logs)."""
    return {"chat": pseudonym(CHANNEL, chat_id)}


def _chat_of(update: JSONDict) -> dict[str, str]:
    """The pseudonym of the chat a raw update came from, for log lines about it (if it has one)."""
    for value in update.values():
        if isinstance(value, dict):
            chat = value.get("chat") or (value.get("message") or {}).get("chat")
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return _pseudonymous_chat(chat["id"])
    return {}


def _may_have_left(exc: NetworkError) -> bool:
    """Whether the request may have reached Telegram: only a refused or failed connection proves it did not."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or type(cause).__name__ in ("ConnectError", "ConnectTimeout", "PoolTimeout", "ClientConnectorError", "ConnectionTimeoutError"):
            return False
        cause = cause.__cause__
    return True


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
