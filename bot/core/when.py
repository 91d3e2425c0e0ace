"""Appointment dates and times in German and English chat text, and how the bot writes them.

Hand-written patterns rather than a library: dateparser would add ~20 MB of locale data and a
regex engine dependency for two languages, and still needs the same rules on top (a date
without a year is the next one, "um 3" is an afternoon appointment, "3/12" is the 3rd of
December). The forms people use in a chat are few; each has one pattern below.

Rules:
- Slash dates are day first, as in Germany and most of Europe: "3/12" is 3 December.
- A date without a year is the next such date, today included.
- A bare weekday ("Montag", "next Monday") is its next occurrence after today: on a Monday one
  says "heute", not "Montag", for today.
- An hour from 1 to 6 without minutes' leading zero, am/pm or a morning word is taken as the
  afternoon ("um 3" → 15:00): city offices do not open at night. The bot always shows what it
  understood before saving, so a wrong guess is one tap away from being corrected.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from bot.core import texts
from bot.core.schedule import InvalidOffset, parse_offset
from bot.core.texts import MONTH_NAMES, WEEKDAY_NAMES

MAX_CHARS = 500  # a date is never further in; it also bounds the regex work per message

_MONTHS: dict[str, int] = {}
for _number, _words in enumerate(
    (
        "januar jaenner jänner january jan", "februar february feb", "maerz märz marz march mar mrz",
        "april apr", "mai may", "juni june jun", "juli july jul", "august aug", "september sept sep",
        "oktober october okt oct", "november nov", "dezember december dez dec",
    ),
    start=1,
):
    for _word in _words.split():
        _MONTHS[_word] = _number
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"

_WEEKDAYS: dict[str, int] = {}
for _lang_names in WEEKDAY_NAMES.values():
    for _i, _name in enumerate(_lang_names):
        _WEEKDAYS[_name.lower()] = _i
_WEEKDAYS.update({"tues": 1, "weds": 2, "thurs": 3})
_WEEKDAY = r"\b(?:(?:n(?:ä|ae)chste[nr]?|kommende[nr]?|this|next|coming)\s+)?(" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")s?\b"

_YEAR4 = r"(\d{4})(?!\d|[:.]\d)"
_DATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ymd", re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")),
    # "3.12." "3.12.2026" "03.12.26" "3. 12." – the trailing dot tells it from a time ("10.30 Uhr").
    ("dmy", re.compile(r"(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.(?:(\d{2})(?![\d:.])|\s?" + _YEAR4 + ")?")),
    ("dmy", re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/])")),
    ("dmy", re.compile(r"\b(\d{1,2})(?:\.|st|nd|rd|th)?\s*(?:of\s+)?" + _MONTH + r"(?:\s*,?\s*" + _YEAR4 + ")?(?![a-z])")),
    ("mdy", re.compile(r"\b" + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?!\d|[:.]\d|\s*(?:uhr\b|h\b|[ap]\.?m\b))(?:\s*,?\s*" + _YEAR4 + ")?")),
)
# "3.12" without the closing dot is a date only when nothing else was one, and never after "um"/"at".
_LOOSE_DATE = re.compile(r"(?<![\d.])(?<!um )(?<!at )(\d{1,2})\.(\d{1,2})(?![\d.]|\s*(?:uhr|h\b))")

_AMPM = r"(a\.?m\.?|p\.?m\.?)(?![a-z])(?!\s+(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|morgen|vormittag|nachmittag|abend|\d))"
_TIME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("hm", re.compile(r"(?<![\d.:])(\d{1,2}):(\d{2})(?![\d:])\s*(?:uhr\b|h\b|" + _AMPM + ")?")),
    ("hm", re.compile(r"(?<![\d.:])(\d{1,2})\.(\d{2})(?!\d)\s*(?:uhr\b|h\b|" + _AMPM + ")")),
    ("hm", re.compile(r"\b(?:um|at|gegen|ab|by)\s+(\d{1,2})\.(\d{2})(?![\d.])()")),
    ("hm", re.compile(r"(?<![\d.:])(\d{1,2})\s*h(\d{2})?\b()")),
    ("hm", re.compile(r"(?<![\d.:])(\d{1,2})\s*uhr(?:\s+(\d{2})\b)?()")),
    ("hm", re.compile(r"(?<![\d.:])(\d{1,2})()\s*" + _AMPM)),
    ("half", re.compile(r"\bhalb\s+(\d{1,2})\b")),
    ("quarter_past", re.compile(r"\bviertel\s+nach\s+(\d{1,2})\b")),
    ("quarter_to", re.compile(r"\bviertel\s+vor\s+(\d{1,2})\b")),
    ("noon", re.compile(r"\b(?:noon|midday|mittags?\s+um\s+zw(?:ö|oe)lf)\b")),
    ("hm", re.compile(r"\b(?:um|at|gegen|ab|by)\s+(\d{1,2})()(?![\d:./])")),
)
_BARE_TIME = re.compile(r"^\s*(\d{1,2})(?:[:.](\d{2}))?\s*(?:uhr|h)?\s*$")
_AFTERNOON = re.compile(r"\b(?:nachmittags?|abends?|am\s+nachmittag|am\s+abend|afternoon|evening|tonight)\b")
_MORNING = re.compile(r"\b(?:morgens|vormittags?|fr(?:ü|ue)h|am\s+vormittag|in\s+the\s+morning)\b")

_RELATIVE: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], int]], ...] = (
    (re.compile(r"\b(?:(?:ü|ue)bermorgen|day\s+after\s+tomorrow)\b"), lambda m: 2),
    (re.compile(r"(?<!guten )(?<!jeden )(?<!am )\bmorgen\b|\btomorrow\b"), lambda m: 1),
    (re.compile(r"\b(?:heute|today|tonight)\b"), lambda m: 0),
    (re.compile(r"\bin\s+(\d{1,3})\s+(?:tag(?:en)?|days?)\b"), lambda m: int(m.group(1))),
    (re.compile(r"\bin\s+(\d{1,2})\s+(?:wochen?|weeks?)\b"), lambda m: 7 * int(m.group(1))),
    (re.compile(r"\bin\s+(?:einer|a|one)\s+(?:woche|week)\b"), lambda m: 7),
)


@dataclass(frozen=True)
class When:
    """What a text says about a moment; either part may be missing."""

    day: dt.date | None = None
    time: dt.time | None = None

    def at(self, tz: dt.tzinfo | None) -> dt.datetime | None:
        if self.day is None or self.time is None:
            return None
        return dt.datetime.combine(self.day, self.time, tz)


def parse_when(text: str, now: dt.datetime, expect_time: bool = False) -> When:
    """The date and time named in ``text``, relative to ``now`` (the city's local time).

    ``expect_time``: the bot has just asked for the time, so a bare "10" or "10.30" is one.
    """
    s = _prepare(text)
    today = now.date()
    day, s = _explicit_date(s, today)
    time, s = _time(s, bare=expect_time)
    if day is None:
        m = _LOOSE_DATE.search(s)
        if m:
            day = _date_or_none(today, int(m.group(2)), int(m.group(1)), None)
            if day is not None:
                s = _blank(s, m)
    if time is None and day is not None:
        m = re.search(r"(?<![\d.:])(\d{1,2})\.(\d{2})(?![\d.])", s)
        if m:
            time = _clock(int(m.group(1)), int(m.group(2)), None, s)
    if day is None:
        day = _relative_date(s, today)
    return When(day, time)


def _prepare(text: str) -> str:
    # lower() rather than casefold(): "ß" stays one character, so the patterns can spell both forms.
    s = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower()
    return s.replace("\u00a0", " ").replace("–", "-")


def _blank(s: str, m: re.Match[str]) -> str:
    """The text with the match replaced by spaces, so later patterns neither see nor straddle it."""
    return s[: m.start()] + " " * (m.end() - m.start()) + s[m.end():]


def _explicit_date(s: str, today: dt.date) -> tuple[dt.date | None, str]:
    for order, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(s):
            a, b, year = m.group(1), m.group(2), m.group(3) if m.lastindex and m.lastindex >= 3 else None
            if order == "dmy" and m.lastindex and m.lastindex >= 4 and m.group(4):
                year = m.group(4)
            if order == "ymd":
                day = _date_or_none(today, int(b), int(m.group(3)), int(a))
            else:
                day_text, month_text = (a, b) if order == "dmy" else (b, a)
                month = _MONTHS[month_text] if month_text in _MONTHS else int(month_text)
                day = _date_or_none(today, month, int(day_text), _year(year))
            if day is not None:
                return day, _blank(s, m)
    return None, s


def _year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    return 2000 + value if value < 100 else value


def _date_or_none(today: dt.date, month: int, day: int, year: int | None) -> dt.date | None:
    """The date, or the next such date when no year is given; None when it does not exist."""
    if year is not None:
        try:
            return dt.date(year, month, day)
        except ValueError:
            return None
    for candidate_year in range(today.year, today.year + 5):  # 29 February may be four years off
        try:
            candidate = dt.date(candidate_year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _time(s: str, bare: bool) -> tuple[dt.time | None, str]:
    if bare:
        m = _BARE_TIME.match(s)
        if m:
            t = _clock(int(m.group(1)), int(m.group(2)) if m.group(2) else None, None, s, leading_zero=m.group(1).startswith("0"))
            if t is not None:
                return t, ""
    for kind, pattern in _TIME_PATTERNS:
        for m in pattern.finditer(s):
            t = _time_of(kind, m, s)
            if t is not None:
                return t, _blank(s, m)
    return None, s


def _time_of(kind: str, m: re.Match[str], s: str) -> dt.time | None:
    if kind == "noon":
        return dt.time(12, 0)
    hour = int(m.group(1))
    if kind == "half":
        return _clock(hour - 1, 30, None, s)
    if kind == "quarter_past":
        return _clock(hour, 15, None, s)
    if kind == "quarter_to":
        return _clock(hour - 1, 45, None, s)
    minute = int(m.group(2)) if m.group(2) else None
    marker = m.group(3) if m.lastindex and m.lastindex >= 3 else None
    return _clock(hour, minute, marker, s, leading_zero=m.group(1).startswith("0"))


def _clock(hour: int, minute: int | None, marker: str | None, s: str, leading_zero: bool = False) -> dt.time | None:
    minute = minute or 0
    if marker:
        if not 1 <= hour <= 12:
            return None
        pm = marker.startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    elif 1 <= hour <= 6 and not leading_zero and not _MORNING.search(s):
        hour += 12  # "um 3", "at 2:15", "3 Uhr nachmittags": afternoon (see the module docstring)
    elif hour < 12 and _AFTERNOON.search(s):
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return dt.time(hour, minute)


def _relative_date(s: str, today: dt.date) -> dt.date | None:
    for pattern, days in _RELATIVE:
        m = pattern.search(s)
        if m:
            offset = days(m)
            return today + dt.timedelta(days=offset) if offset <= 3660 else None
    m = re.search(_WEEKDAY, s)
    if m:
        ahead = (_WEEKDAYS[m.group(1)] - today.weekday() - 1) % 7 + 1
        return today + dt.timedelta(days=ahead)
    return None


# --- how the bot writes dates and times ------------------------------------------------------

SHORT_WEEKDAYS = {"de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"), "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def format_date(day: dt.date, lang: str, long: bool = False, year: bool = False) -> str:
    """de "Do 3.12." / "Donnerstag, 3. Dezember 2026"; en "Thu 3 Dec" / "Thursday, 3 December 2026"."""
    en = lang != "de"
    if long:
        weekday = (WEEKDAY_NAMES["en" if en else "de"])[day.weekday()]
        month = MONTH_NAMES["en" if en else "de"][day.month - 1]
        return f"{weekday}, {day.day}{'' if en else '.'} {month} {day.year}"
    if en:
        short = f"{SHORT_WEEKDAYS['en'][day.weekday()]} {day.day} {MONTH_NAMES['en'][day.month - 1][:3]}"
        return f"{short} {day.year}" if year else short
    short = f"{SHORT_WEEKDAYS['de'][day.weekday()]} {day.day}.{day.month}."
    return f"{short}{day.year}" if year else short


def format_time(time: dt.time, lang: str) -> str:
    clock = f"{time.hour:02d}:{time.minute:02d}"
    return f"{clock} Uhr" if lang == "de" else clock


def format_moment(at: dt.datetime, lang: str, long: bool = False, year: bool = False) -> str:
    """"Do 3.12., 10:30 Uhr"; long: "Donnerstag, 3. Dezember 2026, 10:30 Uhr"."""
    return f"{format_date(at.date(), lang, long, year)}, {format_time(at.time(), lang)}"


_UNIT_MINUTES = {"d": 24 * 60, "h": 60, "m": 1}
_UNIT_WORDS = {
    "de": {"d": ("einen Tag", "{n} Tage"), "h": ("eine Stunde", "{n} Stunden"), "m": ("eine Minute", "{n} Minuten")},
    "en": {"d": ("one day", "{n} days"), "h": ("one hour", "{n} hours"), "m": ("one minute", "{n} minutes")},
}


def describe_offsets(offsets: tuple[str, ...] | list[str], lang: str) -> str:
    """("1d", "1h") → "einen Tag vorher und eine Stunde vorher"; unreadable offsets are left out."""
    words = _UNIT_WORDS.get(lang) or _UNIT_WORDS["en"]
    readable = []
    for raw in offsets:
        try:
            readable.append(parse_offset(raw))
        except InvalidOffset:
            continue
    parts = []
    for n, unit in sorted(readable, key=lambda o: o[0] * _UNIT_MINUTES[o[1]], reverse=True):
        one, many = words[unit]
        parts.append(texts.text("before", lang, span=one if n == 1 else many.format(n=n)))
    return ", ".join(parts[:-1]) + f" {texts.text('and', lang)} " + parts[-1] if len(parts) > 1 else "".join(parts)
