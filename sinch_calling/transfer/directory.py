"""A directory held open: every file operation of a download or an export runs
relative to its descriptor, and the advisory locks that keep two runs apart.

:class:`Directory` opens the directory once (``O_DIRECTORY``; the path is followed
then, once, so a symlinked download folder works) and does every ``open``,
``rename``, ``unlink``, ``stat`` and ``fsync`` with ``dir_fd=``: replacing the
directory (or a parent) by a symbolic link mid-run cannot redirect a single write.
Where the platform has no ``dir_fd`` (Windows), paths are used.

Locks are ``fcntl.flock`` locks (POSIX; none on Windows), released by the kernel
when the process dies, so a crashed run never leaves one behind:

- an export holds :data:`LOCK_NAME` in its directory for its whole run: a second
  export into the same directory fails at once with :class:`BusyError`; the lock
  file also records the manifest names used in the directory, which a single
  download into it never takes as a file name;
- a download holds its part file (``.{name}.part``) from opening it (to resume it,
  or, in an export that saw none, at its first write) to renaming it into place,
  and checks at the rename that the name still is the file it wrote:
  a second run downloading the same key into the same directory fails with
  :class:`BusyError` instead of sharing (or replacing) the file. A leftover part
  file is resumed only by whoever holds its lock, so never while its writer lives.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from ..errors import BusyError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "BusyError", "Directory"]

LOCK_NAME = ".sinch-export.lock"
"""The export's lock file (a hidden name: no key maps to a name starting with a dot)."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0) | getattr(
    os, "O_CLOEXEC", 0)
_DIR_FD = os.open in os.supports_dir_fd and hasattr(os, "O_DIRECTORY")


def lock(fd: int, what: str) -> None:
    """Take the exclusive lock of ``fd`` without waiting; :class:`BusyError` (naming
    ``what``) when another run holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BusyError(f"{what} is in use by another run (download or export) right "
                        "now: refusing to share its files; retry once it has finished") from None


class Directory:
    """An open directory (see the module docstring); :meth:`close` it when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        if _DIR_FD:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        self._lock_fd: int | None = None

    def _where(self, name: str) -> str | Path:
        return name if self.fd is not None else self.path / name

    def open(self, name: str, flags: int, mode: int = 0o666) -> int:
        """``os.open`` of ``name`` in the directory, never through a symbolic link."""
        return os.open(self._where(name), flags | _NOFOLLOW, mode, dir_fd=self.fd)

    def lstat(self, name: str) -> os.stat_result:
        """``os.lstat`` of ``name`` in the directory."""
        return os.stat(self._where(name), dir_fd=self.fd, follow_symlinks=False)

    def replace(self, source: str, target: str) -> None:
        """Rename ``source`` onto ``target`` atomically, both in the directory."""
        os.replace(self._where(source), self._where(target),
                   src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        """Remove ``name`` if it exists."""
        with suppress(FileNotFoundError):
            os.unlink(self._where(name), dir_fd=self.fd)

    def is_file(self, name: str, fd: int) -> bool:
        """Whether ``name`` is the very file open as ``fd`` (same device and inode)."""
        try:
            here = self.lstat(name)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)

    def sync(self) -> None:
        """fsync the directory, so that a rename in it survives a power cut (where a
        directory cannot be opened, as on Windows, it is as durable as it gets)."""
        if self.fd is not None:
            os.fsync(self.fd)

    def regular_files(self) -> Iterator[tuple[str, int]]:
        """(name, size) of each regular file in the directory."""
        with os.scandir(self.fd if self.fd is not None else self.path) as entries:
            for item in entries:
                if item.is_file(follow_symlinks=False):
                    yield item.name, item.stat(follow_symlinks=False).st_size

    def lock_for_export(self, manifest_name: str) -> None:
        """Hold :data:`LOCK_NAME` until :meth:`close` (:class:`BusyError` when another
        export holds it) and record ``manifest_name`` in it."""
        fd = self.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(f"{self.path / LOCK_NAME} is not a regular file")
            lock(fd, f"export directory {self.path}")
            names = _manifest_names(os.pread(fd, 65536, 0))
            if manifest_name not in names:
                data = json.dumps({"manifests": sorted({*names, manifest_name})}).encode()
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    def manifest_names(self) -> frozenset[str]:
        """The manifest names exports recorded in this directory (blocking)."""
        try:
            fd = self.open(LOCK_NAME, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return frozenset()
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return frozenset()
            return _manifest_names(os.pread(fd, 65536, 0))
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release the export lock (if held) and the directory."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _manifest_names(data: bytes) -> frozenset[str]:
    try:
        names = json.loads(data.decode("utf-8"))["manifests"]
    except (ValueError, TypeError, KeyError):
        return frozenset()
    if not isinstance(names, list):
        return frozenset()
    return frozenset(name for name in names if isinstance(name, str) and name)
