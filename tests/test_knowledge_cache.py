"""The trained matcher and the encoder's vectors kept on disk (bot/knowledge_cache.py)."""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.core.live import LiveKnowledge
from bot.knowledge_cache import MatcherCache
from tests.conftest import entry_yaml

QUESTIONS = [("Perso beantragen", "de"), ("Sperrmuell anmelden", "de"), ("I need a new ID card", "en"), ("Wer hat gestern gewonnen?", "de")]


class RememberingEncoder:
    """A stand-in sentence encoder (hashed words) with what the cache needs to keep its vectors:
    a fingerprint and the vectors as arrays. ``texts`` lists what it had to encode itself."""

    languages = frozenset({"en"})
    dim = 64

    def __init__(self, fingerprint: str = "hashed-words-1") -> None:
        self.fingerprint = fingerprint
        self.texts: list[str] = []
        self.memory: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        for text in dict.fromkeys(texts):
            if text not in self.memory:
                self.texts.append(text)
                row = np.zeros(self.dim, dtype=np.float32)
                for word in text.lower().split():
                    row[zlib.crc32(word.encode()) % self.dim] += 1.0
                self.memory[text] = row / max(float(np.linalg.norm(row)), 1e-9)
        return np.stack([self.memory[t] for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)

    def remembered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes = [np.frombuffer(t.encode(), dtype=np.uint8).astype(np.int32) for t in self.memory]
        ids = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int32)
        return ids, np.cumsum([len(c) for c in codes], dtype=np.int64), np.stack(list(self.memory.values()))

    def remember_all(self, ids: np.ndarray, ends: np.ndarray, vectors: np.ndarray) -> int:
        starts = np.concatenate([[0], ends[:-1]])
        for start, end, row in zip(starts, ends, vectors, strict=True):
            self.memory[ids[start:end].astype(np.uint8).tobytes().decode()] = row
        return len(ends)


def answers(live: LiveKnowledge) -> list[tuple[str | None, float]]:
    out = []
    for text, lang in QUESTIONS:
        best = live.snapshot.matcher.match(text, lang).best
        out.append((best.entry_id if best else None, round(best.score, 6) if best else 0.0))
    return out


def stored(folder: Path) -> list[Path]:
    return sorted(folder.glob("matcher-*.npz"))


def test_a_restart_with_unchanged_knowledge_uses_the_stored_matcher(tiny_kb: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    first = MatcherCache(folder)
    trained = LiveKnowledge([tiny_kb], build=first)
    assert (first.hits, first.misses) == (0, 1) and len(stored(folder)) == 1
    second = MatcherCache(folder)
    restored = LiveKnowledge([tiny_kb], build=second)
    assert (second.hits, second.misses) == (1, 0)
    assert answers(restored) == answers(trained)
    assert restored.last_problems == trained.last_problems
    assert restored.snapshot.knowledge.entries.keys() == trained.snapshot.knowledge.entries.keys()


def test_a_changed_file_or_setting_or_encoder_trains_anew(tiny_kb: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    LiveKnowledge([tiny_kb], build=MatcherCache(folder, "threshold 0.3"))
    for cache, encoder in [(MatcherCache(folder, "threshold 0.4"), None), (MatcherCache(folder, "threshold 0.3"), RememberingEncoder())]:
        LiveKnowledge([tiny_kb], encoder=encoder, build=cache)
        assert (cache.hits, cache.misses) == (0, 1)
    (tiny_kb / "new.yaml").write_text(
        "entries:\n" + entry_yaml("hundesteuer", ["Hundesteuer anmelden", "Hund anmelden Steuer", "Steuer für meinen Hund"],
                                  ["dog tax", "register my dog for tax", "tax for my dog"]),
        encoding="utf-8",
    )
    changed = MatcherCache(folder, "threshold 0.3")
    live = LiveKnowledge([tiny_kb], build=changed)
    assert (changed.hits, changed.misses) == (0, 1)
    best = live.snapshot.matcher.match("Hundesteuer anmelden").best
    assert best is not None and best.entry_id == "hundesteuer"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other key", "pickled"])
def test_a_damaged_file_is_never_trusted(tiny_kb: Path, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "cache"
    trained = LiveKnowledge([tiny_kb], build=MatcherCache(folder))
    [path] = stored(folder)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(data[:100] + bytes(reversed(data[100:])))
    else:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(arrays["meta.json"].tobytes())
        if damage == "other key":
            meta["key"] = "0" * 64
            arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        else:  # an object array can only be read by unpickling: refused
            arrays["idf"] = np.array([object()] * len(arrays["idf"]), dtype=object)
        with path.open("wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
    cache = MatcherCache(folder)
    with caplog.at_level(logging.WARNING, logger="bot.knowledge_cache"):
        rebuilt = LiveKnowledge([tiny_kb], build=cache)
    assert (cache.hits, cache.misses) == (0, 1)
    assert answers(rebuilt) == answers(trained)
    assert any("not used" in r.getMessage() for r in caplog.records)
    again = MatcherCache(folder)  # the rebuilt matcher replaced the damaged file
    LiveKnowledge([tiny_kb], build=again)
    assert (again.hits, again.misses) == (1, 0)


def test_files_are_written_whole_and_old_ones_pruned(tiny_kb: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    for n in range(5):
        LiveKnowledge([tiny_kb], build=MatcherCache(folder, f"setting {n}"))
    assert len(stored(folder)) == 3
    assert not list(folder.glob(".*"))  # no temporary file left behind


def test_a_reload_trains_and_stores_and_the_encoder_vectors_are_kept(tiny_kb: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    encoder = RememberingEncoder()
    live = LiveKnowledge([tiny_kb], encoder=encoder, build=MatcherCache(folder))
    (tiny_kb / "new.yaml").write_text("entries:\n" + entry_yaml("hundesteuer", ["Hundesteuer anmelden", "Steuer für meinen Hund", "Hund Steuer"],
                                                                 ["dog tax", "tax for my dog", "register my dog"]), encoding="utf-8")
    assert live.refresh() is True
    best = live.snapshot.matcher.match("dog tax", "en").best
    assert best is not None and best.entry_id == "hundesteuer"
    assert len(stored(folder)) == 2
    fresh = RememberingEncoder()  # a new process: its encoder starts empty
    cache = MatcherCache(folder)
    (tiny_kb / "new.yaml").unlink()
    (tiny_kb / "other.yaml").write_text("entries:\n" + entry_yaml("hundesteuer", ["Hundesteuer anmelden", "Steuer für meinen Hund", "Hund Steuer"],
                                                                             ["dog tax", "tax for my dog", "a dog licence"]),
                                        encoding="utf-8")
    LiveKnowledge([tiny_kb], encoder=fresh, build=cache)
    assert cache.misses == 1
    assert fresh.texts == ["a dog licence"]  # every other text's vector came from the disk
    other = RememberingEncoder("hashed-words-2")  # another model: its vectors are its own
    LiveKnowledge([tiny_kb], encoder=other, build=MatcherCache(folder))
    assert "dog tax" in other.texts
