"""Votes on answers through the dialogue: which replies can be rated, what is recorded (never a
chat id), the thanks, and the one "what was missing?" after a 👎."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.feedback import AnswerTokens, answer_token
from bot.core.live import LiveKnowledge
from bot.core.models import Incoming, Reply, Vote
from bot.core.ports import MAX_FEEDBACK_TEXT, MemoryFeedbackLog, MemoryUnansweredLog, MemoryUserStates
from tests.conftest import MONDAY_10


class VotingChat:
    def __init__(self, kb: Path, chat_id: str = "chat-1") -> None:
        self.live = LiveKnowledge([kb])
        self.votes = MemoryFeedbackLog()
        self.unanswered = MemoryUnansweredLog()
        self.dialogue = Dialogue(lambda: self.live.snapshot, MemoryUserStates(), self.unanswered,
                                 DialogueSettings(popular=("personalausweis", "sperrmuell")), clock=lambda: MONDAY_10,
                                 feedback=self.votes)
        self.chat_id = chat_id

    def say(self, text: str = "", **fields: object) -> list[Reply]:
        return self.dialogue.handle(Incoming("web", self.chat_id, text, profile="buerger", **fields))  # type: ignore[arg-type]

    def vote(self, reply: Reply, helpful: bool) -> list[Reply]:
        assert reply.feedback is not None
        return self.say(vote=Vote(reply.feedback, helpful))


@pytest.fixture
def chat(tiny_kb: Path) -> VotingChat:
    return VotingChat(tiny_kb)


def test_answers_carry_a_short_token_and_menus_do_not(chat: VotingChat) -> None:
    [answer] = chat.say("Personalausweis beantragen")
    assert answer.feedback == answer_token("personalausweis", "de")
    assert len(answer.feedback) <= 20
    [greeting] = chat.say(command="start")
    assert greeting.feedback is None  # a menu is no answer to rate
    [offered] = chat.say("Wohnsitz")
    assert offered.feedback is None


def test_up_vote_is_recorded_without_the_chat_and_thanked(chat: VotingChat) -> None:
    [answer] = chat.say("How do I apply for an identity card?")
    [thanks] = chat.vote(answer, helpful=True)
    assert thanks.text == "Thank you for your feedback!"
    [record] = chat.votes.records
    assert (record.entry_id, record.language, record.channel, record.profile, record.vote) == ("personalausweis", "en", "web", "buerger", "up")
    assert record.at == MONDAY_10
    assert "chat-1" not in repr(record)


def test_a_second_press_is_not_counted_twice(chat: VotingChat) -> None:
    [answer] = chat.say("Sperrmüll anmelden")
    chat.vote(answer, helpful=True)
    [again] = chat.vote(answer, helpful=False)
    assert "schon" in again.text
    assert [r.vote for r in chat.votes.records] == ["up"]


def test_down_vote_asks_what_was_missing_once_and_stores_the_next_text(chat: VotingChat) -> None:
    [answer] = chat.say("Sperrmüll anmelden")
    [ask] = chat.vote(answer, helpful=False)
    assert "Was hat Ihnen an der Antwort gefehlt?" in ask.text
    [noted] = chat.say("Die   Abholtermine\nfehlen " + "x" * 1000)
    assert "Team" in noted.text
    down, note = chat.votes.records
    assert (down.vote, down.missing) == ("down", None)
    assert (note.entry_id, note.language, note.vote) == ("sperrmuell", "de", "note")
    assert note.missing is not None and note.missing.startswith("Die Abholtermine fehlen x")
    assert len(note.missing) == MAX_FEEDBACK_TEXT
    # Asked once: the next message is a question again, not another note.
    [reply] = chat.say("Personalausweis beantragen")
    assert reply.entry_id == "personalausweis"
    assert len(chat.votes.records) == 2


def test_a_new_question_after_a_down_vote_is_answered(chat: VotingChat) -> None:
    [answer] = chat.say("Sperrmüll anmelden")
    chat.vote(answer, helpful=False)
    [reply] = chat.say("Wie kann ich meinen Personalausweis beantragen?")
    assert reply.entry_id == "personalausweis"
    assert [r.vote for r in chat.votes.records] == ["down"]


def test_an_emergency_after_a_down_vote_is_never_taken_as_a_note(chat: VotingChat) -> None:
    [answer] = chat.say("Sperrmüll anmelden")
    chat.vote(answer, helpful=False)
    replies = chat.say("es brennt")
    assert replies[0].entry_id == "notruf"


def test_no_after_a_down_vote_declines_and_a_command_drops_the_question(chat: VotingChat) -> None:
    [answer] = chat.say("Sperrmüll anmelden")
    chat.vote(answer, helpful=False)
    [declined] = chat.say("nein")
    assert declined.text.startswith("In Ordnung.")
    [answer2] = chat.say("Personalausweis beantragen")
    chat.vote(answer2, helpful=False)
    chat.say(command="help")
    replies = chat.say("Das Formular war kaputt")
    assert all(r.vote != "note" for r in chat.votes.records)
    assert replies  # answered as an ordinary message


def test_forged_and_outdated_tokens_thank_but_record_nothing(chat: VotingChat) -> None:
    for token in ("de.000000000000", "xx.123", "", "de."):
        [reply] = chat.say(vote=Vote(token, helpful=False))
        assert reply.text == "Danke für Ihre Rückmeldung!"
    assert chat.votes.records == []


def test_a_vote_keeps_an_offered_list_open(chat: VotingChat) -> None:
    [answer] = chat.say("Sperrmüll anmelden")
    chat.say(command="start")
    chat.vote(answer, helpful=True)
    [picked] = chat.say("1")
    assert picked.entry_id == "personalausweis"


def test_tokens_resolve_against_the_current_knowledge(chat: VotingChat) -> None:
    tokens = AnswerTokens()
    kb = chat.live.snapshot.knowledge
    assert tokens.resolve(kb, answer_token("wohnsitz-anmelden", "en")) == ("wohnsitz-anmelden", "en")
    assert tokens.resolve(kb, answer_token("gone", "de")) is None
    assert tokens.resolve(kb, answer_token("sperrmuell", "fr")) is None  # a language the knowledge does not serve
