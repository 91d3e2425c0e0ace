"""The shape of the knowledge files, as pydantic models (unknown fields are errors)."""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from bot.core.cases import DOCUMENTS
from bot.core.models import WEEKDAYS, Kind, LinkKind

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
LANGUAGE_KEY = re.compile(r"^[a-z]{2}$")
ACTIONS = frozenset(
    {"greeting", "help", "thanks", "goodbye", "small_talk", "language", "human", "reminders", "reminder_list", "case_status", "waste_reminder", "my_data", "delete_data"}
)
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkModel(_Strict):
    kind: LinkKind
    url: HttpUrl
    label: dict[str, str] = Field(min_length=1)


class LocalModel(_Strict):
    title: str = Field(min_length=1)
    questions: list[str] = Field(min_length=3)
    answer: str = Field(min_length=1)
    fees: str | None = None
    documents: list[str] = []
    duration: str | None = None

    @field_validator("questions")
    @classmethod
    def _questions_not_blank(cls, value: list[str]) -> list[str]:
        if any(not str(q).strip() for q in value):
            raise ValueError("an example question is empty")
        return value


class EntryModel(_Strict):
    id: str = Field(pattern=SLUG)
    kind: Kind
    office: str | None = None
    leika: str | None = Field(default=None, pattern=r"^\d{14}$")
    tags: list[str] = []
    owner: str | None = None
    last_reviewed: dt.date | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    emergency: bool = False
    action: str | None = None
    links: list[LinkModel] = []

    @field_validator("leika", mode="before")
    @classmethod
    def _leika_text(cls, value: object) -> object:
        # YAML reads an unquoted key as a number; accept it as staff wrote it.
        return str(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _consistent(self) -> EntryModel:
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValueError("valid_from is after valid_until")
        if self.kind is Kind.INTENT and self.action not in ACTIONS:
            raise ValueError(f"an intent needs an action, one of: {', '.join(sorted(ACTIONS))}")
        if self.kind is not Kind.INTENT and self.action is not None:
            raise ValueError("only intents have an action")
        return self


class OfficeModel(_Strict):
    id: str = Field(pattern=SLUG)
    name: dict[str, str] = Field(min_length=1)
    address: str
    phone: str
    email: str | None = None
    url: HttpUrl | None = None
    # Other names people use for the office ("Bürgeramt", "registry office"), by language: the
    # dialogue recognises them in questions about opening hours and reminders.
    aliases: dict[str, list[str]] = {}
    hours: dict[str, list[str]] = {}
    closed: list[dt.date] = []
    # The documents citizens collect here (ids of bot.core.cases.DOCUMENTS): a "ready for pickup"
    # notice names this office, its address and its opening hours.
    pickup_documents: list[str] = []

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for lang, names in value.items():
            if not LANGUAGE_KEY.match(lang):
                raise ValueError(f"aliases: {lang!r} is not a two-letter language code")
            if any(not str(n).strip() for n in names):
                raise ValueError(f"aliases: an alias in {lang!r} is empty")
        return value

    @field_validator("pickup_documents")
    @classmethod
    def _pickup_documents(cls, value: list[str]) -> list[str]:
        unknown = [document for document in value if document not in DOCUMENTS]
        if unknown:
            raise ValueError(f"unknown document {unknown[0]!r}; known: {', '.join(sorted(DOCUMENTS))}")
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(WEEKDAYS)}")
            for span in spans:
                m = _SPAN.match(str(span))
                if not m or (m.group(1), m.group(2)) >= (m.group(3), m.group(4)):
                    raise ValueError(f"{day}: {span!r} is not a time span like 08:00-12:30")
        return value


class ScopeModel(_Strict):
    """What the bot is not for (``scope:`` files): places other than the city, and words that mark
    a question as none of the city's business. Several files add up."""

    # The city itself, its districts and its Land: named in a question, they keep it in scope.
    own_places: list[str] = []
    # Other cities, districts and Länder: a question about one of them is not the city's business.
    other_places: list[str] = []
    # Place names that are also ordinary words ("Essen", "Siegen"): they count only right after
    # "in", "aus", "nach", "von", "bei".
    other_places_after_preposition: list[str] = []
    # Words marking a question as none of the city's business, by reason (shops, football,
    # weather, actions); a trailing "*" matches any ending ("wettervorhersage*").
    topics: dict[str, list[str]] = {}
    # Words that make such a question the city's business after all: "open a pub" is a licence.
    city_matters: list[str] = []

    @field_validator("own_places", "other_places", "other_places_after_preposition", "city_matters")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        if any(not str(word).strip() for word in value):
            raise ValueError("an empty name")
        return value

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for reason, words in value.items():
            if not re.match(SLUG, reason):
                raise ValueError(f"{reason!r} is no reason name (lower case and hyphens)")
            if any(not str(word).strip() for word in words):
                raise ValueError(f"{reason}: an empty word")
        return value


def parse_span(span: str) -> tuple[dt.time, dt.time]:
    m = _SPAN.match(span)
    assert m is not None  # validated by OfficeModel
    end = dt.time(23, 59, 59) if m.group(3) == "24" else dt.time(int(m.group(3)), int(m.group(4)))
    return dt.time(int(m.group(1)), int(m.group(2))), end
