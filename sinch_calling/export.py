"""Bulk export: list a time window, download everything, keep a manifest, report.

The export is resumable and idempotent. Each completed file appends one JSON line
to the manifest (``key, path, size, sha256, created_on``) in the same worker-thread
step that renames the file into place, so the manifest never names a file that is
not complete. A later run skips recordings whose manifest entry matches the file on
disk, resumes ``.part`` files left by an interrupted run, and downloads the rest.

Failures of single recordings are collected, not raised; an error while listing
stops the export and propagates (what was downloaded stays in the manifest).

With ``delete`` (``delete_after``), nothing is deleted before the listing is complete:
the listing is read page by page while downloads run, and deleting a recording
would shift later ones into pages already read, so they would never be listed.
Recordings verified before then wait (their keys only) and are deleted, then
reported, once the last page has been read; after that each is deleted as soon as
its file is verified. So that this wait is short, the listing is then read ahead
without bound (the entries are kept in memory, never the bodies).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Literal

import attrs

from .auth import format_timestamp
from .errors import SinchError, ValidationError
from .filenames import file_name_for_key
from .models import Recording
from .sinks import part_paths

__all__ = [
    "MANIFEST_NAME",
    "ExportFailure",
    "ExportProgress",
    "ExportReport",
    "ManifestEntry",
    "read_manifest",
    "run_export",
]

MANIFEST_NAME = "manifest.jsonl"

Fetch = Callable[[str, Path, bool, Callable[[int, str | None], None]], Awaitable[int]]
"""``fetch(key, target, resume, then) -> bytes received``: one download."""

Outcome = Literal["downloaded", "skipped", "failed"]


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


@attrs.frozen(kw_only=True)
class ExportFailure:
    """A recording that could not be exported (``stage="download"``) or deleted
    after its export (``stage="delete"``)."""

    key: str
    stage: Literal["download", "delete"]
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


class _Manifest:
    """The manifest file, appended to from worker threads.

    Opening, appending and closing hold one lock, so closing waits for an append in
    progress; a file still finishing after the export was torn down (a cancelled
    commit completes in its thread) appends its line by opening the file again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._closed = False

    def open(self) -> None:
        with self._lock:
            if not self._closed and self._file is None:
                self._file = _open_for_append(self.path)

    def append(self, entry: ManifestEntry) -> None:
        line = entry.to_line()
        with self._lock:
            if self._file is None:
                with _open_for_append(self.path) as late:
                    late.write(line)
                return
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()
                self._file = None


def _scan(directory: Path, manifest: Path) -> tuple[dict[str, int], dict[str, ManifestEntry]]:
    """Create the directory; the sizes of the files in it and the manifest (blocking)."""
    directory.mkdir(parents=True, exist_ok=True)
    sizes = {}
    with os.scandir(directory) as entries:
        for item in entries:
            if item.is_file(follow_symlinks=False):
                sizes[item.name] = item.stat(follow_symlinks=False).st_size
    return sizes, read_manifest(manifest)


def _check_manifest_name(name: object) -> str:
    if not isinstance(name, str) or file_name_for_key(name) != name:
        raise ValidationError("manifest", f"must be a plain file name; got {name!r}")
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
    directory: Path,
    recordings: AsyncIterator[Recording],
    *,
    fetch: Fetch,
    delete: Callable[[str], Awaitable[None]] | None,
    concurrency: int,
    manifest_name: str = MANIFEST_NAME,
    progress: Callable[[ExportProgress], None] | None = None,
) -> ExportReport:
    """Export ``recordings`` into ``directory`` with ``concurrency`` workers (see the
    module docstring); ``delete`` (when given) runs for each verified file."""
    _check_manifest_name(manifest_name)
    started = time.perf_counter()
    manifest = _Manifest(directory / manifest_name)
    sizes, exported = await asyncio.to_thread(_scan, directory, manifest.path)
    tally = _Tally()
    reserved = frozenset({manifest_name})
    listing_done = False
    held: list[_Verified] = []  # verified before the listing was complete: delete later

    def report(key: str, outcome: Outcome, path: Path | None, size: int | None,
               deleted: bool) -> None:
        tally.completed += 1
        if progress is not None:
            progress(ExportProgress(
                key=key, outcome=outcome, path=path, size=size, deleted=deleted,
                completed=tally.completed, listed=tally.listed,
                bytes_downloaded=tally.bytes_downloaded,
            ))

    def fail(key: str, stage: Literal["download", "delete"], exc: BaseException) -> None:
        tally.failures.append(ExportFailure(key=key, stage=stage, error=str(exc) or repr(exc),
                                            exception=exc))

    async def export_one(recording: Recording) -> None:
        key = recording.key
        name = file_name_for_key(key, reserved=reserved)
        target = directory / name
        known = exported.get(key)
        size: int | None
        if known is not None and known.path == name and sizes.get(name) == known.size:
            outcome: Outcome = "skipped"
            size = known.size
            tally.skipped += 1
        else:
            created = (format_timestamp(recording.created_on)
                       if isinstance(recording.created_on, datetime) else None)

            written_size: list[int] = []

            def record(written: int, sha256: str | None) -> None:
                manifest.append(ManifestEntry(key=key, path=name, size=written,
                                              sha256=sha256, created_on=created))
                written_size.append(written)

            resume = part_paths(target)[0].name in sizes
            try:
                received = await fetch(key, target, resume, record)
            except (SinchError, OSError) as exc:
                fail(key, "download", exc)
                report(key, "failed", None, None, False)
                return
            tally.bytes_downloaded += received
            outcome, size = "downloaded", written_size[0] if written_size else None
            tally.downloaded += 1
        verified = _Verified(key, outcome, target, size)
        if delete is not None and not listing_done:
            held.append(verified)  # no await since the check: the listing can't end between
            return
        await finish(verified)

    async def finish(verified: _Verified) -> None:
        deleted = False
        if delete is not None:
            try:
                await delete(verified.key)
            except SinchError as exc:
                fail(verified.key, "delete", exc)
            else:
                deleted = True
                tally.deleted += 1
        report(verified.key, verified.outcome, verified.path, verified.size, deleted)

    # With deletes, the listing may run ahead unbounded (entries, never bodies) so that
    # it completes early and deletions (and their progress reports) are not held long.
    ahead = 0 if delete is not None else 2 * concurrency
    queue: asyncio.Queue[Recording | _Verified | None] = asyncio.Queue(maxsize=ahead)

    async def worker() -> None:
        while (job := await queue.get()) is not None:
            if isinstance(job, _Verified):
                await finish(job)
            else:
                await export_one(job)

    async def produce() -> None:
        nonlocal listing_done
        seen: set[str] = set()
        async for recording in recordings:
            if recording.key in seen:
                continue  # the listing shifted between pages
            seen.add(recording.key)
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
        await asyncio.to_thread(manifest.open)
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
        # shielded: a second cancellation must not leave the file open
        await asyncio.shield(asyncio.to_thread(manifest.close))
    return ExportReport(
        directory=directory, manifest=manifest.path, listed=tally.listed,
        downloaded=tally.downloaded, skipped=tally.skipped, deleted=tally.deleted,
        bytes_downloaded=tally.bytes_downloaded, failures=tuple(tally.failures),
        concurrency=concurrency, elapsed=time.perf_counter() - started,
    )
