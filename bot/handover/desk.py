"""The hand-overs in the database: the dialogue's side (the ``HandoverDesk`` port) and the rows
the staff room service works through.

Every step that leaves the process is a row first: a citizen's message waits as ``done = false``
until it is posted in the staff room, a team member's answer until it is delivered to the chat.
So a restart loses nothing: the service picks up the rows still pending. The open hand-overs are
also kept in memory, so that an ordinary message costs no database round trip to learn that none
is open for its chat.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.models import ChatRef, Reply, UserState
from bot.core.ports import HANDOVER_NO, HANDOVER_YES, HandoverTurn
from bot.handover.core import (
    OPEN_STATES,
    CaseState,
    CaseSummary,
    CloseReason,
    Turn,
    asks_for_person,
    case_number,
    closing_text,
    forget_turns,
    note_turn,
    offer_reply,
    remembered,
    say,
    team_availability,
    the_question,
)
from bot.ops.logs import pseudonym
from bot.storage.database import as_utc
from bot.storage.tables import HandoverMessageRow, HandoverRedactionRow, HandoverRow

OFFERED = "ctx.handover.offered"  # "open" or "queued": what the last offer said, for the citizen's yes
ANSWERED = "ctx.handover.answered"  # this turn answered the offer: "ja"/"nein" is no turn of the conversation
CITIZEN, STAFF, BOT = "citizen", "staff", "bot"


@dataclass(frozen=True)
class HandoverPlace:
    """Where one profile's hand-overs go."""

    staff_room: str
    office: str  # office id whose hours are the team's


@dataclass(frozen=True)
class NewCase:
    id: int
    staff_room: str
    summary: CaseSummary


@dataclass(frozen=True)
class ToStaffRoom:
    id: int  # message row
    staff_room: str
    root_event_id: str
    text: str


@dataclass(frozen=True)
class ToChat:
    id: int  # message row
    chat: ChatRef
    text: str
    language: str
    from_staff: bool  # a team member's answer (else the bot's own line)


@dataclass(frozen=True)
class CaseView:
    id: int
    number: str
    profile: str
    state: CaseState
    language: str
    staff_room: str
    root_event_id: str | None
    claimed_by: str | None
    created_at: dt.datetime
    answered_at: dt.datetime | None


