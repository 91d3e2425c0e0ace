"""A :class:`~bot.core.ports.ReminderBook` kept in memory, for tests and the console.

It keeps what a chat asked for; it sends nothing (delivery needs the storage side's queue).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.core.models import Appointment, ChatRef, LinkError, LinkResult, Subscription, SubscriptionKind

_ChatKey = tuple[str, str]  # (channel, chat id), as the storage keys chats


def _key(chat: ChatRef) -> _ChatKey:
    return (chat.channel, chat.chat_id)


@dataclass
class _Linked:
    appointment: Appointment
    language: str


@dataclass
class _Chat:
    appointments: dict[str, _Linked] = field(default_factory=dict)
    subscriptions: dict[str, tuple[Subscription, str]] = field(default_factory=dict)  # id -> (subscription, language)


class MemoryReminderBook:
    """``tokens``: what a valid link token stands for (each is used once); ``token_errors``: tokens
    that fail in a given way; any other token is malformed. ``cases``: known case references."""

    def __init__(
        self,
        tokens: dict[str, Appointment] | None = None,
        token_errors: dict[str, LinkError] | None = None,
        cases: set[str] | None = None,
        districts: dict[str, str] | None = None,
    ) -> None:
        self._tokens = dict(tokens or {})
        self._token_errors = dict(token_errors or {})
        self._used: set[str] = set()
        self._cases = {c.casefold(): c for c in cases or ()}
        self._districts = dict(districts or {})
        self._chats: dict[_ChatKey, _Chat] = {}
        self._counter = 0

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def _chat(self, chat: ChatRef) -> _Chat:
        return self._chats.setdefault(_key(chat), _Chat())

    def add_appointment(self, chat: ChatRef, language: str, starts_at: dt.datetime, office: str | None, subject: str) -> Appointment:
        if starts_at.tzinfo is None:
            raise ValueError("starts_at must be timezone-aware")
        appointment = Appointment(self._next_id("a"), starts_at, office, subject, "chat")
        self._chat(chat).appointments[appointment.id] = _Linked(appointment, language)
        return appointment

    def upcoming(self, chat: ChatRef, now: dt.datetime) -> list[Appointment]:
        linked = self._chats.get(_key(chat))
        if linked is None:
            return []
        return sorted((x.appointment for x in linked.appointments.values() if x.appointment.starts_at >= now), key=lambda a: a.starts_at)

    def cancel(self, chat: ChatRef, appointment_id: str) -> bool:
        linked = self._chats.get(_key(chat))
        return linked is not None and linked.appointments.pop(appointment_id, None) is not None

    def redeem(self, chat: ChatRef, language: str, token: str) -> LinkResult:
        if token in self._token_errors:
            return LinkResult(error=self._token_errors[token])
        if token in self._used:
            return LinkResult(error=LinkError.USED)
        appointment = self._tokens.get(token)
        if appointment is None:
            return LinkResult(error=LinkError.MALFORMED)
        self._used.add(token)
        self._chat(chat).appointments[appointment.id] = _Linked(appointment, language)
        return LinkResult(appointment=appointment)

    def subscribe_case(self, chat: ChatRef, language: str, reference: str) -> Subscription | None:
        known = self._cases.get(reference.strip().casefold())
        if known is None:
            return None
        return self._subscribe(chat, language, SubscriptionKind.CASE, known, known)

    def subscribe_waste(self, chat: ChatRef, language: str, district: str) -> Subscription:
        if district not in self._districts:
            raise ValueError(f"unknown district {district!r}")
        return self._subscribe(chat, language, SubscriptionKind.WASTE, district, self._districts[district])

    def _subscribe(self, chat: ChatRef, language: str, kind: SubscriptionKind, ref: str, label: str) -> Subscription:
        subs = self._chat(chat).subscriptions
        for existing, _ in subs.values():
            if existing.kind is kind and existing.ref == ref:
                return existing  # subscribing twice is one subscription, as in the database
        subscription = Subscription(self._next_id("s"), kind, ref, label)
        subs[subscription.id] = (subscription, language)
        return subscription

    def subscriptions(self, chat: ChatRef) -> list[Subscription]:
        linked = self._chats.get(_key(chat))
        return [s for s, _ in linked.subscriptions.values()] if linked else []

    def unsubscribe(self, chat: ChatRef, subscription_id: str) -> bool:
        linked = self._chats.get(_key(chat))
        return linked is not None and linked.subscriptions.pop(subscription_id, None) is not None

    def districts(self) -> dict[str, str]:
        return dict(self._districts)

    def export(self, chat: ChatRef) -> dict[str, Any]:
        linked = self._chats.get(_key(chat)) or _Chat()
        return {
            "appointments": [
                {"id": x.appointment.id, "starts_at": x.appointment.starts_at.isoformat(), "office": x.appointment.office,
                 "subject": x.appointment.subject, "source": x.appointment.source, "language": x.language}
                for x in linked.appointments.values()
            ],
            "subscriptions": [{"id": s.id, "kind": s.kind.value, "ref": s.ref, "language": lang} for s, lang in linked.subscriptions.values()],
            "reminders": [],  # this book sends nothing, so nothing is queued
        }

    def forget(self, chat: ChatRef) -> None:
        self._chats.pop(_key(chat), None)

    def heard_from(self, chat: ChatRef) -> None:
        """Nothing to do: this book sends no reminders, so no chat is ever held as blocked."""
