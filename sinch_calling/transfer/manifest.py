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

from .directory import Directory

__all__ = ["Manifest", "ManifestEntry", "parse_manifest", "read_manifest"]


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
    """The manifest's entries by key, the last valid line for a key winning
    (blocking; see :func:`parse_manifest`)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    return parse_manifest(data)


def parse_manifest(data: bytes) -> dict[str, ManifestEntry]:
    """The entries of a manifest's bytes by key, the last valid line for a key winning.

    A line that is not a valid entry (cut short by a crash, or hand-edited into
    another shape: a ``path`` that is not a plain file name, a ``size`` that is not
    a non-negative integer, ...) is ignored, only that line: its key is then not
    trusted as exported (a later run verifies or downloads it again).
    """
    entries: dict[str, ManifestEntry] = {}
    for line in data.split(b"\n"):
        entry = _entry(line)
        if entry is not None:
            entries[entry.key] = entry
    return entries


def _entry(line: bytes) -> ManifestEntry | None:
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    key, path, size = raw.get("key"), raw.get("path"), raw.get("size")
    sha256, created_on = raw.get("sha256"), raw.get("created_on")
    if (not isinstance(key, str) or not key or not _plain_name(path)
            or isinstance(size, bool) or not isinstance(size, int) or size < 0
            or not isinstance(sha256, str | None) or not isinstance(created_on, str | None)):
        return None
    assert isinstance(path, str)
    return ManifestEntry(key=key, path=path, size=size, sha256=sha256, created_on=created_on)


def _plain_name(path: object) -> bool:
    """A single file name in the directory, as the export writes them."""
    return (isinstance(path, str) and bool(path) and not path.startswith(".")
            and not any(c in path for c in "/\\\x00"))


_APPEND = os.O_RDWR | os.O_APPEND | os.O_CREAT  # read: the last byte


def _open_for_append(directory: Directory, name: str) -> IO[bytes]:
    """Open ``name`` to append to, never through a symlink (``OSError`` instead).

    A file whose last line was cut short (a crash mid-write) gets its line ended
    first, so that the next line appended stays a line of its own.
    """
    fd = directory.open(name, _APPEND)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{directory.path / name} is not a regular file")
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")
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

    def __init__(self, directory: Directory, name: str) -> None:
        self.directory, self.name = directory, name
        self.path = directory.path / name
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
            mode = self.directory.lstat(self.name).st_mode
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
                with _open_for_append(self.directory, self.name) as late:
                    late.write(data)
                return
            if self._file is None:
                self._file = _open_for_append(self.directory, self.name)
            self._file.write(data)
            self._file.flush()

    def close(self) -> None:
        """Close the file (blocking; waits for a write in progress)."""
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()
                self._file = None
