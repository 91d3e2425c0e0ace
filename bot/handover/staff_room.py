"""The staff side on Matrix: each hand-over is a thread in its profile's staff room.

The service has its own Matrix login (``[handover.matrix]``) and runs two loops. The sync loop
reads the staff rooms: a team member's message in a hand-over's thread becomes a row to deliver
to the citizen (its event id is unique, so a sync replayed after a restart relays nothing twice),
``!claim``, ``!close`` and ``!faq`` act on the case. When more happened in a staff room since
the last sync than one timeline holds (the bot was away, the team busy), the events in between
are fetched page by page before the timeline's own. The sync token is stored once its batch is
in the database. The work loop posts what the desk queued (new threads, the citizen's messages),
delivers the team's answers through the channels' ``deliver`` (the reminders' send path), closes
hand-overs that timed out, redacts the copies of deleted ones and drops expired ones. Each post
carries a transaction id derived from its row, so a post repeated after a crash is dropped by
the homeserver; a delivery is repeated at most once, as a reminder's is.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    LoginResponse,
    MegolmEvent,
    MessageDirection,
    RoomMessagesResponse,
    RoomMessageText,
    RoomRedactError,
    RoomSendError,
    SyncError,
    SyncResponse,
)
from nio.exceptions import LocalProtocolError
from prometheus_client import CollectorRegistry, Counter, Histogram

from bot.core.models import Reply
from bot.core.ports import Deliverer, DeliveryFailed
from bot.handover.core import (
    CloseReason,
    StaffCommand,
    citizen_line,
    close_reason_line,
    draft_entry,
    say,
    staff_command,
    strip_reply_fallback,
    thread_opening,
)
from bot.handover.desk import CaseView, SqlHandoverDesk
from bot.ops.logs import pseudonym, register_secret

log = logging.getLogger(__name__)
PURGE_SECONDS = 3600.0
KEY_WAIT_MS = 24 * 3600 * 1000  # how long a staff message waits for its room key
_GIVE_UP = frozenset({"M_FORBIDDEN", "M_NOT_FOUND"})  # a redaction no retry can mend
GAP_PAGES = 50  # pages of 100 events fetched to fill one staff room's gap: a day's busy room, not a year's
WAIT_BUCKETS = (30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 72 * 3600)


@dataclass(frozen=True)
class StaffRoomSettings:
    homeserver: str
    user_id: str
    store_dir: Path
    staff_rooms: tuple[str, ...]
    password: str | None = None
    access_token: str | None = None
    device_name: str = "Bürgerbot Übergabe"
    encryption: bool = True  # end-to-end encrypted staff rooms (the account's keys live in store_dir)
    staff_language: str = "de"
    idle: dt.timedelta = dt.timedelta(minutes=30)
    wait: dt.timedelta = dt.timedelta(hours=72)
    drafts_dir: Path = Path("faq-drafts")
    poll_seconds: float = 2.0
    sync_timeout_ms: int = 30_000
    timeline_limit: int = 100  # events per staff room and sync; more since the last sync are fetched page by page


class HandoverMetrics:
    """Waiting time until the team's first answer, and how many hand-overs got one."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.opened = Counter("buergerbot_handovers_opened", "Hand-overs the citizen agreed to, posted in the staff room", ["profile"],
                              registry=registry)
        self.closed = Counter("buergerbot_handovers_closed", "Hand-overs closed, by reason and whether the team answered",
                              ["profile", "reason", "answered"], registry=registry)
        self.waiting = Histogram("buergerbot_handover_wait_seconds", "From the citizen's yes to the team's first answer", ["profile"],
                                 buckets=WAIT_BUCKETS, registry=registry)


def _txn(kind: str, key: str) -> str:
    return f"handover-{kind}-" + hashlib.sha256(key.encode()).hexdigest()[:32]


