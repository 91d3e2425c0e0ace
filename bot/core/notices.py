"""The reminders as they go out: a due :class:`Notice` and the current knowledge become a Reply.

Rendered when sent, not when queued, so office names, addresses and opening hours are the ones
valid that day. Params come from the database and other systems: every one may be missing or
odd, and each is placed into the text only through :func:`bot.core.texts.inline`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.core.cases import CASE_STATUSES, DOCUMENTS
from bot.core.hours import HolidayCheck, no_holidays, open_line
from bot.core.knowledge import KnowledgeBase
from bot.core.matching.normalise import fold
from bot.core.models import Button, Entry, Kind, Notice, NoticeKind, Office, Reply
from bot.core.texts import inline, text
from bot.core.waste import fraction_name
from bot.core.when import format_date, format_moment, format_time

_Render = Callable[[Notice, KnowledgeBase, dt.datetime, HolidayCheck, str], Reply]


def render_notice(notice: Notice, kb: KnowledgeBase, now: dt.datetime, is_holiday: HolidayCheck = no_holidays) -> Reply:
    """``now`` is the city's local time; the notice's times are shown in its time zone."""
    lang = notice.language if notice.language in kb.languages else kb.languages[0]
    return _RENDERERS[notice.kind](notice, kb, now, is_holiday, lang)


# --- pieces shared with the dialogue -------------------------------------------------------------

def parse_moment(value: str | None, now: dt.datetime) -> dt.datetime | None:
    """An ISO 8601 time from the database, in the city's time zone; None when unreadable."""
    if not value:
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.tzinfo is None:
        return at.replace(tzinfo=now.tzinfo)
    return at.astimezone(now.tzinfo) if now.tzinfo is not None else at


def place_line(office_id: str | None, kb: KnowledgeBase, lang: str) -> str | None:
    """"Bürgerbüro Mitte, Marktplatz 1, …, Telefon …"; an office the knowledge no longer has is named by its id."""
    if not office_id:
        return None
    office = kb.offices.get(office_id)
    if office is None:
        return inline(office_id, 64)
    return text("office_contact", lang, office=office.name(lang), address=office.address, phone=office.phone)


def office_buttons(office_id: str | None, kb: KnowledgeBase, lang: str) -> tuple[Button, ...]:
    office = kb.offices.get(office_id) if office_id else None
    if office is None or not office.url:
        return ()
    return (Button(text("office_page", lang, office=office.name(lang)), url=office.url),)


def entry_for_subject(subject: str, kb: KnowledgeBase) -> Entry | None:
    """The FAQ or service entry an appointment is for, when its subject is an entry's title or id."""
    wanted = fold(subject)
    if not wanted:
        return None
    for entry in kb.entries.values():
        if entry.kind is Kind.INTENT:
            continue
        if wanted == fold(entry.id.replace("-", " ")) or any(wanted == fold(t.title) for t in entry.texts.values()):
            return entry
    return None


def moment_words(at: dt.datetime, now: dt.datetime, lang: str) -> str:
    """"heute, 10:30 Uhr", "morgen, Do 3.12., 10:30 Uhr" or "Do 3.12., 10:30 Uhr"."""
    days = (at.date() - now.date()).days
    if days == 0:
        return f"{text('today', lang)}, {format_time(at.time(), lang)}"
    moment = format_moment(at, lang, year=at.year != now.year)
    return f"{text('tomorrow', lang)}, {moment}" if days == 1 else moment


# --- one renderer per kind -------------------------------------------------------------------------

def _appointment_block(notice: Notice, kb: KnowledgeBase, now: dt.datetime, lang: str) -> list[str]:
    p = notice.params
    at = parse_moment(p.get("starts_at"), now)
    lines = [moment_words(at, now, lang) if at else ""]
    place = place_line(p.get("office"), kb, lang)
    if place:
        lines.append(place)
    subject = inline(p.get("subject") or "")
    if subject:
        lines.append(text("subject_line", lang, subject=subject))
    return [line for line in lines if line]


def _appointment(notice: Notice, kb: KnowledgeBase, now: dt.datetime, is_holiday: HolidayCheck, lang: str) -> Reply:
    parts = [text("notice_appointment", lang) + "\n" + "\n".join(_appointment_block(notice, kb, now, lang))]
    entry = entry_for_subject(notice.params.get("subject") or "", kb)
    documents = entry.text(lang).documents if entry else ()
    if documents:
        parts.append(f"**{text('documents', lang)}:**\n" + "\n".join(f"- {d}" for d in documents))
    parts.append(text("notice_cant_come", lang))
    return Reply("\n\n".join(parts), buttons=office_buttons(notice.params.get("office"), kb, lang), language=lang)


