"""The one fallback rule for what a language lacks, a text of the message catalogues
(bot/core/texts.py) or a knowledge entry (bot/core/models.py): the languages of its chain, in order.

Configured per language (``[locales] fallbacks``); unnamed, and after any named one, English
and then German, which every entry and the shipped catalogues have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

DEFAULT_FALLBACKS = ("en", "de")  # after the language itself
_fallbacks: dict[str, tuple[str, ...]] = {}


def chain_of(lang: str, fallbacks: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The languages asked for something in ``lang``, in order, each once."""
    return tuple(dict.fromkeys((lang, *fallbacks.get(lang, DEFAULT_FALLBACKS), *DEFAULT_FALLBACKS)))


def fallback_chain(lang: str) -> tuple[str, ...]:
    """:func:`chain_of` with the fallbacks in use."""
    return chain_of(lang, _fallbacks)


def use_fallbacks(fallbacks: Mapping[str, Sequence[str]]) -> None:
    global _fallbacks
    _fallbacks = {lang: tuple(chain) for lang, chain in fallbacks.items()}
