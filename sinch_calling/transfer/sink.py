"""Where downloaded bytes go: a temporary file written off the event loop.

:class:`FileSink` collects chunks until ``flush_size`` bytes are buffered and hands
the batch to a worker thread (one write in flight at a time, so writing overlaps
receiving), hashing the bytes in that thread too (hashlib releases the GIL). A body
smaller than ``flush_size`` costs a single thread hop: open, write, close, rename.
Measured on the CI machine (benchmarks/bench_download.py): page-cache writes are
cheap, but a thread hop per 64 KiB chunk halves throughput and SHA-256 on the loop
costs ~50 us per 64 KiB; 1 MiB batches keep both off the loop at full speed.

The file lives beside its target as ``.{name}.part`` and is renamed into place by
:meth:`FileSink.commit` only when its length is the expected one. For a resumable
download, ``.{name}.part.json`` remembers the :class:`Validator` (the ``ETag``, or
``Last-Modified``) of the version the bytes belong to; bytes without one are never
resumed.

Both temporary files are opened without following symbolic links: a new one is
created with ``O_CREAT | O_EXCL`` (whatever had its name is removed first), a resumed
one with ``O_NOFOLLOW``, so a planted link cannot send the bytes elsewhere.

The worker-thread steps of one sink run strictly one after another, each chained
to the one before, and are shielded from cancellation: a cancelled download that
calls :meth:`FileSink.abandon` waits for a write or a commit already in a thread
instead of racing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

import attrs

__all__ = [
    "DEFAULT_FLUSH_SIZE",
    "FileSink",
    "Partial",
    "part_paths",
    "read_partial",
]

DEFAULT_FLUSH_SIZE = 1024 * 1024
_HASH_READ = 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)

T = TypeVar("T")


def _open_existing(path: Path, flags: int) -> IO[bytes]:
    """Open the regular file ``path`` as it is: a symlink (``ELOOP``) or anything
    but a regular file raises ``OSError``; a planted FIFO does not block."""
    mode = "rb" if flags & (os.O_WRONLY | os.O_RDWR) == 0 else "r+b"
    fd = os.open(path, flags | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def _sync_directory(directory: Path) -> None:
    """fsync ``directory`` so that a rename in it survives a power cut (POSIX; where a
    directory cannot be opened, as on Windows, the rename is as durable as it gets)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_fresh(path: Path) -> IO[bytes]:
    """Create ``path`` anew for writing, replacing whatever had that name (a stale
    file or a planted symlink, which is removed, never followed)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
    try:
        fd = os.open(path, flags, 0o666)
    except FileExistsError:  # the rare case: no unlink for nothing on the common path
        path.unlink()
        fd = os.open(path, flags, 0o666)
    try:
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def part_paths(target: Path) -> tuple[Path, Path]:
    """The temporary file and the resume-state file kept beside ``target``."""
    name = target.name
    if len(name.encode("utf-8")) > 200:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        name = f"{name[:60]}-{digest[:16]}"
    part = target.with_name(f".{name}.part")
    return part, target.with_name(f".{name}.part.json")


@attrs.frozen
class Validator:
    """What identifies one version of a recording, for ``If-Range`` (RFC 9110 13.1.5):
    a strong ``ETag`` or, failing that, ``Last-Modified``."""

    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Validator | None:
        """The validator a response offers, or ``None``. A weak ETag (``W/"..."``) is
        not one: RFC 9110 forbids it in ``If-Range``."""
        etag = (headers.get("ETag") or "").strip()
        if etag.startswith("W/") or not etag:
            etag = ""
        last_modified = (headers.get("Last-Modified") or "").strip()
        if not etag and not last_modified:
            return None
        return cls(etag or None, None if etag else last_modified)

    @property
    def if_range(self) -> str:
        """The ``If-Range`` value."""
        return self.etag or self.last_modified or ""

    def matches(self, headers: Mapping[str, str]) -> bool:
        """False when a response names another version than this one (a response
        that names none is taken at its word)."""
        if self.etag is not None:
            return headers.get("ETag", self.etag).strip() == self.etag
        return headers.get("Last-Modified", self.if_range).strip() == self.if_range

    def to_json(self) -> dict[str, str]:
        """The resume-state file's content."""
        return ({"etag": self.etag} if self.etag is not None
                else {"last_modified": self.if_range})


