"""A fake Telegram Bot API HTTP server for tests that drive the real python-telegram-bot.

Start it from async code and point PTB at it::

    async with FakeBotApi(token="123456:TEST-TOKEN") as fake:
        app = (Application.builder().token(fake.token)
               .base_url(fake.base_url).base_file_url(fake.base_file_url).build())
        fake.push_message(4711, "/start")
        ...
        sent = await fake.wait_for(1)          # the sendMessage params the bot produced

The server listens on 127.0.0.1 on a free port (aiohttp ``AppRunner`` + ``TCPSite``) and serves
``GET``/``POST /bot<token>/<method>`` exactly where PTB sends it (``base_url + token + "/" + method``).

What is faithful to the real Bot API
------------------------------------
* Transport: parameters are read from the query string, a form-encoded or multipart body (what PTB
  sends; complex values such as ``reply_markup`` are JSON strings and get decoded) or a JSON body.
  Method names are case-insensitive. Answers use the ``{"ok": true, "result": ...}`` envelope, errors
  ``{"ok": false, "error_code": N, "description": "..."}`` with the real status codes and texts
  (401 wrong token, 404 unknown method, 400 ``Bad Request: ...``, 403 ``Forbidden: ...``, 409
  ``Conflict: ...``, 429 with ``"parameters": {"retry_after": N}``), so PTB raises the very same
  exceptions (``InvalidToken``, ``BadRequest``, ``Forbidden``, ``Conflict``, ``RetryAfter``).
* ``getUpdates``: ``offset`` confirms every update below it (a negative offset keeps only the last
  ``-offset`` ones), ``limit`` (1-100), ``timeout`` (long polling that returns as soon as an update
  arrives), ``allowed_updates`` (remembered between calls; an empty list means the default, which
  leaves out ``chat_member``, ``message_reaction`` and ``message_reaction_count``; like Telegram it
  filters updates *created* afterwards, queued ones stay). A second concurrent ``getUpdates`` ends
  the first with 409 ``terminated by other getUpdates request``; while a webhook is set
  ``getUpdates`` answers 409 as well.
* HTML ``parse_mode`` follows TDLib's parser: only b/strong, i/em, u/ins, s/strike/del, a href,
  code, pre (``<pre><code class="language-x">`` gives ``pre`` with a language), tg-spoiler,
  ``span class="tg-spoiler"`` and blockquote (``expandable``) are allowed; ``&lt; &gt; &amp; &quot;``
  and numeric references are decoded (an unknown ``&name;`` stays literal); malformed markup gets
  400 ``Bad Request: can't parse entities: ...`` with TDLib's wording and UTF-8 byte offsets. The
  returned message carries the stripped text and the entities (UTF-16 offsets, like Telegram).
  The 4096 limit applies to the text after parsing (``Bad Request: message is too long``), an empty
  result gives ``Bad Request: message text is empty``.
* Inline keyboards are checked the way Telegram rejects them most often: callback_data of 1-64
  bytes (``BUTTON_DATA_INVALID``), no action-less buttons, plausible URLs.
* Webhooks: ``setWebhook`` wants an https URL on port 443, 80, 88 or 8443 and a secret token of
  ``[A-Za-z0-9_-]{1,256}`` (pass ``allow_any_webhook_url=True`` for a local http URL);
  ``deleteWebhook``/``setWebhook`` honour ``drop_pending_updates``; ``getWebhookInfo`` reports
  the pending count. Message ids are counted per chat, shared by user and bot messages. Update ids
  count up from ``first_update_id`` (Telegram starts at a random one).
  ``editMessageText`` drops the inline keyboard unless it is sent again and answers
  ``message is not modified`` for an identical edit; so does ``editMessageReplyMarkup`` for the
  keyboard alone.

What is simplified
------------------
* Only the methods listed in ``FakeBotApi.METHODS`` exist; everything else is 404 like a typo.
* ``Markdown``/``MarkdownV2`` texts are passed through unparsed (no entities, no escaping errors);
  length is counted in code points; leading/trailing whitespace is stripped with a plain ``strip()``.
* Chats the bot has never seen are invented on first use (positive id: private chat, ``-100…``:
  supergroup, other negative: group) unless ``known_chats_only=True``; then, as for real bots,
  ``Bad Request: chat not found``. ``block_chat()`` makes a chat answer 403 ``bot was blocked``.
* No files (``base_file_url`` only exists so PTB can be configured), no inline mode, no payments;
  no automatic URL/mention entities in pushed messages (only a leading ``/command``).
* Webhook updates are not delivered: tests POST ``make_update(...)`` JSON to the bot themselves.
  Pushed updates are queued either way and count as pending.
* Faults are injected per method: ``fail_next`` (429 with ``retry_after``), ``reject_next`` (any
  error answer, e.g. 400 ``can't parse entities`` or 403), ``break_next`` (502 from the front end,
  an HTML page), ``hang_next`` (the call is carried out, the answer comes late: a client that times
  out cannot tell whether it went through). ``redeliver`` queues an update again under its own
  ``update_id``, as Telegram does when a bot died before confirming it.
* All state lives in the event loop that called ``start()``; push updates from that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

DEFAULT_TOKEN = "123456:TEST-TOKEN"
BOT_USERNAME = "musterstadt_bot"
BOT_FIRST_NAME = "Musterstadt Bürgerbot"
MAX_MESSAGE_LENGTH = 4096

JSONDict = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Errors and request parameters
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer of the Bot API; raise it from a method handler."""

    def __init__(self, error_code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (PTB uploads files this way)."""

    filename: str
    content_type: str
    data: bytes


# Fields whose form value is a JSON-serialised object or array.
_JSON_FIELDS = frozenset({
    "reply_markup", "allowed_updates", "entities", "caption_entities", "commands", "scope",
    "link_preview_options", "reply_parameters", "media", "results", "menu_button", "rights",
    "permissions", "options", "explanation_entities", "question_entities", "reaction", "message_ids",
})
_INT_FIELDS = frozenset({
    "message_id", "offset", "limit", "max_connections", "cache_time", "message_thread_id",
    "reply_to_message_id", "user_id",
})
_BOOL_FIELDS = frozenset({
    "disable_notification", "protect_content", "drop_pending_updates", "show_alert",
    "disable_web_page_preview", "allow_sending_without_reply", "allow_paid_broadcast",
})
_INT_RE = re.compile(r"-?\d+")


def decode_params(raw: Mapping[str, Any]) -> JSONDict:
    """Turn form/query strings into the typed values a JSON body would have carried."""
    params: JSONDict = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in _JSON_FIELDS:
                try:
                    value = json.loads(value)
                except ValueError:
                    what = "reply keyboard markup" if key == "reply_markup" else key.replace("_", " ")
                    raise bad_request(f"can't parse {what} JSON object") from None
            elif key in _INT_FIELDS or key in ("chat_id", "from_chat_id"):
                if _INT_RE.fullmatch(value.strip()):
                    value = int(value)
            elif key == "timeout":
                try:
                    value = float(value) if "." in value else int(value)
                except ValueError:
                    value = 0
            elif key in _BOOL_FIELDS:
                value = value.strip().lower() in ("true", "1")
        params[key] = value
    return params


# --------------------------------------------------------------------------------------------
# HTML parse mode (modelled on TDLib's parse_html)
# --------------------------------------------------------------------------------------------


class HtmlParseError(ValueError):
    """Markup Telegram would refuse with ``Bad Request: can't parse entities: <message>``."""


_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "a": "text_link",
    "code": "code", "pre": "pre", "tg-spoiler": "spoiler", "span": "spoiler", "blockquote": "blockquote",
}
_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_MARKUP = re.compile(r"[<&]")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_reference(text: str, i: int) -> tuple[str, int] | None:
    """Decode the character reference at ``text[i] == "&"``: (character, next index), or None."""
    n, j = len(text), i + 1
    if j < n and text[j] == "#":
        j += 1
        hexadecimal = j < n and text[j] == "x"
        j += hexadecimal
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        start = j
        while j < n and text[j] in digits:
            j += 1
        if j == start:
            return None
        code = int(text[start:j], 16 if hexadecimal else 10)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while j < n and text[j].isascii() and text[j].isalpha():
            j += 1
        found = _NAMED_REFERENCES.get(text[i + 1 : j])
        if found is None:
            return None
        char = found
    if j < n and text[j] == ";":  # the semicolon is optional, as in TDLib
        j += 1
    return char, j


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Text and entities of an HTML-formatted message; raises HtmlParseError like Telegram."""
    out: list[str] = []  # pieces of the resulting text
    pos16 = 0  # its length in UTF-16 units
    stack: list[tuple[str, str, int, int]] = []  # tag, argument, start (UTF-16), start (index in out)
    entities: list[JSONDict] = []
    i, n = 0, len(source)

    def emit(text: str) -> None:
        nonlocal pos16
        out.append(text)
        pos16 += utf16_len(text)

    while i < n:
        char = source[i]
        if char == "&":
            decoded = _decode_reference(source, i)
            if decoded is None:
                emit("&")
                i += 1
            else:
                emit(decoded[0])
                i = decoded[1]
            continue
        if char != "<":  # a run of plain text, emitted whole: per character, this parser was the fake's main cost
            markup = _MARKUP.search(source, i)
            stop = markup.start() if markup else n
            emit(source[i:stop])
            i = stop
            continue

        at = _byte_offset(source, i)
        if i + 1 < n and source[i + 1] == "/":  # end tag
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {at}")
            j = i + 2
            while j < n and not source[j].isspace() and source[j] != ">":
                j += 1
            end_name = source[i + 2 : j].lower()
            while j < n and source[j].isspace():
                j += 1
            if j >= n or source[j] != ">":
                raise HtmlParseError(f"Unclosed end tag at byte offset {at}")
            tag, argument, start16, start_index = stack.pop()
            if end_name and end_name != tag:
                raise HtmlParseError(f'Unmatched end tag at byte offset {at}, expected "</{tag}>", found "</{end_name}>"')
            if pos16 > start16:
                _close_entity(entities, tag, argument, start16, pos16 - start16, "".join(out[start_index:]))
            i = j + 1
            continue

        # start tag
        j = i + 1
        while j < n and not source[j].isspace() and source[j] != ">":
            j += 1
        if j >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {at}")
        tag = source[i + 1 : j].lower()
        if tag not in _HTML_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {at}')
        argument = ""
        while True:  # attributes
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {at}")
            if source[j] == ">":
                j += 1
                break
            name_start = j
            while j < n and not source[j].isspace() and source[j] not in "=>":
                j += 1
            name = source[name_start:j]
            if not name:
                raise HtmlParseError(f'Empty attribute name in the tag "{tag}" at byte offset {at}')
            while j < n and source[j].isspace():
                j += 1
            if tag == "blockquote" and name == "expandable" and (j >= n or source[j] != "="):
                argument = "expandable"
                continue
            if j >= n or source[j] != "=":
                raise HtmlParseError(f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset {at}')
            j += 1
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {at}")
            if source[j] in "'\"":  # string literal
                quote, value_chars = source[j], []
                j += 1
                while j < n and source[j] != quote:
                    decoded = _decode_reference(source, j) if source[j] == "&" else None
                    if decoded is None:
                        value_chars.append(source[j])
                        j += 1
                    else:
                        value_chars.append(decoded[0])
                        j = decoded[1]
                j += 1
                value = "".join(value_chars)
            else:  # name token
                token_start = j
                while j < n and ((source[j].isascii() and source[j].isalnum()) or source[j] in ".-"):
                    j += 1
                value = source[token_start:j].lower()
                if j < n and not source[j].isspace() and source[j] != ">":
                    raise HtmlParseError(f"Unexpected end of name token at byte offset {_byte_offset(source, token_start)}")
            if j >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {at}")
            if tag == "a" and name == "href":
                argument = value
            elif tag == "code" and name == "class" and value.startswith("language-"):
                argument = value.removeprefix("language-")
            elif tag == "span" and name == "class" and value.startswith("tg-"):
                argument = value.removeprefix("tg-")
        if tag == "span" and argument != "spoiler":
            raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        stack.append((tag, argument, pos16, len(out)))
        i = j

    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        entity.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(entities: list[JSONDict], tag: str, argument: str, offset: int, length: int, inner: str) -> None:
    kind = _HTML_TAGS[tag]
    entity: JSONDict = {"offset": offset, "length": length, "type": kind}
    if kind == "text_link":
        entity["url"] = argument or inner
        if not entity["url"].strip():
            return
    elif kind == "code" and argument:
        entity["_language"] = argument
    elif kind == "pre":
        last = entities[-1] if entities else None
        if last and last["type"] == "code" and (last["offset"], last["length"]) == (offset, length):
            entities.pop()  # <pre><code class="language-x"> is one pre entity with a language
            if last.get("_language"):
                entity["language"] = last["_language"]
    elif kind == "blockquote" and argument == "expandable":
        entity["type"] = "expandable_blockquote"
    entities.append(entity)


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Telegram trims surrounding whitespace; keep the entities on the same characters."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    end = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        stop = min(entity["offset"] + entity["length"] - shift, end)
        if stop > start:
            kept.append({**entity, "offset": start, "length": stop - start})
    return stripped, kept


# --------------------------------------------------------------------------------------------
# Keyboards
# --------------------------------------------------------------------------------------------

_BUTTON_ACTIONS = frozenset({
    "url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
})


def check_reply_markup(markup: Any) -> None:
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return  # reply keyboards, ReplyKeyboardRemove, ForceReply: accepted as they are
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
            if not _BUTTON_ACTIONS & button.keys():
                raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
            if "callback_data" in button and not 1 <= len(str(button["callback_data"]).encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button and not _plausible_url(str(button["url"])):
                raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")


def _plausible_url(url: str) -> bool:
    if not url or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url if "://" in url or url.startswith("tg:") else f"http://{url}")
    if parts.scheme == "tg":
        return True
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and ("." in host or host == "localhost")


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_UNRECORDED = frozenset({"getUpdates", "getMe"})


@dataclass
class _Ok:
    """A successful answer that also carries Telegram's ``description`` (e.g. "Webhook was set")."""

    result: Any
    description: str


