"""What the dialogue records for staff reports: kinds, entries, channel, language, time, and no user."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.dialogue import CHOICE_ENTRY
from bot.core.ports import MemoryUsageLog
from tests.conftest import MONDAY_10, CollectingChannel

MakeChat = Callable[..., CollectingChannel]


def usage(chat: CollectingChannel) -> MemoryUsageLog:
    log: MemoryUsageLog = chat.usage  # type: ignore[attr-defined]
    return log


def kinds(chat: CollectingChannel) -> list[tuple[str, tuple[str, ...]]]:
    return [(kind, ids) for kind, ids, *_ in usage(chat).records]


def test_an_answer_is_recorded_with_channel_language_and_time(make_chat: MakeChat) -> None:
    chat = make_chat()
    chat.say("Perso beantragen")
    assert usage(chat).records == [("answer", ("personalausweis",), "test", "de", MONDAY_10)]
    chat.say("How do I apply for an identity card?")
    assert usage(chat).records[-1][3] == "en"
    assert "chat-1" not in repr(usage(chat).records)


def test_the_profile_that_answered_is_recorded(make_chat: MakeChat) -> None:
    chat = make_chat()
    chat.profile = "welcome"
    chat.say("Perso beantragen")
    assert usage(chat).profiles == ["welcome"]


def test_out_of_scope_is_recorded_without_the_text(make_chat: MakeChat) -> None:
    chat = make_chat()
    chat.say("Wie wird das Wetter morgen in Paris?")
    assert kinds(chat) == [("out_of_scope", ())]
    assert "Wetter" not in repr(usage(chat).records)


def test_offer_then_choice_taken(make_chat: MakeChat) -> None:
    chat = make_chat(ambiguity_gap=0.5)
    [offer] = chat.say("Wohnsitz")
    offered = tuple(str(c.payload).removeprefix(CHOICE_ENTRY) for c in offer.choices)
    assert kinds(chat) == [("offered", offered)]
    chat.say("2")
    assert kinds(chat)[1:] == [("chosen", (offered[1],)), ("answer", (offered[1],))]


def test_menu_is_told_apart_from_did_you_mean(make_chat: MakeChat) -> None:
    chat = make_chat()
    chat.say("Hallo")  # the greeting intent answers and shows the popular topics
    assert sorted(kinds(chat)) == [("answer", ("begruessung",)), ("menu", ("personalausweis", "sperrmuell"))]
    chat.say(choice=CHOICE_ENTRY + "sperrmuell")
    assert kinds(chat)[-2:] == [("chosen", ("sperrmuell",)), ("answer", ("sperrmuell",))]


def test_emergency_and_second_answer_both_count(make_chat: MakeChat) -> None:
    chat = make_chat()
    replies = chat.say("Notfall: Unfall mit Verletzten, und ich brauche einen neuen Personalausweis")
    assert [r.entry_id for r in replies] == ["notruf", "personalausweis"]
    assert kinds(chat) == [("answer", ("notruf",)), ("answer", ("personalausweis",))]


def test_a_forged_choice_records_nothing_taken(make_chat: MakeChat) -> None:
    chat = make_chat()
    chat.say(choice="entry:../../etc/passwd")
    assert all(kind != "chosen" for kind, _ in kinds(chat))
