"""Shared fixtures: a tiny knowledge base in tmp_path, and a collecting channel for dialogue tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.channels.markup import reply_as_plain
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.models import Incoming, Reply
from bot.core.ports import MemoryUnansweredLog, MemoryUsageLog, MemoryUserStates
from bot.storage.database import make_engine, migrate
from tests.databases import NO_POSTGRES, postgres_schema

REPO = Path(__file__).resolve().parents[1]

TINY_OFFICES = """\
offices:
  - id: buergerbuero
    name: {de: "Bürgerbüro", en: "Citizens' Office"}
    address: "Marktplatz 1, 12345 Musterstadt"
    phone: "+49 1234 567-100"
    pickup_documents: [reisepass, personalausweis]
    hours:
      mon: ["08:00-16:00"]
      tue: ["08:00-16:00"]
      wed: ["08:00-12:00"]
      thu: ["08:00-18:00"]
      fri: ["08:00-12:00"]
  - id: buergertelefon
    name: {de: "Bürgertelefon", en: "citizens' phone line"}
    address: "Marktplatz 1, 12345 Musterstadt"
    phone: "+49 1234 115"
    hours:
      mon: ["07:00-18:00"]
      tue: ["07:00-18:00"]
      wed: ["07:00-18:00"]
      thu: ["07:00-18:00"]
      fri: ["07:00-18:00"]
"""

TINY_SYNONYMS = """\
synonyms:
  de:
    personalausweis: [perso]
    sperrmuell: [sperrgut]
  en:
    identity card: [id card]
"""


def entry_yaml(entry_id: str, de_q: list[str], en_q: list[str], extra: str = "", kind: str = "faq") -> str:
    de = "\n".join(f"        - {q}" for q in de_q)
    en = "\n".join(f"        - {q}" for q in en_q)
    return (
        f"""\
  - id: {entry_id}
    kind: {kind}
{extra}    de:
      title: Titel {entry_id}
      questions:
{de}
      answer: Antwort zu {entry_id}.
    en:
      title: Title {entry_id}
      questions:
{en}
      answer: Answer about {entry_id}.