class FakeBotApi:
    """An in-process Bot API server; see the module docstring for what it models."""

    METHODS = (
        "getMe", "getUpdates", "sendMessage", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery", "setWebhook",
        "deleteWebhook", "getWebhookInfo", "setMyCommands", "getMyCommands", "deleteMyCommands",
        "sendChatAction", "getChat",
    )

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = BOT_USERNAME,
        first_name: str = BOT_FIRST_NAME,
        known_chats_only: bool = False,
        allow_any_webhook_url: bool = False,
        first_update_id: int = 1001,
    ) -> None:
        self.token = token
        bot_id = token.split(":", 1)[0]
        self.bot_user: JSONDict = {
            "id": int(bot_id) if bot_id.isdigit() else 123456,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        self.known_chats_only = known_chats_only
        self.allow_any_webhook_url = allow_any_webhook_url

        # What the bot did (read these in tests).
        self.sent: list[tuple[str, JSONDict]] = []  # successful calls except getUpdates/getMe
        self.calls: list[tuple[str, JSONDict, int]] = []  # every request: method, params, HTTP status
        self.sent_at: list[float] = []  # time.monotonic() of each entry in ``sent``, to measure rates
        self.rate_limited = 0  # calls answered 429 through fail_next()
        self.dropped_updates: list[JSONDict] = []  # pushed updates filtered out by allowed_updates
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}  # (scope JSON, language) → commands
        self.answered_callback_queries: dict[str, JSONDict] = {}
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.allowed_updates: list[str] | None = None  # None: Telegram's default set
        self._custom_certificate = False

        self._updates: list[JSONDict] = []
        self._update_ids = itertools.count(first_update_id)
        self._callback_ids = itertools.count(5_000_000_001)
        self._chats: dict[int, JSONDict] = {}
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._blocked: set[int] = set()
        self._open_callback_queries: set[str] = set()
        self._broken: dict[str, int] = {}
        self._rejections: dict[str, list[ApiError]] = {}  # lower-case method → errors to answer, in order
        self._hangs: dict[str, list[float]] = {}  # lower-case method → seconds to hold back the answer, in order
        self._failures: dict[str, list[int]] = {}  # lower-case method → [times left, retry_after]
        self._poll_generation = 0
        self._stopping = False
        self._updates_changed = asyncio.Event()
        self._sent_changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._handlers: dict[str, tuple[str, Callable[[JSONDict], Awaitable[Any]]]] = {
            name.lower(): (name, getattr(self, "_" + re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()))
            for name in self.METHODS
        }

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._stopping = False

    async def stop(self) -> None:
        self._stopping = True
        self._notify_updates()  # long polls answer at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For PTB's ``base_url``: PTB appends the token, then ``/`` and the method."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    # ---- building and queueing updates -----------------------------------------------------

    def make_update(
        self,
        chat_id: int,
        text: str,
        chat_type: str = "private",
        user_id: int | None = None,
        first_name: str = "Erika",
        is_bot: bool = False,
        entities: list[JSONDict] | None = None,
        *,
        language_code: str | None = "de",
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """A realistic message Update (not queued): for webhook tests, or ``push_update`` later.

        Channels (``chat_type="channel"``) give a ``channel_post`` with ``sender_chat`` instead.
        A text starting with ``/`` gets its ``bot_command`` entity unless ``entities`` is given.
        """
        user = self._user(user_id if user_id is not None else self._default_user_id(chat_id, chat_type), first_name, is_bot, language_code, username)
        chat = self._chat_for_push(chat_id, chat_type, user)
        message: JSONDict = {"message_id": self._next_message_id(chat_id)}
        if chat_type == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = user
        message.update(chat=chat, date=int(time.time()))
        if reply_to_message_id is not None and (chat_id, reply_to_message_id) in self._messages:
            message["reply_to_message"] = self._messages[(chat_id, reply_to_message_id)]
        message["text"] = text
        if entities is None and text.startswith("/"):
            entities = [{"offset": 0, "length": utf16_len(text.split(maxsplit=1)[0]), "type": "bot_command"}]
        if entities:
            message["entities"] = entities
        self._messages[(chat_id, message["message_id"])] = message
        kind = "channel_post" if chat_type == "channel" else "message"
        return {"update_id": next(self._update_ids), kind: message}

    def make_callback_query(
        self,
        chat_id: int,
        data: str,
        message_id: int | None = None,
        user_id: int | None = None,
        *,
        first_name: str = "Erika",
        language_code: str | None = "de",
    ) -> JSONDict:
        """A callback_query Update (not queued) for a button on a bot message in ``chat_id``.

        Without ``message_id`` the newest bot message with an inline keyboard in that chat is used
        (else the newest bot message, else an invented one).
        """
        chat = self._chats.get(chat_id) or self._invent_chat(chat_id)
        user = self._user(user_id if user_id is not None else self._default_user_id(chat_id, chat["type"]), first_name, False, language_code, None)
        message = self._callback_message(chat_id, chat, message_id)
        query_id = str(next(self._callback_ids))
        self._open_callback_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(abs(hash((self.bot_user["id"], chat_id))) % 10**18),
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def push_message(
        self,
        chat_id: int,
        text: str,
        chat_type: str = "private",
        user_id: int | None = None,
        first_name: str = "Erika",
        is_bot: bool = False,
        entities: list[JSONDict] | None = None,
        **extra: Any,
    ) -> JSONDict:
        """Queue a user's text message for getUpdates; returns the Update."""
        update = self.make_update(chat_id, text, chat_type, user_id, first_name, is_bot, entities, **extra)
        return self._enqueue(update)

    def push_callback_query(self, chat_id: int, data: str, message_id: int | None = None, user_id: int | None = None, **extra: Any) -> JSONDict:
        """Queue a button press (callback_query); returns the Update."""
        return self._enqueue(self.make_callback_query(chat_id, data, message_id, user_id, **extra))

    def push_update(self, raw: JSONDict) -> JSONDict:
        """Queue any update (sticker, photo, edited_message, my_chat_member, ...) under a fresh update_id."""
        update = {"update_id": next(self._update_ids), **{k: v for k, v in raw.items() if k != "update_id"}}
        for value in update.values():
            if isinstance(value, dict):
                self._remember_message(value.get("message", value))
        return self._enqueue(update)

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by an offset."""
        return list(self._updates)

    # ---- reading what the bot did ------------------------------------------------------------

    def messages_to(self, chat_id: int | str) -> list[JSONDict]:
        """The params of every successful sendMessage to ``chat_id``."""
        wanted = _normalise_chat_id(chat_id)
        return [p for method, p in self.sent if method == "sendMessage" and p.get("chat_id") == wanted]

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """A message as it stands now, edits included."""
        return self._messages.get((chat_id, message_id))

    async def wait_for(
        self,
        what: int | Callable[[JSONDict], bool] = 1,
        timeout: float = 10.0,
        *,
        chat_id: int | str | None = None,
        method: str = "sendMessage",
    ) -> list[JSONDict]:
        """Wait until ``what`` successful ``method`` calls arrived (count), or one matching a predicate.

        The predicate gets the params of a single call. Returns the params of all calls counted
        (for a predicate: the matching ones). Raises TimeoutError listing what was sent instead.
        """
        wanted_chat = None if chat_id is None else _normalise_chat_id(chat_id)

        def matching() -> list[JSONDict]:
            found = [p for m, p in self.sent if m == method and (wanted_chat is None or p.get("chat_id") == wanted_chat)]
            return [p for p in found if what(p)] if callable(what) else found

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._sent_changed
            found = matching()
            enough = bool(found) if callable(what) else len(found) >= what
            if enough:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                sent = [(m, p.get("text", "")) for m, p in self.sent]
                raise TimeoutError(f"waited {timeout}s for {what!r} {method} calls; sent so far: {sent}")
            await _wait(event, remaining)

    # ---- steering the fake -------------------------------------------------------------------

    def fail_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 Too Many Requests."""
        self._failures[method.lower()] = [times, retry_after]

    def break_next(self, method: str, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 502 Bad Gateway, as Telegram's front
        end does under load (python-telegram-bot raises NetworkError)."""
        self._broken[method.lower()] = times

    def reject_next(self, method: str, error_code: int, description: str, times: int = 1, parameters: JSONDict | None = None) -> None:
        """Answer the next ``times`` calls of ``method`` with this Bot API error (nothing is carried out)."""
        self._rejections.setdefault(method.lower(), []).extend(ApiError(error_code, description, parameters) for _ in range(times))

    def hang_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Carry out the next ``times`` calls of ``method`` at once but answer only after ``seconds``."""
        self._hangs.setdefault(method.lower(), []).extend([seconds] * times)

    def redeliver(self, update: JSONDict) -> JSONDict:
        """Queue an update again with its own ``update_id``: what Telegram does with updates a bot
        fetched but had not confirmed (by a later ``offset``) when it died."""
        return self._enqueue(update)

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot: sending to the chat answers 403."""
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """The user unblocked the bot again."""
        self._blocked.discard(chat_id)

    # ---- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json(ApiError(401, "Unauthorized").payload(), 401)
        known = self._handlers.get(request.match_info["method"].lower())
        if known is None:
            return _json(ApiError(404, "Not Found: method not found").payload(), 404)
        name, handler = known
        if self._broken.get(name.lower(), 0) > 0:
            self._broken[name.lower()] -= 1
            self.calls.append((name, {}, 502))
            return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        params: JSONDict = {}
        try:
            params = decode_params(await _read_raw_params(request))
            failure = self._failures.get(name.lower())
            if failure and failure[0] > 0:
                failure[0] -= 1
                self.rate_limited += 1
                raise ApiError(429, f"Too Many Requests: retry after {failure[1]}", {"retry_after": failure[1]})
            rejections = self._rejections.get(name.lower())
            if rejections:
                raise rejections.pop(0)
            outcome = await handler(params)
        except ApiError as error:
            self.calls.append((name, params, error.error_code))
            return _json(error.payload(), error.error_code)
        self.calls.append((name, params, 200))
        if name not in _UNRECORDED:
            self.sent.append((name, params))
            self.sent_at.append(time.monotonic())
            self._notify_sent()
        hangs = self._hangs.get(name.lower())
        if hangs:
            await asyncio.sleep(hangs.pop(0))  # done already: only the answer is late
        if isinstance(outcome, _Ok):
            return _json({"ok": True, "result": outcome.result, "description": outcome.description}, 200)
        return _json({"ok": True, "result": outcome}, 200)

    # ---- Bot API methods ---------------------------------------------------------------------

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify_updates()  # an older long poll ends with 409
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self.allowed_updates = list(allowed) if isinstance(allowed, list) and allowed else None
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._updates = self._updates[offset:]
        limit = params.get("limit", 100)
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        timeout = params.get("timeout", 0)
        timeout = max(float(timeout), 0.0) if isinstance(timeout, int | float) else 0.0

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._updates_changed
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
            if self.webhook_url:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            remaining = deadline - loop.time()
            if self._updates or remaining <= 0 or self._stopping:
                return self._updates[:limit]
            await _wait(event, remaining)

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._resolve_chat(params.get("chat_id"), sending=True)
        text, entities = self._formatted_text(params)
        markup = params.get("reply_markup")
        if markup is not None:
            check_reply_markup(markup)
        message: JSONDict = {
            "message_id": self._next_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        if "message_thread_id" in params:
            message["message_thread_id"] = params["message_thread_id"]
        reply_to = params.get("reply_to_message_id")
        without_reply = bool(params.get("allow_sending_without_reply"))
        if isinstance(params.get("reply_parameters"), dict):
            reply_to = params["reply_parameters"].get("message_id")
            without_reply = bool(params["reply_parameters"].get("allow_sending_without_reply"))
        replied = self._messages.get((chat["id"], reply_to)) if isinstance(reply_to, int) else None
        if reply_to is not None and replied is None and not without_reply:
            raise bad_request("message to be replied not found")
        if replied is not None:
            message["reply_to_message"] = replied
        message["text"] = text
        if entities:
            message["entities"] = entities
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._messages[(chat["id"], message["message_id"])] = message
        return message

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        text, entities = self._formatted_text(params)
        markup = params.get("reply_markup")
        if markup is not None:
            check_reply_markup(markup)
        if params.get("inline_message_id"):
            return True  # inline messages are not stored; Telegram answers True for them
        chat = self._resolve_chat(params.get("chat_id"), sending=True)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise bad_request("message identifier is not specified")
        message = self._messages.get((chat["id"], message_id))
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        new_markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        if (message.get("text"), message.get("entities"), message.get("reply_markup")) == (text, entities or None, new_markup):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly the same "
                "as a content and reply markup of the current message"
            )
        edited = {k: v for k, v in message.items() if k not in ("entities", "reply_markup")}
        edited.update(text=text, edit_date=int(time.time()))
        if entities:
            edited["entities"] = entities
        if new_markup is not None:
            edited["reply_markup"] = new_markup
        self._messages[(chat["id"], message_id)] = edited
        return edited

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup = params.get("reply_markup")
        if markup is not None:
            check_reply_markup(markup)
        if params.get("inline_message_id"):
            return True
        chat = self._resolve_chat(params.get("chat_id"), sending=True)
        message = self._messages.get((chat["id"], params.get("message_id")))  # type: ignore[arg-type]
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        new_markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        if message.get("reply_markup") == new_markup:
            raise bad_request("message is not modified: specified new message content and reply markup are exactly the same "
                              "as a content and reply markup of the current message")
        edited = {k: v for k, v in message.items() if k != "reply_markup"}
        edited["edit_date"] = int(time.time())
        if new_markup is not None:
            edited["reply_markup"] = new_markup
        self._messages[(chat["id"], edited["message_id"])] = edited
        return edited

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_callback_queries:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        self._open_callback_queries.discard(query_id)
        self.answered_callback_queries[query_id] = params
        return True

    async def _set_webhook(self, params: JSONDict) -> _Ok:
        url = str(params.get("url", "")).strip()
        if not url:
            return await self._delete_webhook(params)
        if not self.allow_any_webhook_url:
            parts = urlsplit(url)
            if parts.scheme != "https":
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if (parts.port or 443) not in (80, 88, 443, 8443):
                raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self.allowed_updates = list(allowed) if isinstance(allowed, list) and allowed else None
        self._custom_certificate = isinstance(params.get("certificate"), UploadedFile)
        already = url == self.webhook_url and secret == self.webhook_secret
        self.webhook_url, self.webhook_secret = url, None if secret is None else str(secret)
        self._notify_updates()  # a running long poll ends with 409
        return _Ok(True, "Webhook is already set" if already else "Webhook was set")

    async def _delete_webhook(self, params: JSONDict) -> _Ok:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        was_set = bool(self.webhook_url)
        self.webhook_url, self.webhook_secret = "", None
        return _Ok(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": bool(self.webhook_url) and self._custom_certificate,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_url:
            info.update(ip_address="127.0.0.1", max_connections=40)
            if self.allowed_updates is not None:
                info["allowed_updates"] = self.allowed_updates
        return info

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object" if not isinstance(commands, list) else "too many commands")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        if commands:
            self.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._resolve_chat(params.get("chat_id"), sending=True)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._resolve_chat(params.get("chat_id"), sending=False)
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    # ---- helpers -----------------------------------------------------------------------------

    def _formatted_text(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        text = params.get("text")
        if not isinstance(text, str):
            raise bad_request("message text is empty")
        entities: list[JSONDict] = []
        parse_mode = str(params.get("parse_mode") or "").lower()
        if isinstance(params.get("entities"), list):
            entities = list(params["entities"])  # explicit entities win over parse_mode
        elif parse_mode == "html":
            try:
                text, entities = parse_html(text)
            except HtmlParseError as error:
                raise bad_request(f"can't parse entities: {error}") from None
        elif parse_mode not in ("", "markdown", "markdownv2"):
            raise bad_request("unsupported parse_mode")
        text, entities = _strip_text(text, entities)
        if not text:
            raise bad_request("message text is empty")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise bad_request("message is too long")
        return text, entities

    def _resolve_chat(self, chat_id: Any, *, sending: bool) -> JSONDict:
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if isinstance(chat_id, str):
            username = chat_id.removeprefix("@").lower()
            for chat in self._chats.values():
                if chat_id.startswith("@") and str(chat.get("username", "")).lower() == username:
                    return chat
            raise bad_request("chat not found")
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            raise bad_request("chat not found")
        known = self._chats.get(chat_id)
        if known is None and self.known_chats_only:
            raise bad_request("chat not found")
        chat = known if known is not None else self._invent_chat(chat_id)
        if sending and chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _invent_chat(self, chat_id: int) -> JSONDict:
        if chat_id > 0:
            chat: JSONDict = {"id": chat_id, "first_name": "Erika", "type": "private"}
        elif chat_id <= -1_000_000_000_000:
            chat = {"id": chat_id, "title": f"Gruppe {chat_id}", "type": "supergroup"}
        else:
            chat = {"id": chat_id, "title": f"Gruppe {chat_id}", "type": "group"}
        self._chats[chat_id] = chat
        return chat

    def _chat_for_push(self, chat_id: int, chat_type: str, user: JSONDict | None) -> JSONDict:
        if chat_type == "private":
            chat: JSONDict = {"id": chat_id, "first_name": user["first_name"] if user else "Erika", "type": "private"}
            if user and user.get("username"):
                chat["username"] = user["username"]
        else:
            chat = {"id": chat_id, "title": self._chats.get(chat_id, {}).get("title", f"Gruppe {chat_id}"), "type": chat_type}
        self._chats[chat_id] = chat
        return chat

    @staticmethod
    def _default_user_id(chat_id: int, chat_type: str) -> int:
        return chat_id if chat_type == "private" else 424242

    @staticmethod
    def _user(user_id: int, first_name: str, is_bot: bool, language_code: str | None, username: str | None) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code and not is_bot:
            user["language_code"] = language_code
        return user

    def _callback_message(self, chat_id: int, chat: JSONDict, message_id: int | None) -> JSONDict:
        if message_id is not None and (chat_id, message_id) in self._messages:
            return self._messages[(chat_id, message_id)]
        if message_id is None:
            own = [m for (c, _), m in sorted(self._messages.items()) if c == chat_id and m.get("from", {}).get("id") == self.bot_user["id"]]
            with_keyboard = [m for m in own if "reply_markup" in m]
            if with_keyboard or own:
                return (with_keyboard or own)[-1]
            message_id = self._next_message_id(chat_id)
        message = {"message_id": message_id, "from": self.bot_user, "chat": chat, "date": int(time.time()), "text": "…"}
        self._messages[(chat_id, message_id)] = message
        return message

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _remember_message(self, message: Any) -> None:
        if not (isinstance(message, dict) and isinstance(message.get("chat"), dict) and isinstance(message.get("message_id"), int)):
            return
        chat_id = message["chat"].get("id")
        if isinstance(chat_id, int):
            self._chats.setdefault(chat_id, message["chat"])
            self._messages[(chat_id, message["message_id"])] = message
            self._message_ids[chat_id] = max(self._message_ids.get(chat_id, 0), message["message_id"])

    def _enqueue(self, update: JSONDict) -> JSONDict:
        kind = next((k for k in update if k != "update_id"), "")
        allowed = kind in self.allowed_updates if self.allowed_updates is not None else kind not in _DEFAULT_EXCLUDED_UPDATES
        if allowed:
            self._updates.append(update)
            self._notify_updates()
        else:
            self.dropped_updates.append(update)
        return update

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _notify_updates(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    def _notify_sent(self) -> None:
        self._sent_changed.set()
        self._sent_changed = asyncio.Event()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _normalise_chat_id(chat_id: int | str) -> int | str:
    if isinstance(chat_id, str) and _INT_RE.fullmatch(chat_id.strip()):
        return int(chat_id)
    return chat_id


async def _read_raw_params(request: web.Request) -> JSONDict:
    raw: JSONDict = dict(request.query)
    if not request.can_read_body:
        return raw
    if request.content_type == "application/json":
        body = await request.read()
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(data, dict):
            raise bad_request("can't parse JSON object")
        raw.update(data)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                raw[key] = UploadedFile(value.filename, value.content_type, value.file.read())
            else:
                raw[key] = value
    return raw


def _json(payload: JSONDict, status: int) -> web.Response:
    return web.json_response(payload, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))
