"""Questions about when a city office is open, answered from the office's hours in offices.yaml.

The dialogue decides which office is meant (named, an alias, or the topic); this module says
whether a message asks about opening hours at all and writes the answer: the weekly hours as a
compact table, the asked day or today's state, and the closing days and public holidays ahead.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bot.core.hours import HolidayCheck, closure, open_line, open_state, spans_on
from bot.core.matching.normalise import fold
from bot.core.models import Office, TimeSpan
from bot.core.texts import MONTH_NAMES, WEEKDAY_NAMES, text
from bot.core.when import SHORT_WEEKDAYS, format_date, format_time, parse_when

# Words that ask for opening hours whatever else the message says.
_HOURS = re.compile(
    r"\b(?:o?e?f+n?u?n?g?s?zeit\w*|oeffnugszeit\w*|sprechzeit\w*|sprechstunde\w*|geschaeftszeit\w*|servicezeit\w*"
    r"|opening\s+(?:hours?|times?)|office\s+hours|business\s+hours|open(?:ing)?\s+hours|hours\s+of\s+operation)\b"
)
# Words that ask whether something is open; they count only together with an office.
_OPEN = re.compile(
    r"\b(?:geoeffnet|offen|macht\s+\w+(?:\s+\w+)?\s+auf|opens|opened"
    r"|open(?!\s+(?:a|an|my|our|the|up|account|business|company|shop|store|case|file)\b))\b"
)
# Weaker still ("steht mir zu", "die Ehe geschlossen"): they count only when the office is named.
_CLOSED = re.compile(r"\b(?:geschlossen|closed)\b|\b(?:auf|zu)$")
# With these words "offen"/"geschlossen" is about something else ("die Ehe geschlossen",
# "ist mein Antrag noch offen").
_NOT_HOURS = frozenset(
    "ehe heirat vertrag antrag antraege vorgang rechnung forderung frage fragen konto application case bill question account marriage".split()
)
# Places whose hours people ask about that are no city office: the bot must not answer those with
# the city's office hours.
SHOPS = frozenset(
    "supermarkt supermarket moebelhaus moebelgeschaeft moebel furniture geschaeft geschaefte laden shop shops store stores baumarkt "
    "apotheke pharmacy drogerie restaurant cafe kneipe kino cinema tankstelle baeckerei bakery friseur hairdresser einkaufszentrum "
    "mall outlet discounter ikea aldi lidl rewe edeka netto penny kaufland rossmann mediamarkt saturn obi hornbach".split()
)


@dataclass(frozen=True)
class HoursAsk:
    """A message that asks about opening hours."""

    explicit: bool  # says "opening hours" itself; otherwise only "open"/"closed", which needs an office
    shop: bool  # names a shop or business rather than an office
    named_only: bool = False  # only "zu"/"closed": the office must be named, not just be the topic


def hours_question(said: str) -> HoursAsk | None:
    """Whether ``said`` asks when something is open; None when it does not."""
    folded = fold(said)
    words = set(folded.split())
    shop = bool(words & SHOPS)
    if _HOURS.search(folded):
        return HoursAsk(True, shop)
    if words & _NOT_HOURS:
        return None
    if _OPEN.search(folded):
        return HoursAsk(False, shop)
    found = _CLOSED.search(folded)
    if found is None:
        return None
    # "hat der Baumarkt am Samstag auf?" asks a shop's hours; "my shop closed" tells a story.
    return HoursAsk(False, shop and found.group(0) in ("auf", "zu"), named_only=True)


_FOLLOW_UP = frozenset(
    "und auch aber dann wie ist es mit am an um im in der die das dem den so bei and also but then what about how is it on at in the "
    "heute morgen uebermorgen today tomorrow tonight vormittag nachmittag abend vormittags nachmittags abends morning afternoon evening "
    "wochenende weekend naechste naechsten naechster kommende kommenden next this coming woche week uhr".split()
) | {fold(n) for names in (*WEEKDAY_NAMES.values(), *MONTH_NAMES.values()) for n in names} | {fold(n) + "s" for n in WEEKDAY_NAMES["de"]}


def hours_follow_up(said: str, office_words: frozenset[str]) -> bool:
    """Whether a short message only names a day, a time or an office ("und am Sonntag?", "auch am
    24.12.?", "und das Standesamt?"): after an answer about opening hours, it asks for more of them."""
    words = fold(said).split()
    return 0 < len(words) <= 6 and all(w in _FOLLOW_UP or w in office_words or w.isdigit() for w in words)


def without_hours_words(said: str) -> str:
    """The message without its words about opening hours: what is left names the topic ("where do I
    get my passport — when are they open" → "where do I get my passport — when are they")."""
    return _CLOSED.sub(" ", _OPEN.sub(" ", _HOURS.sub(" ", fold(said)))).strip()


def hours_answer(office: Office, said: str, now: dt.datetime, lang: str, is_holiday: HolidayCheck) -> str:
    """The office's weekly hours, the asked day (or today's state) and the closures ahead.

    ``now`` is the city's local time; a day or time in ``said`` ("am Donnerstag", "on 24 December",
    "um 18 Uhr") is read with the same parser as appointments.
    """
    name = office.name(lang)
    asked = parse_when(said, now)
    parts = [f"**{text('hours_title', lang, office=name)}**\n" + weekly_table(office, lang)]
    day = asked.day
    if day is None and asked.time is not None:
        day = now.date()
    if day is None or (day == now.date() and asked.time is None):
        parts.append(open_line(office, now, lang, is_holiday))
        period = [now.date() + dt.timedelta(days=n) for n in range(14)]
    else:
        parts.append(_day_line(office, day, asked.time, now, lang, is_holiday))
        period = [day]
    closures = [(d, reason) for d in period if (reason := closure(office, d, is_holiday))]
    if closures and (len(period) > 1 or asked.time is not None):
        days = ", ".join(f"{format_date(d, lang)} ({text('reason_' + reason, lang)})" for d, reason in closures)
        parts.append(text("hours_closures", lang, days=days))
    parts.append(text("office_contact", lang, office=name, address=office.address, phone=office.phone))
    return "\n\n".join(parts)


def weekly_table(office: Office, lang: str) -> str:
    """One line per group of days with the same hours: "Mo–Di: 08:00–16:00 Uhr", "Sa, So: geschlossen"."""
    groups: dict[tuple[TimeSpan, ...], list[int]] = {}
    for weekday in range(7):
        groups.setdefault(office.hours.get(weekday, ()), []).append(weekday)
    rows = sorted(groups.items(), key=lambda item: (not item[0], item[1][0]))
    return "\n".join(f"{_day_names(days, lang)}: {format_spans(spans, lang) if spans else text('hours_closed', lang)}" for spans, days in rows)


def _day_line(office: Office, day: dt.date, time: dt.time | None, now: dt.datetime, lang: str, is_holiday: HolidayCheck) -> str:
    name = office.name(lang)
    date = format_date(day, lang, year=day.year != now.year)
    spans = spans_on(office, day, is_holiday)
    if spans and time is not None:
        at = next((span for span in spans if span.start <= time < span.end), None)
        if at is not None:
            return text("hours_at_open", lang, office=name, date=date, time=format_time(time, lang), until=_clock(at.end, lang))
        return text("hours_at_closed", lang, office=name, date=date, time=format_time(time, lang), spans=format_spans(spans, lang))
    if spans:
        return text("hours_day_open", lang, office=name, date=date, spans=format_spans(spans, lang))
    reason = closure(office, day, is_holiday)
    line = text("hours_day_closed", lang, office=name, date=date)
    if reason:
        line = f"{line[:-1]} ({text('reason_' + reason, lang)})."
    start = dt.datetime.combine(day, dt.time(0), now.tzinfo)
    opens = open_state(office, max(start, now), is_holiday).opens_at
    if opens is not None:
        line += " " + text("hours_next", lang, moment=f"{format_date(opens.date(), lang)}, {format_time(opens.time(), lang)}")
    return line


def format_spans(spans: tuple[TimeSpan, ...], lang: str) -> str:
    """"08:00–12:00, 13:30–17:30 Uhr"."""
    joined = ", ".join(f"{_clock(s.start, lang, unit=False)}–{_clock(s.end, lang, unit=False)}" for s in spans)
    return f"{joined} Uhr" if lang == "de" else joined


def _clock(time: dt.time, lang: str, unit: bool = True) -> str:
    clock = "24:00" if time >= dt.time(23, 59) else f"{time.hour:02d}:{time.minute:02d}"
    return f"{clock} Uhr" if unit and lang == "de" else clock


def _day_names(days: list[int], lang: str) -> str:
    """[0, 1, 2, 4] → "Mo–Mi, Fr": runs of three or more days as a range."""
    names = SHORT_WEEKDAYS.get(lang) or SHORT_WEEKDAYS["en"]
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    out: list[str] = []
    for run in runs:
        if len(run) >= 3:
            out.append(f"{names[run[0]]}–{names[run[-1]]}")
        else:
            out.extend(names[d] for d in run)
    return ", ".join(out)
