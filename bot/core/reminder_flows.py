"""Reminder conversations: adding an appointment, listing and ending reminders, linking a booking,
following a case, waste collection reminders, and the chat's data export.

The dialogue calls in from a few places (commands, choices, intents, a message that carries its
own details, the answer to a question the flow asked). What a flow is waiting for lives in
``UserState.extra`` under ``rem.*`` keys, so button payloads stay short (Telegram allows 64
bytes): a payload names a step and a position in a list kept in the state, plus a short hash
of that list so a button from an older message never acts on a different item.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rapidfuzz import fuzz

from bot.core.knowledge import KnowledgeBase
from bot.core.matching.normalise import fold
from bot.core.models import Appointment, Button, ChatRef, Incoming, LinkError, Reply, SubscriptionKind, UserState
from bot.core.notices import office_buttons, place_line
from bot.core.ports import ReminderBook, UnansweredLog, UserStateStore
from bot.core.schedule import ReminderPolicy
from bot.core.texts import MONTH_NAMES, WEEKDAY_NAMES, inline, text
from bot.core.when import When, describe_offsets, format_date, format_moment, format_time, parse_when

REMINDER_COMMANDS = frozenset({"termin", "appointment", "erinnerungen", "reminders", "link", "status", "muell", "waste", "meinedaten", "mydata"})
CHOICE_PREFIX = "rem:"
CHOICE_YES = "rem:yes"
CHOICE_NO = "rem:no"
_CANCEL = "rem:x:"  # + list hash + ":" + position
_DISTRICT = "rem:d:"
_STATE = "rem."
MAX_AHEAD = dt.timedelta(days=731)
MAX_DISTRICT_BUTTONS = 20
MAX_EXPORT_CHARS = 3000  # one code block per message, well below Telegram's 4096

_YES = frozenset({"ja", "j", "yes", "y", "ok", "okay", "jawohl", "passt", "richtig", "stimmt", "genau", "speichern", "save", "correct", "right", "sure"})
_NO = frozenset({"nein", "n", "no", "nope", "falsch", "wrong"})
_ABORT = frozenset({"abbrechen", "abbruch", "cancel", "stop", "stopp", "vergiss es", "never mind", "nevermind", "egal"})
_REMIND = ("erinner", "remind")
_WASTE = ("muell", "abfall", "abfuhr", "tonne", "waste", "garbage", "rubbish", "trash", "recycling")
_CASE = ("status", "vorgang", "aktenzeichen", "antragsnummer", "bearbeitungsstand", "case", "reference", "referenz", "tracking")
# Weaker hints count only with a reference that is no plain number ("where is … 12345" is a postcode).
_CASE_HINTS = ("wo ist", "where is", "fertig", "ready", "abhol", "collect")
# "link <token>" typed as text (console, "!bot link …"); only something shaped like a link token
# (bot/reminders/tokens.py: version "1", 30 to 64 base64url characters), so "Link Sperrmüll" stays a question.
_LINK_TEXT = re.compile(r"^\s*[!/]?link\s+(1[A-Za-z0-9_-]{29,63})\s*$", re.IGNORECASE)
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/._]{2,62}[A-Za-z0-9]$")
_DATE_LIKE = re.compile(r"^(\d{1,2}[./]\d{1,2}[./]?(\d{2}|\d{4})?|\d{1,2}[:.]\d{2}|\d{4}-\d{1,2}-\d{1,2})$")
_EDGE_PUNCTUATION = ",.;:!?()[]{}\"'„“”‚‘’«»<>"
_SUBJECT_MARK = re.compile(r"(?i)\b(?:für|fuer|wegen|betreff|betrifft|zum thema|for|about|regarding)\s+")
_SUBJECT_SKIP = frozenset("den die das dem der des meinen meine meinem meiner mein einen eine einem einer ein my the a an our".split())
_SUBJECT_STOP = frozenset(
    "am um on at im in beim bei ab bis heute morgen uebermorgen today tomorrow tonight next naechsten kommenden this coming "
    "und and erinnern erinnere remind termin termine appointment appointments erinnerung reminder".split()
) | {fold(n) for names in (*WEEKDAY_NAMES.values(), *MONTH_NAMES.values()) for n in names}


class TurnView(Protocol):
    """What the flows read and change of the dialogue's current turn."""

    lang: str
    state: UserState
    text: str
    msg: Incoming


