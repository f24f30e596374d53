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

Every file operation is relative to the directory opened once
(:class:`~.directory.Directory`), and never follows a symbolic link: a planted link
(or a swapped directory) cannot send the bytes elsewhere. The part file is locked
by its run from :func:`claim_part` to the rename (:mod:`.directory`), and the rename
happens only when the part file's name still is the file written: two runs never
share one part file, and a run never renames another's incomplete file into place.

The worker-thread steps of one sink run strictly one after another, each chained
to the one before, and are shielded from cancellation: a cancelled download that
calls :meth:`FileSink.abandon` waits for a write or a commit already in a thread
instead of racing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import errno
import hashlib
import json
import os
import stat
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

import attrs

from .directory import BusyError, Directory, lock

__all__ = [
    "DEFAULT_FLUSH_SIZE",
    "FileSink",
    "Partial",
    "claim_part",
    "part_names",
    "part_paths",
]

DEFAULT_FLUSH_SIZE = 1024 * 1024
_HASH_READ = 1024 * 1024

T = TypeVar("T")


def _create_fresh(directory: Directory, name: str) -> IO[bytes]:
    """Create ``name`` anew for writing, replacing whatever had that name (a stale
    file or a planted symlink, which is removed, never followed)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = directory.open(name, flags)
    except FileExistsError:  # the rare case: no unlink for nothing on the common path
        directory.unlink(name)
        fd = directory.open(name, flags)
    try:
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def _open_part(directory: Directory, name: str) -> int:
    """Open (or create) the part file ``name`` and take its lock; raises
    :class:`~.directory.BusyError` while another run holds it. Never follows a
    symbolic link nor writes through a planted hard link; the name is checked to
    still be the locked file (its last holder may have renamed it into place)."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0)
    for _ in range(8):
        try:
            fd = directory.open(name, flags)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            directory.unlink(name)  # a planted symbolic link: removed, never followed
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
                # a FIFO, or a hard link to someone else's file: not ours to write
                os.close(fd)
                directory.unlink(name)
                continue
            lock(fd, f"{directory.path / name}")
            if directory.is_file(name, fd):
                if hasattr(os, "set_blocking"):
                    os.set_blocking(fd, True)
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # renamed or replaced since we opened it: open the name again
    raise BusyError(f"{directory.path / name} keeps being replaced by another run")


def _read_state(directory: Directory, name: str) -> Validator | None:
    try:
        fd = directory.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = json.loads(os.pread(fd, 65536, 0).decode("utf-8"))
        etag, last_modified = raw.get("etag"), raw.get("last_modified")
    except (OSError, ValueError, AttributeError):
        return None
    finally:
        os.close(fd)
    if isinstance(etag, str) and etag:
        return Validator(etag, None)
    if isinstance(last_modified, str) and last_modified:
        return Validator(None, last_modified)
    return None


def claim_part(
    directory: Directory, target: str, *, hashing: bool, resume: bool
) -> tuple[IO[bytes], Partial]:
    """Open and lock the part file of ``target`` (blocking: call it in a thread):
    its handle and what an earlier, interrupted run left in it (with ``resume``).

    A partial without a recorded validator cannot be resumed safely and counts as
    empty (the file is emptied). Raises :class:`~.directory.BusyError` while
    another run writes the same part file.
    """
    part, state = part_names(target)
    fd = _open_part(directory, part)
    try:
        handle = os.fdopen(fd, "r+b")
    except BaseException:
        os.close(fd)
        raise
    try:
        partial = Partial()
        validator = _read_state(directory, state) if resume else None
        if validator is not None:
            digest = hashlib.sha256() if hashing else None
            size = os.fstat(handle.fileno()).st_size
            if size and digest is not None:
                while block := handle.read(_HASH_READ):
                    digest.update(block)
            if size:
                partial = Partial(size, validator, digest)
        handle.seek(partial.size)
        # a new part file is empty: no ftruncate (on ext4, truncating a file and then
        # renaming it over another starts its writeback at once: auto_da_alloc)
        if os.fstat(handle.fileno()).st_size != partial.size:
            handle.truncate()
        return handle, partial
    except BaseException:
        handle.close()
        raise


def part_names(target: str) -> tuple[str, str]:
    """The names of the temporary file and the resume-state file of ``target``."""
    name = target
    if len(name.encode("utf-8")) > 200:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        name = f"{name[:60]}-{digest[:16]}"
    return f".{name}.part", f".{name}.part.json"


def part_paths(target: Path) -> tuple[Path, Path]:
    """The temporary file and the resume-state file kept beside ``target``."""
    part, state = part_names(target.name)
    return target.with_name(part), target.with_name(state)


def _http_date(text: str) -> datetime | None:
    """An HTTP-date (RFC 9110 5.6.7), or ``None`` when it is not one."""
    if not text:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else None