"""
    )


TINY_ENTRIES = "entries:\n" + "".join(
    [
        entry_yaml(
            "personalausweis",
            ["Personalausweis beantragen", "neuen Personalausweis bekommen", "Personalausweis abgelaufen"],
            ["apply for an identity card", "new identity card", "identity card expired"],
            "    office: buergerbuero\n    links:\n      - kind: form\n        url: https://musterstadt.example/online/personalausweis\n"
            "        label: {de: Termin buchen, en: Book an appointment}\n",
        ),
        entry_yaml(
            "anwohnerparkausweis",
            ["Anwohnerparkausweis beantragen", "Bewohnerparkausweis verlängern", "Anwohnerparken Ausweis"],
            ["residents parking permit", "apply for a resident parking permit", "parking permit for residents"],
        ),
        entry_yaml(
            "sperrmuell",
            ["Sperrmüll anmelden", "Sofa entsorgen", "Sperrmüllabholung bestellen"],
            ["bulky waste collection", "dispose of a sofa", "book bulky waste pick-up"],
        ),
        entry_yaml(
            "wohnsitz-anmelden",
            ["Wohnsitz anmelden", "nach Umzug in die Stadt anmelden", "Anmeldung neue Wohnung"],
            ["register my address", "register after moving to the city", "Anmeldung new flat"],
        ),
        entry_yaml(
            "wohnsitz-abmelden",
            ["Wohnsitz abmelden", "ins Ausland ziehen abmelden", "Abmeldung Wohnung"],
            ["deregister my address", "moving abroad deregister", "deregistration of my flat"],
        ),
        entry_yaml(
            "notruf",
            ["Notfall", "es brennt", "Unfall mit Verletzten"],
            ["emergency", "there is a fire", "accident with injured people"],
            "    emergency: true\n",
        ),
        entry_yaml(
            "begruessung",
            ["Hallo", "Guten Tag", "Moin"],
            ["Hello", "Good morning", "Hi there"],
            "    action: greeting\n",
            kind="intent",
        ),
        entry_yaml(
            "sprache",
            ["Sprache wechseln", "bitte auf Deutsch", "auf Englisch antworten"],
            ["change language", "English please", "switch language"],
            "    action: language\n",
            kind="intent",
        ),
    ]
)


@pytest.fixture
def tiny_kb(tmp_path: Path) -> Path:
    """A knowledge folder with a few entries, two offices and synonyms."""
    root = tmp_path / "kb"
    root.mkdir()
    (root / "offices.yaml").write_text(TINY_OFFICES, encoding="utf-8")
    (root / "synonyms.yaml").write_text(TINY_SYNONYMS, encoding="utf-8")
    (root / "entries.yaml").write_text(TINY_ENTRIES, encoding="utf-8")
    return root


class CollectingChannel:
    """The standard test double for dialogue tests: sends texts in, collects replies."""

    def __init__(self, dialogue: Dialogue, channel: str = "test", chat_id: str = "chat-1", profile: str = "default") -> None:
        self.dialogue = dialogue
        self.channel = channel
        self.chat_id = chat_id
        self.profile = profile
        self.replies: list[Reply] = []

    def say(self, text: str = "", choice: str | None = None, language_hint: str | None = None) -> list[Reply]:
        out = self.dialogue.handle(Incoming(self.channel, self.chat_id, text, language_hint=language_hint, profile=self.profile, choice=choice))
        self.replies.extend(out)
        return out

    def command(self, name: str, argument: str = "", language_hint: str | None = None) -> list[Reply]:
        out = self.dialogue.handle(
            Incoming(self.channel, self.chat_id, "", language_hint=language_hint, profile=self.profile, command=name, argument=argument)
        )
        self.replies.extend(out)
        return out

    def plain(self, text: str) -> str:
        return "\n\n".join(reply_as_plain(r) for r in self.say(text))


MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0)


@pytest.fixture
def make_chat(tiny_kb: Path) -> Callable[..., CollectingChannel]:
    def make(clock: dt.datetime = MONDAY_10, kb: Path | None = None, **settings: object) -> CollectingChannel:
        live = LiveKnowledge([kb or tiny_kb])
        unanswered = MemoryUnansweredLog()
        usage = MemoryUsageLog()
        dialogue = Dialogue(
            knowledge=lambda: live.snapshot,
            states=MemoryUserStates(),
            unanswered=unanswered,
            settings=DialogueSettings(popular=("personalausweis", "sperrmuell"), **settings),  # type: ignore[arg-type]
            clock=lambda: clock,
            usage=usage,
        )
        chat = CollectingChannel(dialogue)
        chat.unanswered = unanswered  # type: ignore[attr-defined]
        chat.usage = usage  # type: ignore[attr-defined]
        chat.live = live  # type: ignore[attr-defined]
        return chat

    return make


# --- A real Synapse homeserver (tests/matrix_server.py), one per session and rate-limit setting ---

from collections.abc import Iterator  # noqa: E402

from tests.matrix_server import SynapseServer, synapse_available  # noqa: E402


def _session_synapse(tmp_path_factory: pytest.TempPathFactory, name: str, rate_limited: bool) -> Iterator[SynapseServer]:
    if not synapse_available():
        pytest.skip("matrix-synapse is not installed in this interpreter (pip install -e '.[dev]')")
    server = SynapseServer(tmp_path_factory.mktemp(name), rate_limited=rate_limited)
    server.start()  # raises SynapseServerError with the tail of Synapse's log if it does not come up
    try:
        yield server
        server.check_alive()  # a Synapse that died during the session fails teardown with its log tail
    finally:
        server.stop()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A running Synapse with all rc_* rate limits relaxed; use unique localparts per test."""
    yield from _session_synapse(tmp_path_factory, "synapse", rate_limited=False)


@pytest.fixture(scope="session")
def synapse_rate_limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A running Synapse with Synapse's default rate limits (429 M_LIMIT_EXCEEDED after ~10 quick messages)."""
    yield from _session_synapse(tmp_path_factory, "synapse-rate-limited", rate_limited=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database: SQLite in tmp_path, then the local PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
        migrate(eng)
        yield eng
        eng.dispose()
        return
    yield from _postgres_engine()


@pytest.fixture
def postgres() -> Iterator[Engine]:
    """PostgreSQL only, for what SQLite cannot show (two sessions interleaving, row locks)."""
    yield from _postgres_engine()


def _postgres_engine() -> Iterator[Engine]:
    with postgres_schema() as url:
        if url is None:
            pytest.skip(NO_POSTGRES)
        eng = make_engine(url)
        yield eng
        eng.dispose()