@dataclass(frozen=True)
class ReminderSetup:
    book: ReminderBook | None
    kb: KnowledgeBase
    now: dt.datetime  # the city's local time, timezone-aware
    office_named: Callable[[str], str | None]  # the office a text names (Dialogue.office_named)
    policy: ReminderPolicy = field(default_factory=ReminderPolicy)  # what the saved appointment's reminders will be
    states: UserStateStore | None = None  # for the data export: what the other bots keep about the chat
    unanswered: UnansweredLog | None = None  # for the data export: the chat's questions noted for staff


class ReminderFlows:
    def __init__(self, turn: TurnView, setup: ReminderSetup) -> None:
        self.t = turn
        self.s = setup
        self.touched = False  # whether this turn used the flow state; untouched state is dropped

    # -- entry points ------------------------------------------------------------------------------
    @property
    def book(self) -> ReminderBook:
        """The reminder book; every entry point checks first that there is one."""
        if self.s.book is None:
            raise RuntimeError("reminder flow without a reminder book")
        return self.s.book

    @property
    def chat(self) -> ChatRef:
        return self.t.msg.chat

    def command(self, name: str, argument: str) -> list[Reply] | None:
        """Replies for a reminder command; None for a command that is not one (or /start without a link)."""
        if name == "start":
            if not argument.strip() or self.s.book is None:
                return None
            # A payload that is no link token (a campaign, a profile) is not ours to refuse: greet as usual.
            return self._redeem(argument)
        if name not in REMINDER_COMMANDS:
            return None
        if name in ("meinedaten", "mydata"):
            return self.export()
        if self.s.book is None:
            return [self._reply(text("reminders_unavailable", self.t.lang))]
        if name == "link":
            if not argument.strip():
                return [self._reply(text("link_ask", self.t.lang))]
            return self._redeem(argument) or [self._reply(text("link_malformed", self.t.lang))]
        if name in ("termin", "appointment"):
            return self.add(argument)
        if name in ("erinnerungen", "reminders"):
            return self.listing()
        if name == "status":
            return self.case(argument, lenient=True)
        return self.waste(argument)

    def intent(self, action: str, answer: str) -> list[Reply] | None:
        """Replies for an intent of the knowledge files whose action is a reminder flow."""
        if action == "my_data":
            return self.export(answer)
        if action not in ("reminders", "reminder_list", "case_status", "waste_reminder"):
            return None
        if self.s.book is None:
            return [self._reply(text("reminders_unavailable", self.t.lang))]
        if action == "reminders":
            return self.add(self.t.text, intro=answer)
        if action == "reminder_list":
            return self.listing()
        if action == "case_status":
            return self.case(self.t.text)
        return self.waste(self.t.text)

    def detect(self) -> list[Reply] | None:
        """A message that carries a reminder's details itself ("Erinnere mich an meinen Termin am 3.12.
        um 10:30", "Status RP-2026-004711"). The matcher would answer the topic (the Bürgerbüro, the
        passport); the details say what the person wants."""
        typed_link = _LINK_TEXT.match(self.t.text)
        if typed_link:
            return self._need_book() or self.command("link", typed_link.group(1))
        folded = f" {fold(self.t.text)} "
        remind = any(f" {w}" in folded for w in _REMIND)
        reference = find_reference(self.t.text)
        if reference and (any(f" {w}" in folded for w in _CASE) or (not reference.isdigit() and any(f" {w}" in folded for w in _CASE_HINTS))):
            return self._need_book() or self.case(reference, lenient=True)
        if not remind:
            return None
        if any(w in folded for w in _WASTE):
            return self._need_book() or self.waste(self.t.text)
        when = parse_when(self.t.text, self.s.now)
        if when.day or when.time:
            return self._need_book() or self.add(self.t.text)
        return None

    @property
    def asking(self) -> bool:
        """Whether the flow asked something last turn that this message may answer."""
        return self._get("step") is not None and self.s.book is not None

    def resume(self) -> list[Reply] | None:
        """The answer to what the flow asked last turn; None when the message is about something else."""
        step = self._get("step")
        if step is None or self.s.book is None:
            return None
        detected = self.t.lang
        self._flow_language()
        replies = self._resume(step)
        if replies is None:
            self.t.lang = detected
        return replies

    def _resume(self, step: str) -> list[Reply] | None:
        said = " ".join(fold(self.t.text).split())
        if said in _ABORT:
            self._clear()
            return [self._reply(text("flow_cancelled", self.t.lang))]
        if step in ("date", "time", "confirm"):
            if step == "confirm" and said in _YES:
                return self._save()
            if step == "confirm" and said in _NO:
                return self._not_saved()
            when = parse_when(self.t.text, self.s.now, expect_time=step == "time")
            if when.day or when.time:
                return self._continue_add(self._merged(when))
        elif step == "case":
            reference = find_reference(self.t.text, lenient=len(self.t.text.split()) == 1)
            if reference:
                return self.case(reference, lenient=True)
        elif step == "district":
            found = match_districts(self.t.text, self.book.districts())
            if found:
                return self._pick_districts(found)
        return None  # settle() drops the waiting step: the person moved on

    def choice(self, payload: str) -> list[Reply] | None:
        if not payload.startswith(CHOICE_PREFIX):
            return None
        if self.s.book is None:
            return [self._reply(text("reminders_unavailable", self.t.lang))]
        self._flow_language()
        if payload == CHOICE_YES:
            return self._save()
        if payload == CHOICE_NO:
            return self._not_saved()
        if payload.startswith(_CANCEL):
            return self._cancel(payload[len(_CANCEL):])
        if payload.startswith(_DISTRICT):
            item = self._listed(payload[len(_DISTRICT):], "district")
            if item is None:
                return self.waste("")
            return self._subscribe_waste(item)
        return None

    def settle(self) -> None:
        """Called at the end of every turn: a question the person did not answer is forgotten."""
        if not self.touched and any(k.startswith(_STATE) for k in self.t.state.extra):
            self._clear()

    # -- add an appointment ------------------------------------------------------------------------
    def add(self, said: str, intro: str | None = None) -> list[Reply]:
        self._clear()
        when = parse_when(said, self.s.now)
        office = self.s.office_named(said)
        subject = find_subject(said)
        if subject and office and self.s.office_named(subject) == office:
            subject = ""  # "für das Standesamt" names the place, not the matter
        draft = _Draft(when.day, when.time, office, subject)
        if not draft.day and not draft.time and intro:
            self._remember(draft, "date")
            return [self._reply(intro)]
        return self._continue_add(draft)

    def _merged(self, when: When) -> _Draft:
        day = _date_from(self._get("date")) if when.day is None else when.day
        time = _time_from(self._get("time")) if when.time is None else when.time
        office = self.s.office_named(self.t.text) or self._get("office")
        subject = find_subject(self.t.text) or self._get("subject") or ""
        return _Draft(day, time, office, subject)

    def _continue_add(self, draft: _Draft) -> list[Reply]:
        lang = self.t.lang
        if draft.day is None and draft.time is None:
            self._remember(draft, "date")
            return [self._reply(text("ask_when", lang))]
        if draft.day is None:
            self._remember(draft, "date")
            return [self._reply(text("ask_date", lang, time=format_time(draft.time, lang) if draft.time else ""))]
        if draft.time is None:
            self._remember(draft, "time")
            return [self._reply(text("ask_time", lang, date=format_date(draft.day, lang, year=draft.day.year != self.s.now.year)))]
        at = dt.datetime.combine(draft.day, draft.time, self.s.now.tzinfo)
        problem = self._refuse(at)
        if problem is not None:
            self._remember(_Draft(None, None, draft.office, draft.subject), "date")
            return [self._reply(problem)]
        self._remember(draft, "confirm")
        self.t.state.pending_choices = (CHOICE_YES, CHOICE_NO)
        parts = [text("confirm_appointment", lang), self._appointment_block(at, draft.office, draft.subject)]
        leads = self._leads(draft.office, at)
        if leads:
            parts.append(leads)
        choices = (Button(text("yes_save", lang), payload=CHOICE_YES), Button(text("no_wrong", lang), payload=CHOICE_NO))
        return [Reply("\n\n".join(parts), choices=choices, language=lang)]

    def _refuse(self, at: dt.datetime) -> str | None:
        moment = format_moment(at, self.t.lang, year=True)
        if at <= self.s.now:
            return text("in_past", self.t.lang, moment=moment)
        if at - self.s.now > MAX_AHEAD:
            return text("too_far", self.t.lang, moment=moment)
        return None

    def _save(self) -> list[Reply]:
        day, time = _date_from(self._get("date")), _time_from(self._get("time"))
        if self._get("step") != "confirm" or day is None or time is None:
            self._clear()
            return [self._reply(text("lost_track", self.t.lang))]
        office, subject = self._get("office"), self._get("subject") or ""
        at = dt.datetime.combine(day, time, self.s.now.tzinfo)
        problem = self._refuse(at)
        if problem is not None:
            self._remember(_Draft(None, None, office, subject), "date")
            return [self._reply(problem)]
        self.book.add_appointment(self.chat, self.t.lang, at, office, subject)
        self._clear()
        self.t.state.pending_choices = ()
        lang = self.t.lang
        parts = [text("saved", lang, moment=format_moment(at, lang, year=at.year != self.s.now.year))]
        leads = self._leads(office, at)
        if leads:
            parts.append(leads)
        parts.append(text("list_hint", lang))
        return [self._reply("\n\n".join(parts))]

    def _not_saved(self) -> list[Reply]:
        office, subject = self._get("office"), self._get("subject") or ""
        self._remember(_Draft(None, None, office, subject), "date")
        self.t.state.pending_choices = ()
        return [self._reply(text("not_saved", self.t.lang))]

    def _appointment_block(self, at: dt.datetime, office: str | None, subject: str) -> str:
        lines = [f"**{format_moment(at, self.t.lang, long=True)}**"]
        place = place_line(office, self.s.kb, self.t.lang)
        if place:
            lines.append(place)
        if subject:
            lines.append(text("subject_line", self.t.lang, subject=inline(subject)))
        return "\n".join(lines)

    def _leads(self, office: str | None, at: dt.datetime) -> str:
        """The reminders that will really come: those already past or swallowed by the quiet hours are not promised."""
        planned = [p.lead for p in self.s.policy.plan(at, office, self.s.now)]
        if not planned:
            return text("no_leads", self.t.lang)
        return text("leads_line", self.t.lang, leads=describe_offsets(planned, self.t.lang))

    # -- list and end ------------------------------------------------------------------------------
    def listing(self, intro: str | None = None) -> list[Reply]:
        lang = self.t.lang
        items: list[tuple[str, str]] = []
        for appointment in self.book.upcoming(self.chat, self.s.now):
            items.append((f"a:{appointment.id}", self._appointment_label(appointment)))
        for sub in self.book.subscriptions(self.chat):
            key = "label_case" if sub.kind is SubscriptionKind.CASE else "label_waste"
            items.append((f"s:{sub.id}", text(key, lang, reference=inline(sub.label, 40), district=inline(sub.label, 40))))
        if not items:
            self._clear()
            return [self._reply("\n\n".join(x for x in (intro, text("reminders_none", lang)) if x))]
        digest = self._list_state("list", items)
        choices = tuple(Button(label, payload=f"{_CANCEL}{digest}:{n}") for n, (_, label) in enumerate(items, 1))
        self.t.state.pending_choices = tuple(c.payload or "" for c in choices)
        body = "\n\n".join(x for x in (intro, text("reminders_list", lang)) if x)
        return [Reply(body, choices=choices, language=lang)]

    def _appointment_label(self, appointment: Appointment) -> str:
        at = appointment.starts_at.astimezone(self.s.now.tzinfo) if self.s.now.tzinfo else appointment.starts_at
        label = text("label_appointment", self.t.lang, moment=format_moment(at, self.t.lang, year=at.year != self.s.now.year))
        office = self.s.kb.offices.get(appointment.office) if appointment.office else None
        if office is not None:
            label += f" – {office.name(self.t.lang)}"
        return inline(label, 60)

    def _cancel(self, ref: str) -> list[Reply]:
        item = self._listed(ref, "list")
        if item is None:
            return self.listing(intro=text("list_outdated", self.t.lang))
        kind, _, item_id = item.partition(":")
        done = self.book.cancel(self.chat, item_id) if kind == "a" else self.book.unsubscribe(self.chat, item_id)
        self._touch()
        label = self._label_of(item)
        if not done:
            return [self._reply(text("reminder_gone", self.t.lang))]
        return [self._reply(text("reminder_ended", self.t.lang, label=label))]

    # -- link a booking ----------------------------------------------------------------------------
    def _redeem(self, argument: str) -> list[Reply] | None:
        """None when the token is malformed (the caller decides what that means)."""
        token = argument.strip().split()[0] if argument.strip() else ""
        result = self.book.redeem(self.chat, self.t.lang, token[:128])
        lang = self.t.lang
        if result.appointment is not None:
            self._clear()
            appointment = result.appointment
            at = appointment.starts_at.astimezone(self.s.now.tzinfo) if self.s.now.tzinfo else appointment.starts_at
            parts = [text("link_ok", lang), self._appointment_block(at, appointment.office, appointment.subject)]
            leads = self._leads(appointment.office, at)
            if leads:
                parts.append(leads)
            parts.append(text("list_hint", lang))
            return [Reply("\n\n".join(parts), buttons=office_buttons(appointment.office, self.s.kb, lang), language=lang)]
        if result.error is LinkError.MALFORMED or result.error is None:
            return None
        return [self._reply(text(f"link_{result.error.value}", lang))]

    # -- follow a case -----------------------------------------------------------------------------
    def case(self, said: str, lenient: bool = False) -> list[Reply]:
        reference = find_reference(said, lenient=lenient)
        if reference is None:
            self._remember(_Draft(), "case")
            return [self._reply(text("case_ask", self.t.lang))]
        sub = self.book.subscribe_case(self.chat, self.t.lang, reference)
        if sub is None:
            self._remember(_Draft(), "case")  # a corrected number in the next message is taken
            return [self._reply(text("case_unknown", self.t.lang, reference=inline(reference, 64)))]
        self._clear()
        return [self._reply(text("case_ok", self.t.lang, reference=inline(sub.label, 64)))]

    # -- waste collection --------------------------------------------------------------------------
    def waste(self, said: str) -> list[Reply]:
        districts = self.book.districts()
        if not districts:
            self._clear()
            return [self._reply(text("waste_none", self.t.lang))]
        found = match_districts(said, districts) if said.strip() else []
        if found:
            return self._pick_districts(found)
        return self._offer_districts(sorted(districts, key=lambda d: fold(districts[d])))

    def _pick_districts(self, found: list[str]) -> list[Reply]:
        if len(found) == 1:
            return self._subscribe_waste(found[0])
        return self._offer_districts(found)

    def _offer_districts(self, ids: list[str]) -> list[Reply]:
        names = self.book.districts()
        lang = self.t.lang
        if len(ids) > MAX_DISTRICT_BUTTONS:
            self._remember(_Draft(), "district")
            return [self._reply(text("waste_ask_name", lang, example=inline(names[ids[0]], 40)))]
        digest = self._list_state("district", [(d, inline(names.get(d, d), 60)) for d in ids])
        choices = tuple(Button(inline(names.get(d, d), 60), payload=f"{_DISTRICT}{digest}:{n}") for n, d in enumerate(ids, 1))
        self.t.state.pending_choices = tuple(c.payload or "" for c in choices)
        return [Reply(text("waste_ask", lang), choices=choices, language=lang)]

    def _subscribe_waste(self, district: str) -> list[Reply]:
        if district not in self.book.districts():
            return self.waste("")
        sub = self.book.subscribe_waste(self.chat, self.t.lang, district)
        self._clear()
        self.t.state.pending_choices = ()
        return [self._reply(text("waste_ok", self.t.lang, district=inline(sub.label, 60)))]

    # -- the chat's data ---------------------------------------------------------------------------
    def export(self, intro: str | None = None) -> list[Reply]:
        """Everything stored about this chat as JSON (GDPR access request)."""
        data: dict[str, object] = {"chat": {"channel": self.t.msg.channel, "chat_id": self.t.msg.chat_id}, **_state_data(self.t.state)}
        # The person's state with the city's other bots: "delete my data" removes it too, so it is shown.
        others = self.s.states.export(self.chat) if self.s.states is not None else {}
        others = {profile: state for profile, state in others.items() if profile != self.chat.profile and state != UserState()}
        if others:
            data["other_bots"] = {profile: _state_data(others[profile]) for profile in sorted(others)}
        if self.s.book is not None:
            data["reminders"] = self.book.export(self.chat)
        # What the bot could not answer is kept for staff, and may hold a name: it is the person's data too.
        asked = self.s.unanswered.questions(self.chat) if self.s.unanswered is not None else []
        if asked:
            data["unanswered_questions"] = [{"asked_at": at.isoformat(timespec="seconds"), "text": said} for at, said in asked]
        # A backtick cannot end the code block: inside JSON strings it is written as its escape.
        dumped = json.dumps(data, ensure_ascii=False, indent=2, default=str).replace("`", "\\u0060")
        blocks = _chunks(dumped.split("\n"), MAX_EXPORT_CHARS)
        head = "\n\n".join(x for x in (intro, text("my_data_intro", self.t.lang)) if x)
        replies = [self._reply(f"```json\n{block}\n```") for block in blocks]
        return [self._reply(f"{head}\n\n{replies[0].text}"), *replies[1:]]

    def forget(self) -> None:
        if self.s.book is not None:
            self.book.forget(self.chat)

    # -- state helpers -----------------------------------------------------------------------------
    def _flow_language(self) -> None:
        """A reply like "10", "ja" or "2" says nothing about the language: keep the flow's own,
        unless the person chose one."""
        flow_lang = self._get("lang")
        if flow_lang and self.t.state.language is None:
            self.t.lang = flow_lang

    def _need_book(self) -> list[Reply] | None:
        return [self._reply(text("reminders_unavailable", self.t.lang))] if self.s.book is None else None

    def _reply(self, body: str) -> Reply:
        return Reply(body, language=self.t.lang)

    def _get(self, key: str) -> str | None:
        return self.t.state.extra.get(_STATE + key)

    def _touch(self) -> None:
        self.touched = True

    def _set(self, values: dict[str, str | None]) -> None:
        kept = {k: v for k, v in self.t.state.extra.items() if not k.startswith(_STATE)}
        kept.update({_STATE + k: v for k, v in values.items() if v})
        if values:
            kept[_STATE + "lang"] = self.t.lang
        self.t.state.extra = kept  # a new dict: the loaded state object is never changed in place
        self.touched = True

    def _clear(self) -> None:
        self._set({})
        if any(p.startswith(CHOICE_PREFIX) for p in self.t.state.pending_choices):
            self.t.state.pending_choices = ()  # numbers typed next must not pick from a finished list

    def _remember(self, draft: _Draft, step: str) -> None:
        self._set({
            "step": step,
            "date": draft.day.isoformat() if draft.day else None,
            "time": draft.time.strftime("%H:%M") if draft.time else None,
            "office": draft.office,
            "subject": draft.subject or None,
        })
        if step != "confirm":
            self.t.state.pending_choices = ()

    def _list_state(self, step: str, items: Sequence[tuple[str, str]]) -> str:
        """Keep a list the person picks from by position; returns its hash for the payloads."""
        listed = "\n".join(f"{key}\t{' '.join(label.split())}" for key, label in items)
        digest = hashlib.sha1(listed.encode(), usedforsecurity=False).hexdigest()[:6]
        self._set({"step": step, "items": listed, "hash": digest})
        return digest

    def _listed(self, ref: str, step: str) -> str | None:
        """The key of the item a payload points at, if the list is still the one shown."""
        digest, _, position = ref.partition(":")
        items = (self._get("items") or "").split("\n")
        if self._get("step") != step or digest != self._get("hash") or not (position.isascii() and position.isdigit()) or not 1 <= int(position) <= len(items):
            return None
        self._touch()
        return items[int(position) - 1].split("\t", 1)[0]

    def _label_of(self, key: str) -> str:
        for line in (self._get("items") or "").split("\n"):
            item, _, label = line.partition("\t")
            if item == key:
                return label
        return ""


