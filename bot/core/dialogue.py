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

from rapidfuzz import fuzz

from bot.core.chat_commands import CHAT_COMMANDS, CommandKey
from bot.core.conversation import (
    LIST_LANGUAGE,
    NO_OFFICE,
    OFFICE_AT,
    REPLY_LANGUAGE,
    TOPIC_AT,
    answer_word,
    firm_yes,
    insulting,
    last_office,
    last_topic,
    position_word,
    remember_elsewhere,
    remember_office,
    remember_topic,
    topic_elsewhere,
    worth_noting,
)
from bot.core.facets import ONLINE, WHERE, asked_facet, asked_language, facet_lines, names_no_topic
from bot.core.feedback import AnswerTokens, AnswerVotes, answer_token, rateable
from bot.core.flows.router import CHOICE_CONFIRM_DELETE, NO_CHOICES, YES_CHOICES, Flows, FlowSetup
from bot.core.hours import HolidayCheck, no_holidays, open_line
from bot.core.knowledge import KnowledgeBase
from bot.core.live import Snapshot
from bot.core.matching.language import LANGUAGE_WORDS, detect_language, foreign_language, known_words
from bot.core.matching.matcher import Match
from bot.core.matching.normalise import fold
from bot.core.models import Button, Entry, Incoming, Kind, Office, Reply, ReplyKind, UserState
from bot.core.notices import office_buttons
from bot.core.office_hours import HoursAsk, hours_answer, hours_follow_up, hours_question, without_hours_words
from bot.core.ports import (
    HANDOVER_CHOICE,
    FeedbackLog,
    HandoverDesk,
    HandoverTurn,
    NoFeedbackLog,
    NoUsageLog,
    ReminderBook,
    UnansweredLog,
    UsageKind,
    UsageLog,
    UserStateStore,
)
from bot.core.schedule import ReminderPolicy
from bot.core.scope import names_any, scope_text
from bot.core.texts import language_name, text

log = logging.getLogger(__name__)

CHOICE_ENTRY = "entry:"
CHOICE_LANGUAGE = "lang:"
SMALL_TALK = frozenset({"greeting", "thanks", "goodbye", "small_talk"})  # intent actions that are not topics
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English", "fr": "Français", "tr": "Türkçe", "ar": "العربية", "uk": "Українська"}
# Control, zero-width and direction-override characters, and lone UTF-16 surrogates (valid in JSON,
# but no database or encoder takes them).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_BRACKETS = re.compile(r"\([^)]*\)")


