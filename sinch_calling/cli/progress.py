"""Progress of long commands (campaigns, exports), on stderr.

On a terminal, a rich progress bar; without one (a log file, CI), one plain line
every few seconds plus a last one at the end; nothing with ``--no-progress`` or
``--quiet``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

__all__ = ["PLAIN_EVERY", "Tracker", "tracker"]

PLAIN_EVERY = 5.0
"""Seconds between plain progress lines when stderr is not a terminal."""


class Tracker(Protocol):
    """Receives the running totals of a long command."""

    def update(self, completed: int, total: int | None = None, **fields: Any) -> None:
        """The numbers so far (``fields``: the kind-specific counters)."""

    def close(self) -> None:
        """Draw the final state and stop."""


class _Null:
    def update(self, completed: int, total: int | None = None, **fields: Any) -> None:
        pass

    def close(self) -> None:
        pass


class _Plain:
    """A line every :data:`PLAIN_EVERY` seconds (the first one at once) and at the end."""

    def __init__(self, stream: IO[str], describe: Callable[[int, int | None, dict[str, Any],
                                                             float], str],
                 every: float = PLAIN_EVERY) -> None:
        self._stream = stream
        self._describe = describe
        self._every = every
        self._started = time.monotonic()
        self._last: float | None = None
        self._state: tuple[int, int | None, dict[str, Any]] | None = None

    def update(self, completed: int, total: int | None = None, **fields: Any) -> None:
        self._state = (completed, total, fields)
        now = time.monotonic()
        if self._last is None or now - self._last >= self._every:
            self._last = now
            self._write()

    def _write(self) -> None:
        if self._state is None:
            return
        completed, total, fields = self._state
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self._stream.write(self._describe(completed, total, fields, elapsed) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._write()
        self._state = None


class _Bar:
    def __init__(self, console: Console, label: str, kind: str) -> None:
        columns: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn(),
                              MofNCompleteColumn()]
        if kind == "export":  # the bar counts files; bytes and speed ride along as fields
            columns += [TextColumn("files {task.fields[size]} {task.fields[speed]}"),
                        TextColumn("{task.fields[extra]}")]
        else:
            columns += [TaskProgressColumn(), TextColumn("placed {task.fields[placed]}"),
                        TextColumn("failed {task.fields[failed]}"),
                        TextColumn("{task.fields[speed]}")]
        columns.append(TimeRemainingColumn())
        self._kind = kind
        self._started = time.monotonic()
        self._progress = Progress(*columns, console=console, transient=False,
                                  refresh_per_second=8)
        self._task = self._progress.add_task(label, total=None, placed=0, failed=0,
                                             size="", speed="", extra="")
        self._progress.start()

    def update(self, completed: int, total: int | None = None, **fields: Any) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        shown: dict[str, Any] = {}
        if self._kind == "export":
            size = int(fields.get("bytes", 0))
            shown["size"] = _bytes(size)
            shown["speed"] = f"{_bytes(int(size / elapsed))}/s"
            failed = int(fields.get("failed", 0))
            shown["extra"] = f"failed {failed}" if failed else ""
        else:
            shown["placed"] = fields.get("placed", 0)
            shown["failed"] = int(fields.get("failed", 0)) + int(fields.get("uncertain", 0))
            shown["speed"] = f"{completed / elapsed:.1f} calls/s"
        self._progress.update(self._task, completed=completed, total=total, **shown)

    def close(self) -> None:
        self._progress.stop()


def _bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _plain_campaign(label: str) -> Callable[[int, int | None, dict[str, Any], float], str]:
    def describe(completed: int, total: int | None, fields: dict[str, Any],
                 elapsed: float) -> str:
        of = f"/{total}" if total is not None else ""
        counts = ", ".join(f"{name} {value}" for name, value in fields.items())
        line = f"{label}: {completed}{of} rows done"
        line += f", {counts}" if counts else ""
        return line + f", {completed / elapsed:.1f} rows/s, {elapsed:.0f} s"
    return describe


def _plain_export(label: str) -> Callable[[int, int | None, dict[str, Any], float], str]:
    def describe(completed: int, total: int | None, fields: dict[str, Any],
                 elapsed: float) -> str:
        size = int(fields.get("bytes", 0))
        of = f" of {total} listed" if total is not None else ""
        failed = int(fields.get("failed", 0))
        files = "file" if completed == 1 else "files"
        return (f"{label}: {completed} {files}{of}, {_bytes(size)}, "
                f"{_bytes(int(size / elapsed))}/s"
                + (f", {failed} failed" if failed else "") + f", {elapsed:.0f} s")
    return describe


def tracker(label: str, kind: str, *, stderr: IO[str], enabled: bool,
            terminal: bool | None = None) -> Tracker:
    """A progress tracker for a ``"campaign"`` or an ``"export"``: a bar when stderr is
    a terminal, plain lines when it is not, nothing when ``enabled`` is False."""
    if not enabled:
        return _Null()
    console = Console(file=stderr, highlight=False)
    on_terminal = console.is_terminal if terminal is None else terminal
    if on_terminal:
        return _Bar(console, label, kind)
    describe = _plain_export(label) if kind == "export" else _plain_campaign(label)
    return _Plain(stderr, describe)
