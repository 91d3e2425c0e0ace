"""Telegram adapter (python-telegram-bot ≥ 22): updates → core.Incoming, core.Reply → messages.

It holds no business rules: it decides only what Telegram forces on it (which updates to read,
HTML escaping, the 4096-character limit, keyboards, flood limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    Message,
    Update,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.markup import to_html
from bot.channels.splitting import split_message
from bot.channels.telegram_http import AiohttpRequest, json_request
from bot.channels.telegram_limits import FloodLimits
from bot.config import ProfileConfig
from bot.core.models import Incoming, Reply
from bot.core.ports import DeliveryFailed
from bot.core.texts import text as core_text
from bot.credentials import telegram_secrets
from bot.ops.logs import pseudonym

log = logging.getLogger(__name__)

Handle = Callable[[Incoming], Sequence[Reply]]
JSONDict = dict[str, Any]
CHANNEL = "telegram"
# Telegram counts the text without markup; our limit leaves room for the difference in counting.
_TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH - 96
_CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts


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

    @classmethod
    def from_profile(cls, profile: ProfileConfig) -> TelegramSettings:
        """The settings of a configured profile; raises MissingSecret without its token."""
        t = profile.telegram
        if t is None:
            raise ValueError(f"profile {profile.name} has no Telegram account")
        secrets = telegram_secrets(profile, t)
        return cls(token=secrets.token, profile=profile.name, base_url=t.base_url, webhook_url=t.webhook_url,
                   webhook_secret=secrets.webhook_secret, listen=t.listen, port=t.port, url_path=t.url_path,
                   overall_per_second=t.overall_per_second, per_chat_per_second=t.per_chat_per_second)


class TelegramChannel:
    def __init__(self, settings: TelegramSettings, handle: Handle) -> None:
        if settings.webhook_url and not settings.webhook_secret:
            raise ValueError("webhook mode needs a secret token")
        self.settings = settings
        self._handle = handle
        self._chat_limits: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self.app = self._build()

    def _build(self) -> Application:  # type: ignore[type-arg]
        s = self.settings
        builder: ApplicationBuilder = (  # type: ignore[type-arg]
            Application.builder()
            .token(s.token)
            .rate_limiter(FloodLimits(s.token, s.overall_per_second, s.per_chat_per_second))
            .concurrent_updates(s.concurrency)
            .request(AiohttpRequest(connection_pool_size=64))
            .get_updates_request(AiohttpRequest(connection_pool_size=1))
        )
        if s.base_url:
            builder = builder.base_url(s.base_url).base_file_url(s.base_url.replace("/bot", "/file/bot"))
        app = builder.build()
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
            await self.app.updater.start_webhook(  # type: ignore[union-attr]
                listen=s.listen, port=s.port, url_path=s.url_path, webhook_url=s.webhook_url,
                secret_token=s.webhook_secret, allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
            )
        else:
            await self.app.updater.start_polling(  # type: ignore[union-attr]
                timeout=s.poll_timeout, allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
                error_callback=lambda exc: log.warning("telegram polling: %s", type(exc).__name__),
            )
        await self.app.start()
        log.info("telegram channel started (%s, profile %s)", "webhook" if s.webhook_url else "polling", s.profile)

    async def stop(self) -> None:
        """Stop taking updates, let in-flight replies finish, then close."""
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _set_commands(self) -> None:
        commands = [
            BotCommand("start", "Start / Begrüßung"),
            BotCommand("help", "Help / Hilfe"),
            BotCommand("menu", "Topics / Themen"),
            BotCommand("language", "Language / Sprache"),
            BotCommand("termin", "Terminerinnerung / appointment reminder"),
            BotCommand("erinnerungen", "Meine Erinnerungen / my reminders"),
            BotCommand("meinedaten", "Meine Daten / my data"),
            BotCommand("loeschen", "Daten löschen / delete my data"),
        ]
        try:
            await self.app.bot.set_my_commands(commands)
        except TelegramError as exc:  # a cosmetic call: never keep the bot from starting
            log.warning("could not set bot commands: %s", type(exc).__name__)

    # -- incoming ------------------------------------------------------------------------------
    async def _ignore(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Edited messages are ignored on purpose: the original was answered already."""

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None or not self._addressed(update, message):
            return
        text = self._strip_mention(message.text, context.bot.username)
        await self._dispatch(update, Incoming(CHANNEL, str(message.chat_id), text, self._lang(update), self.settings.profile))

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
                            argument=argument.strip()[:64])
        await self._dispatch(update, incoming)

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
        await self._dispatch(update, Incoming(CHANNEL, str(chat.id), "", self._lang(update), self.settings.profile, choice=data))

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
        log.error("telegram handler failed: %s", type(context.error).__name__, exc_info=context.error, extra=extra)

    async def _dispatch(self, update: Update, incoming: Incoming) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        # Inline on purpose: the dialogue is about a millisecond of CPU and its state store is
        # cached, while a thread hop cost 3 ms a message here (GIL contention with the sockets).
        replies = self._handle(incoming)
        await self._send(chat.id, replies)

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
    async def _send(self, chat_id: int, replies: Sequence[Reply]) -> None:
        for reply in replies:
            for html, markup in self._messages(reply):
                await self._send_one(chat_id, html, markup)

    def _messages(self, reply: Reply) -> list[tuple[str, JSONDict | None]]:
        """The reply as Telegram messages: HTML chunks below the length limit, the keyboard on the last."""
        whole = to_html(reply.text)
        # Nearly every answer fits one message: render it once instead of once to measure and again to send.
        chunks = [whole] if len(whole) <= _TEXT_LIMIT else [to_html(c) for c in split_message(reply.text, _TEXT_LIMIT, lambda t: len(to_html(t)))]
        markup = self._keyboard(reply)
        return [(html, markup if i == len(chunks) - 1 else None) for i, html in enumerate(chunks)]

    def _keyboard(self, reply: Reply) -> JSONDict | None:
        """Link buttons, then choices, one per row, as the Bot API's inline keyboard."""
        rows = [[{"text": b.label[:64], "url": b.url}] for b in reply.buttons if b.url]
        rows += [
            [{"text": f"{i}. {c.label}"[:64], "callback_data": c.payload}]
            for i, c in enumerate(reply.choices, 1)
            if c.payload and len(c.payload.encode()) <= _CALLBACK_LIMIT
        ]
        return {"inline_keyboard": rows} if rows else None

    async def _send_one(self, chat_id: int, html: str, markup: JSONDict | None) -> None:
        delay = 0.5
        for attempt in range(4):
            try:
                await self._post(chat_id, html, markup)
                return
            except RetryAfter as exc:  # left over after the rate limiter's own retries
                await asyncio.sleep(_seconds(exc.retry_after))
            except NetworkError as exc:
                if attempt == 3:
                    raise
                log.warning("telegram send failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(delay)
                delay *= 2

    async def _post(self, chat_id: int, html: str, markup: JSONDict | None) -> None:
        # The library's request layer (errors, RetryAfter) under the library's rate limiter, but
        # not its Bot methods: converting the parameters and parsing Telegram's echo of every sent
        # message into a Message took about as much CPU as the HTTP request itself (~0.25 ms), and
        # nothing reads that echo.
        params: JSONDict = {"chat_id": chat_id, "text": html, "parse_mode": ParseMode.HTML, "link_preview_options": _NO_PREVIEW}
        if markup is not None:
            params["reply_markup"] = markup
        bot = self.app.bot
        async with self._chat_limiter(chat_id):
            await bot.rate_limiter.process_request(
                bot.request.post, (f"{bot.base_url}/sendMessage", json_request(params)), {}, "sendMessage", params, None,
            )

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        if self.settings.per_chat_per_second <= 0:
            return _UNLIMITED
        limiter = self._chat_limits.get(chat_id)
        if limiter is None:
            # About one message a second per chat, with a small burst for multi-part answers.
            limiter = AsyncLimiter(max(1.0, 3 * self.settings.per_chat_per_second), 3.0)
            self._chat_limits[chat_id] = limiter
            if len(self._chat_limits) > 10_000:
                self._chat_limits.popitem(last=False)
        else:
            self._chat_limits.move_to_end(chat_id)
        return limiter


_NO_PREVIEW = {"is_disabled": True}  # form links would otherwise unfold into large cards
_UNLIMITED = AsyncLimiter(1e9, 1.0)  # per-chat limit lifted (benchmarks, a local Bot API server)


def _may_have_left(exc: NetworkError) -> bool:
    """Whether the request may have reached Telegram: only a refused or failed connection proves it did not."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or type(cause).__name__ in ("ConnectError", "ConnectTimeout", "PoolTimeout", "ClientConnectorError"):
            return False
        cause = cause.__cause__
    return True


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
