"""Listing a chat's reminders (appointments, followed cases, waste collection) with a button to end each."""

from __future__ import annotations

from bot.core.flows.base import Flow
from bot.core.models import Appointment, Button, Reply, SubscriptionKind
from bot.core.texts import inline, text
from bot.core.when import format_moment

CHOICE_END = "rem:x:"  # + list hash + ":" + position
STEP = "list"


class ReminderListFlow(Flow):
    def show(self, intro: str | None = None) -> list[Reply]:
        lang = self.lang
        items: list[tuple[str, str]] = []
        for appointment in self.book.upcoming(self.chat, self.setup.now):
            items.append((f"a:{appointment.id}", self._appointment_label(appointment)))
        for subscription in self.book.subscriptions(self.chat):
            key = "label_case" if subscription.kind is SubscriptionKind.CASE else "label_waste"
            label = inline(subscription.label, 40)
            items.append((f"s:{subscription.id}", text(key, lang, reference=label, district=label)))
        if not items:
            self.state.clear()
            return [self.reply("\n\n".join(x for x in (intro, text("reminders_none", lang)) if x))]
        digest = self.state.keep_list(STEP, items)
        choices = tuple(Button(label, payload=f"{CHOICE_END}{digest}:{n}") for n, (_, label) in enumerate(items, 1))
        self.state.offer([c.payload or "" for c in choices])
        body = "\n\n".join(x for x in (intro, text("reminders_list", lang)) if x)
        return [Reply(body, choices=choices, language=lang)]

    def end(self, ref: str) -> list[Reply]:
        """A reminder's button (``hash:position``) pressed: the reminder ends."""
        item = self.state.listed(ref, STEP)
        if item is None:
            return self.show(intro=text("list_outdated", self.lang))
        kind, _, item_id = item.partition(":")
        done = self.book.cancel(self.chat, item_id) if kind == "a" else self.book.unsubscribe(self.chat, item_id)
        self.state.touch()
        label = self.state.label_of(item)
        if not done:
            return [self.reply(text("reminder_gone", self.lang))]
        return [self.reply(text("reminder_ended", self.lang, label=label))]

    def _appointment_label(self, appointment: Appointment) -> str:
        at = self.in_city_time(appointment.starts_at)
        label = text("label_appointment", self.lang, moment=format_moment(at, self.lang, year=at.year != self.setup.now.year))
        office = self.setup.kb.offices.get(appointment.office) if appointment.office else None
        if office is not None:
            label += f" – {office.name(self.lang)}"
        return inline(label, 60)
