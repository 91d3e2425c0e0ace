"""Adding an appointment: the date, time, office and subject from what the person wrote, a
question for what is missing, and a confirmation before anything is saved."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bot.core.flows.base import EDGE_PUNCTUATION, Flow, FlowSetup
from bot.core.hours import closed_at
from bot.core.knowledge import KnowledgeBase
from bot.core.matching.normalise import fold
from bot.core.models import Button, Reply
from bot.core.notices import place_line
from bot.core.office_hours import format_spans
from bot.core.texts import MONTH_NAMES, WEEKDAY_NAMES, inline, text, weekday_name
from bot.core.when import When, describe_offsets, format_date, format_moment, format_time, parse_when

CHOICE_YES = "rem:yes"
CHOICE_NO = "rem:no"
STEPS = frozenset({"date", "time", "confirm"})  # what the flow may wait for
MAX_AHEAD = dt.timedelta(days=731)

_YES = frozenset({"ja", "j", "yes", "y", "ok", "okay", "jawohl", "passt", "richtig", "stimmt", "genau", "speichern", "save", "correct", "right", "sure"})
_NO = frozenset({"nein", "n", "no", "nope", "falsch", "wrong"})
_SUBJECT_MARK = re.compile(r"(?i)\b(?:für|fuer|wegen|betreff|betrifft|zum thema|for|about|regarding)\s+")
_SUBJECT_SKIP = frozenset("den die das dem der des meinen meine meinem meiner mein einen eine einem einer ein my the a an our".split())
_SUBJECT_STOP = frozenset(
    "am um on at im in beim bei ab bis heute morgen uebermorgen today tomorrow tonight next naechsten kommenden this coming "
    "und and erinnern erinnere remind termin termine appointment appointments erinnerung reminder".split()
) | {fold(n) for names in (*WEEKDAY_NAMES.values(), *MONTH_NAMES.values()) for n in names}


@dataclass(frozen=True)
class Draft:
    """What is known of the appointment being added."""

    day: dt.date | None = None
    time: dt.time | None = None
    office: str | None = None
    subject: str = ""


class AppointmentFlow(Flow):
    def add(self, said: str, intro: str | None = None) -> list[Reply]:
        self.state.clear()
        when = parse_when(said, self.setup.now)
        office = self.setup.office_named(said)
        subject = find_subject(said)
        if subject and office and self.setup.office_named(subject) == office:
            subject = ""  # "für das Standesamt" names the place, not the matter
        draft = Draft(when.day, when.time, office, subject)
        if not draft.day and not draft.time and intro:
            self._remember(draft, "date")
            return [self.reply(intro)]
        return self._continue(draft)

    def resume(self, step: str, said_folded: str) -> list[Reply] | None:
        """The answer to the flow's question: a date, a time, "ja" or "nein"; None for anything else."""
        if step == "confirm" and said_folded in _YES:
            return self.save()
        if step == "confirm" and said_folded in _NO:
            return self.decline()
        when = parse_when(self.said, self.setup.now, expect_time=step == "time")
        if when.day or when.time:
            return self._continue(self._merged(when))
        return None

    def save(self) -> list[Reply]:
        day, time = _date_from(self.state.get("date")), _time_from(self.state.get("time"))
        if self.state.step != "confirm" or day is None or time is None:
            self.state.clear()
            return [self.reply(text("lost_track", self.lang))]
        office, subject = self.state.get("office"), self.state.get("subject") or ""
        at = dt.datetime.combine(day, time, self.setup.now.tzinfo)
        problem = self._refuse(at)
        if problem is not None:
            self._remember(Draft(None, None, office, subject), "date")
            return [self.reply(problem)]
        self.book.add_appointment(self.chat, self.lang, at, office, subject)
        self.state.clear()
        self.state.offer(())
        lang = self.lang
        parts = [text("saved", lang, moment=format_moment(at, lang, year=at.year != self.setup.now.year))]
        leads = promised_reminders(self.setup, office, at, lang)
        if leads:
            parts.append(leads)
        parts.append(text("list_hint", lang))
        return [self.reply("\n\n".join(parts))]

    def decline(self) -> list[Reply]:
        # The office and the matter of a refused appointment may be what was wrong about it: the
        # date and time asked for next start a new appointment, not the refused one re-dated.
        self._remember(Draft(), "date")
        return [self.reply(text("not_saved", self.lang))]

    def _merged(self, when: When) -> Draft:
        day = _date_from(self.state.get("date")) if when.day is None else when.day
        time = _time_from(self.state.get("time")) if when.time is None else when.time
        office = self.setup.office_named(self.said) or self.state.get("office")
        subject = find_subject(self.said) or self.state.get("subject") or ""
        return Draft(day, time, office, subject)

    def _continue(self, draft: Draft) -> list[Reply]:
        lang = self.lang
        if draft.day is None and draft.time is None:
            self._remember(draft, "date")
            return [self.reply(text("ask_when", lang))]
        if draft.day is None:
            self._remember(draft, "date")
            return [self.reply(text("ask_date", lang, time=format_time(draft.time, lang) if draft.time else ""))]
        if draft.time is None:
            self._remember(draft, "time")
            return [self.reply(text("ask_time", lang, date=format_date(draft.day, lang, year=draft.day.year != self.setup.now.year)))]
        at = dt.datetime.combine(draft.day, draft.time, self.setup.now.tzinfo)
        problem = self._refuse(at)
        if problem is not None:
            self._remember(Draft(None, None, draft.office, draft.subject), "date")
            return [self.reply(problem)]
        self._remember(draft, "confirm")
        self.state.offer((CHOICE_YES, CHOICE_NO))
        warning = self._closed_warning(at, draft.office)
        parts = [warning or text("confirm_appointment", lang), describe_appointment(at, draft.office, draft.subject, self.setup.kb, lang)]
        leads = promised_reminders(self.setup, draft.office, at, lang)
        if leads:
            parts.append(leads)
        yes, no = ("yes_save_anyway", "no_other_date") if warning else ("yes_save", "no_wrong")
        choices = (Button(text(yes, lang), payload=CHOICE_YES), Button(text(no, lang), payload=CHOICE_NO))
        return [Reply("\n\n".join(parts), choices=choices, language=lang)]

    def _closed_warning(self, at: dt.datetime, office_id: str | None) -> str | None:
        """Why the office (or, with none named, every office) is closed at ``at``; None when it is
        open then or the office is unknown. A reminder for a day nobody can be served is most
        likely a typo in the date or the time."""
        office = self.setup.kb.offices.get(office_id) if office_id else None
        if office_id and office is None:
            return None
        closed = closed_at(office, at, self.setup.is_holiday)
        if closed is None:
            return None
        lang = self.lang
        date = day_and_date(at.date(), lang)
        if office is None:
            return text("closed_holiday" if closed.reason == "holiday" else "closed_weekend", lang, date=date)
        name = office.name(lang)
        if closed.reason == "hours":
            return text("closed_office_hours", lang, office=name, date=date, time=format_time(at.time(), lang), spans=format_spans(closed.spans, lang))
        reason = "" if closed.reason == "day" else f" ({text('reason_' + closed.reason, lang)})"
        return text("closed_office_day", lang, office=name, date=date, reason=reason)

    def _refuse(self, at: dt.datetime) -> str | None:
        moment = format_moment(at, self.lang, year=True)
        if at <= self.setup.now:
            return text("in_past", self.lang, moment=moment)
        if at - self.setup.now > MAX_AHEAD:
            return text("too_far", self.lang, moment=moment)
        return None

    def _remember(self, draft: Draft, step: str) -> None:
        self.state.wait_for(
            step,
            date=draft.day.isoformat() if draft.day else None,
            time=draft.time.strftime("%H:%M") if draft.time else None,
            office=draft.office,
            subject=draft.subject or None,
        )
        if step != "confirm":
            self.state.offer(())


