"""From appointments and subscriptions to queued notices (rows for bot.reminders.queue)."""

from __future__ import annotations

import datetime as dt

from bot.core.models import ChatRef, NoticeKind
from bot.core.schedule import ReminderPolicy
from bot.reminders.queue import Due
from bot.reminders.waste_calendar import WasteCalendar

# Waste reminders are useless once the bins are out on the street: they go stale at this hour.
_WASTE_STALE_AT = dt.time(6, 0)
WASTE_LOOKAHEAD_DAYS = 8  # more than a week, so a new subscriber hears of the next collection at once


def appointment_dues(
    policy: ReminderPolicy, appointment_id: str, starts_at: dt.datetime, office: str | None, subject: str,
    chat: ChatRef, language: str, now: dt.datetime,
) -> list[Due]:
    starts = policy.local(starts_at)
    params = {"starts_at": starts.isoformat(), "office": office or "", "subject": subject}
    return [
        Due(
            dedupe_key=f"appt:{appointment_id}:{chat.channel}:{chat.chat_id}:{p.lead}", subject_id=appointment_id, chat=chat,
            language=language, kind=NoticeKind.APPOINTMENT, params={**params, "lead": p.lead}, due_at=p.due_at, expires_at=starts,
        )
        for p in policy.plan(starts, office, policy.local(now))
    ]


def waste_dues(
    policy: ReminderPolicy, calendar: WasteCalendar, subscription_id: str, district: str, chat: ChatRef, language: str, now: dt.datetime,
) -> list[Due]:
    """The evening-before reminders for the next few days' collections (a daily job tops them up)."""
    today = policy.local(now).date()
    out = []
    for day, fractions in calendar.collections(district, today, today + dt.timedelta(days=WASTE_LOOKAHEAD_DAYS)):
        due = dt.datetime.combine(day - dt.timedelta(days=1), policy.waste_evening, tzinfo=policy.zone)
        stale = dt.datetime.combine(day, _WASTE_STALE_AT, tzinfo=policy.zone)
        if stale <= now:
            continue
        out.append(Due(
            dedupe_key=f"waste:{subscription_id}:{day.isoformat()}", subject_id=subscription_id, chat=chat, language=language,
            kind=NoticeKind.WASTE, params={"district": district, "district_name": calendar.names.get(district, district), "date": day.isoformat(), "fractions": ",".join(fractions)},
            due_at=due, expires_at=stale,
        ))
    return out