@dataclass(frozen=True)
class DialogueSettings:
    threshold: float = 0.5
    # "Meinten Sie …?" when the runner-up is within this distance of the best and above threshold.
    ambiguity_gap: float = 0.05
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
    # The reminder rules the worker follows, so the dialogue tells people truthfully which reminders will come.
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)
    # The general entry about opening hours: its office is no topic a follow-up refers to.
    hours_entry: str = "oeffnungszeiten"
    # How long the last topic answers a follow-up ("when are they open?").
    context_minutes: int = 30

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
        feedback: FeedbackLog | None = None,
        handover: HandoverDesk | None = None,
    ) -> None:
        self._knowledge = knowledge
        self.handover = handover
        self.states = states
        self.unanswered = unanswered
        self.settings = settings or DialogueSettings()
        self.clock = clock or dt.datetime.now
        self.is_holiday = is_holiday
        self.usage: UsageLog = usage or NoUsageLog()
        self.book = book  # None: this deployment has no reminders, and the dialogue says so
        self._office_phrases: tuple[KnowledgeBase, dict[str, tuple[str, ...]]] | None = None
        self.feedback: FeedbackLog = feedback or NoFeedbackLog()
        self.answer_tokens = AnswerTokens()

    def snapshot(self) -> Snapshot:
        """The knowledge the next message is answered from."""
        return self._knowledge()

    def office_phrases(self, kb: KnowledgeBase) -> dict[str, tuple[str, ...]]:
        """How people name each office (" buergerbuero mitte ", " buergerbuero "), folded once per
        knowledge snapshot rather than for every answer."""
        if self._office_phrases is None or self._office_phrases[0] is not kb:
            table: dict[str, tuple[str, ...]] = {}
            for office in kb.offices.values():
                names = {fold(n) for n in office.names.values()} | {fold(office.id.replace("-", " "))}
                # A translation explains the name in brackets ("Road Traffic Office (vehicle
                # registration and driving licences)"); people write the name without them.
                names |= {fold(_BRACKETS.sub(" ", n)) for n in office.names.values()}
                phrases = {f" {n} " for n in names if n}
                # The city's own name starts with the word people use ("Bürgerbüro Mitte",
                # "Ausländerbehörde und Einbürgerungsstelle"); a translation's first word often is no
                # name at all ("Public Order Office", "Waste Management").
                own = fold(office.names.get(self.settings.default_language) or office.id.replace("-", " "))
                if own and len(own.split()[0]) > 4:
                    phrases.add(f" {own.split()[0]} ")
                phrases |= {f" {fold(a)} " for aliases in office.aliases.values() for a in aliases if fold(a)}
                table[office.id] = tuple(sorted(phrases))
            self._office_phrases = (kb, table)
        return self._office_phrases[1]

    def office_words(self, kb: KnowledgeBase) -> frozenset[str]:
        """Every word of every office's names and aliases."""
        return frozenset(word for phrases in self.office_phrases(kb).values() for phrase in phrases for word in phrase.split())

    def office_named(self, kb: KnowledgeBase, said: str) -> str | None:
        """The id of the office a text names ("Ist das Standesamt offen?"), if any; the longest
        name wins ("Bürgerbüro Nord" over "Bürgerbüro")."""
        words = f" {fold(said)} "
        named = [(len(p), office_id) for office_id, phrases in self.office_phrases(kb).items() for p in phrases if p in words]
        return max(named)[1] if named else None

    def handle(self, msg: Incoming) -> list[Reply]:
        if self.book is not None:
            self.book.heard_from(msg.chat)
        state = self.states.load(msg.chat)
        snap = self._knowledge()
        turn = _Turn(self, snap, msg, state)
        try:
            replies = turn.run()
            if turn.flows.deleted and self.handover is not None:
                self.handover.forget(msg.chat)
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
        if not turn.flows.deleted:
            self.states.save(msg.chat, turn.state)
        return replies