def _cancelled(notice: Notice, kb: KnowledgeBase, now: dt.datetime, is_holiday: HolidayCheck, lang: str) -> Reply:
    parts = [text("notice_cancelled", lang) + "\n" + "\n".join(_appointment_block(notice, kb, now, lang)), text("notice_cancelled_body", lang)]
    return Reply("\n\n".join(parts), buttons=office_buttons(notice.params.get("office"), kb, lang), language=lang)


def _pickup_lines(document_id: str, kb: KnowledgeBase, now: dt.datetime, is_holiday: HolidayCheck, lang: str) -> tuple[list[str], Office | None]:
    office = kb.pickup_office(document_id if document_id in DOCUMENTS else "other")
    if office is None:
        return [], None
    place = text("office_contact", lang, office=office.name(lang), address=office.address, phone=office.phone)
    return [text("notice_pickup", lang, place=place), open_line(office, now, lang, is_holiday)], office


def _case_values(notice: Notice, lang: str) -> tuple[str, str, str]:
    p = notice.params
    document_id = (p.get("document") or "other").strip().lower()
    document = (DOCUMENTS.get(document_id) or DOCUMENTS["other"]).name(lang)
    return document_id, document, inline(p.get("reference") or "–", 64)


def _case_status(notice: Notice, kb: KnowledgeBase, now: dt.datetime, is_holiday: HolidayCheck, lang: str) -> Reply:
    document_id, document, reference = _case_values(notice, lang)
    status = (notice.params.get("status") or "").strip().lower()
    case_status = CASE_STATUSES.get(status)
    if case_status is None:
        return Reply(text("notice_case", lang) + "\n" + text("notice_case_other", lang, reference=reference), language=lang)
    parts = [text("notice_case", lang) + "\n" + case_status.sentence(lang).format(document=document, reference=reference)]
    office: Office | None = None
    if case_status.awaits_pickup:
        lines, office = _pickup_lines(document_id, kb, now, is_holiday, lang)
        if lines:
            parts.append("\n".join(lines))
    buttons = office_buttons(office.id, kb, lang) if office else ()
    return Reply("\n\n".join(parts), buttons=buttons, language=lang)


def _case_followup(notice: Notice, kb: KnowledgeBase, now: dt.datetime, is_holiday: HolidayCheck, lang: str) -> Reply:
    document_id, document, reference = _case_values(notice, lang)
    parts = [text("notice_followup", lang, document=document, reference=reference)]
    lines, office = _pickup_lines(document_id, kb, now, is_holiday, lang)
    if lines:
        parts.append("\n".join(lines))
    return Reply("\n\n".join(parts), buttons=office_buttons(office.id, kb, lang) if office else (), language=lang)


def _waste(notice: Notice, kb: KnowledgeBase, now: dt.datetime, is_holiday: HolidayCheck, lang: str) -> Reply:
    p = notice.params
    district = inline(p.get("district_name") or p.get("district") or "", 64)
    try:
        day: dt.date | None = dt.date.fromisoformat((p.get("date") or "").strip())
    except ValueError:
        day = None
    if day is None:
        when = ""
    else:
        days = (day - now.date()).days
        short = format_date(day, lang, year=day.year != now.year)
        when = text("today", lang) if days == 0 else f"{text('tomorrow', lang)} ({short})" if days == 1 else short
    title = "**" + " ".join(x for x in (text("notice_waste", lang), when) if x) + "**"
    if district:
        title += " " + text("in_district", lang, district=district)
    fractions = [fraction_name(f, lang) for f in (p.get("fractions") or "").split(",") if f.strip()]
    body = "\n".join(f"- {f}" for f in fractions) if fractions else text("notice_waste_unknown", lang)
    return Reply(f"{title}\n{body}\n\n{text('notice_waste_hint', lang)}", language=lang)


_RENDERERS: dict[NoticeKind, _Render] = {
    NoticeKind.APPOINTMENT: _appointment,
    NoticeKind.APPOINTMENT_CANCELLED: _cancelled,
    NoticeKind.CASE_STATUS: _case_status,
    NoticeKind.CASE_FOLLOWUP: _case_followup,
    NoticeKind.WASTE: _waste,
}
