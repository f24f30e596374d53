"""Campaign input: CSV files and plain number lists, streamed, and one row's columns.

    async for row in read_rows("crm-export.csv"):      # or "-" for stdin, or a file object
        row.line, row.data                              # 3, {"phone": "+46...", ...}

A file whose first non-blank line is a header (it names columns, separated by ``,``,
``;`` or tab) is read as CSV with that header; a file whose first line is a phone number
(no separator) is a plain list, one number per line, read as the column ``number``.
A UTF-8 byte order mark (Excel's "CSV UTF-8"), CRLF line ends, blank lines, spaces
around header names and empty columns at the end of the header (Excel's trailing
separators) are taken in stride.

Lines are bounded: a line longer than :data:`MAX_LINE` characters (64 KiB) is never
held whole (it is read in bounded pieces and skipped); its row becomes invalid with an
excerpt of it, and so does a CSV row whose text exceeds :data:`MAX_LINE` (a quoted
field spanning lines included). A header line that long is refused. The file is read
on a thread, a few thousand rows at a time: a million rows never sit in memory at once
and the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import IO

import attrs

from ..errors import ValidationError

__all__ = ["MAX_LINE", "InputRow", "excerpt", "read_rows"]

_NUMBERISH = re.compile(r"\s*\+?[0-9][0-9 ().-]*\s*")
# A phone number inside a field's later line: a row a quote left open swallowed.
_PHONEISH = re.compile(r"\s*\+?(?:[ ().-]*[0-9]){7,}[ ().-]*\s*")
_SEPARATORS = (",", ";", "\t")
_BATCH = 2000
_CHUNK = 8192

MAX_LINE = 65536
"""The longest input line, and the most text one row may hold, in characters."""


def excerpt(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters with its full length
    said when longer (a row's message never copies a huge value)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


class _Lines:
    """The physical lines of a stream, each at most :data:`MAX_LINE` characters: a
    longer line is read in bounded pieces, dropped, and given as ``"\\n"`` with its
    number and an excerpt in :attr:`oversize` (the reader reports it)."""

    def __init__(self, stream: IO[str], line_no: int = 0) -> None:
        self.stream = stream
        self.line_no = line_no
        self.oversize: list[tuple[int, str, int]] = []  # (line, first chars, length)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        text = self.stream.readline(MAX_LINE + 1)
        if not text:
            raise StopIteration
        # A decoder may give a short piece before the line ends (multi-byte text read
        # by bytes): keep reading until the line ends, the stream ends or it is too long.
        while not text.endswith(("\n", "\r")) and len(text) <= MAX_LINE:
            more = self.stream.readline(MAX_LINE + 1 - len(text))
            if not more:
                break
            text += more
        self.line_no += 1
        if len(text) <= MAX_LINE or text.endswith(("\n", "\r")):
            return text
        size = len(text)
        head = text[:40]
        while True:  # drain the rest of the line, a bounded piece at a time
            piece = self.stream.readline(_CHUNK)
            size += len(piece)
            if not piece or piece.endswith(("\n", "\r")):
                size -= len(piece) - len(piece.rstrip("\r\n"))  # the line end
                break
        self.oversize.append((self.line_no, head, size))
        return "\n"


def _too_long(line: int, head: str, size: int) -> str:
    return (f"line {line} is {size} characters long, over the limit of {MAX_LINE} "
            f"(starts {head!r})")


@attrs.frozen(kw_only=True)
class InputRow:
    """One row of input: ``data`` maps column names to text; ``line`` is the file line
    it ended on (1-based, for messages; ``None`` for rows not read from a file);
    ``columns`` the file's header (shared by every row of the file); ``problem`` says
    why the row cannot be used as read (for example more fields than the header), which
    preflight reports as an invalid row."""

    data: Mapping[str, str]
    line: int | None = None
    columns: tuple[str, ...] | None = None
    problem: str | None = None


def _open(source: str | os.PathLike[str] | IO[str] | IO[bytes]) -> tuple[IO[str], bool, str]:
    """A text stream decoding UTF-8 (BOM dropped), whether we own it, and its name."""
    if isinstance(source, str | os.PathLike):
        if str(source) == "-":
            return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="",
                                    errors="strict"), False, "stdin"
        path = Path(source)
        try:
            return path.open(encoding="utf-8-sig", newline=""), True, str(path)
        except FileNotFoundError:
            raise ValidationError("file", f"no such file: {path}") from None
        except IsADirectoryError:
            raise ValidationError("file", f"is a directory, not a file: {path}") from None
        except PermissionError:
            raise ValidationError("file", f"cannot read {path}: permission denied") from None
    if isinstance(source, io.TextIOBase):
        return source, False, getattr(source, "name", "input")
    if hasattr(source, "read"):
        reader = codecs.getreader("utf-8-sig")(source)  # type: ignore[arg-type]
        return reader, False, str(getattr(source, "name", "input"))  # type: ignore[return-value]
    raise ValidationError("file", "must be a path, '-' for stdin, or an open file")


def _rows(stream: IO[str], name: str) -> Iterator[InputRow]:
    """Rows of one stream (synchronous; run on a thread)."""
    # Find the first non-blank line to decide between a header and a plain list.
    lines = _Lines(stream)
    first = ""
    for raw in lines:
        if lines.oversize:
            line, head, size = lines.oversize.pop()
            raise ValidationError("file", f"{name}: {_too_long(line, head, size)}; the "
                                          "first line must be a header or a number")
        first = raw.strip("\r\n")
        if first.strip():
            break
    else:
        return
    line_no = lines.line_no
    if first.startswith("\ufeff"):
        first = first[1:]  # a second BOM (a file re-saved with one, read as text)
    if not any(sep in first for sep in _SEPARATORS) and _NUMBERISH.fullmatch(first):
        yield from _numbers(first, line_no, lines)
        return
    separator = max(_SEPARATORS, key=first.count)
    header = next(csv.reader([first], delimiter=separator))
    columns = tuple(column.strip() for column in header)
    while columns and not columns[-1]:
        columns = columns[:-1]  # Excel's trailing separators: empty columns at the end
    if columns and _NUMBERISH.fullmatch(columns[0]):
        raise ValidationError("file", f"{name} line {line_no} looks like data, not a "
                                      "header: a CSV file needs a header row naming its "
                                      "columns (for example: number,first_name)")
    seen: set[str] = set()
    for index, column in enumerate(columns):
        if not column:
            raise ValidationError("file", f"{name} line {line_no}: the header's column "
                                          f"{index + 1} has an empty name")
        if column in seen:
            raise ValidationError("file", f"{name} line {line_no}: the header names column "
                                          f"{column!r} twice")
        seen.add(column)
    reader = csv.reader(lines, delimiter=separator)
    while True:
        problem = None
        start = lines.line_no + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over the csv module's limit: this row only
            fields = []
            problem = f"line {lines.line_no}: {exc}"
        line = lines.line_no
        if lines.oversize:
            problem = _too_long(*lines.oversize[0])
            lines.oversize.clear()
        elif problem is None and sum(len(f) for f in fields) > MAX_LINE:
            problem = (f"holds {sum(len(f) for f in fields)} characters, over the limit "
                       f"of {MAX_LINE}")
        if problem is not None:
            yield InputRow(data={c: f[:40] for c, f in zip(columns, fields, strict=False)},
                           line=line, columns=columns, problem=problem)
            continue
        if not any(field.strip() for field in fields):
            continue  # blank line (or only separators)
        if len(fields) > len(columns) and any(f.strip() for f in fields[len(columns):]):
            problem = (f"has {len(fields)} fields but the header names {len(columns)} "
                       "columns")
        elif line > start:
            problem = _swallowed(fields, columns, separator, start, line)
        yield InputRow(data=dict(zip(columns, fields, strict=False)), line=line,
                       columns=columns, problem=problem)


def _swallowed(fields: list[str], columns: tuple[str, ...], separator: str, start: int,
               end: int) -> str | None:
    """Why a row read over lines ``start``..``end`` looks like rows swallowed by a quote
    left open (a line inside a field holding a separated phone number), or None. Such a
    row is invalid, so the lines it swallowed are reported, not dialled under (or
    spoken to) the row that opened the quote."""
    for column, field in zip(columns, fields, strict=False):
        inner = field.splitlines()[1:]
        rows = sum(1 for text in inner if separator in text and any(
            _PHONEISH.fullmatch(part) for part in text.split(separator)))
        if rows:
            return (f"lines {start} to {end} were read as one row: the quote that opens "
                    f"column {column!r} on line {start} runs to line {end} and holds "
                    f"{rows} line(s) that look like rows of their own; fix the quote "
                    "(nothing of these lines is dialled)")
    return None


def _numbers(first: str, line_no: int, lines: _Lines) -> Iterator[InputRow]:
    columns = ("number",)
    yield InputRow(data={"number": first.strip()}, line=line_no, columns=columns)
    for raw in lines:
        if lines.oversize:
            line, head, size = lines.oversize.pop()
            yield InputRow(data={"number": head}, line=line, columns=columns,
                           problem=_too_long(line, head, size))
            continue
        text = raw.strip()
        if text:
            yield InputRow(data={"number": text}, line=lines.line_no, columns=columns)


def _next_batch(rows: Iterator[InputRow], name: str) -> list[InputRow]:
    batch: list[InputRow] = []
    try:
        for row in rows:
            batch.append(row)
            if len(batch) >= _BATCH:
                break
    except UnicodeDecodeError as exc:
        where = f"after line {batch[-1].line}" if batch and batch[-1].line else "near the start"
        raise ValidationError("file", f"{name} is not UTF-8 text ({where}: {exc.reason}); "
                                      "save it as 'CSV UTF-8'") from None
    except csv.Error as exc:
        raise ValidationError("file", f"{name}: {exc}") from None
    return batch


async def read_rows(
    source: str | os.PathLike[str] | IO[str] | IO[bytes],
) -> AsyncIterator[InputRow]:
    """Stream the rows of a CSV file or number list (see the module docs).

    ``source``: a path, ``"-"`` for standard input, or an open text or binary file.
    Raises :class:`~sinch_calling.errors.ValidationError` (field ``file``) for a missing
    or unreadable file, a file that is not UTF-8, a header with empty or repeated names,
    or a CSV whose first line is data instead of a header.
    """
    stream, owned, name = await asyncio.to_thread(_open, source)
    try:
        rows = _rows(stream, name)
        while True:
            batch = await asyncio.to_thread(_next_batch, rows, name)
            for row in batch:
                yield row
            if len(batch) < _BATCH:
                return
    finally:
        if owned:
            await asyncio.to_thread(stream.close)
        elif isinstance(stream, io.TextIOWrapper) and stream is not source:
            stream.detach()  # our wrapper of stdin or a binary file: leave it open
