"""The flow state: what a flow waits for between two messages, which choices it offers, and the
language it answers in.

A flow's memory lives in ``UserState.extra`` under ``rem.*`` keys, so button payloads stay short
(Telegram allows 64 bytes): a payload names a step and a position in a list kept in the memory,
plus a short hash of that list, so a button from an older message never acts on a different item.
The flows change the chat's state only through this object, which the dialogue writes back once,
at the end of the turn (:meth:`FlowState.write_to`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from bot.core.models import UserState

MEMORY_PREFIX = "rem."  # keys of UserState.extra; stored with the chat, so they keep their names
CHOICE_PREFIX = "rem:"  # payloads of the reminder flows' buttons


class FlowState:
    """One turn's flow memory, read from the chat's state when the turn begins."""

    def __init__(self, chat_state: UserState) -> None:
        self._memory = {key[len(MEMORY_PREFIX):]: value for key, value in chat_state.extra.items() if key.startswith(MEMORY_PREFIX)}
        self._chosen_language = chat_state.language
        self.lang = ""  # the language the flow answers in; set by begin() for each message
        self.offered: tuple[str, ...] | None = None  # the choices the flow's reply offers; None: it offers none of its own
        self._changed = False
        self._touched = False  # whether this turn used the memory; memory no flow used is dropped

    def begin(self, lang: str) -> None:
        """A flow starts answering, in the turn's language."""
        self.lang = lang

    def answer_in_flow_language(self) -> None:
        """A reply like "10", "ja" or "2" says nothing about the language: the flow keeps the one
        it began in, unless the person chose one."""
        own = self._memory.get("lang")
        if own and self._chosen_language is None:
            self.lang = own

    # -- memory ------------------------------------------------------------------------------------
    @property
    def step(self) -> str | None:
        """What the flow asked last and waits for; None when it waits for nothing."""
        return self._memory.get("step")

    def get(self, key: str) -> str | None:
        return self._memory.get(key)

    def wait_for(self, step: str, **details: str | None) -> None:
        """Remember that the flow waits for ``step``, with what it knows so far (replacing all it
        remembered before) and the language it asked in."""
        memory = {key: value for key, value in {"step": step, **details}.items() if value}
        memory["lang"] = self.lang
        self._replace(memory)

    def clear(self) -> None:
        """The flow is done: it waits for nothing."""
        self._replace({})

    def touch(self) -> None:
        """The memory was used this turn though not changed: it is kept."""
        self._touched = True

    def _replace(self, memory: dict[str, str]) -> None:
        self._memory = memory
        self._changed = True
        self._touched = True

    # -- lists picked from by position -------------------------------------------------------------
    def keep_list(self, step: str, items: Sequence[tuple[str, str]]) -> str:
        """Keep a list of (key, label) the person picks from by position; returns its hash for the payloads."""
        listed = "\n".join(f"{key}\t{' '.join(label.split())}" for key, label in items)
        digest = hashlib.sha1(listed.encode(), usedforsecurity=False).hexdigest()[:6]
        self.wait_for(step, items=listed, hash=digest)
        return digest

    def listed(self, ref: str, step: str) -> str | None:
        """The key of the item a payload's ``hash:position`` points at, if the list is still the one shown."""
        digest, _, position = ref.partition(":")
        items = (self.get("items") or "").split("\n")
        if self.step != step or digest != self.get("hash") or not (position.isascii() and position.isdigit()) or not 1 <= int(position) <= len(items):
            return None
        self.touch()
        return items[int(position) - 1].split("\t", 1)[0]

    def label_of(self, key: str) -> str:
        for line in (self.get("items") or "").split("\n"):
            item, _, label = line.partition("\t")
            if item == key:
                return label
        return ""

    def offer(self, payloads: Sequence[str]) -> None:
        """The choices the reply offers, which the next message may pick by number; () for none."""
        self.offered = tuple(payloads)

    # -- end of the turn ---------------------------------------------------------------------------
    def write_to(self, chat_state: UserState) -> None:
        """Write the turn's flow memory and offered choices into the chat's state. A question the
        person did not answer this turn is forgotten."""
        if not self._touched and self._memory:
            self.clear()
        if self._changed:
            kept = {key: value for key, value in chat_state.extra.items() if not key.startswith(MEMORY_PREFIX)}
            kept.update({MEMORY_PREFIX + key: value for key, value in self._memory.items()})
            chat_state.extra = kept  # a new dict: the loaded state object is never changed in place
        if self.offered is not None:
            chat_state.pending_choices = self.offered
        elif self._changed and not self._memory and any(p.startswith(CHOICE_PREFIX) for p in chat_state.pending_choices):
            chat_state.pending_choices = ()  # numbers typed next must not pick from a finished list
