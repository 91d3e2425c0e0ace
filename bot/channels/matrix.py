"""Matrix adapter (matrix-nio ≥ 0.26, E2EE with vodozemac): events → core.Incoming, core.Reply →
``m.notice`` with HTML and a plain-text fallback.

It runs its own sync loop instead of ``sync_forever`` because two things must hold that nio does
not do by itself: no message is skipped when a timeline comes back ``limited`` (the gap is filled
with ``/messages``), and a sync token is stored only once every message of its batch and of all
batches before it has been answered (or, when it cannot be decrypted yet, set aside in the state
file until its room key comes), so a crash (even SIGKILL) loses nothing: the next start
syncs from the last stored token and sees the unanswered messages again. Messages of that replay
that had been answered already get their answers again under the same transaction ids (derived
from the question's event id), which the homeserver drops as repeats, so the citizen sees each
answer once. The sync loop itself does not wait for the answers: it keeps reading while they are
sent.

Answers the citizen may rate carry their feedback token in the content (``FEEDBACK_KEY``) and a
line inviting a 👍 or 👎 reaction. A reaction (``m.reaction``, ``m.annotation``) with one of them
on such an answer is its vote: one per answer event, the bot's own reactions ignored. The token is
read from the answer itself (fetched from the homeserver when this process did not send it), so
votes on answers from before a restart count too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import os
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    ReactionEvent,
    RoomEncryptedMedia,
    RoomGetEventResponse,
    RoomMemberEvent,
    RoomMessageMedia,
    RoomMessagesError,
    RoomMessageText,
    RoomSendError,
    RoomSendResponse,
    SyncError,
    SyncResponse,
)
from nio.api import MessageDirection
from nio.exceptions import LocalProtocolError

from bot.blocking import ChatTurns, Handle
from bot.channels.markup import reply_as_html, reply_as_plain, to_html
from bot.core.chat_commands import CHAT_COMMANDS, CommandKey
from bot.core.models import Incoming, Reply, Vote
from bot.core.ports import DeliveryFailed
from bot.core.texts import text as core_text
from bot.ops.logs import pseudonym, register_secret

log = logging.getLogger(__name__)
_NOT_IN_ROOM = frozenset({"M_FORBIDDEN", "M_NOT_FOUND"})  # retrying will not help

CHANNEL = "matrix"
# Images, files, audio and video, plain or encrypted: what the bot cannot read.
_MEDIA = (RoomMessageMedia, RoomEncryptedMedia)
# Matrix says nothing about a person's language, so the note is given in both.
_TEXT_ONLY = Reply(core_text("text_only", "de") + "\n\n" + core_text("text_only", "en"))
# How long an encrypted message waits for its room key before it is given up.
_KEY_WAIT_MS = 24 * 3600 * 1000
_KEY_WAIT_MAX = 1000  # messages waiting at once; bounds the state file
FEEDBACK_KEY = "org.buergerbot.feedback"  # the answer's feedback token (bot.core.feedback), in its content
# Reactions that are votes; clients send the emoji with or without the variation selector.
_VOTES = {"👍": True, "👍️": True, "👎": False, "👎️": False}
_REMEMBERED = 10_000  # answer event ids kept in memory, with their token or as voted on


@dataclass(frozen=True)
class MatrixSettings:
    homeserver: str
    user_id: str
    store_dir: Path
    password: str | None = None
    access_token: str | None = None
    device_name: str = "Bürgerbot"
    profile: str = "default"
    allowed_servers: tuple[str, ...] = ()
    command_prefix: str = "!bot"
    encryption: bool = True
    timeline_limit: int = 100
    sync_timeout_ms: int = 30_000
    concurrency: int = 8
    max_rate_limit_wait_s: float = 30.0
    send_attempts: int = 5
    ignore_users: tuple[str, ...] = field(default_factory=tuple)


def incoming_from_text(room_id: str, text: str, profile: str = "default", event_id: str | None = None) -> Incoming:
    """A message the bot answers, as the core sees it: "!link <token>", "!termin 3.12. 10:30" or
    "/help" become commands when the core knows them; everything else is text."""
    command = CHAT_COMMANDS.split(text)
    if command is not None:
        return Incoming(CHANNEL, room_id, "", profile=profile, command=command[0], argument=command[1], message_id=event_id)
    return Incoming(CHANNEL, room_id, text, profile=profile, message_id=event_id)


def with_command_help(incoming: Incoming, replies: Sequence[Reply]) -> Sequence[Reply]:
    """Matrix has no command menu: the answer to "!help" also lists the commands."""
    command = CHAT_COMMANDS.find(incoming.command) if incoming.command else None
    if command is None or command.key is not CommandKey.HELP or not replies:
        return replies
    lang = replies[-1].language
    return [*replies, Reply(CHAT_COMMANDS.help_text(lang, "!"), language=lang)]


@dataclass
class _Batch:
    """A sync response whose token may be stored once ``open`` (its handler tasks) is empty."""

    token: str
    open: set[asyncio.Task[None]]


def _answer_txn(event_id: str, index: int) -> str:
    """The transaction id of the index-th answer to a message: the same on every replay."""
    return "answer-" + hashlib.sha256(f"{event_id}/{index}".encode()).hexdigest()[:32]


def _answer_relation(event_id: str, sender: str, relates: dict[str, Any], direct: bool) -> dict[str, Any]:
    """What an answer's content gains to sit where the question was asked: the question's thread,
    and, where others talk too, the mark of a reply to the question (which notifies the asker)."""
    reply = {"m.in_reply_to": {"event_id": event_id}}
    mentions = {"m.mentions": {"user_ids": [sender]}}
    root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    if isinstance(root, str):
        # In a direct chat the reply is only the fallback for clients that do not show threads.
        thread = {"rel_type": "m.thread", "event_id": root, "is_falling_back": direct, **reply}
        return {"m.relates_to": thread} if direct else {"m.relates_to": thread, **mentions}
    return {} if direct else {"m.relates_to": reply, **mentions}


class MatrixChannel:
    def __init__(self, settings: MatrixSettings, handle: Handle) -> None:
        if not settings.password and not settings.access_token:
            raise ValueError("matrix needs a password or an access token")
        self.settings = settings
        self._turns = ChatTurns(handle)
        settings.store_dir.mkdir(parents=True, exist_ok=True)
        self._state_path = settings.store_dir / "state.json"
        self._state: dict[str, Any] = self._load_state()
        config = AsyncClientConfig(
            encryption_enabled=settings.encryption, store_sync_tokens=False, max_limit_exceeded=0, max_timeouts=3,
        )
        self.client = AsyncClient(settings.homeserver, settings.user_id, store_path=str(settings.store_dir), config=config)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._uncommitted: deque[_Batch] = deque()
        self._keys_requested: set[str] = set()  # megolm session ids
        self._decrypting: set[str] = set()  # event ids of waiting messages whose answer is on its way
        self._runner: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self._answer_tokens: OrderedDict[str, str] = OrderedDict()  # answer event id -> feedback token, sent by this process
        self._voted: OrderedDict[str, None] = OrderedDict()  # answer event ids voted on

    # -- state on disk ----------------------------------------------------------------------------
    def _load_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self._state_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def _save_state(self) -> None:
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state), encoding="utf-8")
        os.replace(tmp, self._state_path)  # atomic: a crash leaves the old or the new token

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._login()
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop syncing, let replies in flight finish, close the connection."""
        self._stopping.set()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.close()

    async def _login(self) -> None:
        s = self.settings
        saved = self._state.get("login")
        if saved and saved.get("user_id") == s.user_id:
            register_secret(saved["access_token"])
            self.client.restore_login(s.user_id, saved["device_id"], saved["access_token"])
        elif s.access_token:
            self.client.access_token = s.access_token
            whoami = await self.client.whoami()
            device_id = getattr(whoami, "device_id", None)
            if not device_id:
                raise RuntimeError("matrix: the access token has no device id")
            self.client.restore_login(s.user_id, device_id, s.access_token)
            self._state["login"] = {"user_id": s.user_id, "device_id": device_id, "access_token": s.access_token}
            self._save_state()
        else:
            resp = await self.client.login(password=s.password or "", device_name=s.device_name)
            if not isinstance(resp, LoginResponse):
                raise RuntimeError(f"matrix login failed: {getattr(resp, 'status_code', resp)}")
            # A token the password login issued is as secret as the password, but the
            # configuration never named it, so the log filter learns it here.
            register_secret(resp.access_token)
            self._state["login"] = {"user_id": s.user_id, "device_id": resp.device_id, "access_token": resp.access_token}
            self._save_state()
        if s.encryption and self.client.should_upload_keys:
            await self.client.keys_upload()

    # -- the sync loop -----------------------------------------------------------------------------
    def _filter(self) -> dict[str, Any]:
        return {
            "room": {
                "timeline": {"limit": self.settings.timeline_limit},
                "state": {"lazy_load_members": False},
                "ephemeral": {"not_types": ["*"]},
                "account_data": {"not_types": ["*"]},
            },
            "presence": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        }

    async def _run(self) -> None:
        since = self._state.get("next_batch")
        first = True
        backoff = 1.0
        while not self._stopping.is_set():
            resp = await self.client.sync(
                timeout=0 if first else self.settings.sync_timeout_ms, sync_filter=self._filter(), since=since,
                full_state=first,
            )
            if isinstance(resp, SyncError):
                wait = (getattr(resp, "retry_after_ms", None) or 0) / 1000 or backoff
                log.warning("matrix sync failed (%s); retrying in %.1fs", resp.status_code, wait)
                await asyncio.sleep(min(wait, 60))
                backoff = min(backoff * 2, 60)
                continue
            backoff = 1.0
            await self._crypto_housekeeping()
            if since is None:
                # The very first start: everything before now is history, never answered.
                started = self._mark_joined_now(resp)
            else:
                started = await self._handle_batch(resp, since)
            since = resp.next_batch
            self._commit_after(since, started)
            first = False
            self.ready.set()

    def _commit_after(self, token: str, tasks: Iterable[asyncio.Task[None]]) -> None:
        batch = _Batch(token, set(tasks))
        self._uncommitted.append(batch)
        for task in batch.open:  # a task done already gets its callback soon all the same
            task.add_done_callback(functools.partial(self._finished, batch))
        self._commit()

    def _finished(self, batch: _Batch, task: asyncio.Task[None]) -> None:
        batch.open.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            # Counted as done all the same: a message that makes the handler fail would fail again
            # on every replay and hold the token back for good.
            log.error("matrix handler failed: %s", type(error).__name__, exc_info=error)
        if not batch.open:
            self._commit()

    def _commit(self) -> None:
        """Store the newest token whose batch and all batches before it are answered."""
        token = None
        while self._uncommitted and not self._uncommitted[0].open:
            token = self._uncommitted.popleft().token
        if token is not None:
            self._state["next_batch"] = token
            self._save_state()

    async def _crypto_housekeeping(self) -> None:
        if not self.settings.encryption:
            return
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())

    def _mark_joined_now(self, resp: SyncResponse) -> list[asyncio.Task[None]]:
        now = int(time.time() * 1000)
        joined = self._state.setdefault("joined_at", {})
        for room_id, info in resp.rooms.join.items():
            joined.setdefault(room_id, now)
            self._learn_direct(room_id, [*info.state, *info.timeline.events])
        return [self._spawn(self._accept_invite(room_id, info.invite_state)) for room_id, info in resp.rooms.invite.items()]

    async def _handle_batch(self, resp: SyncResponse, since: str) -> list[asyncio.Task[None]]:
        """Start a handler task for every message of the batch, in timeline order; returns them."""
        # Keys came with this sync's to-device events (nio has taken them in): older messages first.
        started = self._retry_waiting()
        for room_id, info in resp.rooms.invite.items():
            await self._accept_invite(room_id, info.invite_state)
        for room_id, info in resp.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch:
                events = await self._fill_gap(room_id, info.timeline.prev_batch, since) + events
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            self._learn_direct(room_id, [*info.state, *events])
            for event in events:
                if isinstance(event, MegolmEvent):
                    decrypted = self._decrypt(event)
                    if decrypted is None:
                        self._wait_for_key(room_id, event)
                        continue
                    event = decrypted
                if isinstance(event, (RoomMessageText, *_MEDIA)):
                    started.append(self._spawn(self._on_message(room, event)))
                elif isinstance(event, ReactionEvent):
                    started.append(self._spawn(self._on_reaction(room, event)))
        return started

    async def _fill_gap(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        """Events between our last sync and the start of a limited timeline, oldest first."""
        missing: list[Any] = []
        start: str | None = prev_batch
        for _ in range(50):  # at most 5,000 events: beyond that the gap is logged, not walked
            resp = await self.client.room_messages(room_id, start=start, end=since, direction=MessageDirection.back, limit=100)
            if isinstance(resp, RoomMessagesError) or not resp.chunk:
                break
            missing.extend(resp.chunk)
            if not resp.end or resp.end == start:
                break
            start = resp.end
        else:
            log.error("matrix: gap in a room longer than 5,000 events; older messages were not answered")
        missing.reverse()
        return missing

    def _decrypt(self, event: MegolmEvent) -> Any:
        try:
            return self.client.decrypt_event(event)
        except Exception:  # nio raises several kinds; the message cannot be read either way
            return None

    # -- messages waiting for their room key --------------------------------------------------------
    def _wait_for_key(self, room_id: str, event: MegolmEvent) -> None:
        """Keep a message that cannot be decrypted (its key usually comes a moment later, as a
        to-device message) in the state file, and ask for the key."""
        pseudonymous = {"chat": pseudonym(CHANNEL, room_id)}
        if not self.settings.encryption:
            log.warning("matrix: an encrypted message was not answered: encryption is off", extra=pseudonymous)
            return
        waiting: list[dict[str, Any]] = self._state.setdefault("undecrypted", [])
        if any(entry["event"].get("event_id") == event.event_id for entry in waiting):
            return
        if len(waiting) >= _KEY_WAIT_MAX:
            log.error("matrix: %d messages wait for their room keys; this one stays unanswered", len(waiting), extra=pseudonymous)
            return
        log.info("matrix: a message waits for its room key", extra=pseudonymous)
        waiting.append({"room": room_id, "event": event.source, "since": int(time.time() * 1000)})
        if event.session_id not in self._keys_requested:
            self._keys_requested.add(event.session_id)
            self._spawn(self._request_key(event))

    async def _request_key(self, event: MegolmEvent) -> None:
        try:
            # To the bot's other devices; nio also takes a forwarded key only for a request it made.
            with contextlib.suppress(LocalProtocolError):  # asked already, in an earlier run
                await self.client.request_room_key(event)
            # And to the device that wrote the message, the one that surely has the session.
            if self.client.device_id:
                await self.client.to_device(event.as_key_request(event.sender, self.client.device_id, device_id=event.device_id))
        except Exception as exc:  # the key may still come unasked; the message keeps waiting
            log.warning("matrix: could not ask for a room key (%s)", type(exc).__name__)

    def _retry_waiting(self) -> list[asyncio.Task[None]]:
        """Start the answer to every waiting message whose key is there now; give up the ones
        that waited too long."""
        waiting: list[dict[str, Any]] = self._state.get("undecrypted", [])
        started: list[asyncio.Task[None]] = []
        if not waiting:
            return started
        keep = []
        now = int(time.time() * 1000)
        for entry in waiting:
            event_id = entry["event"].get("event_id")
            if event_id in self._decrypting:
                keep.append(entry)
                continue
            event = MegolmEvent.from_dict(entry["event"])
            room = self.client.rooms.get(entry["room"])
            decrypted = None
            if isinstance(event, MegolmEvent) and room is not None:
                event.room_id = entry["room"]
                decrypted = self._decrypt(event)
            if decrypted is None:
                if now - entry["since"] < _KEY_WAIT_MS:
                    keep.append(entry)
                else:
                    log.warning("matrix: no room key came for a message within a day; it stays unanswered",
                                extra={"chat": pseudonym(CHANNEL, entry["room"])})
                continue
            if isinstance(decrypted, (RoomMessageText, *_MEDIA)) and room is not None:
                self._decrypting.add(event_id)
                task = self._spawn(self._on_message(room, decrypted))
                # Taken off the list once answered: a crash before that answers it on the next start.
                task.add_done_callback(functools.partial(self._answered_waiting, event_id))
                started.append(task)
                keep.append(entry)
            elif isinstance(decrypted, ReactionEvent) and room is not None:
                started.append(self._spawn(self._on_reaction(room, decrypted)))
        self._state["undecrypted"] = keep
        return started

    def _answered_waiting(self, event_id: str, task: asyncio.Task[None]) -> None:
        self._decrypting.discard(event_id)
        self._state["undecrypted"] = [entry for entry in self._state.get("undecrypted", []) if entry["event"].get("event_id") != event_id]

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- invites -----------------------------------------------------------------------------------
    async def _accept_invite(self, room_id: str, invite_state: Sequence[Any]) -> None:
        inviter = next((e.sender for e in invite_state if isinstance(e, InviteMemberEvent) and e.state_key == self.settings.user_id), None)
        server = inviter.split(":", 1)[1] if inviter and ":" in inviter else ""
        if self.settings.allowed_servers and server not in self.settings.allowed_servers:
            log.info("matrix: invite from a server not on the list ignored")
            return
        resp = await self.client.join(room_id)
        if isinstance(resp, JoinError):
            log.warning("matrix: could not join a room (%s)", resp.status_code, extra={"chat": pseudonym(CHANNEL, room_id)})
            return
        self._state.setdefault("joined_at", {})[room_id] = int(time.time() * 1000)
        invite = next((e for e in invite_state if isinstance(e, InviteMemberEvent) and e.state_key == self.settings.user_id), None)
        self._state.setdefault("direct", {})[room_id] = bool(invite and invite.content.get("is_direct"))

    def _learn_direct(self, room_id: str, events: Sequence[Any]) -> None:
        """For a room joined without our invite handling (an older state file, another client of
        the account): whether it is a direct chat, from the bot's own membership event. The
        invite's is_direct survives there as the join's previous content."""
        directs: dict[str, bool] = self._state.setdefault("direct", {})
        if room_id in directs:
            return
        for event in events:
            if not (isinstance(event, RoomMemberEvent) and event.state_key == self.settings.user_id and event.membership == "join"):
                continue
            previous = event.prev_content or {}
            if "is_direct" in event.content or previous.get("membership") == "invite":
                directs[room_id] = bool(event.content.get("is_direct") or previous.get("is_direct"))

    # -- incoming messages -------------------------------------------------------------------------
    async def _on_message(self, room: MatrixRoom, event: RoomMessageText | RoomMessageMedia | RoomEncryptedMedia) -> None:
        if event.sender == self.settings.user_id or event.sender in self.settings.ignore_users:
            return
        content = event.source.get("content", {})
        if content.get("msgtype") == "m.notice":
            return  # notices are what bots send: never answer another bot
        joined_at = self._state.get("joined_at", {}).get(room.room_id)
        if joined_at and event.server_timestamp < joined_at:
            return
        relates = content.get("m.relates_to")
        relates = relates if isinstance(relates, dict) else {}
        if relates.get("rel_type") == "m.replace":
            return  # an edit of a message answered already
        direct = self._is_direct(room)
        incoming: Incoming | None = None
        if isinstance(event, RoomMessageText):
            text = event.body or ""
            if not direct:
                addressed = self._strip_address(text, content)
                if addressed is None:
                    return
                text = addressed
            incoming = self._incoming(room.room_id, text, event.event_id)
        elif not direct:
            return  # a picture shared among people in a group is not meant for the bot
        relation = _answer_relation(event.event_id, event.sender, relates, direct)
        # In order within a room, bounded overall; the turn runs in the process's pool (bot.blocking).
        # A message waits for its room before it takes a slot, so a busy room cannot hold them all.
        async with self._turns.in_order(room.room_id), self._slots:
            replies = with_command_help(incoming, await self._turns.answer(incoming)) if incoming is not None else [_TEXT_ONLY]
            for index, reply in enumerate(replies):
                await self._send(room.room_id, reply, _answer_txn(event.event_id, index), relation)

    async def _on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        """A 👍/👎 on one of the bot's answers: its vote (the first one on that answer counts)."""
        helpful = _VOTES.get(event.key)
        if helpful is None or event.sender == self.settings.user_id or event.sender in self.settings.ignore_users:
            return
        joined_at = self._state.get("joined_at", {}).get(room.room_id)
        if joined_at and event.server_timestamp < joined_at:
            return
        answer = event.reacts_to
        if answer in self._voted:
            return
        token = self._answer_tokens.get(answer) or await self._fetch_token(room.room_id, answer)
        if token is None or answer in self._voted:
            return  # a reaction on a message of someone else, or on a reply that is no answer
        _remember(self._voted, answer, None)
        incoming = Incoming(CHANNEL, room.room_id, "", profile=self.settings.profile, vote=Vote(token, helpful))
        relation = _answer_relation(answer, event.sender, {}, self._is_direct(room))
        async with self._turns.in_order(room.room_id), self._slots:
            replies = await self._turns.answer(incoming)
            for index, reply in enumerate(replies):
                await self._send(room.room_id, reply, _answer_txn(event.event_id, index), relation)

    async def _fetch_token(self, room_id: str, event_id: str) -> str | None:
        """The feedback token of an answer this process did not send (sent before a restart)."""
        resp = await self.client.room_get_event(room_id, event_id)
        if not isinstance(resp, RoomGetEventResponse):
            return None
        answer = resp.event
        if isinstance(answer, MegolmEvent):
            answer.room_id = room_id
            answer = self._decrypt(answer)
        if answer is None or getattr(answer, "sender", None) != self.settings.user_id:
            return None
        token = answer.source.get("content", {}).get(FEEDBACK_KEY)
        return token if isinstance(token, str) and token else None

    def _is_direct(self, room: MatrixRoom) -> bool:
        """Whether the room was opened as a direct chat (the invite's is_direct), whatever its size."""
        known = self._state.get("direct", {}).get(room.room_id)
        if known is not None:
            return bool(known)
        # Joined before the flag was kept, and the bot's membership event has changed since (a new
        # display name), so the invite is out of sight: its size is the only hint left.
        members: int = room.member_count or room.joined_count + room.invited_count
        return members <= 2

    def _strip_address(self, text: str, content: dict[str, Any]) -> str | None:
        """The message without the bot's mention or prefix; None when the bot was not addressed."""
        s = self.settings
        mentions = content.get("m.mentions", {}).get("user_ids", [])
        localpart = s.user_id.split(":", 1)[0].lstrip("@")
        lowered = text.lower()
        if text.startswith(s.command_prefix):
            return text[len(s.command_prefix):].strip()
        if s.user_id in mentions or s.user_id.lower() in lowered or lowered.startswith(localpart.lower()):
            for token in (s.user_id, localpart + ":", localpart):
                idx = lowered.find(token.lower())
                if idx >= 0:
                    text = text[:idx] + text[idx + len(token):]
                    break
            return text.strip(" :,")
        return None

    def _incoming(self, room_id: str, text: str, event_id: str | None = None) -> Incoming:
        return incoming_from_text(room_id, text, self.settings.profile, event_id)

    # -- outgoing ----------------------------------------------------------------------------------
    @staticmethod
    def render(reply: Reply) -> dict[str, Any]:
        """m.notice with HTML (links as anchors, everything escaped) and a plain body."""
        body, formatted = reply_as_plain(reply), reply_as_html(reply)
        if reply.feedback:
            hint = core_text("feedback_react", reply.language)
            body += "\n\n" + hint
            formatted += f"<br><br><i>{to_html(hint)}</i>"
        content: dict[str, Any] = {
            "msgtype": "m.notice",
            "body": body,
            "format": "org.matrix.custom.html",
            "formatted_body": formatted,
        }
        if reply.feedback:
            content[FEEDBACK_KEY] = reply.feedback
        return content

    # -- reminders ---------------------------------------------------------------------------------
    idempotent = True  # the delivery key is the transaction id: the homeserver drops a repeat

    @property
    def address(self) -> tuple[str, str]:
        """(channel, profile): the reminder rows this channel delivers."""
        return CHANNEL, self.settings.profile

    async def deliver(self, chat_id: str, reply: Reply, key: str) -> None:
        """Send a reminder; sending the same key again is harmless, so every failure may be retried."""
        txn = "reminder-" + hashlib.sha256(key.encode()).hexdigest()[:32]
        try:
            error = await self._room_send(chat_id, self.render(reply), txn)
        except LocalProtocolError:
            # nio refuses a room it does not know (encrypted sends look the room up first). After
            # a first sync that means the bot is not in it; before, it may just not know yet.
            raise DeliveryFailed("not in the room", permanent=bool(self.client.next_batch)) from None
        if error is None:
            return
        if error.status_code in _NOT_IN_ROOM:
            raise DeliveryFailed(error.status_code, permanent=True)
        if error.status_code == "M_UNKNOWN_TOKEN":
            # The account's login is gone: every chat is affected, not this one; keep the reminder for later.
            log.error("matrix: the access token was refused; reminders wait until the bot logs in again")
            raise DeliveryFailed(error.status_code)
        raise DeliveryFailed(f"matrix: not accepted after retries ({error.status_code})", maybe_sent=True)

    async def _send(self, room_id: str, reply: Reply, tx_id: str, relation: dict[str, Any]) -> None:
        if await self._room_send(room_id, {**self.render(reply), **relation}, tx_id) is not None:
            log.error("matrix: a reply could not be delivered after %d attempts", self.settings.send_attempts, extra={"chat": pseudonym(CHANNEL, room_id)})

    async def _room_send(self, room_id: str, content: dict[str, Any], tx_id: str | None = None) -> RoomSendError | None:
        """Send with M_LIMIT_EXCEEDED waited out and other errors retried with back-off; the last
        error when it did not go through. Errors no retry can mend come back at once."""
        tx_id = tx_id or uuid.uuid4().hex  # one id for all attempts: a retry of a send that went through is dropped
        error: RoomSendError | None = None
        for attempt in range(self.settings.send_attempts):
            resp = await self.client.room_send(room_id, "m.room.message", content, tx_id=tx_id, ignore_unverified_devices=True)
            if not isinstance(resp, RoomSendError):
                token = content.get(FEEDBACK_KEY)
                if isinstance(resp, RoomSendResponse) and isinstance(token, str):
                    _remember(self._answer_tokens, resp.event_id, token)
                return None
            error = resp
            if resp.status_code == "M_LIMIT_EXCEEDED":
                wait = min((resp.retry_after_ms or 1000) / 1000, self.settings.max_rate_limit_wait_s)
                log.info("matrix: rate limited, waiting %.1fs", wait)
                await asyncio.sleep(wait)
                continue
            if resp.status_code in _NOT_IN_ROOM or resp.status_code == "M_UNKNOWN_TOKEN":
                return resp
            log.warning("matrix: send failed (%s), attempt %d", resp.status_code, attempt + 1)
            await asyncio.sleep(min(2 ** attempt, 10))
        return error


def _remember(table: OrderedDict[str, Any], key: str, value: Any) -> None:
    """Keep ``key`` in a table bounded to the newest ``_REMEMBERED`` keys."""
    table[key] = value
    table.move_to_end(key)
    while len(table) > _REMEMBERED:
        table.popitem(last=False)
