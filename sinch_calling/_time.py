"""Wire timestamps: how Sinch writes them and every form it (or a backend) may send.

Pure: no I/O. Sinch sends ISO-8601 with ``Z`` or an offset, with or without fractions,
and sometimes with no zone at all (which means UTC); it expects ``2023-11-22T09:10:11.999Z``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["format_timestamp", "millis_timestamp", "now_timestamp", "parse_timestamp"]

_last: tuple[int, str] = (-1, "")


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``: ``2023-11-22T09:10:11.999Z``.

    A naive ``moment`` is taken as UTC. Raises ``OverflowError`` when the moment has no
    UTC equivalent (``datetime.min`` with a positive offset);
    :func:`sinch_calling.validation.moment` checks arguments for that first.
    """
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
            f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z")


def now_timestamp() -> str:
    """:func:`format_timestamp` of now (the system clock, as ``datetime.now``), the text
    made once per millisecond: the requests signed within one share it."""
    global _last
    millis = time.time_ns() // 1_000_000
    cached = _last
    if cached[0] == millis:
        return cached[1]
    text = millis_timestamp(millis)
    _last = (millis, text)
    return text


def millis_timestamp(millis: int) -> str:
    """:func:`format_timestamp` of ``millis`` milliseconds since the Unix epoch (exact:
    no float on the way)."""
    seconds, rest = divmod(millis, 1000)
    return format_timestamp(datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest * 1000))


def parse_timestamp(text: str) -> datetime:
    """Parse any ISO-8601 form (``Z`` or an offset, fractions or none); naive means UTC.

    Raises ``ValueError`` for anything else.
    """
    value = text.strip()
    if value.endswith(("z", "Z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
