"""Results out of the ledger: JSON Lines or CSV, one line per row, in input order.

Each record: ``row``, ``line``, ``destination``, ``status``, ``call_id``, the error's
``error_kind``/``error_status``/``error_code``/``error_message``, and when tracked the
outcome's ``result``/``reason``/``duration``/``debit``/``currency``. Written on a thread
in blocks, so the event loop never waits on the disk and memory stays flat.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from ..errors import ValidationError
from .records import CallOutcome

__all__ = ["FIELDS", "export_results", "outcome_record"]

FIELDS = ("row", "line", "destination", "status", "call_id", "error_kind", "error_status",
          "error_code", "error_message", "result", "reason", "duration", "debit",
          "currency")
_BLOCK = 1000


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


async def export_results(outcomes: AsyncIterator[CallOutcome],
                         target: str | os.PathLike[str] | IO[str], *,
                         format: str = "jsonl") -> int:
    """Write ``outcomes`` to ``target`` (a path, written through a temporary file and
    renamed when complete, or an open text stream) as ``"jsonl"`` or ``"csv"``; return
    the count. Raises :class:`ValidationError` for another format."""
    if format not in ("jsonl", "csv"):
        raise ValidationError("format", f"must be 'jsonl' or 'csv'; got {format!r}")
    own = isinstance(target, str | os.PathLike)
    final = Path(target) if own else None  # type: ignore[arg-type]
    partial = None if final is None else final.with_name(final.name + ".partial")
    stream: IO[str] = (await asyncio.to_thread(open, partial, "w", encoding="utf-8",
                                               newline="")
                       if partial is not None else target)  # type: ignore[assignment]
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
                await asyncio.to_thread(stream.write, block.getvalue())
                block.seek(0)
                block.truncate()
                pending = 0
        await asyncio.to_thread(stream.write, block.getvalue())
        await asyncio.to_thread(stream.flush)
    except BaseException:
        if partial is not None:
            await asyncio.to_thread(stream.close)
            await asyncio.to_thread(partial.unlink, True)
        raise
    if partial is not None and final is not None:
        await asyncio.to_thread(stream.close)
        await asyncio.to_thread(os.replace, partial, final)
    return count