@dataclass(frozen=True)
class _Draft:
    day: dt.date | None = None
    time: dt.time | None = None
    office: str | None = None
    subject: str = ""


def _date_from(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _time_from(value: str | None) -> dt.time | None:
    try:
        return dt.time.fromisoformat(value) if value else None
    except ValueError:
        return None


def _state_data(state: UserState) -> dict[str, object]:
    """A chat's state as the data export shows it."""
    return {
        "language": state.language,
        "offered_choices": list(state.pending_choices),
        "dialogue_in_progress": {k: v for k, v in state.extra.items() if k.startswith(_STATE)},
        "conversation": {k: v for k, v in state.extra.items() if not k.startswith(_STATE)},  # bot/core/conversation.py
    }


def _chunks(lines: list[str], limit: int) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = line[:limit]
        if current and size + len(line) + 1 > limit:
            blocks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    blocks.append("\n".join(current))
    return blocks


def find_reference(said: str, lenient: bool = False) -> str | None:
    """A case reference ("RP-2026-004711") in a message. ``lenient`` for the argument of /status,
    where any code-like word counts; in free text it needs five characters, four of them digits,
    and must not be a date or a time."""
    for word in said.split():
        word = word.strip(_EDGE_PUNCTUATION)
        if not _REFERENCE.match(word) or _DATE_LIKE.match(word):
            continue
        digits = sum(ch.isdigit() for ch in word)
        if (digits >= 4 and len(word) >= 5) or (lenient and digits >= 1):
            return word
    return None


def find_subject(said: str) -> str:
    """What an appointment is for: the words after "für"/"for"/"wegen", up to where the date,
    time or place begins ("… für meinen Reisepass am 3.12." → "Reisepass")."""
    for mark in _SUBJECT_MARK.finditer(said[:500]):
        words: list[str] = []
        for raw in said[mark.end():500].split():
            word = raw.strip(_EDGE_PUNCTUATION)
            folded = fold(word)
            if not words and folded in _SUBJECT_SKIP:
                continue
            if not folded or folded in _SUBJECT_STOP or any(ch.isdigit() for ch in word):
                break
            words.append(word)
            if raw[-1:] in ",.;!?" or len(words) == 6:
                break
        if words:
            return inline(" ".join(words), 80)
    return ""


def match_districts(said: str, districts: dict[str, str]) -> list[str]:
    """The districts a message names, best first: exact names win, then near spellings
    ("Suedstadt", "Südstat") by rapidfuzz on folded words; several only when equally close."""
    words = fold(said).split()
    if not words:
        return []
    padded = f" {' '.join(words)} "
    scores: dict[str, float] = {}
    for district_id, name in districts.items():
        best = 0.0
        for candidate in {fold(name), fold(district_id.replace("-", " "))}:
            if not candidate:
                continue
            if f" {candidate} " in padded:
                best = 100.0
                break
            size = len(candidate.split())
            for i in range(max(1, len(words) - size + 1)):
                best = max(best, fuzz.ratio(" ".join(words[i:i + size]), candidate))
        if best >= 85:
            scores[district_id] = best
    if not scores:
        return []
    top = max(scores.values())
    return sorted((d for d, s in scores.items() if s >= top - 3), key=lambda d: -scores[d])