class _Turn:
    """The working state of one handled message."""

    def __init__(self, dialogue: Dialogue, snap: Snapshot, msg: Incoming, state: UserState) -> None:
        self.dialogue = dialogue
        self.settings = dialogue.settings
        self.kb = snap.knowledge
        self.matcher = snap.matcher
        self.msg = msg
        self.state = replace(state)
        self.missed = False  # the fallback answered: nothing known fitted
        self.wants_person = False
        self.text = _clean(msg.text)
        self.argument = _clean(msg.argument)
        hint = msg.language_hint if self.settings.use_language_hint else None
        # A message in a language answers in it; the chat's chosen language, then the language of
        # the last reply, decide only for messages that carry none ("1", "ok", a name, an emoji).
        # Function words decide first; a script or letters of another language outweigh the
        # weaker evidence of words only one language's examples use ("Musterstadt" in Vietnamese).
        known = known_words(self.text)
        self.foreign = foreign_language(self.text, by_words=not detect_language(self.text)) if known <= 1 else None
        if self.foreign is not None:
            evidence = self.foreign if self.foreign in self.kb.languages else None
        else:
            evidence = self.matcher.evidence(self.text) if fold(self.text) else None
        self.hint = hint
        carried = state.extra.get(REPLY_LANGUAGE) if state.language is None else None
        lang = evidence or (carried if carried in self.kb.languages else self.chat_language())
        self.lang = lang if lang in self.kb.languages else self.settings.default_language
        self.text_lang = evidence or self.lang
        self.message_lang = self.lang  # the reply's language unless the message picks from a list
        self.flows = Flows(self._flow_setup(), msg, self.text, self.state)
        self.votes = AnswerVotes(dialogue.feedback, dialogue.answer_tokens, self.kb, self.state, msg.channel, msg.profile,
                                 dialogue.clock(), self.lang)

    def chat_language(self) -> str:
        """The chat's language: chosen, else the chat app's, else the profile's default."""
        return next((code for code in (self.state.language, self.hint) if code in self.kb.languages), self.settings.default_language)

    def _flow_setup(self) -> FlowSetup:
        now = self.dialogue.clock()
        return FlowSetup(
            book=self.dialogue.book, kb=self.kb, now=now if now.tzinfo else now.astimezone(),
            office_named=lambda said: self.dialogue.office_named(self.kb, said), states=self.dialogue.states, unanswered=self.dialogue.unanswered,
            policy=self.settings.reminders, is_holiday=self.dialogue.is_holiday,
        )

    def _flow_answer(self, replies: list[Reply] | None) -> list[Reply] | None:
        """A flow's replies; the turn goes on in their language (a flow answers "ja" or "2" in the
        language it began in)."""
        if replies is not None:
            self.lang = self.flows.language
        return replies

    def run(self) -> list[Reply]:
        replies = [replace(r, feedback=answer_token(r.entry_id, r.language)) if r.entry_id and rateable(r, self.kb) else r
                   for r in self._route()]
        self.flows.settle()
        topics = [r.entry_id for r in replies if r.entry_id in self.kb.entries and self.kb.entries[r.entry_id].kind is not Kind.INTENT]
        if topics:
            remember_topic(self.state, topics[-1], self.dialogue.clock())
        if self.dialogue.handover is not None and not self.flows.deleted:
            offer = self.dialogue.handover.follow(HandoverTurn(self.msg.chat, self.lang, self.text, tuple(replies), self.missed, self.wants_person,
                                                               self.kb.offices, self.dialogue.clock(), self.dialogue.is_holiday), self.state)
            if offer is not None:
                replies = [*replies, offer]
                self.state.pending_choices = tuple(c.payload for c in offer.choices if c.payload)
        # A number or "das zweite" typed next is answered in the language of the list it picks from.
        extra = {k: v for k, v in self.state.extra.items() if k != LIST_LANGUAGE}
        if self.state.pending_choices:
            extra[LIST_LANGUAGE] = self.lang
        extra.pop(REPLY_LANGUAGE, None)
        if replies and replies[-1].language != self.chat_language():
            extra[REPLY_LANGUAGE] = replies[-1].language  # kept only where it tells more than the chat's language
        self.state.extra = extra
        return replies

    def _route(self) -> list[Reply]:
        if self.msg.vote is not None:
            # A vote leaves any offered choices open: rating an answer is no reply to them.
            return self.votes.vote(self.msg.vote)
        asked_missing = self.votes.take_asked()
        # Offered choices answer only the very next message: a number typed later must not pick
        # from a list two replies back (an old "delete everything?" least of all).
        offered, self.state.pending_choices = self.state.pending_choices, ()
        # A person of the team reads the chat: the bot keeps out, except for commands and the answer
        # to a question of its own ("delete everything?").
        if not offered and self.msg.command is None and not self.msg.choice and self.text.strip() and self.dialogue.handover is not None \
                and self.dialogue.handover.relay(self.msg.chat, self.text, self.msg.message_id):
            return []
        if self.msg.command is not None:
            return self._command(self.msg.command)
        if self.msg.choice:
            listed = self.state.extra.get(LIST_LANGUAGE)
            if self.msg.choice in offered and listed in self.kb.languages:
                self.lang = listed
            return self._choice(self.msg.choice)
        if asked_missing is not None and fold(self.text):
            noted = self.votes.missing(asked_missing, self.text, self._new_question())
            if noted is not None:
                return noted
        stripped = self.text.strip()
        number = stripped.isascii() and stripped.isdigit()  # not "²" or "①", which int() refuses
        if offered:
            picked = self._pick(offered, int(stripped) if number else None)
            if picked is not None:
                return picked
        elif (number or answer_word(self.text) is not None or position_word(self.text, 1) is not None) and not self.flows.asking:
            # "1" or "ja" answers a question that is not open: say so, rather than search the
            # knowledge for "1" and note it for the team as an unanswered question.
            return [Reply(text("nothing_pending", self.lang), language=self.lang)]
        if self.foreign is not None and self.foreign not in self.kb.languages:
            return [self._languages_reply()]
        if not fold(self.text):
            return [self._help_reply(text("not_understood", self.lang))]
        result = self.matcher.match(self.text, self.text_lang, k=8)
        matches = self._usable(result.matches)
        # A needless "call 112" costs a glance, a missed emergency far more: an emergency entry
        # that leads the ranking counts from the lower bar at which the fallback suggests topics.
        leading = matches[:1] if matches and matches[0].score >= self.settings.suggest_at else []
        answered = [m for m in matches if m.score >= self.settings.threshold]
        emergency = next((m for m in leading + answered if self._entry(m).emergency), None)
        if emergency is not None:
            # 110/112 first, always; a question that also matched something else gets that too.
            self.state.pending_choices = ()
            replies = [self._answer(self._entry(emergency))]
            others = [m for m in matches if m.entry_id != emergency.entry_id]
            if others and others[0].score >= self.settings.threshold and self._entry(others[0]).kind is not Kind.INTENT:
                replies.append(self._answer(self._entry(others[0])))
            return replies
        # After the emergency check, before the matcher's verdict: an answer to the reminder flow's
        # question, or a message that carries a reminder's details itself.
        flow = self._flow_answer(self.flows.resume(self.lang) or self.flows.detect(self.lang))
        if flow is not None:
            return flow
        outside = self._out_of_scope(matches)
        if outside is not None:
            return outside
        here = self._back_here()
        if here is not None:
            return here
        hours = self._hours()
        if hours is not None:
            return hours
        follow_up = self._follow_up()
        if follow_up is not None:
            return follow_up
        if not matches or matches[0].score < self.settings.threshold or (insulting(self.text) and self._entry(matches[0]).action in SMALL_TALK):
            return self._fallback(matches)
        best = matches[0]
        runner = matches[1] if len(matches) > 1 else None
        if runner and runner.score >= self.settings.threshold and best.score - runner.score < self.settings.ambiguity_gap:
            # Small talk is no topic to choose ("Did you mean: 1. Greeting?"): "Guten Tag, eine
            # Frage zum Sperrmüll" answers the topic; a topic just behind small talk is asked about.
            topics = [m.entry_id for m in (best, runner) if self._entry(m).action not in SMALL_TALK]
            if len(topics) == 2 or (topics and topics[0] == runner.entry_id):
                return [self._offer(topics, text("did_you_mean", self.lang))]
        self.state.pending_choices = ()
        return self._respond(self._entry(best))

    def _new_question(self) -> bool:
        """Whether a text sent after "what was missing?" is a new question rather than the answer
        to it: an emergency, or a question (ending in "?") the knowledge answers."""
        matches = self._usable(self.matcher.match(self.text, self.text_lang, k=3).matches)
        if not matches:
            return False
        best = matches[0]
        if self._entry(best).emergency and best.score >= self.settings.suggest_at:
            return True
        return self.text.rstrip().endswith(("?", "？", "؟")) and best.score >= self.settings.threshold

    def _pick(self, offered: tuple[str, ...], number: int | None) -> list[Reply] | None:
        """The offered choice a message takes: its number, "das zweite", "the first", "ja"/"nein"
        for a confirmation, or a topic's title; None when the message is something else."""
        listed = self.state.extra.get(LIST_LANGUAGE)
        if listed in self.kb.languages:
            self.lang = listed
        position = number - 1 if number is not None else position_word(self.text, len(offered))
        if position is not None and 0 <= position < len(offered):
            return self._choice(offered[position])
        said = answer_word(self.text)
        if said is True:
            yes = [p for p in offered if p in YES_CHOICES] or (list(offered) if len(offered) == 1 else [])
            # Deleting cannot be undone: "ok" may only acknowledge, so it takes a clear yes.
            if yes and (yes[0] != CHOICE_CONFIRM_DELETE or firm_yes(self.text)):
                return self._choice(yes[0])
        elif said is False:
            no = [p for p in offered if p in NO_CHOICES]
            if no:
                return self._choice(no[0])
            if all(p.startswith(CHOICE_ENTRY) for p in offered):
                return [Reply(text("choice_declined", self.lang), language=self.lang)]
        if (position is not None or said is not None) and not self.flows.asking:
            # A number outside the list, or "ja" to a list of several: the list stays open.
            self.state.pending_choices = offered
            return [Reply(text("choose_number", self.lang), language=self.lang)]
        titled = self._titled(offered)
        if titled is not None:
            return self._choice(titled)
        self.lang = self.message_lang
        return None

    def _titled(self, offered: tuple[str, ...]) -> str | None:
        """The offered choice whose title the message repeats ("Wohnsitz abmelden"), typos allowed."""
        said = fold(self.text)
        scored: list[tuple[float, str]] = []
        for payload in offered:
            names: set[str] = set()
            if payload.startswith(CHOICE_ENTRY) and payload[len(CHOICE_ENTRY):] in self.kb.entries:
                names = {local.title for local in self.kb.entries[payload[len(CHOICE_ENTRY):]].texts.values()}
            elif payload.startswith(CHOICE_LANGUAGE):
                names = {LANGUAGE_NAMES.get(payload[len(CHOICE_LANGUAGE):], "")}
            scored.append((max((fuzz.ratio(said, fold(name)) for name in names if fold(name)), default=0.0), payload))
        scored.sort(reverse=True)
        # Titles can be close to each other ("Wohnsitz anmelden", "Wohnsitz abmelden"): the nearest wins.
        if scored and scored[0][0] >= 90 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            return scored[0][1]
        return None

    def _hours(self) -> list[Reply] | None:
        """A question about when an office is open, answered from its hours; None when the message
        asks no such thing or names no office (the general entry on opening hours answers that)."""
        ask = hours_question(self.text)
        office_id = self.dialogue.office_named(self.kb, self.text)
        if ask is None:
            # "und am Sonntag?", "und das Standesamt?" right after an answer about opening hours.
            last = last_office(self.state, self.dialogue.clock(), self.settings.context_minutes)
            if last is None or not hours_follow_up(self.text, self.dialogue.office_words(self.kb)):
                return None
            office_id = office_id or (last if last != NO_OFFICE else None)
            ask = HoursAsk(explicit=True, shop=False)
        if office_id is None and ask.shop:
            remember_office(self.state, NO_OFFICE, self.dialogue.clock())  # "und das Bürgerbüro?" may follow
            return [Reply(text("shop_hours", self.lang), language=self.lang, kind=ReplyKind.OUT_OF_SCOPE)]
        if office_id is None and not ask.named_only:
            office_id = self._topic_office()
        office = self.kb.offices.get(office_id) if office_id else None
        if office is None:
            return None
        self.state.pending_choices = ()
        if self.settings.hours_entry in self.kb.entries:
            self.used("answer", (self.settings.hours_entry,))  # staff reports count it with the entry on opening hours
        remember_office(self.state, office.id, self.dialogue.clock())
        body = hours_answer(office, self.text, self.dialogue.clock(), self.lang, self.dialogue.is_holiday)
        return [Reply(body, buttons=office_buttons(office.id, self.kb, self.lang), language=self.lang, kind=ReplyKind.HOURS)]

    def _out_of_scope(self, matches: list[Match]) -> list[Reply] | None:
        """Another city, a shop, the weather, …: said honestly instead of the nearest entry."""
        judged = self.kb.scope.judge(self.text)
        book = self.dialogue.book
        if judged is None or (judged.place is not None and book is not None and names_any(self.text, book.districts().values())):
            return None
        if judged.place is None and hours_question(self.text) is not None:
            return None  # a shop's hours: the hours reply says so and keeps "und das Bürgerbüro?" answerable
        if judged.place is not None and matches and matches[0].score >= self.settings.threshold and self._entry(matches[0]).kind is not Kind.INTENT:
            # Not the last topic (a follow-up would state our fees as the other city's), but kept
            # for "und hier in Musterstadt?".
            remember_elsewhere(self.state, matches[0].entry_id, self.dialogue.clock())
        self.used("out_of_scope", ())
        return [Reply(scope_text(judged, self.lang), language=self.lang, kind=ReplyKind.OUT_OF_SCOPE)]

    def _back_here(self) -> list[Reply] | None:
        """"und hier in Musterstadt?" after a question about another place: that question, answered
        for the city."""
        if not self.kb.scope.back_here(self.text):
            return None
        topic = topic_elsewhere(self.state, self.dialogue.clock(), self.settings.context_minutes)
        entry = self.kb.entries.get(topic) if topic else None
        if entry is None or not entry.is_valid_on(self.dialogue.clock().date()):
            return None
        self.state.pending_choices = ()
        return self._respond(entry)

    def _last_entry(self) -> Entry | None:
        """The topic answered last in this chat, while it is fresh and still valid."""
        topic = last_topic(self.state, self.dialogue.clock(), self.settings.context_minutes)
        entry = self.kb.entries.get(topic) if topic else None
        return entry if entry is not None and entry.is_valid_on(self.dialogue.clock().date()) else None

    def _follow_up(self) -> list[Reply] | None:
        """One side of the last topic ("Was kostet das?", "how long?", "wo ist das?"); None when the
        message asks no such thing, names a topic of its own, or no topic is fresh."""
        language = asked_language(self.text, LANGUAGE_WORDS)
        if language is not None:
            return self._switch_language(language)
        facet = asked_facet(self.text)
        if facet is None or not names_no_topic(self.text):
            return None
        entry = self._last_entry()
        if entry is None:
            # "Was kostet das?" with no topic to refer to: ask for it rather than note it for the team.
            return [Reply(text("facet_no_topic", self.lang), language=self.lang)]
        self.state.pending_choices = ()
        local = entry.text(self.lang)
        heading = f"**{local.title}: {text('facet_' + facet, self.lang)}**"
        office = self.kb.offices.get(entry.office) if entry.office else None
        if facet == WHERE and office is not None:
            return [Reply(heading + "\n\n" + self._office_line(office), buttons=office_buttons(office.id, self.kb, self.lang),
                          language=self.lang, entry_id=entry.id)]
        form = entry.form_link
        if facet == ONLINE and form is not None:
            return [Reply(heading + "\n\n" + text("facet_online_link", self.lang), buttons=(Button(form.label(self.lang), url=form.url),),
                          language=self.lang, entry_id=entry.id)]
        lines = facet_lines(entry, facet, self.lang)
        if lines:
            return [Reply(heading + "\n\n" + "\n".join(lines), language=self.lang, entry_id=entry.id)]
        full = self._answer(entry)
        return [replace(full, text=text("facet_missing", self.lang, title=local.title) + "\n\n" + full.text)]

    def _topic_office(self) -> str | None:
        """The office of the topic an hours question refers to: one the same message names ("where
        do I get my passport, when are they open"), else the chat's last topic or office asked about."""
        rest = without_hours_words(self.text)
        found = self._usable(self.matcher.match(rest, self.text_lang, k=3).matches) if rest else []
        best = found[0] if found else None
        if best is not None and best.score >= self.settings.threshold and best.entry_id != self.settings.hours_entry:
            entry = self._entry(best)
            if entry.office and entry.kind is not Kind.INTENT:
                return entry.office
        last = self._last_entry()
        asked = last_office(self.state, self.dialogue.clock(), self.settings.context_minutes)
        if asked is not None and asked != NO_OFFICE and (last is None or self.state.extra.get(OFFICE_AT, "") >= self.state.extra.get(TOPIC_AT, "")):
            return asked  # the office whose hours were asked last is the fresher topic
        return last.office if last is not None else None

    def _command(self, typed: str) -> list[Reply]:
        command = CHAT_COMMANDS.find(typed)
        if command is None:
            return [self._help_reply(text("unknown_command", self.lang))]
        handled = self._flow_answer(self.flows.command(command.key, self.argument, self.lang))
        if handled is not None and command.key is CommandKey.MY_DATA and self.dialogue.handover is not None:
            handed = self.dialogue.handover.export(self.msg.chat, self.lang)
            return [*handled, handed] if handed is not None else handled
        if handled is not None:
            return handled
        if command.key is CommandKey.START:
            greeting = self.settings.greeting.get(self.lang) if self.settings.greeting else None
            intro = greeting or self._intent_answer("greeting") or text("not_understood", self.lang)
            return [self._help_reply(intro)]
        if command.key is CommandKey.PERSON:
            self.wants_person = True
            phone = self._phone_line()
            return [Reply(phone, language=self.lang)] if phone else []
        if command.key in (CommandKey.HELP, CommandKey.MENU):
            return [self._help_reply(self._intent_answer("help") or text("popular", self.lang))]
        if command.key is CommandKey.LANGUAGE:
            choices = tuple(Button(LANGUAGE_NAMES.get(lang, lang), payload=CHOICE_LANGUAGE + lang) for lang in self.kb.languages)
            self.state.pending_choices = tuple(CHOICE_LANGUAGE + lang for lang in self.kb.languages)
            return [Reply(text("choose_language", self.lang), choices=choices, language=self.lang)]
        return [self._help_reply(text("unknown_command", self.lang))]

    def _intent_answer(self, action: str) -> str | None:
        entry = self.kb.intent(action)
        return entry.text(self.lang).answer if entry else None

    def _entry(self, m: Match) -> Entry:
        return self.kb.entries[m.entry_id]

    def _usable(self, matches: tuple[Match, ...]) -> list[Match]:
        today = self.dialogue.clock().date()
        out = []
        for m in matches:
            entry = self.kb.entries.get(m.entry_id)
            if entry is None or not entry.is_valid_on(today):
                continue
            if self.settings.preferred_tags and entry.tags & self.settings.preferred_tags:
                m = Match(m.entry_id, min(1.0, m.score + self.settings.preference_bonus))
            out.append(m)
        return sorted(out, key=lambda m: -m.score)

    def _choice(self, payload: str) -> list[Reply]:
        if payload.startswith(CHOICE_LANGUAGE):
            return self._set_language(payload[len(CHOICE_LANGUAGE):])
        if payload.startswith(HANDOVER_CHOICE) and self.dialogue.handover is not None:
            return self.dialogue.handover.choose(self.msg.chat, self.lang, payload, self.state)
        flow = self._flow_answer(self.flows.choice(payload, self.lang))
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
            greeting = self.settings.greeting.get(self.lang) if self.settings.greeting and action == "greeting" else None
            return [self._help_reply(greeting or entry.text(self.lang).answer, entry.id)]
        if action == "language":
            return self._switch_language(self._wanted_language())
        flow = self._flow_answer(self.flows.intent(action, entry.text(self.lang).answer, self.lang)) if action else None
        if flow is not None:
            return [replace(r, entry_id=r.entry_id or entry.id) for r in flow]
        if action == "human":
            self.wants_person = True
            return [Reply(entry.text(self.lang).answer + "\n\n" + self._phone_line(), language=self.lang, entry_id=entry.id)]
        return [Reply(self._other_language_line(entry) + entry.text(self.lang).answer, language=self.lang, entry_id=entry.id)]

    def _other_language_line(self, entry: Entry) -> str:
        """For an entry not written in the reply's language: one line in it saying which language follows."""
        shown = entry.answered_in(self.lang)
        return "" if shown == self.lang else text("answer_in_other_language", self.lang, language=language_name(shown, self.lang)) + "\n\n"

    def _answer(self, entry: Entry) -> Reply:
        local = entry.text(self.lang)
        parts = [self._other_language_line(entry) + f"**{local.title}**", local.answer]
        if local.documents:
            parts.append(f"**{text('documents', self.lang)}:**\n" + "\n".join(f"- {d}" for d in local.documents))
        if local.fees:
            parts.append(f"**{text('fees', self.lang)}:** {local.fees}")
        if local.duration:
            parts.append(f"**{text('duration', self.lang)}:** {local.duration}")
        office = self._office_for(entry)
        if office is not None:
            parts.append(self._office_line(office))
        buttons = tuple(Button(link.label(self.lang), url=link.url) for link in sorted(entry.links, key=lambda li: li.kind.value != "form"))
        return Reply("\n\n".join(parts), buttons=buttons, language=self.lang, entry_id=entry.id)

    def _office_for(self, entry: Entry) -> Office | None:
        """The office the user named ("Ist das Standesamt offen?"), else the entry's own."""
        named = self.dialogue.office_named(self.kb, self.text)
        if named is not None:
            return self.kb.offices[named]
        return self.kb.offices.get(entry.office) if entry.office else None

    def _office_line(self, office: Office) -> str:
        name = office.name(self.lang)
        contact = text("office_contact", self.lang, office=name, address=office.address, phone=office.phone)
        return contact + "\n" + self._open_line(office)

    def _open_line(self, office: Office) -> str:
        return open_line(office, self.dialogue.clock(), self.lang, self.dialogue.is_holiday)

    def _phone_line(self) -> str:
        office = self.kb.offices.get(self.settings.phone_office)
        if office is None:
            return ""
        return text("fallback_phone", self.lang, office=office.name(self.lang), phone=office.phone) + "\n" + self._open_line(office)

    def _fallback(self, matches: list[Match]) -> list[Reply]:
        near = [m.entry_id for m in matches[:3] if m.score >= self.settings.suggest_at and self._entry(m).kind is not Kind.INTENT]
        if near:
            # Unsure, but not lost: asking back costs the citizen one tap, a wrong answer more.
            return [self._offer(near, text("did_you_mean", self.lang))]
        chat = bool(matches) and self._entry(matches[0]).action in SMALL_TALK and matches[0].score >= self.settings.suggest_at
        if chat and self._entry(matches[0]).action == "small_talk" and not insulting(self.text):
            # Its answer only says what the bot is for: no harm in giving it on a weaker match.
            return self._respond(self._entry(matches[0]))
        # Only questions go to the team: "2", "lol", an insult, chit-chat or what staff listed as
        # none of the city's business would bury them.
        noted = worth_noting(self.text) and not chat and not self._listed_off_topic()
        if noted:
            self.dialogue.unanswered.record(self.text[:1000], self.text_lang, self.msg.channel, self.dialogue.clock(), self.msg.chat)
        self.used("out_of_scope", ())
        self.state.pending_choices = ()
        self.missed = True
        body = text("fallback" if noted else "fallback_unnoted", self.lang)
        phone = self._phone_line()
        return [Reply(body + ("\n\n" + phone if phone else ""), language=self.lang, kind=ReplyKind.FALLBACK)]

    def _listed_off_topic(self) -> bool:
        """Whether the message is (nearly) one of the off-topic questions of the knowledge files."""
        said = fold(self.text)
        return any(fuzz.token_sort_ratio(said, fold(q.text)) >= 85 for q in self.kb.off_topic)

    def _offer(self, entry_ids: list[str], intro: str, kind: UsageKind = "offered") -> Reply:
        self.state.pending_choices = tuple(CHOICE_ENTRY + e for e in entry_ids)
        self.used(kind, tuple(entry_ids))
        choices = tuple(Button(self.kb.entries[e].text(self.lang).title, payload=CHOICE_ENTRY + e) for e in entry_ids)
        return Reply(intro, choices=choices, language=self.lang)

    def _help_reply(self, intro: str, entry_id: str | None = None) -> Reply:
        popular = [e for e in self.settings.popular if e in self.kb.entries]
        if not popular:
            return Reply(intro, language=self.lang, entry_id=entry_id)
        reply = self._offer(popular, intro + "\n\n" + text("popular", self.lang), "menu")
        return replace(reply, entry_id=entry_id)

    def used(self, kind: UsageKind, entry_ids: tuple[str, ...]) -> None:
        self.dialogue.usage.record(kind, entry_ids, self.msg.channel, self.lang, self.dialogue.clock(), self.msg.profile)

    def _wanted_language(self) -> str | None:
        """The language a message asks for ("English please"); the other one when it names none
        ("Sprache wechseln"); None when it names only languages the knowledge does not serve."""
        words = fold(self.text).split()
        named = [LANGUAGE_WORDS.get(word) or (word if word in ("de", "en") else None) for word in words]
        served = [code for code in named if code in self.kb.languages]
        if served:
            return served[0]
        if any(named):
            return None
        others = [lang for lang in self.kb.languages if lang != self.lang]
        return others[0] if others else self.lang

    def _switch_language(self, wanted: str | None) -> list[Reply]:
        if wanted is None or wanted not in self.kb.languages:
            return [self._languages_reply()]
        last = self._last_entry()
        switched = self._set_language(wanted)
        # "und auf Englisch?" right after an answer asks for that answer again.
        return [*switched, self._answer(last)] if last is not None else switched

    def _languages_reply(self) -> Reply:
        """Which languages the bot understands, in each of them: the message was in another one,
        or asked for one ("Do you speak Ukrainian?")."""
        # Someone writing in another language more likely reads English than German.
        first = self.message_lang if self.foreign is None else "en" if "en" in self.kb.languages else self.settings.default_language
        order = sorted(self.kb.languages, key=lambda code: code != first)
        lines = []
        for lang in order:
            names = [language_name(code, lang) for code in self.kb.languages]
            listed = ", ".join(names[:-1]) + f" {text('and', lang)} {names[-1]}" if len(names) > 1 else names[0]
            lines.append(text("languages_served", lang, languages=listed))
        return Reply("\n\n".join(lines), language=order[0] if order else self.lang)

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