@attrs.frozen
class Validator:
    """What identifies one version of a recording, for ``If-Range`` (RFC 9110 13.1.5):
    a strong ``ETag`` or, failing that, ``Last-Modified``."""

    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Validator | None:
        """The validator a response offers, or ``None``. A weak ETag (``W/"..."``) is
        not one: RFC 9110 13.1.5 forbids it in ``If-Range``. Nor is a
        ``Last-Modified`` date unless it is strong (RFC 9110 8.8.2.2): the response
        has a ``Date`` at least one second after it (a recording rewritten within
        the second of its date would otherwise pass as the same version)."""
        etag = (headers.get("ETag") or "").strip()
        if etag.startswith("W/") or not etag:
            etag = ""
        if etag:
            return cls(etag, None)
        last_modified = (headers.get("Last-Modified") or "").strip()
        modified = _http_date(last_modified)
        date = _http_date((headers.get("Date") or "").strip())
        if modified is None or date is None or date - modified < timedelta(seconds=1):
            return None
        return cls(None, last_modified)

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


class FileSink:
    """A download's temporary file; see the module docstring.

    ``handle`` is the part file open and locked by :func:`claim_part` in
    ``directory`` (``None``: the first write claims it, without resuming; the sink
    closes it, releasing the lock, and closes ``directory``
    too when it ``owns_directory``); ``partial`` is what it held (its bytes stay,
    its hash continues); ``hashing`` computes SHA-256 of the whole body;
    ``durable`` fsyncs the file before the rename and the directory after it (the
    file survives a power cut once :meth:`commit` returns; costs disk flushes).
    """

    def __init__(
        self,
        directory: Directory,
        target: str,
        handle: IO[bytes] | None,
        *,
        partial: Partial | None = None,
        owns_directory: bool = False,
        hashing: bool = False,
        flush_size: int = DEFAULT_FLUSH_SIZE,
        durable: bool = False,
    ) -> None:
        self.directory = directory
        self.target_name = target
        self.target = directory.path / target
        self._part, self._state = part_names(target)
        self.part, self.state = directory.path / self._part, directory.path / self._state
        self._owns_directory = owns_directory
        partial = partial or Partial()
        self._digest = partial.digest if partial.digest is not None else (
            hashlib.sha256() if hashing else None)
        self._flush_size = flush_size
        self._durable = durable
        self._file: IO[bytes] | None = handle
        self._claimed = handle is not None
        self._dirty = partial.size > 0  # the file holds bytes (a reset must truncate it)
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
            self._dirty = True
            self._then(self._write_batch, self._take())

    async def reset(self) -> None:
        """Drop everything written so far (the server restarted the body)."""
        await self._wait()
        self._buffer, self._buffered = [], 0
        self._written = 0
        self.total = None
        if self._digest is not None:
            self._digest = hashlib.sha256()
        if self._dirty:  # nothing is in flight: safe to look
            self._dirty = False
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
        """The part file; a body that spans batches also records its validator,
        so that a later run can resume it (a one-batch body just starts over)."""
        if self._file is None:
            if self._claimed:
                raise OSError(f"{self.part} is closed")
            self._file, _ = claim_part(self.directory, self.target_name, hashing=False,
                                       resume=False)
            self._claimed = True
        if resumable and self._validator is not None and not self._state_written:
            with _create_fresh(self.directory, self._state) as state:
                state.write(json.dumps(self._validator.to_json()).encode("utf-8"))
            self._state_written = True
        elif resumable and self._validator is None and (self._state_written
                                                        or self._stale_state):
            # the bytes now belong to a version that cannot be resumed: no stale state
            self.directory.unlink(self._state)
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
        handle.flush()
        size = os.fstat(handle.fileno()).st_size  # not tell(): what is on disk
        if expected_size is not None and size != expected_size:
            raise ValueError(f"received {size} bytes, expected {expected_size}")
        if self._durable:
            os.fsync(handle.fileno())
        # still locked: the name is the file written here, or nothing is renamed
        if not self.directory.is_file(self._part, handle.fileno()):
            raise OSError(f"{self.part} is no longer the file this download wrote "
                          "(replaced by another run?): not renaming it into place")
        self.directory.replace(self._part, self.target_name)
        self._close()  # the lock is released only once the name is gone
        if self._durable:
            self.directory.sync()
        if self._state_written or self._stale_state:
            self.directory.unlink(self._state)
        self._release_directory()
        sha256 = self._digest.hexdigest() if self._digest is not None else None
        return size, sha256

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _release_directory(self) -> None:
        if self._owns_directory:
            self._owns_directory = False
            self.directory.close()

    def _close_keeping(self, batch: list[bytes]) -> None:
        try:
            if batch:
                self._write_batch(batch)
            if self._file is not None and self.position == 0:
                self._remove()  # nothing to resume: leave no empty part file behind
        finally:
            self._close()
            self._release_directory()

    def _remove(self) -> None:
        """Delete the part file (only if it is ours) and its state, while locked."""
        if self._file is not None and self.directory.is_file(self._part, self._file.fileno()):
            self.directory.unlink(self._part)
            self.directory.unlink(self._state)

    def _close_removing(self) -> None:
        try:
            self._remove()
        finally:
            self._close()
            self._release_directory()