class StaffRoomService:
    def __init__(self, settings: StaffRoomSettings, desk: SqlHandoverDesk, deliverers: Mapping[tuple[str, str], Deliverer],
                 metrics: HandoverMetrics | None = None) -> None:
        if not settings.password and not settings.access_token:
            raise ValueError("the staff room account needs a password or an access token")
        self.settings = settings
        self.desk = desk
        self.deliverers = dict(deliverers)
        self.metrics = metrics
        settings.store_dir.mkdir(parents=True, exist_ok=True)
        self._state_path = settings.store_dir / "staff-room.json"
        self._state: dict[str, Any] = self._load_state()
        config = AsyncClientConfig(encryption_enabled=settings.encryption, store_sync_tokens=False, max_limit_exceeded=0, max_timeouts=3)
        self.client = AsyncClient(settings.homeserver, settings.user_id, store_path=str(settings.store_dir), config=config)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._purged_at = 0.0
        self.ready = asyncio.Event()

    # -- state on disk ----------------------------------------------------------------------------
    def _load_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self._state_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def _save_state(self) -> None:
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state), encoding="utf-8")
        os.replace(tmp, self._state_path)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._login()
        for room_id in self.settings.staff_rooms:
            resp = await self.client.join(room_id)
            if isinstance(resp, JoinError):
                log.error("hand-over: could not join a staff room (%s); invite the account %s", resp.status_code, self.settings.user_id)
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._wake.set)

        self.desk.on_change(wake)
        self._tasks = [asyncio.create_task(self._sync_loop()), asyncio.create_task(self._work_loop())]

    async def stop(self) -> None:
        """No new rounds; the round in flight finishes, so no row is left half-done."""
        self._stopping.set()
        self._wake.set()
        sync = self._tasks[0] if self._tasks else None
        if sync is not None:
            sync.cancel()
        async with self._busy:
            pass
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.close()

    async def _login(self) -> None:
        s = self.settings
        saved = self._state.get("login")
        if saved and saved.get("user_id") == s.user_id:
            register_secret(saved["access_token"])
            self.client.restore_login(s.user_id, saved["device_id"], saved["access_token"])
            await self._crypto_housekeeping()
            return
        if s.access_token:
            self.client.access_token = s.access_token
            whoami = await self.client.whoami()
            device_id = getattr(whoami, "device_id", None)
            if not device_id:
                raise RuntimeError("hand-over: the staff room account's access token has no device id")
            self.client.restore_login(s.user_id, device_id, s.access_token)
            self._state["login"] = {"user_id": s.user_id, "device_id": device_id, "access_token": s.access_token}
        else:
            resp = await self.client.login(password=s.password or "", device_name=s.device_name)
            if not isinstance(resp, LoginResponse):
                raise RuntimeError(f"hand-over: staff room login failed: {getattr(resp, 'status_code', resp)}")
            register_secret(resp.access_token)
            self._state["login"] = {"user_id": s.user_id, "device_id": resp.device_id, "access_token": resp.access_token}
        self._save_state()
        await self._crypto_housekeeping()

    async def _crypto_housekeeping(self) -> None:
        if not self.settings.encryption:
            return
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())

    # -- reading the staff rooms ------------------------------------------------------------------------
    def _filter(self) -> dict[str, Any]:
        return {
            "room": {"rooms": list(self.settings.staff_rooms), "timeline": {"limit": self.settings.timeline_limit}, "state": {"lazy_load_members": False},
                     "ephemeral": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]}},
            "presence": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]},
        }

    async def _sync_loop(self) -> None:
        since = self._state.get("next_batch")
        backoff = 1.0
        first = True
        while not self._stopping.is_set():
            # The first sync of a run takes the rooms' full state: an encrypted send needs their members.
            resp = await self.client.sync(timeout=0 if first else self.settings.sync_timeout_ms, sync_filter=self._filter(),
                                          since=since, full_state=first)
            if isinstance(resp, SyncError):
                log.warning("hand-over: staff room sync failed (%s); retrying in %.0fs", resp.status_code, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            backoff = 1.0
            await self._crypto_housekeeping()
            if since is not None:  # the very first start: what was said before is no one's answer
                async with self._busy:
                    await self._read(resp, since)
            first = False
            since = resp.next_batch
            self._state["next_batch"] = since
            self._save_state()
            self.ready.set()

    async def _read(self, resp: SyncResponse, since: str) -> None:
        events: list[tuple[str, Any]] = [*self._keys_came()]
        for room_id, info in resp.rooms.join.items():
            if room_id in self.settings.staff_rooms:
                if info.timeline.limited and info.timeline.prev_batch:
                    # More happened since the last sync than one timeline holds (the bot was away, or
                    # the team busy): the answers in between are fetched, not lost.
                    events += [(room_id, event) for event in await self._gap(room_id, info.timeline.prev_batch, since)]
                events += [(room_id, event) for event in info.timeline.events]
        for room_id, event in events:
            if isinstance(event, MegolmEvent):
                self._wait_for_key(room_id, event)
            elif isinstance(event, RoomMessageText) and event.sender != self.settings.user_id:
                try:
                    await self._on_staff_message(room_id, event)
                except Exception:  # one odd message must not stop the others; the sync goes on
                    log.exception("hand-over: a staff message could not be handled")

    async def _gap(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        """The events of ``room_id`` between the last sync (``since``) and a limited timeline's
        start, oldest first. Handling one twice is harmless (answers are unique by event id, the
        bot's notes by transaction id), so a page fetched in part is no harm either."""
        fetched: list[Any] = []
        start = prev_batch
        for _ in range(GAP_PAGES):
            resp = await self.client.room_messages(room_id, start=start, end=since, direction=MessageDirection.back, limit=100,
                                                   message_filter={"types": ["m.room.message", "m.room.encrypted"]})
            if not isinstance(resp, RoomMessagesResponse):
                log.warning("hand-over: the staff room's missed messages could not be fetched (%s); some answers may not be relayed",
                            getattr(resp, "status_code", resp))
                break
            fetched += resp.chunk
            if not resp.chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        else:
            log.warning("hand-over: more than %d staff room messages since the last sync; the oldest were not fetched", GAP_PAGES * 100)
        for event in fetched:
            if isinstance(event, MegolmEvent):
                event.room_id = room_id
        return fetched[::-1]

    def _wait_for_key(self, room_id: str, event: MegolmEvent) -> None:
        """Keep a message whose room key has not come yet in the state file (so a restart does not
        lose it) and ask the sender's device for the key."""
        waiting: list[dict[str, Any]] = self._state.setdefault("undecrypted", [])
        if any(entry["event"].get("event_id") == event.event_id for entry in waiting):
            return
        waiting.append({"room": room_id, "event": event.source, "since": int(time.time() * 1000)})
        if self.client.device_id:
            with contextlib.suppress(Exception):  # the key may still come unasked
                self._spawn_key_request(event)

    def _spawn_key_request(self, event: MegolmEvent) -> None:
        assert self.client.device_id is not None
        request = event.as_key_request(event.sender, self.client.device_id, device_id=event.device_id)
        task = asyncio.create_task(self.client.to_device(request))
        self._tasks.append(task)

    def _keys_came(self) -> list[tuple[str, Any]]:
        """The waiting messages that can be read now, oldest first; those waiting a day are given up."""
        waiting: list[dict[str, Any]] = self._state.get("undecrypted", [])
        ready: list[tuple[str, Any]] = []
        keep = []
        now = int(time.time() * 1000)
        for entry in waiting:
            event = MegolmEvent.from_dict(entry["event"])
            decrypted = None
            if isinstance(event, MegolmEvent):
                event.room_id = entry["room"]
                with contextlib.suppress(Exception):
                    decrypted = self.client.decrypt_event(event)
            if decrypted is not None:
                ready.append((entry["room"], decrypted))
            elif now - entry["since"] < KEY_WAIT_MS:
                keep.append(entry)
            else:
                log.warning("hand-over: no room key came for a staff message within a day; it was not relayed")
        self._state["undecrypted"] = keep
        return ready

    async def _on_staff_message(self, room_id: str, event: RoomMessageText) -> None:
        content = event.source.get("content", {})
        if content.get("msgtype") == "m.notice":
            return
        relates = content.get("m.relates_to") or {}
        if not isinstance(relates, dict) or relates.get("rel_type") != "m.thread" or not isinstance(relates.get("event_id"), str):
            return
        case = self.desk.case_by_root(relates["event_id"])
        if case is None or case.staff_room != room_id:
            return
        lang = self.settings.staff_language
        command = staff_command(event.body or "")
        if command is StaffCommand.CLAIM:
            if case.state.value != "closed":
                self.desk.claim(case, event.sender)
                await self._note(case, say("staff_claimed", lang, number=case.number, who=event.sender), event.event_id)
            return
        if command is StaffCommand.CLOSE:
            if self.desk.close(case, CloseReason.STAFF):
                self._count_closed(case, CloseReason.STAFF)
                await self._note(case, say("staff_closed", lang, number=case.number,
                                           reason=close_reason_line(CloseReason.STAFF, event.sender, lang)), event.event_id)
            self._wake.set()
            return
        if command is StaffCommand.FAQ:
            await self._note(case, self._draft(case), event.event_id)
            return
        said = strip_reply_fallback(event.body or "")
        if not said:
            return
        if case.state.value == "closed":
            await self._note(case, say("staff_not_relayed", lang, number=case.number), event.event_id)
            return
        if self.desk.staff_answer(case, event.event_id, event.sender, said):
            if case.answered_at is None and self.metrics is not None:
                self.metrics.waiting.labels(profile=case.profile).observe((self.desk.now() - case.created_at).total_seconds())
            self._wake.set()

    def _draft(self, case: CaseView) -> str:
        lang = self.settings.staff_language
        if case.state.value != "closed":
            return say("staff_faq_open", lang)
        question, answers = self.desk.conversation(case.id)
        if not answers:
            return say("staff_faq_nothing", lang)
        folder = self.settings.drafts_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{case.number.lower()}.yaml"
        path.write_text(draft_entry(case.number, case.language, question, answers), encoding="utf-8")
        return say("staff_faq_written", lang, path=str(path))

    async def _note(self, case: CaseView, body: str, cause: str) -> None:
        """A line of the bot's in the case's thread, answering the staff event ``cause`` (once, even on a replay)."""
        if case.root_event_id is not None:
            await self._post(case.staff_room, body, _txn("note", cause), case.root_event_id)

    # -- writing -------------------------------------------------------------------------------------------
    async def _post(self, room_id: str, body: str, txn: str, thread_root: str | None = None) -> str | None:
        content: dict[str, Any] = {"msgtype": "m.notice", "body": body}
        if thread_root is not None:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread_root, "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": thread_root}}
        for attempt in range(3):
            try:
                resp = await self.client.room_send(room_id, "m.room.message", content, tx_id=txn, ignore_unverified_devices=True)
            except LocalProtocolError:  # an encrypted room the first sync has not described yet: the next round sends it
                return None
            if not isinstance(resp, RoomSendError):
                return str(resp.event_id)
            if resp.status_code in _GIVE_UP:
                log.error("hand-over: the staff room refused a message (%s)", resp.status_code)
                return None
            await asyncio.sleep(min((resp.retry_after_ms or 1000 * 2 ** attempt) / 1000, 10))
        return None

    async def _work_loop(self) -> None:
        await self.ready.wait()  # the rooms are known (members, encryption) before anything is posted
        while not self._stopping.is_set():
            self._wake.clear()
            async with self._busy:
                if self._stopping.is_set():
                    return
                try:
                    await self.work_once()
                except Exception:  # the database or the homeserver may be away for a moment: the next round catches up
                    log.exception("hand-over: a round of the staff room service failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)

    async def work_once(self) -> None:
        desk = self.desk
        lang = self.settings.staff_language
        for redaction_id, room_id, event_id in desk.pending_redactions():
            resp = await self.client.room_redact(room_id, event_id, reason="deleted at the citizen's request", tx_id=_txn("redact", event_id))
            if not isinstance(resp, RoomRedactError) or resp.status_code in _GIVE_UP:
                desk.redacted(redaction_id)
        for case in desk.unposted_cases():
            root = await self._post(case.staff_room, thread_opening(case.summary, lang), _txn("root", str(case.id)))
            if root is not None:
                desk.posted_root(case.id, root)
                if self.metrics is not None:
                    self.metrics.opened.labels(profile=case.summary.profile).inc()
        for message in desk.unposted_messages():
            posted = await self._post(message.staff_room, citizen_line(message.text, lang), _txn("citizen", str(message.id)), message.root_event_id)
            if posted is not None:
                desk.posted_message(message.id, posted)
        for out in desk.undelivered():
            await self._deliver(out.id, out.chat.channel, out.chat.profile, out.chat.chat_id,
                                Reply(say("staff_says", out.language, text=out.text) if out.from_staff else out.text, language=out.language))
        for quiet, reason in desk.overdue(self.settings.idle, self.settings.wait):
            if desk.close(quiet, reason):
                self._count_closed(quiet, reason)
                await self._note(quiet, say("staff_closed", lang, number=quiet.number, reason=close_reason_line(reason, None, lang)),
                                 f"close-{quiet.id}")
                self._wake.set()  # the closing message goes out in the next round, at once
        desk.let_go()
        if time.monotonic() - self._purged_at > PURGE_SECONDS:
            self._purged_at = time.monotonic()
            dropped = desk.purge()
            if dropped:
                log.info("hand-over: deleted %d closed hand-overs past their retention", dropped)

    async def _deliver(self, message_id: int, channel: str, profile: str, chat_id: str, reply: Reply) -> None:
        deliverer = self.deliverers.get((channel, profile))
        if deliverer is None:
            return  # the channel is not running in this process; another may deliver it
        try:
            await deliverer.deliver(chat_id, reply, f"handover:{message_id}")
        except DeliveryFailed as failed:
            if failed.permanent:
                log.warning("hand-over: a message to the chat could not be delivered (%s); given up", failed,
                            extra={"chat": pseudonym(channel, chat_id)})
                self.desk.delivered(message_id)
            return
        self.desk.delivered(message_id)

    def _count_closed(self, case: CaseView, reason: CloseReason) -> None:
        if self.metrics is not None:
            self.metrics.closed.labels(profile=case.profile, reason=reason.value, answered="yes" if case.answered_at else "no").inc()
