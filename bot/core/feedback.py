"""Votes on answers (👍/👎) and the optional "what was missing?" after a 👎, for every channel.

An answer the citizen may rate carries a token (:attr:`Reply.feedback`) naming the entry and
language it answers; the channel offers 👍/👎 under it and hands the token back in
:attr:`Incoming.vote`. The token is short (Telegram's callback data holds 64 bytes, an entry id
may hold 200) and needs no table: it is the language and a hash of the entry id, resolved against
the knowledge current when the vote comes, so buttons under an answer still work after a restart.

What is recorded (:class:`AnswerFeedback`) never holds a user or chat id. The chat's state keeps
only, in memory (``ctx.*`` keys), which answers it rated (so a second press does not count twice)
and whether "what was missing?" was just asked.

After a 👎 the next text message is taken as the answer to "what was missing?", unless it is
clearly a new question: it ends in a question mark and the knowledge answers it, or it matches an
emergency entry (never held back as a comment). A plain "nein"/"no" declines. A command, a button
or another vote drops the question unasked.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from bot.core.conversation import answer_word
from bot.core.models import CONTEXT_PREFIX, Kind, Reply, UserState, Vote
from bot.core.ports import MAX_FEEDBACK_TEXT, AnswerFeedback
from bot.core.texts import text

if TYPE_CHECKING:
    import datetime as dt

    from bot.core.knowledge import KnowledgeBase
    from bot.core.ports import FeedbackLog

VOTED = CONTEXT_PREFIX + "voted"  # tokens of the answers this chat rated, newest last
ASKED_MISSING = CONTEXT_PREFIX + "missing"  # token of the answer "what was missing?" was asked about
KEEP_VOTED = 30  # answers remembered as rated: far more than one conversation rates
_SEPARATOR = "."


def answer_token(entry_id: str, language: str) -> str:
    """The token for an answer: ``<language>.<12 hex digits of the entry id's hash>`` (at most
    20 characters, so a channel can wrap it in its own prefix within Telegram's 64 bytes)."""
    return f"{language[:7]}{_SEPARATOR}{_digest(entry_id)}"


def _digest(entry_id: str) -> str:
    return hashlib.blake2b(entry_id.encode(), digest_size=6).hexdigest()


def rateable(reply: Reply, kb: KnowledgeBase) -> bool:
    """Whether citizens are offered 👍/👎 on a reply: an answer from a topic of the knowledge
    (a FAQ or service entry), not a greeting, a menu, a question back or a reminder step."""
    entry = kb.entries.get(reply.entry_id) if reply.entry_id else None
    return entry is not None and entry.kind is not Kind.INTENT and not reply.choices


class AnswerTokens:
    """Resolves tokens to entry ids, with the table built once per knowledge snapshot."""

    def __init__(self) -> None:
        self._table: tuple[KnowledgeBase, dict[str, str]] | None = None

    def resolve(self, kb: KnowledgeBase, token: str) -> tuple[str, str] | None:
        """(entry id, language) of a token; None for a forged token or a removed entry."""
        language, _, digest = token.partition(_SEPARATOR)
        if language not in kb.languages or not digest:
            return None
        if self._table is None or self._table[0] is not kb:
            self._table = (kb, {_digest(entry_id): entry_id for entry_id in kb.entries})
        entry_id = self._table[1].get(digest)
        return (entry_id, language) if entry_id is not None else None


class AnswerVotes:
    """One turn's part in rating answers: what the dialogue calls for a vote and for the text
    that may follow a 👎."""

    def __init__(self, log: FeedbackLog, tokens: AnswerTokens, kb: KnowledgeBase, state: UserState,
                 channel: str, profile: str, now: dt.datetime, lang: str) -> None:
        self._log = log
        self._tokens = tokens
        self._kb = kb
        self._state = state
        self._channel = channel
        self._profile = profile
        self._now = now
        self._lang = lang

    def vote(self, vote: Vote) -> list[Reply]:
        """Record a vote (once per answer and chat), thank the citizen, and after a 👎 ask what was missing."""
        self._state.extra.pop(ASKED_MISSING, None)
        voted = self._state.extra.get(VOTED, "").split()
        if vote.answer in voted:
            return [self._reply("feedback_counted")]
        resolved = self._tokens.resolve(self._kb, vote.answer)
        if resolved is None:
            # A forged token, or an answer whose entry is gone from the knowledge: nothing to rate,
            # but the citizen meant well.
            return [self._reply("feedback_thanks")]
        entry_id, language = resolved
        self._state.extra[VOTED] = " ".join([*voted, vote.answer][-KEEP_VOTED:])
        self._log.record(AnswerFeedback(entry_id, language, self._channel, self._profile,
                                        "up" if vote.helpful else "down", self._now))
        if vote.helpful:
            return [self._reply("feedback_thanks")]
        self._state.extra[ASKED_MISSING] = vote.answer
        return [self._reply("feedback_ask_missing")]

    def take_asked(self) -> str | None:
        """The answer "what was missing?" was asked about, if the last reply asked it; asked once
        only, so any message ends the question."""
        return self._state.extra.pop(ASKED_MISSING, None)

    def missing(self, asked: str, said: str, new_question: bool) -> list[Reply] | None:
        """The reply to a text after "what was missing?": recorded as a note on the answer; None
        when the text is a new question, which the dialogue answers instead."""
        if new_question:
            return None
        if answer_word(said) is False:
            return [self._reply("feedback_no_note")]
        resolved = self._tokens.resolve(self._kb, asked)
        note = " ".join(said.split())[:MAX_FEEDBACK_TEXT]
        if resolved is not None and note:
            entry_id, language = resolved
            self._log.record(AnswerFeedback(entry_id, language, self._channel, self._profile, "note", self._now, note))
        return [self._reply("feedback_noted")]

    def _reply(self, key: str) -> Reply:
        return Reply(text(key, self._lang), language=self._lang)
