"""Usage events in the database (implements core.ports.UsageLog), written in batches.

Messages are answered on the event loop, so recording must never wait for the database: events go
into an in-memory buffer, and a background thread writes them every ``flush_seconds``, or at once
when ``batch_size`` are waiting. ``close`` (and, as a safety net, a normal interpreter exit) writes
the rest, so a normal shutdown loses nothing.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading

from sqlalchemy import Engine, insert

from bot.core.ports import UsageKind
from bot.storage.database import as_utc
from bot.storage.tables import UsageEventRow

log = logging.getLogger(__name__)

_Event = tuple[UsageKind, tuple[str, ...], str, str, dt.datetime]


class SqlUsageLog:
    def __init__(self, engine: Engine, batch_size: int = 1000, flush_seconds: float = 5.0, max_buffered: int = 200_000) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._max_buffered = max_buffered
        self._buffer: list[_Event] = []
        self._lock = threading.Lock()  # guards _buffer, _thread and _closed
        self._write_lock = threading.Lock()  # one writer at a time
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        atexit.register(self.close)

    def record(self, kind: UsageKind, entry_ids: tuple[str, ...], channel: str, language: str, at: dt.datetime) -> None:
        with self._lock:
            self._buffer.append((kind, entry_ids, channel, language, at))
            pending = len(self._buffer)
            if self._thread is None and not self._closed:
                # Started on first use, so commands that never record (reports) run no thread.
                self._thread = threading.Thread(target=self._run, name="usage-log-writer", daemon=True)
                self._thread.start()
        if pending >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def flush(self) -> int:
        """Write everything buffered now; returns how many events were written.

        If the database fails, the events go back into the buffer for the next try (the oldest are
        dropped beyond ``max_buffered``: usage numbers are not worth running out of memory for)."""
        with self._write_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                self._insert(batch)
            except Exception:
                with self._lock:
                    self._buffer[:0] = batch
                    excess = len(self._buffer) - self._max_buffered
                    if excess > 0:
                        del self._buffer[:excess]
                        log.error("usage log: %d events dropped, the database has not taken them", excess)
                raise
            return len(batch)

    def close(self) -> None:
        """Stop the writer thread and write what is left. Events recorded after this stay in
        memory until the next :meth:`flush`."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._wake.set()
        if thread is not None:
            thread.join()
        atexit.unregister(self.close)
        try:
            self.flush()
        except Exception:
            log.exception("usage log: events could not be written on shutdown")

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
            try:
                self.flush()
            except Exception:  # the database may be back next time; the events wait in the buffer
                log.exception("usage log: writing events failed; will retry")

    def _insert(self, batch: list[_Event]) -> None:
        rows = [
            {"at": as_utc(at), "kind": kind, "entry_id": entry_id, "position": position, "channel": channel, "language": language}
            for kind, entry_ids, channel, language, at in batch
            for position, entry_id in enumerate(entry_ids or (None,))
        ]
        with self._engine.begin() as conn:
            conn.execute(insert(UsageEventRow), rows)
