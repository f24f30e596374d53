"""Everything the command prints: tables for people, one JSON document for programs,
one-line confirmations, notes and warnings.

stdout carries the result only (a table, tab-separated lines when piped, or with
``--json`` exactly one JSON document); notes, warnings, progress and errors go to
stderr. ``--quiet`` drops confirmations and notes (and, for a mutation, leaves only
the identifier it produced, if any).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..serialization import converter

__all__ = ["Output", "quiet_stdout", "to_json"]

Cell = str | int | float | bool | None


def to_json(value: Any) -> Any:
    """A model, enum, datetime or container as plain JSON data (wire names, camelCase)."""
    return converter.unstructure(value)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)


def dumps(value: Any) -> str:
    """One JSON document, indented for people, UTF-8 kept."""
    return json.dumps(to_json(value), indent=2, ensure_ascii=False, default=_default)


def cell(value: Any) -> str:
    """A table cell: empty for None, ISO for timestamps, the value of an enum; control
    characters (a server's text may hold any) blanked, tabs and newlines too."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return text if text.isprintable() else "".join(c if c.isprintable() else "\ufffd"
                                                    for c in text)


class Output:
    """The command's printer, configured by the global options."""

    def __init__(self, *, json_mode: bool = False, quiet: bool = False,
                 stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.console = Console(file=self.stdout, highlight=False, soft_wrap=False)
        self.errors = Console(file=self.stderr, highlight=False, soft_wrap=True)

    @property
    def for_people(self) -> bool:
        """Is stdout a terminal (tables and colours) rather than a pipe or a file?"""
        return self.console.is_terminal

    # -- results ------------------------------------------------------------------------

    def document(self, value: Any) -> None:
        """Print one JSON document on stdout."""
        self.stdout.write(dumps(value) + "\n")
        self.stdout.flush()

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
              title: str | None = None, empty: str | None = None) -> None:
        """A table on a terminal; tab-separated lines without a header in a pipe."""
        rows = [[cell(v) for v in row] for row in rows]
        if not rows and empty:
            self.note(empty)
            return
        if not self.for_people:
            for row in rows:
                self.stdout.write("\t".join(row) + "\n")
            self.stdout.flush()
            return
        table = Table(title=title, title_justify="left", header_style="bold")
        for name in columns:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*(escape(v) for v in row))
        self.console.print(table)

    def record(self, pairs: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
        """One object: a two-column table on a terminal, ``field<TAB>value`` in a pipe."""
        rows = [(name, value) for name, value in pairs if value is not None]
        if not self.for_people:
            self.table(("field", "value"), rows)
            return
        table = Table(title=title, title_justify="left", show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for name, value in rows:
            table.add_row(escape(name), escape(cell(value)))
        self.console.print(table)

    async def stream(self, items: AsyncIterator[Any], render: Callable[[list[Any]], None],
                     *, batch: int = 100) -> int:
        """Print an (async) listing as it arrives: a JSON array written item by item
        with ``--json``, else ``render`` once per batch. Returns the item count."""
        count = 0
        pending: list[Any] = []
        if self.json_mode:
            self.stdout.write("[")
        async for item in items:
            if self.json_mode:
                text = dumps(item).replace("\n", "\n  ")
                self.stdout.write(("," if count else "") + "\n  " + text)
            else:
                pending.append(item)
                if len(pending) >= batch and not self.for_people:
                    render(pending)
                    pending = []
            count += 1
        if self.json_mode:
            self.stdout.write("\n]\n" if count else "]\n")
            self.stdout.flush()
        elif pending or count == 0:
            render(pending)
        return count

    def done(self, message: str, document: Any, *, value: str | None = None) -> None:
        """Confirm a mutation in one line (``document`` with ``--json``; with
        ``--quiet`` only ``value``, the identifier it produced, if any)."""
        if self.json_mode:
            self.document(document)
        elif self.quiet:
            if value is not None:
                self.stdout.write(value + "\n")
                self.stdout.flush()
        else:
            self.console.print(message, markup=False, soft_wrap=True)

    # -- to stderr ----------------------------------------------------------------------

    def note(self, message: str) -> None:
        """Information for people, on stderr (dropped by --quiet)."""
        if not self.quiet:
            self.errors.print(message, markup=False)

    def warn(self, message: str) -> None:
        """A warning on stderr, shown even with --quiet."""
        self.errors.print(f"warning: {message}", markup=False)

    def error(self, message: str) -> None:
        """The one-line error of a failed command."""
        self.errors.print(f"sinch-calling: error: {message}", markup=False, soft_wrap=True)


def quiet_stdout() -> None:
    """The reader of standard output went away (``| head``): send the rest to
    ``os.devnull``, so nothing more fails, the interpreter's final flush included."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
