"""Rows recorded while a message is answered, written to the database in batches by a thread.

Messages are answered by a few threads of the process's pool (bot.blocking), so recording must
never wait for the database: a synchronous commit per message would hold a thread for its
duration, and while the database is slow or away every thread, and so every chat, would wait.
Rows go into an in-memory buffer instead, and a background thread writes them every
``flush_seconds``, or at once when ``batch_size`` are waiting. ``close`` (and, as a safety net, a
normal interpreter exit) writes the rest, so a normal shutdown loses nothing.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Row = TypeVar("Row")


class BufferedInserts(Generic[Row]):
    def __init__(
        self, what: str, write: Callable[[list[Row]], None], batch_size: int, flush_seconds: float, max_buffered: int,
    ) -> None:
        self._what = what  # for log lines: "usage events", "unanswered questions"
        self._write = write  # puts one batch into the database
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._max_buffered = max_buffered
        self._buffer: list[Row] = []
        self._lock = threading.Lock()  # guards _buffer, _thread and _closed
        self._write_lock = threading.Lock()  # one writer at a time
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        atexit.register(self.close)

    def add(self, row: Row) -> None:
        with self._lock:
            self._buffer.append(row)
            pending = len(self._buffer)
            if self._thread is None and not self._closed:
                # Started on first use, so commands that never record (reports) run no thread.
                self._thread = threading.Thread(target=self._run, name=f"writer: {self._what}", daemon=True)
                self._thread.start()
        if pending >= self._batch_size:
            self._wake.set()

    def writing(self) -> threading.Lock:
        """Held, no batch is being written: what a caller deletes meanwhile cannot be written after it."""
        return self._write_lock

    def discard(self, unwanted: Callable[[Row], bool]) -> None:
        """Drop the buffered rows ``unwanted`` picks (before they are written)."""
        with self._lock:
            self._buffer = [row for row in self._buffer if not unwanted(row)]

    def buffered(self) -> list[Row]:
        """The rows not written yet."""
        with self._lock:
            return list(self._buffer)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def flush(self) -> int:
        """Write everything buffered now; returns how many rows were written.

        If the database fails, the rows go back into the buffer for the next try (the oldest are
        dropped beyond ``max_buffered``, rather than running out of memory while it is away)."""
        with self._write_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                self._write(batch)
            except Exception:
                with self._lock:
                    self._buffer[:0] = batch
                    excess = len(self._buffer) - self._max_buffered
                    if excess > 0:
                        del self._buffer[:excess]
                        log.error("%d %s dropped: the database has not taken them", excess, self._what)
                raise
            return len(batch)

    def close(self) -> None:
        """Stop the writer thread and write what is left. Rows added after this stay in memory
        until the next :meth:`flush`."""
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
            log.exception("%s could not be written on shutdown", self._what)

    def _run(self) -> None:
        failing = False  # logged once per outage, not every few seconds while it lasts
        while True:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
            try:
                written = self.flush()
            except Exception:  # the database may be back next time; the rows wait in the buffer
                if not failing:
                    log.exception("writing %s failed; they wait in memory and are retried until the database takes them", self._what)
                failing = True
                continue
            if failing:
                log.warning("%s are written again (%d waiting rows written)", self._what, written)
                failing = False
