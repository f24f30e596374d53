"""The export's manifest: one JSON line per recording exported.

Each line (``key, path, size, sha256, created_on``, ASCII JSON) is appended only
after its file is in place under its final name with exactly the recording's
bytes, so the manifest never names an incomplete file. Lines are written in worker
threads, batched, under one lock. The file is never opened through a symbolic link.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
from pathlib import Path
from typing import IO

import attrs

__all__ = ["Manifest", "ManifestEntry", "read_manifest"]


@attrs.frozen(kw_only=True)
class ManifestEntry:
    """One line of the manifest: a recording exported to ``path`` (relative to the
    export directory)."""

    key: str
    path: str
    size: int
    sha256: str | None
    created_on: str | None

    def to_line(self) -> bytes:
        """The JSON line (ASCII, so no Unicode line separator can split it)."""
        return json.dumps(attrs.asdict(self), separators=(",", ":")).encode("ascii") + b"\n"


def read_manifest(path: Path) -> dict[str, ManifestEntry]:
    """The manifest's entries by key, the last line for a key winning (blocking).

    A line that does not parse (say, cut short by a crash) is ignored.
    """
    entries: dict[str, ManifestEntry] = {}
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return entries
    for line in data.split(b"\n"):
        try:
            raw = json.loads(line)
            entry = ManifestEntry(key=raw["key"], path=raw["path"], size=int(raw["size"]),
                                  sha256=raw.get("sha256"), created_on=raw.get("created_on"))
        except (ValueError, TypeError, KeyError):
            continue
        entries[entry.key] = entry
    return entries


_APPEND = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
           | getattr(os, "O_BINARY", 0))


def _open_for_append(path: Path) -> IO[bytes]:
    """Open ``path`` to append to, never through a symlink (``OSError`` instead)."""
    fd = os.open(path, _APPEND, 0o666)
    try:
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise


class Manifest:
    """The manifest file of one export.

    :meth:`add` is the event loop's side: lines added while a write is in flight go
    out together in the next one (one thread hop for many files when downloads
    finish together). The blocking methods run in worker threads under one lock.
    The file is opened on the first write (an export that writes nothing creates
    no manifest) and reopened by a write after :meth:`close` (a commit that
    completes after the export was cancelled still gets its line).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._closed = False
        self._waiting: list[bytes] = []
        self._written: asyncio.Future[None] | None = None  # when ``_waiting`` is on disk
        self._writer: asyncio.Task[None] | None = None

    def check(self) -> None:
        """Raise :class:`OSError` when the manifest's name is a symbolic link or
        anything but a regular file (nothing is written through it)."""
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISREG(mode):
            raise OSError(f"{self.path} is not a regular file (a symbolic link?): refusing "
                          "to append to it")

    async def add(self, entry: ManifestEntry) -> None:
        """Append ``entry``'s line; returns once it is written (and flushed to the
        operating system). Raises the write's :class:`OSError`. Cancelling the caller
        does not withdraw the line."""
        self._waiting.append(entry.to_line())
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
        written = self._written
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_waiting())
        await asyncio.shield(written)

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                lines, self._waiting = self._waiting, []
                written, self._written = self._written, None
                assert written is not None
                try:
                    await asyncio.to_thread(self.append_lines, lines)
                except Exception as exc:
                    written.set_exception(exc)
                else:
                    written.set_result(None)
        finally:
            self._writer = None

    def append_lines(self, lines: list[bytes]) -> None:
        """Append ``lines`` and flush them (blocking)."""
        data = b"".join(lines)
        with self._lock:
            if self._closed:
                with _open_for_append(self.path) as late:
                    late.write(data)
                return
            if self._file is None:
                self._file = _open_for_append(self.path)
            self._file.write(data)
            self._file.flush()

    def close(self) -> None:
        """Close the file (blocking; waits for a write in progress)."""
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()
                self._file = None
