"""Campaign input: CSV files and plain number lists, streamed, and one row's columns.

    async for row in read_rows("crm-export.csv"):      # or "-" for stdin, or a file object
        row.line, row.data                              # 3, {"phone": "+46...", ...}

A file whose first non-blank line is a header (it names columns, separated by ``,``,
``;`` or tab) is read as CSV with that header; a file whose first line is a phone number
(no separator) is a plain list, one number per line, read as the column ``number``.
A UTF-8 byte order mark (Excel's "CSV UTF-8"), CRLF line ends, blank lines and spaces
around header names are taken in stride. The file is read on a thread, a few thousand
rows at a time: a million rows never sit in memory at once and the event loop never
waits on the disk.
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

__all__ = ["InputRow", "read_rows"]

_NUMBERISH = re.compile(r"\s*\+?[0-9][0-9 ().-]*\s*")
_SEPARATORS = (",", ";", "\t")
_BATCH = 2000


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
    line_no = 0
    first = ""
    for raw in stream:
        line_no += 1
        first = raw.strip("\r\n")
        if first.strip():
            break
    else:
        return
    if first.startswith("\ufeff"):
        first = first[1:]  # a second BOM (a file re-saved with one, read as text)
    if not any(sep in first for sep in _SEPARATORS) and _NUMBERISH.fullmatch(first):
        yield from _numbers(first, line_no, stream)
        return
    separator = max(_SEPARATORS, key=first.count)
    header = next(csv.reader([first], delimiter=separator))
    columns = tuple(column.strip() for column in header)
    if columns and _NUMBERISH.fullmatch(columns[0]):
        raise ValidationError("file", f"{name} line {line_no} looks like data, not a "
                                      "header: a CSV file needs a header row naming its "
                                      "columns (for example: number,first_name)")
    seen: set[str] = set()
    for column in columns:
        if not column:
            raise ValidationError("file", f"{name} line {line_no}: the header has an empty "
                                          "column name")
        if column in seen:
            raise ValidationError("file", f"{name} line {line_no}: the header names column "
                                          f"{column!r} twice")
        seen.add(column)
    reader = csv.reader(stream, delimiter=separator)
    for fields in reader:
        line = line_no + reader.line_num
        if not any(field.strip() for field in fields):
            continue  # blank line (or only separators)
        problem = None
        if len(fields) > len(columns) and any(f.strip() for f in fields[len(columns):]):
            problem = (f"has {len(fields)} fields but the header names {len(columns)} "
                       "columns")
        yield InputRow(data=dict(zip(columns, fields, strict=False)), line=line,
                       columns=columns, problem=problem)


def _numbers(first: str, line_no: int, stream: IO[str]) -> Iterator[InputRow]:
    columns = ("number",)
    yield InputRow(data={"number": first.strip()}, line=line_no, columns=columns)
    for raw in stream:
        line_no += 1
        text = raw.strip()
        if text:
            yield InputRow(data={"number": text}, line=line_no, columns=columns)


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
