"""Argument checks run before any request is sent; each failure names the field and rule."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import TypeVar

from yarl import URL

from .errors import ValidationError

__all__ = ["e164", "e164_list", "http_url", "non_empty", "one_of"]

E = TypeVar("E", bound=enum.Enum)

_E164 = re.compile(r"\+[0-9]{1,15}")


def non_empty(field: str, value: object) -> str:
    """A non-blank string."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, f"must be a non-empty string; got {value!r}")
    return value


def e164(field: str, value: object) -> str:
    """A phone number in E.164 form: ``+`` then 1 to 15 digits, nothing else."""
    text = non_empty(field, value)
    if not _E164.fullmatch(text):
        raise ValidationError(field, f"must be an E.164 number, '+' then digits only; got {text!r}")
    return text


def e164_list(field: str, values: Iterable[str] | str) -> tuple[str, ...]:
    """One or more E.164 numbers (a lone string counts as one)."""
    items = (values,) if isinstance(values, str) else tuple(values)
    if not items:
        raise ValidationError(field, "must contain at least one number")
    return tuple(e164(f"{field}[{i}]", v) for i, v in enumerate(items))


def http_url(field: str, value: object) -> str:
    """An absolute ``http://`` or ``https://`` URL."""
    text = non_empty(field, value)
    try:
        url = URL(text)
    except (ValueError, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ValidationError(field, f"must be an absolute http(s) URL; got {text!r}")
    return text


def one_of(field: str, value: object, choices: type[E]) -> E:
    """A member of the enum ``choices``, given as the member or its value (any case)."""
    try:
        return choices(value)
    except ValueError:
        allowed = ", ".join(str(c.value) for c in choices)
        raise ValidationError(field, f"must be one of {allowed}; got {value!r}") from None
