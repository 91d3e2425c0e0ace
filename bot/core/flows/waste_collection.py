"""Waste collection reminders: the person names their district (or picks it from a list) and is
reminded the evening before each collection there."""

from __future__ import annotations

from rapidfuzz import fuzz

from bot.core.flows.base import Flow
from bot.core.matching.normalise import fold
from bot.core.models import Button, Reply
from bot.core.texts import inline, text

CHOICE_DISTRICT = "rem:d:"  # + list hash + ":" + position
STEP = "district"
MAX_DISTRICT_BUTTONS = 20
_WASTE_WORDS = ("muell", "abfall", "abfuhr", "tonne", "waste", "garbage", "rubbish", "trash", "recycling")


def mentions_waste(padded_folded: str) -> bool:
    """Whether a folded message speaks of the waste collection."""
    return any(word in padded_folded for word in _WASTE_WORDS)


def match_districts(said: str, districts: dict[str, str]) -> list[str]:
    """The districts a message names, best first: exact names win, then near spellings
    ("Suedstadt", "Südstat") by rapidfuzz on folded words; several only when equally close."""
    words = fold(said).split()
    if not words:
        return []
    padded = f" {' '.join(words)} "
    scores: dict[str, float] = {}
    for district_id, name in districts.items():
        best = 0.0
        for candidate in {fold(name), fold(district_id.replace("-", " "))}:
            if not candidate:
                continue
            if f" {candidate} " in padded:
                best = 100.0
                break
            size = len(candidate.split())
            for i in range(max(1, len(words) - size + 1)):
                best = max(best, fuzz.ratio(" ".join(words[i:i + size]), candidate))
        if best >= 85:
            scores[district_id] = best
    if not scores:
        return []
    top = max(scores.values())
    return sorted((d for d, score in scores.items() if score >= top - 3), key=lambda d: -scores[d])


class WasteCollectionFlow(Flow):
    def start(self, said: str) -> list[Reply]:
        districts = self.book.districts()
        if not districts:
            self.state.clear()
            return [self.reply(text("waste_none", self.lang))]
        found = match_districts(said, districts) if said.strip() else []
        if found:
            return self._pick(found)
        return self._offer(sorted(districts, key=lambda d: fold(districts[d])))

    def resume(self) -> list[Reply] | None:
        """The district the flow asked for; None when the message names none."""
        found = match_districts(self.said, self.book.districts())
        return self._pick(found) if found else None

    def choose(self, ref: str) -> list[Reply]:
        """A district's button (``hash:position``) pressed."""
        district = self.state.listed(ref, STEP)
        if district is None:
            return self.start("")
        return self._subscribe(district)

    def _pick(self, found: list[str]) -> list[Reply]:
        if len(found) == 1:
            return self._subscribe(found[0])
        return self._offer(found)

    def _offer(self, ids: list[str]) -> list[Reply]:
        names = self.book.districts()
        lang = self.lang
        if len(ids) > MAX_DISTRICT_BUTTONS:
            self.state.wait_for(STEP)
            self.state.offer(())
            return [self.reply(text("waste_ask_name", lang, example=inline(names[ids[0]], 40)))]
        digest = self.state.keep_list(STEP, [(d, inline(names.get(d, d), 60)) for d in ids])
        choices = tuple(Button(inline(names.get(d, d), 60), payload=f"{CHOICE_DISTRICT}{digest}:{n}") for n, d in enumerate(ids, 1))
        self.state.offer([c.payload or "" for c in choices])
        return [Reply(text("waste_ask", lang), choices=choices, language=lang)]

    def _subscribe(self, district: str) -> list[Reply]:
        if district not in self.book.districts():
            return self.start("")
        subscription = self.book.subscribe_waste(self.chat, self.lang, district)
        self.state.clear()
        self.state.offer(())
        return [self.reply(text("waste_ok", self.lang, district=inline(subscription.label, 60)))]