def describe_appointment(at: dt.datetime, office: str | None, subject: str, kb: KnowledgeBase, lang: str) -> str:
    """The appointment as the confirmation shows it: the moment in bold, the place, the matter."""
    lines = [f"**{format_moment(at, lang, long=True)}**"]
    place = place_line(office, kb, lang)
    if place:
        lines.append(place)
    if subject:
        lines.append(text("subject_line", lang, subject=inline(subject)))
    return "\n".join(lines)


def day_and_date(day: dt.date, lang: str) -> str:
    """de "Sonntag, 6.12.", en "Sunday, 6 Dec": the weekday in full, since a wrong weekday is what the warning is about."""
    if lang == "de":
        return f"{weekday_name(day.weekday(), lang)}, {day.day}.{day.month}."
    return f"{weekday_name(day.weekday(), lang)}, {day.day} {MONTH_NAMES['en'][day.month - 1][:3]}"


def promised_reminders(setup: FlowSetup, office: str | None, at: dt.datetime, lang: str) -> str:
    """The reminders that will really come: those already past or swallowed by the quiet hours are not promised."""
    planned = [p.lead for p in setup.policy.plan(at, office, setup.now)]
    if not planned:
        return text("no_leads", lang)
    return text("leads_line", lang, leads=describe_offsets(planned, lang))


def find_subject(said: str) -> str:
    """What an appointment is for: the words after "für"/"for"/"wegen", up to where the date,
    time or place begins ("… für meinen Reisepass am 3.12." → "Reisepass")."""
    for mark in _SUBJECT_MARK.finditer(said[:500]):
        words: list[str] = []
        for raw in said[mark.end():500].split():
            word = raw.strip(EDGE_PUNCTUATION)
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
