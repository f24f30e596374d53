"""Standard input that an interruption can always release.

A thread blocked in ``read()`` on a terminal or an idle pipe cannot be interrupted, and
``asyncio.run`` waits for its executor's threads on the way out: so Ctrl-C on
``campaign -`` used to hang until the writer closed stdin. Here a daemon thread (which
never holds up the interpreter's exit) does the blocking reads into a bounded queue;
the campaign reads from the queue, and :meth:`CancellableStdin.release` makes every
read, pending or future, return end-of-file at once.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import threading

__all__ = ["CancellableStdin", "text_stdin"]

_CHUNK = 64 * 1024
_QUEUED = 16  # chunks read ahead at most: 1 MiB; the reader waits for the campaign


class CancellableStdin(io.RawIOBase):
    """File descriptor ``fd`` (default 0) as a binary file whose reads ``release()``
    ends; read ahead by a daemon thread, at most ``_QUEUED`` chunks of 64 KiB."""

    def __init__(self, fd: int = 0) -> None:
        super().__init__()
        self._fd = fd
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=_QUEUED)
        self._released = threading.Event()
        self._rest = b""
        self._eof = False
        self.name = "stdin"
        self._thread = threading.Thread(target=self._pump, name="sinch-calling stdin",
                                        daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._released.is_set():
            try:
                chunk = os.read(self._fd, _CHUNK)
            except OSError:
                chunk = b""
            while not self._released.is_set():
                try:
                    self._chunks.put(chunk, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not chunk:
                return

    def release(self) -> None:
        """End every read now (they return b""); the daemon thread is abandoned."""
        self._released.set()
        with contextlib.suppress(queue.Full):
            self._chunks.put_nowait(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` with what arrived (blocking until something did, or EOF)."""
        if not self._rest and not self._eof:
            chunk = b"" if self._released.is_set() else self._chunks.get()
            if self._released.is_set():
                chunk = b""
            self._eof = not chunk
            self._rest = chunk
        if self._eof and not self._rest:
            return 0
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


def text_stdin() -> tuple[io.TextIOWrapper, CancellableStdin]:
    """Standard input decoded as the campaign reader decodes files (UTF-8, BOM dropped,
    newlines untranslated for the CSV reader), and the handle that releases it."""
    raw = CancellableStdin()
    return io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", newline=""), raw
