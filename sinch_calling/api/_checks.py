"""Argument checks shared by the traffic endpoints (callouts, calls, conferences)."""

from __future__ import annotations

import re

from ..errors import ValidationError
from ..models import Destination, DestinationType
from ..validation import e164, http_url, non_empty

__all__ = ["callback", "destination", "dtmf", "flag", "optional_text", "positive_int"]

_DTMF = re.compile(r"[0-9*#wW]+")


def destination(field: str, value: object) -> Destination:
    """A ``str`` is a PSTN number (E.164); a :class:`Destination` needs an endpoint, and
    an E.164 one when its type is ``number``."""
    if isinstance(value, str):
        return Destination.number(e164(field, value))
    if not isinstance(value, Destination):
        raise ValidationError(field, "must be an E.164 number string or a Destination; "
                                     f"got {type(value).__name__}")
    non_empty(f"{field}.endpoint", value.endpoint)
    if value.type == DestinationType.NUMBER:
        e164(f"{field}.endpoint", value.endpoint)
    return value


def dtmf(field: str, value: object) -> str | None:
    """DTMF to send: 0-9, ``*``, ``#`` and ``w`` (a 500 ms pause)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _DTMF.fullmatch(value):
        raise ValidationError(field, f"must be DTMF: one or more of 0-9 * # w; got {value!r}")
    return value


def positive_int(field: str, value: object) -> int | None:
    """A whole number >= 1 (seconds, counts), or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(field, f"must be a whole number >= 1; got {value!r}")
    return value


def flag(field: str, value: object) -> bool | None:
    """``True``, ``False`` or ``None``."""
    if value is not None and not isinstance(value, bool):
        raise ValidationError(field, f"must be True or False; got {value!r}")
    return value


def optional_text(field: str, value: object, *, blank: bool = False) -> str | None:
    """A string (non-blank unless ``blank``), or ``None``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string; got {type(value).__name__}")
    return value if blank else non_empty(field, value)


def callback(field: str, value: object) -> str | None:
    """A custom callout's event handler: a callback URL, or a :class:`Svaml` sent inline
    as the compact JSON text Sinch expects (checked against what Sinch accepts for that
    event: ICE takes only ``connectPstn``; DiCE takes no SVAML)."""
    if value is None:
        return None
    if isinstance(value, str):
        return http_url(field, value)
    from ..svaml import Svaml, check_answer  # SVAML machinery loads on first use

    if isinstance(value, Svaml):
        if field == "dice":
            raise ValidationError(field, "must be a callback URL: DiCE is answered with no SVAML")
        check_answer(value, field, field=field)
        if field == "ice" and value.action is not None and value.action.name != "connectPstn":
            raise ValidationError(f"{field}.action", "a custom callout's inline ICE answer "
                                                     "must be connectPstn")
        return value.to_json()
    raise ValidationError(field, f"must be an http(s) URL or a svaml.Svaml; "
                                 f"got {type(value).__name__}")
