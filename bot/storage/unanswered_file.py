"""Unanswered questions appended to a JSON-lines file in the data folder (no user or chat ids)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path


class JsonlUnansweredLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, text: str, language: str, channel: str, at: dt.datetime) -> None:
        line = json.dumps({"at": at.isoformat(timespec="seconds"), "language": language, "channel": channel, "text": text}, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