@attrs.frozen
class Partial:
    """What an earlier, interrupted download left: its length, validator and running hash."""

    size: int = 0
    validator: Validator | None = None
    digest: Any = None


def read_partial(part: Path, state: Path, *, hashing: bool) -> Partial:
    """Inspect a leftover ``.part`` file (blocking: call it in a thread).

    A partial without a recorded validator cannot be resumed safely and counts as
    empty. Symbolic links in place of either file are not followed: they count as no
    partial.
    """
    digest = hashlib.sha256() if hashing else None
    empty = Partial(0, None, hashlib.sha256() if hashing else None)
    try:
        with _open_existing(state, os.O_RDONLY) as handle:
            raw = json.loads(handle.read().decode("utf-8"))
        etag, last_modified = raw.get("etag"), raw.get("last_modified")
        if isinstance(etag, str) and etag:
            validator = Validator(etag, None)
        elif isinstance(last_modified, str) and last_modified:
            validator = Validator(None, last_modified)
        else:
            return empty
        with _open_existing(part, os.O_RDONLY) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size and digest is not None:
                while block := handle.read(_HASH_READ):
                    digest.update(block)
    except (OSError, ValueError, AttributeError):
        return empty
    if size == 0:
        return empty
    return Partial(size, validator, digest)


class FileSink:
    """A download's temporary file; see the module docstring.

    ``partial`` resumes an earlier file (its bytes stay, its hash continues);
    ``hashing`` computes SHA-256 of the whole body; ``durable`` fsyncs the file before
    the rename and the directory after it (the file survives a power cut once
    :meth:`commit` returns; costs disk flushes per file).
    """

    def __init__(
        self,
        target: Path,
        *,
        partial: Partial | None = None,
        hashing: bool = False,
        flush_size: int = DEFAULT_FLUSH_SIZE,
        durable: bool = False,
    ) -> None:
        self.target = target
        self.part, self.state = part_paths(target)
        partial = partial or Partial()
        self._resume_from = partial.size
        self._digest = partial.digest if partial.digest is not None else (
            hashlib.sha256() if hashing else None)
        self._flush_size = flush_size
        self._durable = durable
        self._file: IO[bytes] | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._written = partial.size
        self._last: asyncio.Future[Any] | None = None
        self._validator: Validator | None = partial.validator
        self._state_written = False
        self._stale_state = partial.validator is not None
        self.received = 0
        """Bytes given to :meth:`write` (over the wire), resets included."""
        self.total: int | None = None
        """The recording's length, as the response being written said (if it did)."""

    @property
    def position(self) -> int:
        """Bytes accepted so far, the resumed prefix included."""
        return self._written + self._buffered

    @property
    def validator(self) -> Validator | None:
        """The version the bytes held belong to (``None``: they cannot be resumed)."""
        return self._validator

    def remember(self, validator: Validator | None, total: int | None) -> None:
        """Record the version of the bytes being written (``None``: not resumable) and
        its total length, if known; the validator is written beside the part file
        with the next flush."""
        self.total = total
        if validator != self._validator:
            self._validator = validator
            self._state_written = False

    async def write(self, chunk: bytes) -> None:
        """Buffer ``chunk``; past ``flush_size``, start writing the batch in a thread."""
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        self.received += len(chunk)
        if self._buffered >= self._flush_size:
            await self._wait()
            self._then(self._write_batch, self._take())

    async def reset(self) -> None:
        """Drop everything written so far (the server restarted the body)."""
        await self._wait()
        self._buffer, self._buffered = [], 0
        self._written = self._resume_from = 0
        self.total = None
        if self._digest is not None:
            self._digest = hashlib.sha256()
        if self._file is not None:  # nothing is in flight: safe to look
            await self._run(self._truncate)

    async def commit(self, expected_size: int | None) -> tuple[int, str | None]:
        """Write the rest, check the length, rename onto the target; (size, sha256 hex).

        On a length mismatch, raises :class:`ValueError` and the target is left
        untouched. Cancelling the caller does not stop a commit that has started:
        :meth:`abandon` waits for it.
        """
        await self._wait()
        return await self._run(self._finish, self._take(), expected_size)

    async def abandon(self) -> None:
        """Write what was received and close, keeping the part file for a resume.

        Runs after any write or commit still in a thread (if that commit completes,
        the file is in place and there is nothing left to do).
        """
        await self._run(self._close_keeping, self._take())

    async def discard(self) -> None:
        """Close and delete the part file (nothing worth resuming)."""
        self._take()
        await self._run(self._close_removing)

    # -- the event loop side ----------------------------------------------------

    def _take(self) -> list[bytes]:
        batch, self._buffer = self._buffer, []
        self._written += self._buffered
        self._buffered = 0
        return batch

    def _then(self, step: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run ``step(*args)`` in a thread once the previous step has finished (however
        it finished); the step runs even if whoever scheduled it is cancelled."""
        previous = self._last

        async def chained() -> T:
            if previous is not None:
                # its error, if any, goes to whoever waited for that step
                with contextlib.suppress(Exception):
                    await previous
            return await asyncio.to_thread(step, *args)

        future = asyncio.ensure_future(chained())
        self._last = future
        return future

    async def _run(self, step: Callable[..., T], *args: Any) -> T:
        # shield: if we are cancelled, the thread still owns the file until it is done
        return await asyncio.shield(self._then(step, *args))

    async def _wait(self) -> None:
        """Wait for the step in flight, raising its error."""
        if self._last is not None:
            await asyncio.shield(self._last)

    # -- the worker thread side -------------------------------------------------

    def _open(self, *, resumable: bool = True) -> IO[bytes]:
        """Open the part file; a body that spans batches also records its ETag,
        so that a later run can resume it (a one-batch body just starts over)."""
        if self._file is None:
            if self._resume_from:
                handle = _open_existing(self.part, os.O_RDWR)
                handle.seek(self._resume_from)
                handle.truncate()
            else:
                handle = _create_fresh(self.part)
            self._file = handle
        if resumable and self._validator is not None and not self._state_written:
            with _create_fresh(self.state) as state:
                state.write(json.dumps(self._validator.to_json()).encode("utf-8"))
            self._state_written = True
        elif resumable and self._validator is None and (self._state_written
                                                        or self._stale_state):
            # the bytes now belong to a version that cannot be resumed: no stale state
            self.state.unlink(missing_ok=True)
            self._state_written = self._stale_state = False
        return self._file

    def _write_batch(self, batch: list[bytes], *, resumable: bool = True) -> None:
        handle = self._open(resumable=resumable)
        digest = self._digest
        for chunk in batch:
            handle.write(chunk)
            if digest is not None:
                digest.update(chunk)

    def _truncate(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()

    def _finish(
        self,
        batch: list[bytes],
        expected_size: int | None,
    ) -> tuple[int, str | None]:
        self._write_batch(batch, resumable=False)
        handle = self._file
        assert handle is not None
        try:
            handle.flush()
            size = os.fstat(handle.fileno()).st_size  # not tell(): what is on disk
            if expected_size is not None and size != expected_size:
                raise ValueError(f"received {size} bytes, expected {expected_size}")
            if self._durable:
                os.fsync(handle.fileno())
        finally:
            handle.close()
            self._file = None
        os.replace(self.part, self.target)
        if self._durable:
            _sync_directory(self.target.parent)
        if self._state_written or self._stale_state:
            self.state.unlink(missing_ok=True)
        sha256 = self._digest.hexdigest() if self._digest is not None else None
        return size, sha256

    def _close_keeping(self, batch: list[bytes]) -> None:
        try:
            if batch or self._file is not None:
                self._write_batch(batch)
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _close_removing(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.part.unlink(missing_ok=True)
        self.state.unlink(missing_ok=True)
