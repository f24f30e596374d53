"""Option types: each turns the text typed into a value or says the rule in words
(argparse then names the flag as typed and exits 2)."""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime

from ..validation import http_url

__all__ = [
    "count",
    "non_negative_seconds",
    "port_number",
    "positive_int",
    "positive_rate",
    "positive_seconds",
    "seconds_or_none",
    "text",
    "timestamp",
    "url",
]


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {value!r}")
    return number


def positive_seconds(value: str) -> float:
    """Seconds, more than 0."""
    number = _number(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive seconds; got {value!r}")
    return number


def non_negative_seconds(value: str) -> float:
    """Seconds, 0 or more."""
    number = _number(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds; got {value!r}")
    return number


def positive_rate(value: str) -> float:
    """Calls per second, more than 0."""
    number = _number(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 calls per second; got {value!r}")
    return number


def seconds_or_none(value: str) -> float | None:
    """``none`` or positive seconds."""
    if value.strip().lower() == "none":
        return None
    try:
        return positive_seconds(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be positive seconds or 'none'; got {value!r}") from None


def _integer(value: str, low: int) -> int:
    text = value.strip()
    if not text.lstrip("-").isdigit() or not text.isascii():
        raise argparse.ArgumentTypeError(f"must be a whole number; got {value!r}")
    number = int(text)
    if number < low:
        raise argparse.ArgumentTypeError(f"must be {low} or more; got {value!r}")
    return number


def positive_int(value: str) -> int:
    """A whole number, 1 or more."""
    return _integer(value, 1)


def count(value: str) -> int:
    """A whole number, 0 or more."""
    return _integer(value, 0)


def port_number(value: str) -> int:
    """A TCP port, 0 to 65535 (0 picks a free one)."""
    number = _integer(value, 0) if value.strip().isdigit() else -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535; got {value!r}")
    return number


def timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp; without a zone it means UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"must be an ISO-8601 timestamp such as 2024-05-01T00:00:00Z; got {value!r}"
        ) from None


def url(value: str) -> str:
    """An absolute http(s) URL."""
    try:
        return http_url("url", value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an absolute http(s) URL; got {value!r}") from None


def text(value: str) -> str:
    """Non-blank text."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value
