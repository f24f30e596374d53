"""Checks of the emulator's own options and helper arguments (not of API requests).

Each raises :class:`~sinch_calling.errors.ValidationError` (a ``ValueError``) naming the
option and the rule, so ``Emulator(realtime="no")`` or ``auth_window=float("nan")`` (a
NaN window would let every timestamp through) fail where they are written.
"""

from __future__ import annotations

import math

from ..errors import ValidationError
from .checks import is_e164

__all__ = ["flag", "number", "seconds", "text"]


def flag(field: str, value: object) -> bool:
    """``value`` if it is a ``bool`` (not ``"no"``, not ``0``)."""
    if not isinstance(value, bool):
        raise ValidationError(field, f"must be True or False; got {value!r}")
    return value


def seconds(field: str, value: object, *, none: bool = False, zero: bool = False) -> float:
    """``value`` as finite seconds, positive (or zero, with ``zero``); ``None`` passes
    through only with ``none`` (callers type it accordingly)."""
    rule = ("finite seconds, " + ("zero or more" if zero else "more than zero")
            + (", or None" if none else ""))
    if value is None and none:
        return None  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, f"must be {rule}; got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise ValidationError(field, f"must be {rule}; got {value!r}")
    return float(value)


def text(field: str, value: object, *, none: bool = False) -> str:
    """``value`` if it is a non-blank string (``None`` passes with ``none``)."""
    if value is None and none:
        return None  # type: ignore[return-value]
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, f"must be a non-empty string; got {value!r}")
    return value


def number(field: str, value: object) -> str:
    """``value`` if it is an E.164 number as Sinch's API takes it (``+46700000001``;
    a lone country code such as ``+46`` is not one)."""
    if not isinstance(value, str) or not is_e164(value):
        raise ValidationError(field, "must be an E.164 number, '+' then 7 to 15 digits "
                                     f"(+46700000001); got {value!r}")
    return value
