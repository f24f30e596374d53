"""Results out of the ledger: JSON Lines or CSV, one line per row, in input order.

Each record: ``row``, ``line``, ``destination``, ``status``, ``call_id``, the error's
``error_kind``/``error_status``/``error_code``/``error_message``, and when tracked the
outcome's ``result``/``reason``/``duration``/``debit``/``currency``. Written on a thread
in blocks, so the event loop never waits on the disk and memory stays flat. Writes to a
stream the caller gives go on a daemon thread of their own: one a reader never takes (a
stalled pipe) can be abandoned by a cancellation, and cannot hold up the process's exit
as a write in asyncio's default executor would.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from ..errors import ValidationError
from .records import CallOutcome

__all__ = ["FIELDS", "export_results", "outcome_record"]

FIELDS = ("row", "line", "destination", "status", "call_id", "error_kind", "error_status",
          "error_code", "error_message", "result", "reason", "duration", "debit",
          "currency")
_BLOCK = 1000
_T = TypeVar("_T")


def outcome_record(outcome: CallOutcome) -> dict[str, Any]:
    """One outcome as a flat mapping of :data:`FIELDS` (JSON-serialisable)."""
    error, final = outcome.error, outcome.outcome
    return {
        "row": outcome.row, "line": outcome.line, "destination": outcome.destination,
        "status": outcome.status, "call_id": outcome.call_id,
        "error_kind": None if error is None else error.kind,
        "error_status": None if error is None else error.status,
        "error_code": None if error is None else error.code,
        "error_message": None if error is None else error.message,
        "result": None if final is None else final.result,
        "reason": None if final is None else final.reason,
        "duration": None if final is None else final.duration,
        "debit": None if final is None else final.debit,
        "currency": None if final is None else final.currency,
    }


def _csv_safe(value: object) -> object:
    # A cell starting with = + - @ is a formula to spreadsheets: numbers like +4670...
    # are data, so only quote-prefix text that is not a phone number.
    if isinstance(value, str) and value[:1] in ("=", "-", "@", "+", "\t", "\r") \
            and not value[1:].isdigit():
        return "'" + value
    return value


async def _detached(call: Callable[[], _T]) -> _T:
    """``call()`` on a daemon thread of its own (see the module docs); its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: _T | None, error: BaseException | None) -> None:
        if future.done():  # the awaiting task was cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:  # handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="sinch-export-write", daemon=True).start()
    return await future


async def export_results(outcomes: AsyncIterator[CallOutcome],
                         target: str | os.PathLike[str] | IO[str], *,
                         format: str = "jsonl") -> int:
    """Write ``outcomes`` to ``target`` (a path, written through a temporary file and
    renamed when complete, or an open text stream) as ``"jsonl"`` or ``"csv"``; return
    the count. Raises :class:`ValidationError` for another format (``format``) or a
    directory (``target``). Cancelled while writing to a stream, the block being
    written may still land on it afterwards (its daemon thread is left to finish)."""
    if format not in ("jsonl", "csv"):
        raise ValidationError("format", f"must be 'jsonl' or 'csv'; got {format!r}")
    own = isinstance(target, str | os.PathLike)
    final = Path(target) if own else None  # type: ignore[arg-type]
    if final is not None and await asyncio.to_thread(final.is_dir):
        raise ValidationError("target", f"{final} is a directory; give a file path")
    partial = None if final is None else final.with_name(final.name + ".partial")
    stream: IO[str] = (await asyncio.to_thread(open, partial, "w", encoding="utf-8",
                                               newline="")
                       if partial is not None else target)  # type: ignore[assignment]

    async def write(text: str) -> None:
        if partial is not None:
            await asyncio.to_thread(stream.write, text)
        else:
            await _detached(lambda: stream.write(text))

    count = 0
    try:
        block = io.StringIO()
        writer = csv.DictWriter(block, FIELDS, lineterminator="\r\n") \
            if format == "csv" else None
        if writer is not None:
            writer.writeheader()
        pending = 0
        async for outcome in outcomes:
            record = outcome_record(outcome)
            if writer is not None:
                writer.writerow({k: _csv_safe(v) for k, v in record.items()})
            else:
                block.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                block.write("\n")
            count += 1
            pending += 1
            if pending >= _BLOCK:
                await write(block.getvalue())
                block.seek(0)
                block.truncate()
                pending = 0
        await write(block.getvalue())
        if partial is not None:
            await asyncio.to_thread(stream.flush)
            await asyncio.to_thread(stream.close)
            await asyncio.to_thread(os.replace, partial, final)  # type: ignore[arg-type]
        else:
            await _detached(stream.flush)
    except BaseException:
        if partial is not None:
            await asyncio.to_thread(stream.close)
            await asyncio.to_thread(partial.unlink, True)
        raise
    return count
