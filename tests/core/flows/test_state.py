"""The flow state: read from the chat's state, written back once, and nothing else of it changed."""

from __future__ import annotations

from bot.core.flows.state import FlowState
from bot.core.models import UserState


def test_memory_is_read_from_the_flow_keys_only() -> None:
    state = FlowState(UserState(extra={"rem.step": "time", "rem.date": "2026-12-03", "ctx.topic": "personalausweis"}))
    assert (state.step, state.get("date"), state.get("topic")) == ("time", "2026-12-03", None)


def test_what_a_flow_waits_for_is_written_with_its_language() -> None:
    chat = UserState(extra={"ctx.topic": "personalausweis", "rem.subject": "old"})
    state = FlowState(chat)
    state.begin("en")
    state.wait_for("date", office="buergerbuero", subject=None)
    assert chat.extra == {"ctx.topic": "personalausweis", "rem.subject": "old"}  # nothing changes before write_to
    state.write_to(chat)
    assert chat.extra == {"ctx.topic": "personalausweis", "rem.step": "date", "rem.office": "buergerbuero", "rem.lang": "en"}


def test_a_question_nobody_answered_is_forgotten_with_its_buttons() -> None:
    chat = UserState(pending_choices=("rem:yes", "rem:no"), extra={"rem.step": "confirm", "ctx.topic": "x"})
    FlowState(chat).write_to(chat)
    assert (chat.extra, chat.pending_choices) == ({"ctx.topic": "x"}, ())


def test_the_dialogues_own_choices_stay_when_a_flow_ends() -> None:
    chat = UserState(pending_choices=("entry:personalausweis",), extra={"rem.step": "case"})
    FlowState(chat).write_to(chat)
    assert (chat.extra, chat.pending_choices) == ({}, ("entry:personalausweis",))


def test_used_memory_is_kept_and_offered_choices_are_written() -> None:
    chat = UserState(extra={"rem.step": "list", "rem.items": "a:1\tTermin\ns:2\tVorgang", "rem.hash": "abc123"})
    state = FlowState(chat)
    assert state.listed("abc123:2", "list") == "s:2" and state.label_of("s:2") == "Vorgang"
    state.offer(["rem:x:abc123:1"])
    state.write_to(chat)
    assert chat.extra["rem.step"] == "list" and chat.pending_choices == ("rem:x:abc123:1",)


def test_a_button_of_another_list_points_at_nothing() -> None:
    state = FlowState(UserState())
    state.begin("de")
    digest = state.keep_list("district", [("suedstadt", "Südstadt"), ("nordstadt", "Nordstadt")])
    assert state.listed(f"{digest}:2", "district") == "nordstadt"
    assert state.listed(f"{digest}:3", "district") is None  # no such position
    assert state.listed(f"{digest}:1", "list") is None  # another step
    assert state.listed("ffffff:1", "district") is None  # another list
    assert state.listed(f"{digest}:²", "district") is None


def test_a_flow_answers_in_its_own_language_unless_one_was_chosen() -> None:
    saved = {"rem.step": "confirm", "rem.lang": "en"}
    state = FlowState(UserState(extra=saved))
    state.begin("de")
    state.answer_in_flow_language()
    assert state.lang == "en"
    chosen = FlowState(UserState(language="de", extra=saved))
    chosen.begin("de")
    chosen.answer_in_flow_language()
    assert chosen.lang == "de"
