"""The trained matcher and the sentence encoder's vectors kept on disk, so that a restart (or a
`buergerbot ask`) with unchanged knowledge skips the training and the encoding.

A stored matcher is used only under the key it was stored with: a hash of every knowledge file's
path and content, the languages, the sentence encoder's identity, the matching settings and the
code version (the package version and a hash of the sources that build a matcher). Any other key,
a file that cannot be read or arrays that do not fit together mean "build it again", never an
error. Files are written to a temporary name and renamed, so a reader never sees half a file, and
they hold only NumPy arrays and JSON, read with ``allow_pickle=False``: the folder is writable by
the bot, and a pickle from there would run whatever code someone put in it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeGuard

import numpy as np

from bot.core.knowledge import KnowledgeLimits, knowledge_files, load_knowledge
from bot.core.matching.matcher import Matcher
from bot.core.matching.semantic import SentenceEncoder
from bot.core.models import Problem
from bot.core.validation import Checked, check

log = logging.getLogger(__name__)

FORMAT = 1  # of the files written here
KEEP_MATCHERS = 3  # stored matchers kept (a running bot, `ask` with another --faq-dir, a reload in between)
_META = "meta.json"  # the array holding the JSON part of a file (UTF-8 bytes)
# The sources whose change may change what a build gives: all of the core, since validation (kept
# with the build) reads the scope, the texts and the models besides the matcher.
_BUILD_SOURCES = ("core", "semantic", "knowledge_cache.py")
_ENCODER_SOURCES = ("semantic",)  # the encoder's vectors depend on the model (its fingerprint) and these alone


class RememberingEncoder(SentenceEncoder, Protocol):
    """An encoder whose vectors may be kept on disk (bot.semantic.minilm.MiniLM)."""

    fingerprint: str

    def remembered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
    def remember_all(self, ids: np.ndarray, ends: np.ndarray, vectors: np.ndarray) -> int: ...


@cache
def code_version(sources: tuple[str, ...] = _BUILD_SOURCES) -> str:
    """The package version and a hash of the sources (under bot/) that build a matcher."""
    try:
        version = importlib.metadata.version("buergerbot")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for name in sources:
        path = root / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(source.relative_to(root)).encode() + b"\0" + source.read_bytes() + b"\0")
    return f"{version}+{digest.hexdigest()[:16]}"


def encoder_identity(encoder: SentenceEncoder | None) -> str | None:
    """"none", the encoder's fingerprint, or None for an encoder that names no fingerprint (then
    nothing is cached: its vectors could change without the key changing)."""
    if encoder is None:
        return "none"
    fingerprint = getattr(encoder, "fingerprint", "")
    return fingerprint if isinstance(fingerprint, str) and fingerprint else None


class MatcherCache:
    """:func:`bot.core.validation.check` with its matcher (and the check's findings) kept in
    ``folder``; pass it as ``build`` to :class:`bot.core.live.LiveKnowledge`.

    ``settings`` is anything else the build depends on (the matching settings), as text.
    """

    def __init__(self, folder: Path, settings: str = "") -> None:
        self.folder = folder
        self.settings = settings
        self.hits = 0
        self.misses = 0

    def __call__(
        self, dirs: Sequence[Path], languages: Sequence[str] = ("de", "en"), held_out: bool = False, encoder: SentenceEncoder | None = None,
        limits: KnowledgeLimits | None = None, cross_lingual: SentenceEncoder | None = None,
    ) -> Checked:
        # A stored matcher holds no cross-lingual stage: with one configured, every start trains.
        key = None if held_out or cross_lingual is not None else self.key(dirs, languages, encoder)
        if key is not None:
            restored = self._restore(key, dirs, languages, encoder, limits)
            if restored is not None:
                self.hits += 1
                return restored
        self.misses += 1
        self._load_vectors(encoder)
        checked = check(dirs, languages, held_out=held_out, encoder=encoder, limits=limits, cross_lingual=cross_lingual)
        # Stored only when the files did not change while they were read: the key must name what was built.
        if key is not None and checked.ok and checked.matcher is not None and self.key(dirs, languages, encoder) == key:
            self._store(key, checked.matcher, checked.problems)
            self._store_vectors(encoder)
        return checked

    def key(self, dirs: Sequence[Path], languages: Sequence[str], encoder: SentenceEncoder | None) -> str | None:
        """The hash a stored matcher must carry to be used; None when nothing may be cached."""
        identity = encoder_identity(encoder)
        if identity is None:
            return None
        digest = hashlib.sha256()
        header = {"format": FORMAT, "code": code_version(), "languages": list(languages), "encoder": identity,
                  "settings": self.settings, "dirs": [str(d) for d in dirs]}
        digest.update(json.dumps(header, sort_keys=True).encode())
        for path in knowledge_files(dirs):
            try:
                content = path.read_bytes()
            except OSError:
                return None  # a file vanishing or unreadable now: the build reports it, nothing is stored
            digest.update(b"\0" + str(path).encode() + b"\0" + hashlib.sha256(content).digest())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"matcher-{key[:32]}.npz"

    def _restore(
        self, key: str, dirs: Sequence[Path], languages: Sequence[str], encoder: SentenceEncoder | None, limits: KnowledgeLimits | None,
    ) -> Checked | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            arrays, meta = _read(path)
            if meta.get("key") != key:
                raise ValueError("stored under another key")
            matcher = Matcher.restore(arrays, meta["matcher"], encoder)
            problems = [Problem(str(p["path"]), int(p["line"]), str(p["message"]), str(p["severity"])) for p in meta["problems"]]
        except Exception as exc:  # whatever is wrong with the file, building anew is the answer
            log.warning("stored matcher %s not used (%s: %s); training anew", path.name, type(exc).__name__, exc)
            return None
        loaded = load_knowledge(dirs, languages, limits)
        # The files may change between hashing and loading: then the stored matcher is not theirs.
        if not loaded.ok or self.key(dirs, languages, encoder) != key or set(matcher.entry_ids) != set(loaded.knowledge.entries):
            return None
        log.info("matcher taken from %s: %d entries", path, len(matcher.entry_ids))
        return Checked(loaded.knowledge, matcher, problems)

    def _store(self, key: str, matcher: Matcher, problems: Sequence[Problem]) -> None:
        arrays, meta = matcher.export()
        try:
            _write(self._path(key), arrays, {"key": key, "matcher": meta, "problems": [asdict(p) for p in problems]})
            self._prune()
        except OSError as exc:  # a full disk or a read-only folder costs the next start time, not this one
            log.warning("cannot store the trained matcher in %s: %s", self.folder, exc)

    def _prune(self) -> None:
        stored = sorted(self.folder.glob("matcher-*.npz"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in stored[KEEP_MATCHERS:]:
            old.unlink(missing_ok=True)

    def _vectors_path(self, encoder: RememberingEncoder) -> Path:
        return self.folder / f"vectors-{hashlib.sha256(encoder.fingerprint.encode()).hexdigest()[:32]}.npz"

    def _load_vectors(self, encoder: SentenceEncoder | None) -> None:
        """Vectors of earlier builds into the encoder's memory: a changed file costs only its own new texts."""
        if not _remembers(encoder):
            return
        path = self._vectors_path(encoder)
        if not path.is_file():
            return
        try:
            arrays, meta = _read(path)
            if meta.get("fingerprint") != encoder.fingerprint or meta.get("code") != code_version(_ENCODER_SOURCES):
                raise ValueError("stored for another model")
            count = encoder.remember_all(arrays["ids"], arrays["ends"], arrays["vectors"])
        except Exception as exc:  # as above: encode anew
            log.warning("stored sentence vectors %s not used (%s: %s)", path.name, type(exc).__name__, exc)
            return
        log.info("%d sentence vectors taken from %s", count, path)

    def _store_vectors(self, encoder: SentenceEncoder | None) -> None:
        if not _remembers(encoder):
            return
        ids, ends, vectors = encoder.remembered()
        try:
            _write(self._vectors_path(encoder), {"ids": ids, "ends": ends, "vectors": vectors},
                   {"fingerprint": encoder.fingerprint, "code": code_version(_ENCODER_SOURCES)})
        except OSError as exc:
            log.warning("cannot store the sentence vectors in %s: %s", self.folder, exc)


def _remembers(encoder: SentenceEncoder | None) -> TypeGuard[RememberingEncoder]:
    return (
        encoder is not None and bool(getattr(encoder, "fingerprint", "")) and callable(getattr(encoder, "remembered", None))
        and callable(getattr(encoder, "remember_all", None))
    )


def _write(path: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
    """Arrays and JSON in one .npz, complete or not at all (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**arrays, _META: np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8)}
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **payload)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    meta = json.loads(arrays.pop(_META).tobytes().decode())
    if not isinstance(meta, dict):
        raise ValueError("no description in the file")
    return arrays, meta
