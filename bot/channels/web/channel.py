"""Web chat adapter: WebSocket and HTTP messages → core.Incoming, core.Reply → JSON items the widget
renders with ``textContent`` (bot/channels/web/static/widget.js).

It holds no business rules: it decides only what the web forces on it (sessions that survive a
lost connection, limits for an open endpoint, which pages may embed it). The wire protocol:

page → server (WebSocket text frames, or the body of ``POST /api/message``)::

    {"type": "hello", "session": "<random id>", "profile": "buerger", "last_seq": 12, "lang": "de"}
    {"type": "message", "cid": "<client id>", "text": "Perso beantragen"}
    {"type": "message", "cid": "…", "choice": "entry:personalausweis"}
    {"type": "message", "cid": "…", "command": "start"}
    {"type": "message", "cid": "…", "vote": "up", "answer": "<the reply's feedback token>"}

server → page::

    {"type": "welcome", "next_seq": 13}
    {"type": "answer", "seq": 13, "cid": "…", "said": "Perso beantragen",
     "replies": [{"blocks": […], "buttons": […], "choices": […], "language": "de", "feedback": "de.1a2b…"}]}

``feedback`` is present on answers the citizen may rate (bot.core.feedback): the widget shows
👍/👎 under them and sends the token back with ``vote`` ("up" or "down").

``last_seq`` in ``hello`` is the page's acknowledgement: it gets the kept answers after it, and
drops any number it has seen. Without WebSockets the page posts messages to ``/api/message`` (the
answer comes back in the response, with everything after the ``after`` it sends) and reads what it
missed with ``GET /api/poll?session=…&profile=…&after=<seq>[&wait=1]`` (``wait``: a long poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from bot.blocking import ChatTurns, Handle
from bot.channels.markup import to_blocks
from bot.channels.web.protocol import CLIENT_ID, SESSION_ID, Item, RateLimit, Session, Sessions
from bot.config import Settings
from bot.core.chat_commands import CHAT_COMMANDS
from bot.core.models import Incoming, Reply, Vote
from bot.core.texts import TEXTS
from bot.core.texts import text as core_text
from bot.web.server import HttpServer

log = logging.getLogger(__name__)

CHANNEL = "web"
_BODY_LIMIT = 64 * 1024  # a message is at most max_message_chars; this bounds the JSON around it
_POLL_SECONDS = 25.0  # below the idle timeouts of common proxies
_EXPIRE_SECONDS = 60.0
_STATIC = {
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
    "chat.html": "text/html; charset=utf-8",
}
# The widget's labels by the name it knows them under: its own (web_*) and those of the vote buttons.
_UI_KEYS = {key[4:]: key for key in TEXTS if key.startswith("web_") and key not in ("web_too_fast", "web_too_long")} | {
    key: key for key in ("feedback_question", "feedback_helpful", "feedback_not_helpful")
}
_VOTES = {"up": True, "down": False}
_TOKEN_LIMIT = 64  # characters of a feedback token the page may send back (the core's are 20 at most)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class WebSettings:
    listen: str = "127.0.0.1"
    port: int = 8090
    allowed_origins: tuple[str, ...] = ()  # empty: any page may embed the widget
    messages_per_minute: int = 20
    ip_messages_per_minute: int = 120
    new_sessions_per_minute: int = 30
    max_message_chars: int = 1000
    outbox_size: int = 20
    max_sessions: int = 10_000
    session_idle_seconds: float = 3600.0
    forwarded_for: bool = False
    poll_seconds: float = _POLL_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> WebSettings:
        w = settings.web
        return cls(listen=w.listen, port=w.port, allowed_origins=tuple(w.allowed_origins), messages_per_minute=w.messages_per_minute,
                   ip_messages_per_minute=w.ip_messages_per_minute, new_sessions_per_minute=w.new_sessions_per_minute, max_message_chars=w.max_message_chars, outbox_size=w.outbox_size,
                   max_sessions=w.max_sessions, session_idle_seconds=w.session_idle_minutes * 60.0, forwarded_for=w.forwarded_for)


# Most answers are a knowledge entry's text, the same for every citizen who asks: parsing its
# Markdown again each time cost about a tenth of a turn's CPU under load. The items built from it
# are only serialised, never changed, so sharing one rendering between them is safe; a reloaded
# knowledge base brings other texts, hence other keys (nothing stale is served).
_RENDERED_REPLIES = 2048


@functools.lru_cache(maxsize=_RENDERED_REPLIES)
def reply_json(reply: Reply) -> dict[str, Any]:
    """A reply as the widget renders it: blocks of text spans, link buttons, choice buttons
    (shared between the items of equal replies, so never to be changed)."""
    return {
        "blocks": to_blocks(reply.text),
        "buttons": [{"label": b.label, "url": b.url} for b in reply.buttons if b.url],
        "choices": [{"label": c.label, "payload": c.payload} for c in reply.choices if c.payload],
        "language": reply.language,
        **({"feedback": reply.feedback} if reply.feedback else {}),
    }


class WebChannel:
    """Serves the widget, the chat page and the chat protocol for the given profiles' dialogues."""

    def __init__(self, settings: WebSettings, handles: Mapping[str, Handle], default_language: str = "de") -> None:
        self.settings = settings
        self.handles = dict(handles)
        self._turns = ChatTurns(self._handle)
        self.default_language = default_language
        self.sessions = Sessions(settings.outbox_size, settings.max_sessions, settings.session_idle_seconds)
        self.session_limit = RateLimit(settings.messages_per_minute)
        self.ip_limit = RateLimit(settings.ip_messages_per_minute)
        self.new_session_limit = RateLimit(settings.new_sessions_per_minute)
        self.app = self._build()
        self.server = HttpServer(self.app, settings.listen, settings.port)
        self._expire_task: asyncio.Task[None] | None = None
        self._static = {name: (resources.files(__package__) / "static" / name).read_bytes() for name in _STATIC}

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.server.start()
        self._expire_task = asyncio.create_task(self._expire_loop())
        log.info("web chat listening on %s:%d for profiles %s", self.settings.listen, self.server.port, ", ".join(self.handles))

    async def stop(self) -> None:
        if self._expire_task is not None:
            self._expire_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expire_task
        await self.server.stop()

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(_EXPIRE_SECONDS)
            self.sessions.expire()

    def _build(self) -> web.Application:
        app = web.Application(client_max_size=_BODY_LIMIT, middlewares=[self._headers])
        app.router.add_get("/widget.js", self._file("widget.js"))
        app.router.add_get("/widget.css", self._file("widget.css"))
        app.router.add_get("/chat", self._file("chat.html"))
        app.router.add_get("/ui.json", self._ui)
        app.router.add_get("/ws", self._websocket)
        app.router.add_post("/api/message", self._post_message)
        app.router.add_get("/api/poll", self._poll)
        app.router.add_route("OPTIONS", "/api/{name}", self._preflight)
        return app

    # -- HTTP ----------------------------------------------------------------------------------
    @web.middleware
    async def _headers(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        ancestors = " ".join(self.settings.allowed_origins) or "'none'"
        # The chat page runs with no inline script or style at all; the widget on a city page
        # lives under that page's policy, which needs to allow this origin for script, style and connect.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
            f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        origin = request.headers.get("Origin")
        if origin and self._origin_allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    def _origin_allowed(self, origin: str | None) -> bool:
        return not self.settings.allowed_origins or origin is None or origin in self.settings.allowed_origins

    def _file(self, name: str) -> Callable[[web.Request], Any]:
        async def serve(request: web.Request) -> web.Response:
            response = web.Response(body=self._static[name], headers={"Content-Type": _STATIC[name], "Cache-Control": "public, max-age=300"})
            response.enable_compression()
            return response

        return serve

    async def _ui(self, request: web.Request) -> web.Response:
        """The widget's own labels in the page's language (German or English where none exists)."""
        wanted = _language(request.query.get("lang"))
        # Labels in a language they do not exist in come in English, and say so, so that the widget
        # marks them as English for screen readers (the direction still follows the page).
        lang = wanted if wanted in TEXTS["web_title"] else "en" if wanted else self.default_language
        return web.json_response({"lang": lang, "texts": {name: core_text(key, lang) for name, key in _UI_KEYS.items()}})

    async def _preflight(self, request: web.Request) -> web.Response:
        if not self._origin_allowed(request.headers.get("Origin")):
            return web.Response(status=403)
        return web.Response(status=204, headers={"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type",
                                                 "Access-Control-Max-Age": "600"})

    async def _post_message(self, request: web.Request) -> web.Response:
        if not self._origin_allowed(request.headers.get("Origin")):
            return web.json_response({"error": "origin"}, status=403)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "not a JSON object"}, status=400)
        try:
            session = self._session(body, self._address(request))
        except Refused as refused:
            return web.json_response({"error": refused.reason}, status=refused.status)
        after = _int(body.get("after"))
        await self._take(session, body, self._address(request))
        return web.json_response({"items": session.after(after)})

    async def _poll(self, request: web.Request) -> web.Response:
        if not self._origin_allowed(request.headers.get("Origin")):
            return web.json_response({"error": "origin"}, status=403)
        try:
            session = self._session(dict(request.query), self._address(request))
        except Refused as refused:
            return web.json_response({"error": refused.reason}, status=refused.status)
        after = _int(request.query.get("after"))
        if not session.after(after) and request.query.get("wait") == "1":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.changed.wait(), self.settings.poll_seconds)
        return web.json_response({"items": session.after(after), "next_seq": session.next_seq})

    # -- WebSocket -----------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_allowed(request.headers.get("Origin")):
            return web.Response(status=403)
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=_BODY_LIMIT)
        await ws.prepare(request)
        address = self._address(request)
        session: Session | None = None
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    break
                try:
                    message = json.loads(frame.data)
                except ValueError:
                    break
                if not isinstance(message, dict):
                    break
                if message.get("type") == "hello":
                    try:
                        session = self._session(message, address)
                    except Refused as refused:
                        await ws.close(code=4000 + refused.status, message=refused.reason.encode())
                        break
                    await self._resume(ws, session, _int(message.get("last_seq")))
                elif message.get("type") == "message" and session is not None:
                    item = await self._take(session, message, address)
                    if item is not None:
                        await ws.send_json(item)
        except ConnectionError:
            pass  # the page went away; what it missed waits in the outbox
        finally:
            if session is not None and session.connection is ws:
                session.connection = None
        return ws

    async def _resume(self, ws: web.WebSocketResponse, session: Session, last_seq: int) -> None:
        previous = session.connection
        session.connection = ws
        if isinstance(previous, web.WebSocketResponse) and previous is not ws:
            # A half-open connection of the same tab: the page has given up on it.
            asyncio.create_task(previous.close())  # noqa: RUF006  (nothing to wait for)
        await ws.send_json({"type": "welcome", "next_seq": session.next_seq})
        for item in session.after(last_seq):
            await ws.send_json(item)

    # -- both transports -----------------------------------------------------------------------
    def _session(self, message: Mapping[str, Any], address: str) -> Session:
        """The message's session, opened if new; raises :class:`Refused` for a malformed id, an
        unknown profile, or one address opening too many sessions."""
        session_id, profile = message.get("session"), message.get("profile") or next(iter(self.handles), None)  # the chat page without ?profile=
        if not isinstance(session_id, str) or not SESSION_ID.match(session_id) or profile not in self.handles:
            raise Refused(400, "unknown session or profile")
        session = self.sessions.find(str(profile), session_id)
        if session is None:
            if not self.new_session_limit.allow(address):
                raise Refused(429, "too many new sessions")
            session = self.sessions.open(str(profile), session_id)
        if session.language is None:
            session.language = _language(message.get("lang"))
        return session

    async def _take(self, session: Session, message: Mapping[str, Any], address: str) -> Item | None:
        """Answer one message of the page once; None for a resend or a malformed message."""
        cid = message.get("cid")
        if not isinstance(cid, str) or not CLIENT_ID.match(cid) or session.seen_before(cid):
            return None
        lang = session.language or self.default_language
        said, choice, command = (message.get(k) for k in ("text", "choice", "command"))
        said = said if isinstance(said, str) else ""
        vote = _vote(message)
        if vote is None and "vote" in message:
            return None  # malformed: no page of ours sends that
        refusal: list[Reply] | None = None
        if len(said) > self.settings.max_message_chars or (isinstance(choice, str) and len(choice) > 200):
            refusal = [Reply(core_text("web_too_long", lang, limit=str(self.settings.max_message_chars)), language=lang)]
        elif not self.session_limit.allow(f"{session.profile}/{session.session_id}") or not self.ip_limit.allow(address):
            refusal = [Reply(core_text("web_too_fast", lang), language=lang)]
        turns = self._turns
        # The turn runs in the process's pool (bot.blocking); a session's answers keep the order of
        # its messages, also when the page posts the next one before the first is answered.
        async with turns.in_order((session.profile, session.session_id)):
            if refusal is not None:
                replies = refusal
            else:
                try:
                    incoming = (Incoming(CHANNEL, session.session_id, "", session.language, session.profile, vote=vote) if vote is not None
                                else self._incoming(session, said, choice, command, cid))
                    replies = list(await turns.answer(incoming))
                except Exception:  # the client id is taken: the page must hear something, or it waits forever
                    log.exception("a web chat message could not be handled")
                    replies = [Reply(core_text("technical_problem", lang), language=lang)]
            if replies:
                session.language = replies[-1].language
            # What the person said travels with the answer, so a reloaded page shows the whole exchange.
            shown = "" if (isinstance(command, str) and command) or vote is not None else said
            if isinstance(choice, str) and choice:
                label = message.get("label")
                shown = label[:200] if isinstance(label, str) else ""
            return session.push({"type": "answer", "cid": cid, "said": shown, "replies": [reply_json(r) for r in replies]})

    def _handle(self, incoming: Incoming) -> Sequence[Reply]:
        """The turn of the dialogue of the message's profile (in the pool, see bot.blocking)."""
        return self.handles[incoming.profile](incoming)

    def _incoming(self, session: Session, said: str, choice: object, command: object, client_id: str) -> Incoming:
        chat, hint, profile = session.session_id, session.language, session.profile
        if isinstance(command, str) and command:
            return Incoming(CHANNEL, chat, "", hint, profile, command=command.lower()[:32], message_id=client_id)
        if isinstance(choice, str) and choice:
            return Incoming(CHANNEL, chat, "", hint, profile, choice=choice, message_id=client_id)
        typed = CHAT_COMMANDS.split(said)
        if typed is not None:
            return Incoming(CHANNEL, chat, "", hint, profile, command=typed[0], argument=typed[1], message_id=client_id)
        return Incoming(CHANNEL, chat, said, hint, profile, message_id=client_id)

    def _address(self, request: web.Request) -> str:
        if self.settings.forwarded_for:
            hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
            if hops:
                return hops[-1]
        return request.remote or "unknown"


def _vote(message: Mapping[str, Any]) -> Vote | None:
    """The vote a message carries ("vote": "up"/"down" on the answer with token "answer"), if any."""
    helpful, answer = _VOTES.get(str(message.get("vote"))), message.get("answer")
    if helpful is None or not isinstance(answer, str) or not answer or len(answer) > _TOKEN_LIMIT:
        return None
    return Vote(answer, helpful)


def _int(value: object) -> int:
    try:
        return max(0, int(str(value)))
    except ValueError:
        return 0


def _language(value: object) -> str | None:
    """A two-letter language code from the page ("de-DE" → "de"), or None."""
    if not isinstance(value, str):
        return None
    code = value[:2].lower()
    return code if len(code) == 2 and code.isalpha() else None


def build_web_channel(settings: Settings, handles: Mapping[str, Handle]) -> WebChannel:
    """The web channel of the profiles with ``web = true`` (``handles`` by profile name)."""
    return WebChannel(WebSettings.from_settings(settings), handles, settings.default_language)
