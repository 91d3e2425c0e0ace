"""The dialogue's side of the hand-over with the desk on a real database: when the offer comes,
what the citizen agrees to, what waits for the staff room, "my data" and "delete my data"."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot.channels.markup import reply_as_plain
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.ports import HANDOVER_NO, HANDOVER_YES, MemoryUnansweredLog, MemoryUserStates
from bot.handover.core import CloseReason
from bot.handover.desk import HandoverPlace, SqlHandoverDesk
from bot.storage.tables import HandoverMessageRow, HandoverRedactionRow, HandoverRow
from tests.conftest import MONDAY_10, CollectingChannel

SATURDAY_10 = dt.datetime(2026, 11, 28, 10, 0)
BERLIN = dt.timezone(dt.timedelta(hours=1))


@pytest.fixture
def database(engine: Engine) -> Engine:
    """The migrated database of each kind (tests/conftest.py: SQLite, then PostgreSQL)."""
    return engine


def desk_for(engine: Engine, now: dt.datetime = MONDAY_10) -> SqlHandoverDesk:
    desk = SqlHandoverDesk(engine, {"default": HandoverPlace("!staff:localhost", "buergertelefon")}, lambda: now.replace(tzinfo=BERLIN),
                           retention_days=30)
    desk.reachable = {("test", "default")}
    return desk


def chat_with(tiny_kb: Path, desk: SqlHandoverDesk, now: dt.datetime = MONDAY_10, chat_id: str = "chat-1") -> CollectingChannel:
    live = LiveKnowledge([tiny_kb])
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), DialogueSettings(popular=("personalausweis",)),
                        clock=lambda: now, handover=desk)
    return CollectingChannel(dialogue, chat_id=chat_id)


def plain(replies: list) -> str:  # type: ignore[type-arg]
    return "\n\n".join(reply_as_plain(r) for r in replies)


def test_two_misses_in_a_row_offer_a_person_with_the_consent_and_yes_opens_a_case(tiny_kb: Path, database: Engine) -> None:
    desk = desk_for(database)
    chat = chat_with(tiny_kb, desk)
    first = chat.say("Wie beantrage ich eine Baumfällgenehmigung für meinen Garten?")
    assert not any(r.choices and r.choices[0].payload == HANDOVER_YES for r in first)
    second = chat.say("Darf ich eine Hecke im November schneiden?")
    offer = second[-1]
    assert [c.payload for c in offer.choices] == [HANDOVER_YES, HANDOVER_NO]
    assert "Bürgertelefon" in offer.text and "Chat-Kennung" in offer.text and "30 Tage" in offer.text
    opened = chat.say("ja")
    assert "H-00001" in plain(opened)
    with database.connect() as conn:
        case = conn.execute(select(HandoverRow)).one()
    assert case.state == "waiting" and case.chat_id == "chat-1" and case.language == "de"
    assert case.question == "Darf ich eine Hecke im November schneiden?"
    assert [t[0] for t in json.loads(case.turns)][:2] == ["Wie beantrage ich eine Baumfällgenehmigung für meinen Garten?",
                                                          "Darf ich eine Hecke im November schneiden?"]
    assert chat.say("Es geht um eine Buchenhecke.") == []  # goes to the team, not answered by the bot
    (case_row,) = desk.unposted_cases()
    assert case_row.summary.number == "H-00001" and not case_row.summary.queued
    desk.posted_root(case_row.id, "$root")
    assert [m.text for m in desk.unposted_messages()] == ["Es geht um eine Buchenhecke."]


def test_asking_for_a_person_offers_at_once_and_no_shares_nothing(tiny_kb: Path, database: Engine) -> None:
    chat = chat_with(tiny_kb, desk_for(database))
    replies = chat.say("I want to talk to a human")
    assert replies[-1].choices[0].payload == HANDOVER_YES and "chat id" in replies[-1].text
    declined = chat.say("", choice=HANDOVER_NO)
    assert "nothing is passed on" in plain(declined)
    with database.connect() as conn:
        assert conn.execute(select(func.count()).select_from(HandoverRow)).scalar_one() == 0
    assert chat.say("Personalausweis beantragen")[0].entry_id == "personalausweis"  # the bot answers again


def test_outside_the_teams_hours_the_question_is_queued(tiny_kb: Path, database: Engine) -> None:
    chat = chat_with(tiny_kb, desk_for(database, SATURDAY_10), SATURDAY_10)
    offer = chat.say("Mitarbeiter")[-1]
    assert "Montag ab 07:00 Uhr" in offer.text and "vormerken" in offer.text
    assert "vorgemerkt" in plain(chat.say("", choice=HANDOVER_YES))
    with database.connect() as conn:
        assert conn.execute(select(HandoverRow.state)).scalar_one() == "queued"


def test_no_offer_where_the_teams_answers_could_not_arrive(tiny_kb: Path, database: Engine) -> None:
    desk = desk_for(database)
    desk.reachable = set()
    chat = chat_with(tiny_kb, desk)
    assert not any(r.choices for r in chat.say("Mitarbeiter"))


def test_my_data_shows_the_handover_and_delete_removes_it_and_queues_the_redactions(tiny_kb: Path, database: Engine) -> None:
    desk = desk_for(database)
    chat = chat_with(tiny_kb, desk)
    chat.say("Mensch bitte")
    chat.say("", choice=HANDOVER_YES)
    (case,) = desk.unposted_cases()
    desk.posted_root(case.id, "$root")
    chat.say("Meine Nachbarin heißt Erika Muster")
    (message,) = desk.unposted_messages()
    desk.posted_message(message.id, "$copy")
    exported = plain(chat.command("meinedaten"))
    assert "H-00001" in exported and "Erika Muster" in exported
    chat.command("loeschen")
    chat.say("", choice="delete:yes")
    with database.connect() as conn:
        assert conn.execute(select(func.count()).select_from(HandoverRow)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(HandoverMessageRow)).scalar_one() == 0
        assert sorted(conn.execute(select(HandoverRedactionRow.event_id)).scalars()) == ["$copy", "$root"]
    assert desk.open_case(chat_ref(chat)) is None
    assert chat.say("Personalausweis beantragen")[0].entry_id == "personalausweis"


def test_closing_queues_a_goodbye_and_the_chat_id_goes_once_it_is_out(tiny_kb: Path, database: Engine) -> None:
    desk = desk_for(database)
    chat = chat_with(tiny_kb, desk)
    chat.say("agent please")
    chat.say("", choice=HANDOVER_YES)
    (new,) = desk.unposted_cases()
    desk.posted_root(new.id, "$root")
    case = desk.case_by_root("$root")
    assert case is not None
    assert desk.staff_answer(case, "$a1", "@alice:localhost", "Gern, worum geht es?")
    assert not desk.staff_answer(case, "$a1", "@alice:localhost", "Gern, worum geht es?")  # a replayed sync
    assert desk.close(case, CloseReason.STAFF) and not desk.close(case, CloseReason.STAFF)
    out = desk.undelivered()
    assert [(o.from_staff, o.chat.chat_id) for o in out] == [(True, "chat-1"), (False, "chat-1")]
    assert "beendet" in out[1].text or "ended" in out[1].text
    assert desk.let_go() == 0  # messages still to deliver: the chat id stays
    for o in out:
        desk.delivered(o.id)
    assert desk.let_go() == 1
    assert "H-00001" in plain(chat.command("mydata"))  # found by the pseudonym
    assert chat.say("Personalausweis beantragen")[0].entry_id == "personalausweis"


def chat_ref(chat: CollectingChannel):  # type: ignore[no-untyped-def]
    from bot.core.models import ChatRef

    return ChatRef(chat.channel, chat.chat_id, chat.profile)


def test_the_menu_command_asks_for_a_person(tiny_kb: Path, database: Engine) -> None:
    chat = chat_with(tiny_kb, desk_for(database))
    replies = chat.command("agent")
    assert "+49 1234 115" in replies[0].text  # the phone line first, whatever the citizen chooses
    assert replies[-1].choices[0].payload == HANDOVER_YES
    assert "H-00001" in plain(chat.say("ja"))
    with database.connect() as conn:
        assert conn.execute(select(HandoverRow.question)).scalar_one() == ""


def test_a_message_the_channel_delivers_again_is_relayed_once(tiny_kb: Path, database: Engine) -> None:
    desk = desk_for(database)
    chat = chat_with(tiny_kb, desk)
    chat.say("Mitarbeiter bitte")
    chat.say("", choice=HANDOVER_YES)
    (case,) = desk.unposted_cases()
    desk.posted_root(case.id, "$root")
    ref = chat_ref(chat)
    assert desk.relay(ref, "Es geht um meine Hecke.", "$event-1")
    (first,) = desk.unposted_messages()
    desk.posted_message(first.id, "$copy-1")
    # The channel replays the message after a crash (its sync token was not stored yet).
    assert desk.relay(ref, "Es geht um meine Hecke.", "$event-1")
    assert desk.unposted_messages() == []
    assert desk.relay(ref, "Noch etwas.", "$event-2") and desk.relay(ref, "ohne Kennung") and desk.relay(ref, "ohne Kennung")
    assert [m.text for m in desk.unposted_messages()] == ["Noch etwas.", "ohne Kennung", "ohne Kennung"]
    with database.connect() as conn:
        relayed = conn.execute(select(HandoverMessageRow.chat_message_id).where(HandoverMessageRow.direction == "citizen")
                               .order_by(HandoverMessageRow.id)).scalars().all()
    assert relayed == ["$event-1", "$event-2", None, None]


def test_the_same_message_id_in_another_hand_over_is_relayed(tiny_kb: Path, database: Engine) -> None:
    """Message ids are unique within a chat only (a Telegram message id): two chats' hand-overs may share one."""
    desk = desk_for(database)
    first, second = chat_with(tiny_kb, desk, chat_id="chat-1"), chat_with(tiny_kb, desk, chat_id="chat-2")
    for chat in (first, second):
        chat.say("Mitarbeiter bitte")
        chat.say("", choice=HANDOVER_YES)
    for case in desk.unposted_cases():
        desk.posted_root(case.id, f"$root-{case.id}")
    assert desk.relay(chat_ref(first), "Frage eins", "17") and desk.relay(chat_ref(second), "Frage zwei", "17")
    assert sorted(m.text for m in desk.unposted_messages()) == ["Frage eins", "Frage zwei"]


def test_the_dialogue_hands_the_channels_message_id_to_the_desk(tiny_kb: Path, database: Engine) -> None:
    from bot.core.models import Incoming

    desk = desk_for(database)
    chat = chat_with(tiny_kb, desk)
    chat.say("Mitarbeiter bitte")
    chat.say("", choice=HANDOVER_YES)
    (case,) = desk.unposted_cases()
    desk.posted_root(case.id, "$root")
    said = Incoming(chat.channel, chat.chat_id, "Die Hecke ist 3 m hoch.", profile=chat.profile, message_id="$event-9")
    assert chat.dialogue.handle(said) == [] and chat.dialogue.handle(said) == []
    assert [m.text for m in desk.unposted_messages()] == ["Die Hecke ist 3 m hoch."]
