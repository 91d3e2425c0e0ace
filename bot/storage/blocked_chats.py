"""Chats that blocked the bot: their reminders are held until they write to the bot again.

The reminder worker blocks a chat when the channel refuses it (Telegram's 403 "bot was blocked by
the user"); the process that answers the chat unblocks it on its next message, since a Telegram
user can write to a bot only after unblocking it. That process learns of blocks every few seconds
(:class:`BlockedChats`), so a message costs a set lookup, not a database round trip.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import ColumnElement, Connection, Engine, delete, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from bot.core.models import ChatRef
from bot.storage.inserts import insert_or_ignore
from bot.storage.tables import BlockedChatRow, ReminderRow

log = logging.getLogger(__name__)

_Key = tuple[str, str, str]  # channel, chat id, profile


def _key(chat: ChatRef) -> _Key:
    return chat.channel, chat.chat_id, chat.profile


def _reminders_of(key: _Key) -> tuple[ColumnElement[bool], ...]:
    return ReminderRow.channel == key[0], ReminderRow.chat_id == key[1], ReminderRow.profile == key[2]


def block(conn: Connection, chats: Iterable[ChatRef], now: dt.datetime) -> set[ChatRef]:
    """Record the chats as blocked and hold their queued reminders (status ``blocked``); returns
    the chats that were not blocked before (two sends in flight may both have been refused)."""
    keys = sorted({_key(c) for c in chats})
    if not keys:
        return set()
    inserted = conn.execute(insert_or_ignore(conn, BlockedChatRow, ["channel", "chat_id", "profile"])
                            .returning(BlockedChatRow.channel, BlockedChatRow.chat_id, BlockedChatRow.profile),
                            [{"channel": c, "chat_id": i, "profile": p, "blocked_at": now} for c, i, p in keys])
    new = {ChatRef(r.channel, r.chat_id, r.profile) for r in inserted}
    columns = tuple_(ReminderRow.channel, ReminderRow.chat_id, ReminderRow.profile)
    conn.execute(update(ReminderRow).where(columns.in_(keys), ReminderRow.status.in_(("pending", "sending")))
                 .values(status="blocked", worker=None, lease_until=None))
    return new


def blocked_among(conn: Connection, chats: Iterable[ChatRef]) -> set[ChatRef]:
    """Which of the chats are blocked."""
    keys = {_key(c) for c in chats}
    if not keys:
        return set()
    columns = tuple_(BlockedChatRow.channel, BlockedChatRow.chat_id, BlockedChatRow.profile)
    rows = conn.execute(select(BlockedChatRow.channel, BlockedChatRow.chat_id, BlockedChatRow.profile).where(columns.in_(sorted(keys))))
    return {ChatRef(r.channel, r.chat_id, r.profile) for r in rows}


def unblock(conn: Connection, chat: ChatRef) -> bool:
    """The chat can be reached again: its held reminders go back to the queue (the worker drops
    those that came too late, as after any downtime). Returns whether it was blocked."""
    key = _key(chat)
    removed = conn.execute(delete(BlockedChatRow).where(
        BlockedChatRow.channel == key[0], BlockedChatRow.chat_id == key[1], BlockedChatRow.profile == key[2],
    )).rowcount
    conn.execute(update(ReminderRow).where(*_reminders_of(key), ReminderRow.status == "blocked").values(status="pending"))
    return bool(removed)


class BlockedChats:
    """This process's view of the blocked chats, for unblocking a chat that writes again.

    Read from the database at most every ``refresh`` (new blocks only, by ``blocked_at``, with a
    ``margin`` for the clocks of other hosts). A chat that writes before this process has read its
    block is remembered for that long and unblocked when the block shows up. Dialogue turns of
    different chats call it from the threads of the process's pool (bot.blocking) at once: the
    sets are changed under a lock, the database is asked outside it, by one thread at a time.
    """

    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime], refresh: dt.timedelta = dt.timedelta(seconds=10),
                 margin: dt.timedelta = dt.timedelta(minutes=1)) -> None:
        self._engine = engine
        self._clock = clock
        self._refresh = refresh
        self._margin = margin
        self._lock = threading.Lock()  # guards the fields below
        self._blocked: set[_Key] = set()
        self._heard: dict[_Key, dt.datetime] = {}  # chats that wrote recently, and when
        self._read_at: dt.datetime | None = None
        self._newest: dt.datetime | None = None  # the latest blocked_at read

    def heard_from(self, chat: ChatRef) -> None:
        now = self._clock()
        key = _key(chat)
        with self._lock:
            self._heard[key] = now
            due = self._read_at is None or now - self._read_at >= self._refresh
            if due:  # also when the read fails: the database is not asked again for every message
                self._read_at = now
        try:
            if due:
                self._read(now)
            if key in self._blocked:
                self._unblock(key)
        except SQLAlchemyError as exc:
            # The message is answered all the same; the chat is unblocked by a later one (it is
            # remembered as heard from, and an unblock that failed stays to be done).
            log.warning("could not check for blocked chats: %s", type(exc).__name__)

    def _read(self, now: dt.datetime) -> None:
        query = select(BlockedChatRow.channel, BlockedChatRow.chat_id, BlockedChatRow.profile, BlockedChatRow.blocked_at)
        newest = self._newest
        if newest is not None:
            query = query.where(BlockedChatRow.blocked_at >= newest - self._margin)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        wrote_since: list[_Key] = []
        with self._lock:
            for row in rows:
                key = (row.channel, row.chat_id, row.profile)
                self._newest = row.blocked_at if self._newest is None else max(self._newest, row.blocked_at)
                heard = self._heard.get(key)
                if heard is not None and heard >= row.blocked_at:
                    wrote_since.append(key)  # it wrote after the block, before this process knew of it
                else:
                    self._blocked.add(key)
            forget_before = now - self._refresh - self._margin
            self._heard = {k: at for k, at in self._heard.items() if at >= forget_before}
        for key in wrote_since:
            self._unblock(key)

    def _unblock(self, key: _Key) -> None:
        with self._engine.begin() as conn:
            unblock(conn, ChatRef(*key))
        with self._lock:
            self._blocked.discard(key)

    def forget(self, chat: ChatRef) -> None:
        """The chat's data was deleted, with every profile."""
        with self._lock:
            self._blocked = {k for k in self._blocked if k[:2] != (chat.channel, chat.chat_id)}
            self._heard = {k: at for k, at in self._heard.items() if k[:2] != (chat.channel, chat.chat_id)}
