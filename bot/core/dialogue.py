"""One conversation turn: an :class:`Incoming` message and the chat's state become replies.

The same dialogue serves every channel and profile; adapters only render what it returns.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.core.hours import HolidayCheck, no_holidays, open_line
from bot.core.knowledge import KnowledgeBase
from bot.core.live import Snapshot
from bot.core.matching.matcher import Match
from bot.core.matching.normalise import fold
from bot.core.models import Button, Entry, Incoming, Kind, Office, Reply, UserState
from bot.core.ports import NoUsageLog, ReminderBook, UnansweredLog, UsageKind, UsageLog, UserStateStore
from bot.core.reminder_flows import ReminderFlows, ReminderSetup
from bot.core.schedule import QuietHours
from bot.core.texts import text

log = logging.getLogger(__name__)

CHOICE_ENTRY = "entry:"
CHOICE_LANGUAGE = "lang:"
# Commands the dialogue handles (adapters pass any command on; unknown ones get a polite reply).
COMMANDS = frozenset({
    "start", "help", "menu", "hilfe", "language", "sprache",
    "termin", "appointment", "erinnerungen", "reminders", "link", "status", "muell", "waste",  # bot/core/reminder_flows.py
    "meinedaten", "mydata", "loeschen", "delete",
})
CHOICE_CONFIRM_DELETE = "delete:yes"
CHOICE_KEEP = "delete:no"
SMALL_TALK = frozenset({"greeting", "thanks", "goodbye"})  # intent actions that are not topics
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English", "fr": "Français", "tr": "Türkçe", "ar": "العربية", "uk": "Українська"}
# Control, zero-width and direction-override characters, and lone UTF-16 surrogates (valid in JSON,
# but no database or encoder takes them).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


@dataclass(frozen=True)
class DialogueSettings:
    threshold: float = 0.5
    # "Meinten Sie …?" when the runner-up is within this distance of the best and above threshold.
    ambiguity_gap: float = 0.08
    # Below the threshold but above this share of it, the fallback suggests the nearest topics.
    suggest_ratio: float = 0.6
    default_language: str = "de"
    popular: tuple[str, ...] = (
        "termin-buergerbuero", "personalausweis", "wohnsitz-anmelden", "kfz-zulassung", "sperrmuell", "oeffnungszeiten",
    )
    phone_office: str = "buergertelefon"
    preferred_tags: frozenset[str] = frozenset()  # profile preference, e.g. {"welcome"}
    preference_bonus: float = 0.05
    greeting: dict[str, str] | None = None  # a profile's own greeting, by language
    # Whether the chat app's language (e.g. Telegram's language_code) counts when the user has not
    # chosen one; an English-first profile turns this off so a German phone still gets English.
    use_language_hint: bool = True
    # How long before an appointment reminders go out ("1d", "1h"), as configured for the scheduler,
    # so the dialogue can tell people truthfully which reminders will come.
    reminder_offsets: tuple[str, ...] = ("1d", "1h")
    office_reminder_offsets: dict[str, tuple[str, ...]] | None = None
    reminder_quiet_hours: QuietHours = field(default_factory=QuietHours)

    @property
    def suggest_at(self) -> float:
        """The score from which topics are offered ("Meinten Sie …?") though none is answered."""
        return self.threshold * self.suggest_ratio


class Dialogue:
    def __init__(
        self,
        knowledge: Callable[[], Snapshot],
        states: UserStateStore,
        unanswered: UnansweredLog,
        settings: DialogueSettings | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        is_holiday: HolidayCheck = no_holidays,
        usage: UsageLog | None = None,
        book: ReminderBook | None = None,
    ) -> None:
        self._knowledge = knowledge
        self.states = states
        self.unanswered = unanswered
        self.settings = settings or DialogueSettings()
        self.clock = clock or dt.datetime.now
        self.is_holiday = is_holiday
        self.usage: UsageLog = usage or NoUsageLog()
        self.book = book  # None: this deployment has no reminders, and the dialogue says so
        self._office_phrases: tuple[KnowledgeBase, dict[str, tuple[str, ...]]] | None = None

    def office_phrases(self, kb: KnowledgeBase) -> dict[str, tuple[str, ...]]:
        """How people name each office (" buergerbuero mitte ", " buergerbuero "), folded once per
        knowledge snapshot rather than for every answer."""
        if self._office_phrases is None or self._office_phrases[0] is not kb:
            table: dict[str, tuple[str, ...]] = {}
            for office in kb.offices.values():
                names = {fold(n) for n in office.names.values()} | {fold(office.id.replace("-", " "))}
                phrases = {f" {n} " for n in names if n} | {f" {n.split()[0]} " for n in names if n and len(n.split()[0]) > 4}
                table[office.id] = tuple(sorted(phrases))
            self._office_phrases = (kb, table)
        return self._office_phrases[1]

    def office_named(self, kb: KnowledgeBase, said: str) -> str | None:
        """The id of the office a text names ("Ist das Standesamt offen?"), if any."""
        words = f" {fold(said)} "
        for office_id, phrases in self.office_phrases(kb).items():
            if any(p in words for p in phrases):
                return office_id
        return None

    def handle(self, msg: Incoming) -> list[Reply]:
        state = self.states.load(msg.chat)
        snap = self._knowledge()
        turn = _Turn(self, snap, msg, state)
        try:
            replies = turn.run()
            if turn.deleted:
                self.unanswered.forget(msg.chat)
                self.states.forget(msg.chat)
        except Exception as exc:
            # Reminders, the data export and deleting need the database, and fail while it is
            # away (questions do not: the state store falls back to memory, the logs buffer).
            # The citizen hears that instead of nothing; the state stays as it was, so a button
            # pressed again works once the database is back.
            log.error("a message could not be handled: %s", type(exc).__name__, exc_info=exc)
            return [Reply(text("technical_problem", turn.lang), language=turn.lang)]
        for reply in replies:
            if reply.entry_id is not None:
                turn.used("answer", (reply.entry_id,))
        if not turn.deleted:
            self.states.save(msg.chat, turn.state)
        return replies


class _Turn:
    """The working state of one handled message."""

    def __init__(self, dialogue: Dialogue, snap: Snapshot, msg: Incoming, state: UserState) -> None:
        self.d = dialogue
        self.s = dialogue.settings
        self.kb = snap.knowledge
        self.matcher = snap.matcher
        self.msg = msg
        self.state = replace(state)
        self.deleted = False
        self.text = _clean(msg.text)
        self.argument = _clean(msg.argument)
        hint = msg.language_hint if self.s.use_language_hint else None
        detected = self.matcher.detect(self.text, hint or self.s.default_language) if fold(self.text) else None
        self.text_lang = detected or hint or self.s.default_language
        lang = state.language or self.text_lang
        self.lang = lang if lang in self.kb.languages else self.s.default_language
        self.reminders = ReminderFlows(self, self._reminder_setup())

    def _reminder_setup(self) -> ReminderSetup:
        now = self.d.clock()
        offsets = self.s.office_reminder_offsets or {}
        return ReminderSetup(
            self.d.book, self.kb, now if now.tzinfo else now.astimezone(), lambda said: self.d.office_named(self.kb, said),
            self.s.reminder_offsets, offsets, self.s.reminder_quiet_hours, self.d.states, self.d.unanswered,
        )

    def run(self) -> list[Reply]:
        replies = self._route()
        self.reminders.settle()
        return replies

    def _route(self) -> list[Reply]:
        # Offered choices answer only the very next message: a number typed later must not pick
        # from a list two replies back (an old "delete everything?" least of all).
        offered, self.state.pending_choices = self.state.pending_choices, ()
        if self.msg.command is not None:
            return self._command(self.msg.command)
        if self.msg.choice:
            return self._choice(self.msg.choice)
        stripped = self.text.strip()
        if stripped.isascii() and stripped.isdigit() and offered:  # not "²" or "①", which int() refuses
            n = int(stripped)
            if 1 <= n <= len(offered):
                return self._choice(offered[n - 1])
        if not fold(self.text):
            return [self._help_reply(text("not_understood", self.lang))]
        result = self.matcher.match(self.text, self.text_lang, k=8)
        matches = self._usable(result.matches)
        # A needless "call 112" costs a glance, a missed emergency far more: an emergency entry
        # that leads the ranking counts from the lower bar at which the fallback suggests topics.
        leading = matches[:1] if matches and matches[0].score >= self.s.suggest_at else []
        answered = [m for m in matches if m.score >= self.s.threshold]
        emergency = next((m for m in leading + answered if self._entry(m).emergency), None)
        if emergency is not None:
            # 110/112 first, always; a question that also matched something else gets that too.
            self.state.pending_choices = ()
            replies = [self._answer(self._entry(emergency))]
            others = [m for m in matches if m.entry_id != emergency.entry_id]
            if others and others[0].score >= self.s.threshold and self._entry(others[0]).kind is not Kind.INTENT:
                replies.append(self._answer(self._entry(others[0])))
            return replies
        # After the emergency check, before the matcher's verdict: an answer to the reminder flow's
        # question, or a message that carries a reminder's details itself.
        flow = self.reminders.resume() or self.reminders.detect()
        if flow is not None:
            return flow
        if not matches or matches[0].score < self.s.threshold:
            return self._fallback(matches)
        best = matches[0]
        runner = matches[1] if len(matches) > 1 else None
        if runner and runner.score >= self.s.threshold and best.score - runner.score < self.s.ambiguity_gap:
            # Small talk is no topic to choose ("Did you mean: 1. Greeting?"): "Guten Tag, eine
            # Frage zum Sperrmüll" answers the topic; a topic just behind small talk is asked about.
            topics = [m.entry_id for m in (best, runner) if self._entry(m).action not in SMALL_TALK]
            if len(topics) == 2 or (topics and topics[0] == runner.entry_id):
                return [self._offer(topics, text("did_you_mean", self.lang))]
        self.state.pending_choices = ()
        return self._respond(self._entry(best))

    def _command(self, command: str) -> list[Reply]:
        handled = self.reminders.command(command, self.argument)
        if handled is not None:
            return handled
        if command in ("loeschen", "delete"):
            return [self._ask_delete(self._intent_answer("delete_data") or text("confirm_delete_question", self.lang))]
        if command == "start":
            greeting = self.s.greeting.get(self.lang) if self.s.greeting else None
            intro = greeting or self._intent_answer("greeting") or text("not_understood", self.lang)
            return [self._help_reply(intro)]
        if command in ("help", "menu", "hilfe"):
            return [self._help_reply(self._intent_answer("help") or text("popular", self.lang))]
        if command in ("language", "sprache"):
            choices = tuple(Button(LANGUAGE_NAMES.get(lang, lang), payload=CHOICE_LANGUAGE + lang) for lang in self.kb.languages)
            self.state.pending_choices = tuple(CHOICE_LANGUAGE + lang for lang in self.kb.languages)
            return [Reply(text("choose_language", self.lang), choices=choices, language=self.lang)]
        return [self._help_reply(text("unknown_command", self.lang))]

    def _intent_answer(self, action: str) -> str | None:
        entry = next((e for e in self.kb.entries.values() if e.action == action), None)
        return entry.text(self.lang).answer if entry else None

    def _entry(self, m: Match) -> Entry:
        return self.kb.entries[m.entry_id]

    def _usable(self, matches: tuple[Match, ...]) -> list[Match]:
        today = self.d.clock().date()
        out = []
        for m in matches:
            entry = self.kb.entries.get(m.entry_id)
            if entry is None or not entry.is_valid_on(today):
                continue
            if self.s.preferred_tags and entry.tags & self.s.preferred_tags:
                m = Match(m.entry_id, min(1.0, m.score + self.s.preference_bonus))
            out.append(m)
        return sorted(out, key=lambda m: -m.score)

    def _choice(self, payload: str) -> list[Reply]:
        if payload == CHOICE_CONFIRM_DELETE:
            self.deleted = True
            if self.d.book is None:
                return [Reply(text("data_deleted", self.lang), language=self.lang)]
            self.reminders.forget()
            return [Reply(text("data_deleted_reminders", self.lang), language=self.lang)]
        if payload == CHOICE_KEEP:
            self.state.pending_choices = ()
            return [Reply(text("data_kept", self.lang), language=self.lang)]
        if payload.startswith(CHOICE_LANGUAGE):
            return self._set_language(payload[len(CHOICE_LANGUAGE):])
        flow = self.reminders.choice(payload)
        if flow is not None:
            return flow
        if payload.startswith(CHOICE_ENTRY):
            entry = self.kb.entries.get(payload[len(CHOICE_ENTRY):])
            if entry is not None:
                self.state.pending_choices = ()
                self.used("chosen", (entry.id,))
                return self._respond(entry)
        # A forged or outdated button: answer like an unreadable message, never fail.
        return [self._help_reply(text("not_understood", self.lang))]

    def _respond(self, entry: Entry) -> list[Reply]:
        if entry.kind is not Kind.INTENT:
            return [self._answer(entry)]
        action = entry.action
        if action in ("greeting", "help"):
            greeting = self.s.greeting.get(self.lang) if self.s.greeting and action == "greeting" else None
            return [self._help_reply(greeting or entry.text(self.lang).answer, entry.id)]
        if action == "language":
            return self._set_language(self._wanted_language())
        if action == "delete_data":
            return [replace(self._ask_delete(entry.text(self.lang).answer), entry_id=entry.id)]
        flow = self.reminders.intent(action, entry.text(self.lang).answer) if action else None
        if flow is not None:
            return [replace(r, entry_id=r.entry_id or entry.id) for r in flow]
        if action == "human":
            return [Reply(entry.text(self.lang).answer + "\n\n" + self._phone_line(), language=self.lang, entry_id=entry.id)]
        return [Reply(entry.text(self.lang).answer, language=self.lang, entry_id=entry.id)]

    def _ask_delete(self, question: str) -> Reply:
        # Never delete on a guess of the matcher: the citizen confirms with a button or "1".
        choices = (Button(text("confirm_delete", self.lang), payload=CHOICE_CONFIRM_DELETE), Button(text("keep_data", self.lang), payload=CHOICE_KEEP))
        self.state.pending_choices = (CHOICE_CONFIRM_DELETE, CHOICE_KEEP)
        return Reply(question, choices=choices, language=self.lang)

    def _answer(self, entry: Entry) -> Reply:
        local = entry.text(self.lang)
        parts = [f"**{local.title}**", local.answer]
        if local.documents:
            parts.append(f"**{text('documents', self.lang)}:**\n" + "\n".join(f"- {d}" for d in local.documents))
        if local.fees:
            parts.append(f"**{text('fees', self.lang)}:** {local.fees}")
        office = self._office_for(entry)
        if office is not None:
            parts.append(self._office_line(office))
        buttons = tuple(Button(link.label(self.lang), url=link.url) for link in sorted(entry.links, key=lambda li: li.kind.value != "form"))
        return Reply("\n\n".join(parts), buttons=buttons, language=self.lang, entry_id=entry.id)

    def _office_for(self, entry: Entry) -> Office | None:
        """The office the user named ("Ist das Standesamt offen?"), else the entry's own."""
        named = self.d.office_named(self.kb, self.text)
        if named is not None:
            return self.kb.offices[named]
        return self.kb.offices.get(entry.office) if entry.office else None

    def _office_line(self, office: Office) -> str:
        name = office.name(self.lang)
        contact = text("office_contact", self.lang, office=name, address=office.address, phone=office.phone)
        return contact + "\n" + self._open_line(office)

    def _open_line(self, office: Office) -> str:
        return open_line(office, self.d.clock(), self.lang, self.d.is_holiday)

    def _phone_line(self) -> str:
        office = self.kb.offices.get(self.s.phone_office)
        if office is None:
            return ""
        return text("fallback_phone", self.lang, office=office.name(self.lang), phone=office.phone) + "\n" + self._open_line(office)

    def _fallback(self, matches: list[Match]) -> list[Reply]:
        near = [m.entry_id for m in matches[:3] if m.score >= self.s.suggest_at and self._entry(m).kind is not Kind.INTENT]
        if near:
            # Unsure, but not lost: asking back costs the citizen one tap, a wrong answer more.
            return [self._offer(near, text("did_you_mean", self.lang))]
        self.d.unanswered.record(self.text[:1000], self.text_lang, self.msg.channel, self.d.clock(), self.msg.chat)
        self.used("out_of_scope", ())
        self.state.pending_choices = ()
        body = text("fallback", self.lang)
        phone = self._phone_line()
        return [Reply(body + ("\n\n" + phone if phone else ""), language=self.lang)]

    def _offer(self, entry_ids: list[str], intro: str, kind: UsageKind = "offered") -> Reply:
        self.state.pending_choices = tuple(CHOICE_ENTRY + e for e in entry_ids)
        self.used(kind, tuple(entry_ids))
        choices = tuple(Button(self.kb.entries[e].text(self.lang).title, payload=CHOICE_ENTRY + e) for e in entry_ids)
        return Reply(intro, choices=choices, language=self.lang)

    def _help_reply(self, intro: str, entry_id: str | None = None) -> Reply:
        popular = [e for e in self.s.popular if e in self.kb.entries]
        if not popular:
            return Reply(intro, language=self.lang, entry_id=entry_id)
        reply = self._offer(popular, intro + "\n\n" + text("popular", self.lang), "menu")
        return replace(reply, entry_id=entry_id)

    def used(self, kind: UsageKind, entry_ids: tuple[str, ...]) -> None:
        self.d.usage.record(kind, entry_ids, self.msg.channel, self.lang, self.d.clock(), self.msg.profile)

    def _wanted_language(self) -> str:
        words = set(fold(self.text).split())
        named = {"english": "en", "englisch": "en", "en": "en", "deutsch": "de", "german": "de", "de": "de"}
        for word, lang in named.items():
            if word in words and lang in self.kb.languages:
                return lang
        others = [lang for lang in self.kb.languages if lang != self.lang]
        return others[0] if others else self.lang

    def _set_language(self, lang: str) -> list[Reply]:
        if lang not in self.kb.languages:
            return [self._help_reply(text("not_understood", self.lang))]
        self.state.language = lang
        self.lang = lang
        self.state.pending_choices = ()
        return [Reply(text("language_set", lang), language=lang)]


def _clean(raw: str) -> str:
    """Drop control, zero-width and direction-override characters and cap the length."""
    cleaned = _CONTROL.sub("", raw[:20_000])
    return unicodedata.normalize("NFC", cleaned)
