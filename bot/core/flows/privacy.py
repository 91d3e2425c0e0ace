"""The chat's data: everything stored about it as a JSON document (the GDPR access request,
/meinedaten), and deleting all of it after a confirmation (/loeschen)."""

from __future__ import annotations

import json

from bot.core.flows.base import Flow
from bot.core.flows.state import MEMORY_PREFIX
from bot.core.models import Button, Reply, UserState
from bot.core.texts import text

CHOICE_CONFIRM_DELETE = "delete:yes"
CHOICE_KEEP = "delete:no"
DELETE_INTENT = "delete_data"  # the intent action whose answer asks before deleting
MAX_EXPORT_CHARS = 3000  # one code block per message, well below Telegram's 4096


class PrivacyFlow(Flow):
    deleted = False  # whether this turn deleted the chat's data: its state must not be saved again

    def export(self, chat_state: UserState, intro: str | None = None) -> list[Reply]:
        """Everything stored about this chat as JSON."""
        message = self.message
        data: dict[str, object] = {"chat": {"channel": message.channel, "chat_id": message.chat_id}, **_state_data(chat_state)}
        # The person's state with the city's other bots: "delete my data" removes it too, so it is shown.
        others = self.setup.states.export(self.chat)
        others = {profile: state for profile, state in others.items() if profile != self.chat.profile and state != UserState()}
        if others:
            data["other_bots"] = {profile: _state_data(others[profile]) for profile in sorted(others)}
        if self.setup.book is not None:
            data["reminders"] = self.book.export(self.chat)
        # What the bot could not answer is kept for staff, and may hold a name: it is the person's data too.
        asked = self.setup.unanswered.questions(self.chat)
        if asked:
            data["unanswered_questions"] = [{"asked_at": at.isoformat(timespec="seconds"), "text": said} for at, said in asked]
        # A backtick cannot end the code block: inside JSON strings it is written as its escape.
        dumped = json.dumps(data, ensure_ascii=False, indent=2, default=str).replace("`", "\\u0060")
        blocks = _chunks(dumped.split("\n"), MAX_EXPORT_CHARS)
        head = "\n\n".join(x for x in (intro, text("my_data_intro", self.lang)) if x)
        replies = [self.reply(f"```json\n{block}\n```") for block in blocks]
        return [self.reply(f"{head}\n\n{replies[0].text}"), *replies[1:]]

    def ask_delete(self, question: str | None = None) -> list[Reply]:
        """Never delete on a guess of the matcher: the person confirms with a button or "1"."""
        lang = self.lang
        if question is None:
            entry = self.setup.kb.intent(DELETE_INTENT)
            question = entry.text(lang).answer if entry is not None else None
        asked = question or text("confirm_delete_question", lang)
        choices = (Button(text("confirm_delete", lang), payload=CHOICE_CONFIRM_DELETE), Button(text("keep_data", lang), payload=CHOICE_KEEP))
        self.state.offer((CHOICE_CONFIRM_DELETE, CHOICE_KEEP))
        return [Reply(asked, choices=choices, language=lang)]

    def choice(self, payload: str) -> list[Reply] | None:
        """The answer to "delete everything?"; None for another payload."""
        if payload == CHOICE_CONFIRM_DELETE:
            return self._delete()
        if payload == CHOICE_KEEP:
            self.state.offer(())
            return [self.reply(text("data_kept", self.lang))]
        return None

    def _delete(self) -> list[Reply]:
        # The reminders first: they need the database, and while it is away nothing is deleted.
        had_reminders = self.setup.book is not None
        if had_reminders:
            self.book.forget(self.chat)
        self.setup.unanswered.forget(self.chat)
        self.setup.states.forget(self.chat)
        self.deleted = True
        return [self.reply(text("data_deleted_reminders" if had_reminders else "data_deleted", self.lang))]


def _state_data(state: UserState) -> dict[str, object]:
    """A chat's state as the data export shows it."""
    return {
        "language": state.language,
        "offered_choices": list(state.pending_choices),
        "dialogue_in_progress": {k: v for k, v in state.extra.items() if k.startswith(MEMORY_PREFIX)},
        "conversation": {k: v for k, v in state.extra.items() if not k.startswith(MEMORY_PREFIX)},  # bot/core/conversation.py
    }


def _chunks(lines: list[str], limit: int) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = line[:limit]
        if current and size + len(line) + 1 > limit:
            blocks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    blocks.append("\n".join(current))
    return blocks