class SqlHandoverDesk:
    def __init__(
        self, engine: Engine, places: Mapping[str, HandoverPlace], clock: Callable[[], dt.datetime], *,
        retention_days: int = 30, last_turns: int = 3, chat_pseudonym: Callable[[str, str], str] = pseudonym,
    ) -> None:
        self.engine = engine
        self.places = dict(places)
        self._clock = clock
        self.retention_days = retention_days
        self.last_turns = last_turns
        self._pseudonym = chat_pseudonym
        # (channel, profile) whose chats the team's answers can reach: set by the staff room service
        # from the running channels, so that no hand-over is offered where no answer could arrive.
        self.reachable: set[tuple[str, str]] = set()
        self._active: dict[tuple[str, str, str], int] | None = None
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    # -- in memory ---------------------------------------------------------------------------------
    def on_change(self, listener: Callable[[], None]) -> None:
        """``listener`` is called whenever a row waits for the staff room service."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def _open_cases(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            if self._active is None:
                with self.engine.connect() as conn:
                    rows = conn.execute(select(HandoverRow.id, HandoverRow.channel, HandoverRow.chat_id, HandoverRow.profile)
                                        .where(HandoverRow.state.in_([s.value for s in OPEN_STATES]))).all()
                self._active = {(r.channel, r.chat_id or "", r.profile): r.id for r in rows}
            return self._active

    def open_case(self, chat: ChatRef) -> int | None:
        return self._open_cases().get((chat.channel, chat.chat_id, chat.profile))

    def _set_open(self, key: tuple[str, str, str], case_id: int | None) -> None:
        active = self._open_cases()
        with self._lock:
            if case_id is None:
                active.pop(key, None)
            else:
                active[key] = case_id

    def now(self) -> dt.datetime:
        return as_utc(self._clock())

    # -- the dialogue's side (bot.core.ports.HandoverDesk) -------------------------------------------
    def relay(self, chat: ChatRef, said: str, message_id: str | None = None) -> bool:
        case_id = self.open_case(chat)
        if case_id is None:
            return False
        now = self.now()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(HandoverMessageRow).values(handover_id=case_id, direction=CITIZEN, text=said, at=now, done=False,
                                                               chat_message_id=message_id))
                conn.execute(update(HandoverRow).where(HandoverRow.id == case_id).values(last_activity_at=now))
        except IntegrityError:
            # The channel delivered this message again (a replay after a crash): it is with the team
            # already, and the bot keeps out of the chat as it did the first time.
            if message_id is None or not self._relayed(case_id, message_id):
                raise
            return True
        self._changed()
        return True

    def _relayed(self, case_id: int, message_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(HandoverMessageRow.id).where(HandoverMessageRow.handover_id == case_id,
                                                                    HandoverMessageRow.chat_message_id == message_id)).first() is not None

    def follow(self, turn: HandoverTurn, state: UserState) -> Reply | None:
        place = self.places.get(turn.chat.profile)
        if place is None or (turn.chat.channel, turn.chat.profile) not in self.reachable or self.open_case(turn.chat) is not None:
            return None
        state.extra.pop(OFFERED, None)
        if state.extra.pop(ANSWERED, None) is not None or not note_turn(state, turn, self.last_turns):
            return None
        office = turn.offices.get(place.office)
        state.extra[OFFERED] = "open" if team_availability(office, turn.now, turn.is_holiday).open_now else "queued"
        return offer_reply(turn.language, office, place.office, turn.now, turn.is_holiday, self.retention_days)

    def choose(self, chat: ChatRef, language: str, payload: str, state: UserState) -> list[Reply]:
        offered = state.extra.pop(OFFERED, None)
        state.extra[ANSWERED] = "1"
        if payload == HANDOVER_NO:
            forget_turns(state)
            return [Reply(say("declined", language), language=language)]
        place = self.places.get(chat.profile)
        if payload != HANDOVER_YES or offered is None or place is None:
            return [Reply(say("offer_gone", language), language=language)]
        open_id = self.open_case(chat)
        if open_id is not None:
            return [Reply(say("already_open", language, number=case_number(open_id)), language=language)]
        turns = remembered(state)
        forget_turns(state)
        queued = offered == "queued"
        number = self._create(chat, language, place, the_question(turns), turns, queued)
        self._changed()
        return [Reply(say("queued" if queued else "opened", language, number=number), language=language)]

    def _create(self, chat: ChatRef, language: str, place: HandoverPlace, question: str, turns: Sequence[Turn], queued: bool) -> str:
        now = self.now()
        with self.engine.begin() as conn:
            case_id = conn.execute(insert(HandoverRow).values(
                profile=chat.profile, channel=chat.channel, chat_id=chat.chat_id, chat_pseudonym=self._pseudonym(chat.channel, chat.chat_id),
                language=language, state=(CaseState.QUEUED if queued else CaseState.WAITING).value, question=question,
                turns=json.dumps([[t.said, t.answered, t.reply] for t in turns], ensure_ascii=False), staff_room=place.staff_room,
                created_at=now, last_activity_at=now,
            ).returning(HandoverRow.id)).scalar_one()
            number = case_number(case_id)
            conn.execute(update(HandoverRow).where(HandoverRow.id == case_id).values(number=number))
        self._set_open((chat.channel, chat.chat_id, chat.profile), case_id)
        return number

    def _of_chat(self, chat: ChatRef) -> Any:
        return or_((HandoverRow.channel == chat.channel) & (HandoverRow.chat_id == chat.chat_id),
                   HandoverRow.chat_pseudonym == self._pseudonym(chat.channel, chat.chat_id))

    def export(self, chat: ChatRef, language: str) -> Reply | None:
        with self.engine.connect() as conn:
            cases = conn.execute(select(HandoverRow).where(self._of_chat(chat)).order_by(HandoverRow.id)).all()
            data = []
            for case in cases:
                messages = conn.execute(select(HandoverMessageRow).where(HandoverMessageRow.handover_id == case.id)
                                        .order_by(HandoverMessageRow.id)).all()
                data.append({
                    "case": case.number, "profile": case.profile, "channel": case.channel, "language": case.language,
                    "state": case.state, "question": case.question, "earlier_messages": [t[0] for t in json.loads(case.turns)],
                    "created_at": _iso(case.created_at), "claimed_at": _iso(case.claimed_at), "closed_at": _iso(case.closed_at),
                    "messages": [{"at": _iso(m.at), "from": m.direction, "text": m.text} for m in messages],
                })
        if not data:
            return None
        dumped = json.dumps({"handovers": data}, ensure_ascii=False, indent=2).replace("`", "\\u0060")
        return Reply(f"{say('export_intro', language)}\n\n```json\n{dumped}\n```", language=language)

    def forget(self, chat: ChatRef) -> None:
        with self.engine.begin() as conn:
            cases = conn.execute(select(HandoverRow.id, HandoverRow.staff_room, HandoverRow.root_event_id, HandoverRow.channel,
                                        HandoverRow.chat_id, HandoverRow.profile).where(self._of_chat(chat))).all()
            if not cases:
                return
            ids = [c.id for c in cases]
            copies = [(c.staff_room, c.root_event_id) for c in cases if c.root_event_id]
            rooms = {c.id: c.staff_room for c in cases}
            posted = conn.execute(select(HandoverMessageRow.handover_id, HandoverMessageRow.event_id).where(
                HandoverMessageRow.handover_id.in_(ids), HandoverMessageRow.direction == CITIZEN, HandoverMessageRow.event_id.is_not(None))).all()
            copies += [(rooms[m.handover_id], m.event_id) for m in posted]
            if copies:
                conn.execute(insert(HandoverRedactionRow), [{"room_id": room, "event_id": event} for room, event in copies])
            conn.execute(delete(HandoverMessageRow).where(HandoverMessageRow.handover_id.in_(ids)))
            conn.execute(delete(HandoverRow).where(HandoverRow.id.in_(ids)))
        for c in cases:
            self._set_open((c.channel, c.chat_id or "", c.profile), None)
        self._changed()

    # -- the staff room service's side ---------------------------------------------------------------
    def unposted_cases(self) -> list[NewCase]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(HandoverRow).where(HandoverRow.root_event_id.is_(None), HandoverRow.state != CaseState.CLOSED.value)
                                .order_by(HandoverRow.id)).all()
        return [NewCase(r.id, r.staff_room, CaseSummary(r.number or case_number(r.id), r.profile, r.channel, r.language, r.question,
                                                        tuple(Turn(str(t[0]), bool(t[1]), str(t[2])) for t in json.loads(r.turns)),
                                                        r.state == CaseState.QUEUED.value)) for r in rows]

    def posted_root(self, case_id: int, event_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(HandoverRow).where(HandoverRow.id == case_id).values(root_event_id=event_id))

    def unposted_messages(self) -> list[ToStaffRoom]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(HandoverMessageRow.id, HandoverMessageRow.text, HandoverRow.staff_room, HandoverRow.root_event_id)
                                .join(HandoverRow, HandoverRow.id == HandoverMessageRow.handover_id)
                                .where(HandoverMessageRow.direction == CITIZEN, HandoverMessageRow.done.is_(False),
                                       HandoverRow.root_event_id.is_not(None))
                                .order_by(HandoverMessageRow.id)).all()
        return [ToStaffRoom(r.id, r.staff_room, r.root_event_id, r.text) for r in rows]

    def posted_message(self, message_id: int, event_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(HandoverMessageRow).where(HandoverMessageRow.id == message_id).values(done=True, event_id=event_id))

    def undelivered(self) -> list[ToChat]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(HandoverMessageRow.id, HandoverMessageRow.text, HandoverMessageRow.direction, HandoverRow.channel, HandoverRow.chat_id,
                                       HandoverRow.profile, HandoverRow.language)
                                .join(HandoverRow, HandoverRow.id == HandoverMessageRow.handover_id)
                                .where(HandoverMessageRow.direction != CITIZEN, HandoverMessageRow.done.is_(False),
                                       HandoverRow.chat_id.is_not(None))
                                .order_by(HandoverMessageRow.id)).all()
        return [ToChat(r.id, ChatRef(r.channel, r.chat_id, r.profile), r.text, r.language, r.direction == STAFF) for r in rows]

    def delivered(self, message_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(HandoverMessageRow).where(HandoverMessageRow.id == message_id).values(done=True))

    def case_by_root(self, root_event_id: str) -> CaseView | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(HandoverRow).where(HandoverRow.root_event_id == root_event_id)).one_or_none()
        return _view(row) if row is not None else None

    def case(self, case_id: int) -> CaseView | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(HandoverRow).where(HandoverRow.id == case_id)).one_or_none()
        return _view(row) if row is not None else None

    def staff_answer(self, case: CaseView, event_id: str, sender: str, said: str) -> bool:
        """A team member's answer, to be delivered to the chat; False when this event was taken
        already (a sync replayed after a restart)."""
        now = self.now()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(HandoverMessageRow).values(handover_id=case.id, direction=STAFF, text=said, at=now, event_id=event_id,
                                                               sender=sender, done=False))
                values: dict[str, Any] = {"last_activity_at": now}
                if case.answered_at is None:
                    values["answered_at"] = now
                if case.claimed_by is None:  # whoever answers first handles it
                    values |= {"claimed_by": sender, "claimed_at": now, "state": CaseState.CLAIMED.value}
                conn.execute(update(HandoverRow).where(HandoverRow.id == case.id).values(**values))
        except IntegrityError:
            return False
        return True

    def claim(self, case: CaseView, who: str) -> bool:
        """``who`` handles the case now; True when the citizen is told (the first claim)."""
        now = self.now()
        first = case.claimed_by is None
        with self.engine.begin() as conn:
            conn.execute(update(HandoverRow).where(HandoverRow.id == case.id).values(
                claimed_by=who, claimed_at=now, state=CaseState.CLAIMED.value, last_activity_at=now))
            if first:
                conn.execute(insert(HandoverMessageRow).values(handover_id=case.id, direction=BOT, text=say("claimed", case.language),
                                                               at=now, done=False))
        return first

    def close(self, case: CaseView, reason: CloseReason) -> bool:
        """Close an open case and queue the closing message to the citizen; False when closed already."""
        now = self.now()
        with self.engine.begin() as conn:
            row = conn.execute(select(HandoverRow).where(HandoverRow.id == case.id)).one_or_none()
            if row is None or row.state == CaseState.CLOSED.value:
                return False
            conn.execute(update(HandoverRow).where(HandoverRow.id == case.id).values(
                state=CaseState.CLOSED.value, closed_at=now, close_reason=reason.value))
            conn.execute(insert(HandoverMessageRow).values(handover_id=case.id, direction=BOT, text=closing_text(reason, case.language),
                                                           at=now, done=False))
            key = (row.channel, row.chat_id or "", row.profile)
        self._set_open(key, None)
        return True

    def overdue(self, idle: dt.timedelta, wait: dt.timedelta) -> list[tuple[CaseView, CloseReason]]:
        """Open cases to close: answered ones quiet for ``idle``, unanswered ones older than ``wait``."""
        now = self.now()
        with self.engine.connect() as conn:
            rows = conn.execute(select(HandoverRow).where(HandoverRow.state.in_([s.value for s in OPEN_STATES]), or_(
                HandoverRow.answered_at.is_not(None) & (HandoverRow.last_activity_at < now - idle),
                HandoverRow.answered_at.is_(None) & (HandoverRow.created_at < now - wait),
            ))).all()
        return [(_view(r), CloseReason.TIMEOUT if r.answered_at is not None else CloseReason.UNANSWERED) for r in rows]

    def let_go(self) -> int:
        """Drop the chat id of closed cases whose messages to the chat are all out: nothing will be
        sent there any more, and the pseudonym still finds them for "my data"."""
        with self.engine.begin() as conn:
            pending = select(HandoverMessageRow.handover_id).where(HandoverMessageRow.done.is_(False))
            return conn.execute(update(HandoverRow).where(HandoverRow.state == CaseState.CLOSED.value, HandoverRow.chat_id.is_not(None),
                                                          HandoverRow.id.not_in(pending)).values(chat_id=None)).rowcount

    def purge(self) -> int:
        """Delete closed cases past their retention, with their messages."""
        cutoff = self.now() - dt.timedelta(days=self.retention_days)
        with self.engine.begin() as conn:
            old = [r for (r,) in conn.execute(select(HandoverRow.id).where(HandoverRow.state == CaseState.CLOSED.value,
                                                                           HandoverRow.closed_at < cutoff)).all()]
            if old:
                conn.execute(delete(HandoverMessageRow).where(HandoverMessageRow.handover_id.in_(old)))
                conn.execute(delete(HandoverRow).where(HandoverRow.id.in_(old)))
        return len(old)

    def pending_redactions(self) -> list[tuple[int, str, str]]:
        with self.engine.connect() as conn:
            return [(r.id, r.room_id, r.event_id) for r in conn.execute(select(HandoverRedactionRow).order_by(HandoverRedactionRow.id))]

    def redacted(self, redaction_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(HandoverRedactionRow).where(HandoverRedactionRow.id == redaction_id))

    def conversation(self, case_id: int) -> tuple[str, list[str]]:
        """The case's question and the team's answers, for a draft entry."""
        with self.engine.connect() as conn:
            question = conn.execute(select(HandoverRow.question).where(HandoverRow.id == case_id)).scalar_one()
            answers = conn.execute(select(HandoverMessageRow.text).where(HandoverMessageRow.handover_id == case_id,
                                                                         HandoverMessageRow.direction == STAFF)
                                   .order_by(HandoverMessageRow.id)).scalars().all()
            # "Mitarbeiter bitte" is no example of a question: the citizen's first message to the team is.
            first = conn.execute(select(HandoverMessageRow.text).where(HandoverMessageRow.handover_id == case_id,
                                                                       HandoverMessageRow.direction == CITIZEN)
                                 .order_by(HandoverMessageRow.id).limit(1)).scalar_one_or_none()
        return (first if first is not None and asks_for_person(question) else question), list(answers)


def _view(row: Row[Any]) -> CaseView:
    return CaseView(row.id, row.number or case_number(row.id), row.profile, CaseState(row.state), row.language, row.staff_room, row.root_event_id,
                    row.claimed_by, row.created_at, row.answered_at)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
