"""Bulk export: list a time window, download everything, keep a manifest, report.

The export is resumable and idempotent. Each completed file appends one JSON line
to the manifest (``key, path, size, sha256, created_on``) in the same worker-thread
step that renames the file into place, so the manifest never names a file that is
not complete. A later run skips recordings whose manifest entry matches the file on
disk, resumes ``.part`` files left by an interrupted run, and downloads the rest.

Failures of single recordings are collected, not raised; an error while listing
stops the export and propagates (what was downloaded stays in the manifest).
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


class _Manifest:
    """The manifest file, appended to from worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        self._file = self.path.open("ab")

    def append(self, entry: ManifestEntry) -> None:
        with self._lock:
            assert self._file is not None
            self._file.write(entry.to_line())
            self._file.flush()

    def close(self) -> None:
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
    await asyncio.to_thread(manifest.open)
    tally = _Tally()
    reserved = frozenset({manifest_name})

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
        deleted = False
        if delete is not None:
            try:
                await delete(key)
            except SinchError as exc:
                fail(key, "delete", exc)
            else:
                deleted = True
                tally.deleted += 1
        report(key, outcome, target, size, deleted)

    queue: asyncio.Queue[Recording | None] = asyncio.Queue(maxsize=2 * concurrency)

    async def worker() -> None:
        while (recording := await queue.get()) is not None:
            await export_one(recording)

    async def produce() -> None:
        seen: set[str] = set()
        async for recording in recordings:
            if recording.key in seen:
                continue  # the listing shifted between pages
            seen.add(recording.key)
            tally.listed += 1
            await queue.put(recording)
        for _ in range(concurrency):
            await queue.put(None)

    tasks = [asyncio.create_task(produce()), *(asyncio.create_task(worker())
                                                for _ in range(concurrency))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if (error := task.exception()) is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(manifest.close)
    return ExportReport(
        directory=directory, manifest=manifest.path, listed=tally.listed,
        downloaded=tally.downloaded, skipped=tally.skipped, deleted=tally.deleted,
        bytes_downloaded=tally.bytes_downloaded, failures=tuple(tally.failures),
        concurrency=concurrency, elapsed=time.perf_counter() - started,
    )
