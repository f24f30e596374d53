"""Bulk export: list a time window, download everything, keep a manifest, report.

The export is resumable and idempotent. Each file is renamed into place and then
its manifest line appended (``key, path, size, sha256, created_on``) in one step
that a cancellation does not interrupt, so the manifest names only complete files
and a complete file is not left unrecorded. A later run skips recordings whose
manifest entry matches the file on disk, resumes ``.part`` files left by an
interrupted run, and downloads the rest. Nothing is created on disk before the
first page of the listing has been answered.

Failures of single recordings are collected, not raised; an error while listing
stops the export and propagates (what was downloaded stays in the manifest).

With ``delete_after``, a recording is deleted only once a byte-exact copy of one
version of it is on disk under its final name (see :mod:`.download` for what
"byte-exact" rests on); a file skipped as exported by an earlier run is hashed
again first, and must match its manifest line. Nothing is deleted before the
listing is complete: the listing is read page by page while downloads run, and
deleting a recording would shift later ones into pages already read, so they would
never be listed. Recordings verified before then wait (their keys only) and are
deleted, then reported, once the last page has been read; after that each is
deleted as soon as its file is verified. So that this wait is short, the listing
is then read ahead without bound (the entries are kept in memory, never the
bodies).

Downloads take the transport's download slots; deletes and the listing are API
calls, which never wait for them (:meth:`~sinch_calling.transport.Transport.download_slot`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

import aiohttp
import attrs

from .._time import format_timestamp
from ..errors import SinchError, ValidationError
from ..models import Recording
from ..transport import Transport
from .directory import Directory
from .download import DOWNLOAD_TIMEOUT, commit_file, open_sink, receive_file
from .manifest import Manifest, ManifestEntry, parse_manifest
from .names import MANIFEST_NAME, file_name_for_key, name_fold, split_extension
from .sink import FileSink, part_names
from .store import BadEntry, delete_recording, recording_url

__all__ = [
    "ExportFailure",
    "ExportProgress",
    "ExportReport",
    "run_export",
]

Outcome = Literal["downloaded", "skipped", "failed"]
_HASH_READ = 1024 * 1024


@attrs.frozen(kw_only=True)
class ExportFailure:
    """A recording that could not be exported (``stage="download"``), deleted after
    its export (``stage="delete"``), or that the listing gave as an item that does not
    decode (``stage="list"``: ``key`` is its key, or a description of the item)."""

    key: str
    stage: Literal["list", "download", "delete"]
    error: str
    exception: BaseException = attrs.field(eq=False, repr=False)


@attrs.frozen(kw_only=True)
class ExportProgress:
    """Reported to the ``progress`` callback after each recording.

    ``completed`` counts recordings finished so far (any outcome), ``listed`` those
    listed so far (the listing runs ahead lazily), ``bytes_downloaded`` the bytes
    received so far in this run.
    """

    key: str
    outcome: Outcome
    path: Path | None
    size: int | None
    deleted: bool
    completed: int
    listed: int
    bytes_downloaded: int


@attrs.frozen(kw_only=True)
class ExportReport:
    """What an export did. ``ok`` is true when nothing failed."""

    directory: Path
    manifest: Path
    listed: int
    downloaded: int
    skipped: int
    deleted: int
    bytes_downloaded: int
    failures: tuple[ExportFailure, ...]
    concurrency: int
    elapsed: float

    @property
    def failed(self) -> int:
        """How many recordings failed (download or delete)."""
        return len(self.failures)

    @property
    def ok(self) -> bool:
        """True when every recording was exported (and deleted, if asked)."""
        return not self.failures


@attrs.frozen
class _Opened:
    """The export directory, open and locked, and what was in it."""

    directory: Directory
    manifest: Manifest
    sizes: dict[str, int]
    exported: dict[str, ManifestEntry]
    manifests: frozenset[str]


def _open_directory(path: Path, manifest_name: str) -> _Opened:
    """Create the directory, open and lock it (:class:`~.directory.BusyError` when
    another export holds it); the sizes of its files and the manifest (blocking)."""
    path.mkdir(parents=True, exist_ok=True)
    directory = Directory(path)
    try:
        directory.lock_for_export(manifest_name)
        manifest = Manifest(directory, manifest_name)
        manifest.check()
        sizes = dict(directory.regular_files())
        try:
            fd = directory.open(manifest_name, os.O_RDONLY)
        except FileNotFoundError:
            exported = {}
        else:
            with os.fdopen(fd, "rb") as handle:
                exported = parse_manifest(handle.read())
        return _Opened(directory, manifest, sizes, exported, directory.manifest_names())
    except BaseException:
        directory.close()
        raise


def _sha256_of(directory: Directory, name: str, *, durable: bool) -> str | None:
    """The file's SHA-256 (blocking), ``None`` when it cannot be read as a regular file;
    ``durable`` also fsyncs it (an earlier run may have left it in the page cache)."""
    digest = hashlib.sha256()
    try:
        fd = directory.open(name, os.O_RDONLY)
        with os.fdopen(fd, "rb") as handle:
            while block := handle.read(_HASH_READ):
                digest.update(block)
            if durable:
                os.fsync(handle.fileno())
    except OSError:
        return None
    return digest.hexdigest()


class _Everything:
    """Every folded name reserved: :func:`file_name_for_key` then always hashes."""

    def __contains__(self, folded: object) -> bool:
        return True

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        return iter(())


def _candidates(key: str) -> Iterator[str]:
    """The names ``key`` may take, in order: its plain name, the hashed one, then
    the hashed one numbered (``-2``, ``-3``...): deterministic, and endless."""
    plain = file_name_for_key(key, reserved=())
    yield plain
    hashed = file_name_for_key(key, reserved=_Everything())
    yield hashed
    stem, extension = split_extension(hashed)
    for number in itertools.count(2):
        yield f"{stem}-{number}{extension}"


def _claim(key: str, claimed: dict[str, str], exported: dict[str, ManifestEntry]) -> str:
    """The file name of ``key``, unique in the directory: its manifest path when it
    has one, else the first of its candidates no other key (nor a manifest) has
    claimed, compared folded (see :func:`~.names.name_fold`); claims it."""
    known = exported.get(key)
    if known is not None and claimed.get(name_fold(known.path)) == key:
        return known.path
    for name in _candidates(key):
        if claimed.setdefault(name_fold(name), key) == key:
            return name
    raise AssertionError("unreachable: the candidates never end")


def check_manifest_name(name: object) -> str:
    """``name`` if it is a plain file name (as a key would map to itself), else
    :class:`~sinch_calling.errors.ValidationError` naming ``manifest``."""
    if not isinstance(name, str) or not name or file_name_for_key(name, reserved=()) != name:
        raise ValidationError("manifest", f"must be a plain file name; got {name!r:.80}")
    return name


@attrs.frozen
class _Verified:
    """A recording whose file is complete (or was already), not yet reported."""

    key: str
    outcome: Outcome
    path: Path
    size: int | None


@attrs.define
class _Tally:
    listed: int = 0
    completed: int = 0
    downloaded: int = 0
    skipped: int = 0
    deleted: int = 0
    bytes_downloaded: int = 0
    failures: list[ExportFailure] = attrs.Factory(list)


async def run_export(
    transport: Transport,
    directory: Path,
    recordings: AsyncIterator[Recording | BadEntry],
    *,
    delete_after: bool = False,
    concurrency: int = 8,
    manifest_name: str = MANIFEST_NAME,
    progress: Callable[[ExportProgress], None] | None = None,
    timeout: aiohttp.ClientTimeout = DOWNLOAD_TIMEOUT,
    durable: bool = False,
) -> ExportReport:
    """Export ``recordings`` (a listing, see :func:`.store.list_recordings`) into
    ``directory`` with ``concurrency`` workers (see the module docstring).

    Arguments are expected checked (the endpoint group does). Raises what the
    listing raises, :class:`~.directory.BusyError` when another export holds the
    directory, and :class:`OSError` when the directory or the manifest cannot be
    written; failures of single recordings (and undecodable listing items) are in
    the report.
    """
    check_manifest_name(manifest_name)
    started = time.perf_counter()
    listing = aiter(recordings)
    first = await anext(listing, None)  # the server answers before anything is created
    opening = asyncio.ensure_future(asyncio.to_thread(_open_directory, directory,
                                                      manifest_name))
    try:
        opened = await asyncio.shield(opening)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            (await opening).directory.close()  # the thread finishes: release the lock
        raise
    try:
        return await _export(transport, opened, listing, first, delete_after=delete_after,
                             concurrency=concurrency, progress=progress, timeout=timeout,
                             durable=durable, started=started)
    finally:
        opened.directory.close()


async def _export(
    transport: Transport,
    opened: _Opened,
    listing: AsyncIterator[Recording | BadEntry],
    first: Recording | BadEntry | None,
    *,
    delete_after: bool,
    concurrency: int,
    progress: Callable[[ExportProgress], None] | None,
    timeout: aiohttp.ClientTimeout,
    durable: bool,
    started: float,
) -> ExportReport:
    folder, manifest, sizes, exported = (opened.directory, opened.manifest, opened.sizes,
                                         opened.exported)
    directory = folder.path
    tally = _Tally()
    # Names in use, folded as case-insensitive file systems compare them: the
    # manifests', and each key's (its earlier run's name first), so that two keys
    # never share a file ("A.mp3" and "a.mp3" on macOS).
    claimed = {name_fold(name): "" for name in {*opened.manifests, MANIFEST_NAME}}
    for entry in exported.values():
        claimed.setdefault(name_fold(entry.path), entry.key)
    listing_done = False
    held: list[_Verified] = []  # verified before the listing was complete: delete later
    committing: set[asyncio.Future[None]] = set()

    def report(key: str, outcome: Outcome, path: Path | None, size: int | None,
               deleted: bool) -> None:
        tally.completed += 1
        if progress is not None:
            progress(ExportProgress(
                key=key, outcome=outcome, path=path, size=size, deleted=deleted,
                completed=tally.completed, listed=tally.listed,
                bytes_downloaded=tally.bytes_downloaded,
            ))

    def fail(key: str, stage: Literal["list", "download", "delete"],
             exc: BaseException) -> None:
        tally.failures.append(ExportFailure(key=key, stage=stage, error=str(exc) or repr(exc),
                                            exception=exc))

    async def already_exported(key: str, name: str) -> int | None:
        """The size of an earlier run's file for ``key``, if it still is what the
        manifest says (re-hashed when it is about to justify a delete)."""
        known = exported.get(key)
        if known is None or known.path != name or sizes.get(name) != known.size:
            return None
        if delete_after and await asyncio.to_thread(
                _sha256_of, folder, name, durable=durable) != known.sha256:
            return None
        return known.size

    async def commit(sink: FileSink, total: int | None, entry: ManifestEntry) -> None:
        """Rename into place, then append the manifest line (runs to its end even
        when the export is cancelled)."""
        size, sha256 = await commit_file(sink, total)
        await manifest.add(attrs.evolve(entry, size=size, sha256=sha256))

    async def download(recording: Recording, name: str) -> int:
        key = recording.key
        sink = await open_sink(name, directory=folder, hashing=True, durable=durable,
                               resume=part_names(name)[0] in sizes)
        total = await receive_file(transport, recording_url(transport, key), sink,
                                   timeout=timeout)
        created = (format_timestamp(recording.created_on)
                   if isinstance(recording.created_on, datetime) else None)
        entry = ManifestEntry(key=key, path=name, size=-1, sha256=None, created_on=created)
        step = asyncio.ensure_future(commit(sink, total, entry))
        committing.add(step)
        step.add_done_callback(committing.discard)
        await asyncio.shield(step)
        tally.bytes_downloaded += sink.received
        return sink.position

    async def export_one(recording: Recording | BadEntry) -> None:
        if isinstance(recording, BadEntry):
            fail(recording.key, "list", recording.error)
            report(recording.key, "failed", None, None, False)
            return
        key = recording.key
        name = _claim(key, claimed, exported)
        size = await already_exported(key, name)
        outcome: Outcome = "skipped"
        if size is not None:
            tally.skipped += 1
        else:
            try:
                size = await download(recording, name)
            except (SinchError, OSError) as exc:
                fail(key, "download", exc)
                report(key, "failed", None, None, False)
                return
            outcome = "downloaded"
            tally.downloaded += 1
        verified = _Verified(key, outcome, directory / name, size)
        if delete_after and not listing_done:
            held.append(verified)  # no await since the check: the listing can't end between
            return
        await finish(verified)

    async def finish(verified: _Verified) -> None:
        deleted = False
        if delete_after:
            try:
                await delete_recording(transport, verified.key)
            except SinchError as exc:
                fail(verified.key, "delete", exc)
            else:
                deleted = True
                tally.deleted += 1
        report(verified.key, verified.outcome, verified.path, verified.size, deleted)

    # With deletes, the listing may run ahead unbounded (entries, never bodies) so that
    # it completes early and deletions (and their progress reports) are not held long.
    ahead = 0 if delete_after else 2 * concurrency
    queue: asyncio.Queue[Recording | BadEntry | _Verified | None] = asyncio.Queue(maxsize=ahead)

    async def worker() -> None:
        while (job := await queue.get()) is not None:
            if isinstance(job, _Verified):
                await finish(job)
            else:
                await export_one(job)

    async def produce() -> None:
        nonlocal listing_done
        if first is not None:
            tally.listed += 1
            await queue.put(first)
            async for recording in listing:
                tally.listed += 1
                await queue.put(recording)
        listing_done = True
        waiting = held[:]
        held.clear()
        for verified in waiting:
            await queue.put(verified)
        for _ in range(concurrency):
            await queue.put(None)

    tasks: list[asyncio.Task[None]] = []
    try:
        tasks = [asyncio.create_task(produce()), *(asyncio.create_task(worker())
                                                    for _ in range(concurrency))]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if (error := task.exception()) is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # a file renamed into place gets its manifest line before the export returns
        # (even cancelled); shielded, so that a second cancellation cannot leave the
        # manifest open (a commit still running then appends by reopening it)
        try:
            await asyncio.shield(asyncio.gather(*committing, return_exceptions=True))
        finally:
            await asyncio.shield(asyncio.to_thread(manifest.close))
    return ExportReport(
        directory=directory, manifest=manifest.path, listed=tally.listed,
        downloaded=tally.downloaded, skipped=tally.skipped, deleted=tally.deleted,
        bytes_downloaded=tally.bytes_downloaded, failures=tuple(tally.failures),
        concurrency=concurrency, elapsed=time.perf_counter() - started,
    )
