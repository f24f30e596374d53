"""Every argument rule, in one place: checks run before any request is sent.

Each check takes ``(field, value)``, returns the value (normalized where said) and raises
:class:`~sinch_calling.errors.ValidationError` naming the field and the rule. The same
checks guard attrs models (SVAML elements, callout options) through :func:`validator`,
which names the field ``Class.attribute``.

Sources of the rules: E.164 (ITU-T E.164: ``+`` and at most 15 digits), DTMF as Sinch's
SVAML reference spells it (0-9, ``*``, ``#``, ``w`` for a 500 ms pause), JSON (RFC 8259:
no NaN or infinity, text is Unicode scalar values, so no lone surrogates).
"""

from __future__ import annotations

import enum
import math
import re
import sys
import types
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, TypeVar, Union, get_args, get_origin

import attrs
from yarl import URL

from .errors import ValidationError

__all__ = [
    "INT32_MAX",
    "MAX_SECONDS",
    "as_tuple",
    "checked_fields",
    "dtmf",
    "e164",
    "e164_list",
    "flag",
    "http_url",
    "identifier",
    "is_whole",
    "moment",
    "non_empty",
    "non_negative_seconds",
    "one_of",
    "optional_text",
    "positive_int",
    "positive_seconds",
    "prompts",
    "text",
    "unstorable",
    "validator",
    "whole_number",
]

INT32_MAX: Final = 2**31 - 1
"""The largest whole number a check accepts unless told otherwise: Sinch's API types its
integers as 32-bit (the Java SDK's ``Integer``), and a count or a duration past it is a
mistake, never a request Sinch would take."""
MAX_SECONDS: Final = 1_000_000_000
"""The longest duration (about 31.7 years) a seconds check accepts: beyond it a value is a
mistake, and ``timedelta`` and event-loop timers could not all represent it."""

E = TypeVar("E", bound=enum.Enum)
V = TypeVar("V")

_E164 = re.compile(r"\+[0-9]{1,15}")
_DTMF = re.compile(r"[0-9*#wW]+")


def is_whole(value: object) -> bool:
    """True for an ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def _unicode(field: str, value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field, "must be valid Unicode text (no lone surrogates)") from None
    return value


_SPOKEN = re.compile(r"#(?:tts|ssml)\[(.*)\]", re.DOTALL)


def prompts(field: str, value: object) -> str:
    """Sinch's ``prompts``: ``;``-separated items, each the name of a pre-recorded file
    or ``#tts[text]`` (the callouts reference). ``ValidationError`` for an item that is
    empty or speaks nothing (``;;``, ``#tts[]``): Sinch would place a silent call."""
    checked = text(field, value)
    for number, item in enumerate(checked.split(";"), 1):
        spoken = _SPOKEN.fullmatch(item.strip())
        if not item.strip() or (spoken is not None and not spoken.group(1).strip()):
            raise ValidationError(field, f"item {number} of {checked!r} is empty: each "
                                         "';'-separated prompt is a file name or "
                                         "#tts[text]")
    return checked


def unstorable(value: str) -> str | None:
    """Why ``value`` can be neither sent nor stored, else ``None``: it ``"holds a NUL
    character (U+0000)"`` (PostgreSQL cannot store one, Sinch would not speak it) or
    ``"holds a character that is not Unicode text (a lone surrogate, U+D800 to
    U+DFFF)"`` (no UTF-8 encoding exists; only Python text, never a decoded file,
    holds one)."""
    if "\x00" in value:
        return "holds a NUL character (U+0000)"
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return ("holds a character that is not Unicode text (a lone surrogate, "
                    "U+D800 to U+DFFF)")
    return None


def text(field: str, value: object, *, blank: bool = False) -> str:
    """A string of valid Unicode text; non-blank unless ``blank``."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string; got {type(value).__name__}")
    if not blank and not value.strip():
        raise ValidationError(field, f"must be a non-empty string; got {value!r}")
    return _unicode(field, value)


def non_empty(field: str, value: object) -> str:
    """A non-blank string of valid Unicode text."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, f"must be a non-empty string; got {_show(value)}")
    return _unicode(field, value)


def identifier(field: str, value: object) -> str:
    """An identifier (call id, conference id, recording key, application key): a
    non-blank string of valid Unicode text without control characters.

    The one rule for both directions: an argument breaking it is a
    :class:`ValidationError` naming ``field``, and an id decoded from a response that
    breaks it is refused by the converter (an
    :class:`~sinch_calling.errors.InvalidResponseError`), so the library never hands
    out an id it would refuse back. Returns the value unchanged."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, f"must be a non-empty string; got {_show(value)}")
    if value.isascii():  # the usual id: printable ASCII has no control character
        if value.isprintable():
            return value
    else:
        _unicode(field, value)
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValidationError(field, f"must not contain control characters; got {_show(value)}")
    return value


def optional_text(field: str, value: object, *, blank: bool = False) -> str | None:
    """``None``, or a string (non-blank unless ``blank``) of valid Unicode text."""
    return None if value is None else text(field, value, blank=blank)


def e164(field: str, value: object) -> str:
    """A phone number in E.164 form: ``+`` then 1 to 15 digits, nothing else."""
    if not isinstance(value, str) or not _E164.fullmatch(value):
        raise ValidationError(field, f"must be an E.164 number, '+' then digits only; "
                                     f"got {_show(value)}")
    return value


def e164_list(field: str, values: Iterable[str] | str) -> tuple[str, ...]:
    """One or more E.164 numbers (a lone string counts as one)."""
    if isinstance(values, str):
        items: tuple[object, ...] = (values,)
    else:
        try:
            items = tuple(values)
        except TypeError:
            raise ValidationError(field, "must be an E.164 number or an iterable of them; "
                                         f"got {type(values).__name__}") from None
    if not items:
        raise ValidationError(field, "must contain at least one number")
    return tuple(e164(f"{field}[{i}]", v) for i, v in enumerate(items))


def dtmf(field: str, value: object) -> str | None:
    """``None``, or DTMF to send: 0-9, ``*``, ``#`` and ``w`` (a 500 ms pause)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _DTMF.fullmatch(value):
        raise ValidationError(field, f"must be DTMF: one or more of 0-9 * # w; got {_show(value)}")
    return value


def http_url(field: str, value: object) -> str:
    """An absolute ``http://`` or ``https://`` URL with a host."""
    checked = non_empty(field, value)
    try:
        url: URL | None = URL(checked)
        host = url.host if url is not None else None
    except (ValueError, TypeError, UnicodeError):
        url, host = None, None
    if url is None or url.scheme not in ("http", "https") or not host:
        raise ValidationError(field, f"must be an absolute http(s) URL; got {checked!r}")
    return checked


def one_of(field: str, value: object, choices: type[E]) -> E:
    """A member of the enum ``choices``, given as the member or its value (any case)."""
    try:
        member = choices(value)
        return choices[member.name]  # the canonical member, whatever spelling was given
    except (ValueError, TypeError, KeyError):
        allowed = ", ".join(str(c.value) for c in choices)
        raise ValidationError(field, f"must be one of {allowed}; got {_show(value)}") from None


def flag(field: str, value: object) -> bool | None:
    """``True``, ``False`` or ``None``."""
    if value is not None and not isinstance(value, bool):
        raise ValidationError(field, f"must be True or False; got {_show(value)}")
    return value


def whole_number(field: str, value: object, *, minimum: int = 0,
                 maximum: int = INT32_MAX) -> int:
    """An ``int`` (not a ``bool``, not a float) from ``minimum`` to ``maximum``
    (:data:`INT32_MAX` unless told: Sinch's integers are 32-bit)."""
    if not is_whole(value) or not minimum <= value <= maximum:  # type: ignore[operator]
        raise ValidationError(field, f"must be a whole number from {minimum} to {maximum}; "
                                     f"got {_show(value)}")
    return value  # type: ignore[return-value]


def positive_int(field: str, value: object) -> int | None:
    """``None``, or a whole number >= 1 (seconds, counts)."""
    return None if value is None else whole_number(field, value, minimum=1)


def _seconds(field: str, value: object, *, zero: bool) -> float:
    # Compared before any conversion: float(10**400) raises OverflowError.
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
            or (value < 0 if zero else value <= 0) or value > MAX_SECONDS):
        raise ValidationError(field, f"must be a finite number of seconds "
                                     f"{'>=' if zero else '>'} 0 and <= {MAX_SECONDS}; "
                                     f"got {_show(value)}")
    return float(value)


def positive_seconds(field: str, value: object) -> float:
    """A number of seconds > 0 and at most :data:`MAX_SECONDS` (``int`` or ``float``,
    not ``bool``; no NaN or infinity), as a ``float``."""
    return _seconds(field, value, zero=False)


def non_negative_seconds(field: str, value: object) -> float:
    """A number of seconds >= 0 and at most :data:`MAX_SECONDS` (``int`` or ``float``,
    not ``bool``; no NaN or infinity), as a ``float``."""
    return _seconds(field, value, zero=True)


def moment(field: str, value: object) -> datetime | None:
    """``None``, or a timezone-aware ``datetime`` that has a UTC equivalent (the wire
    carries UTC: ``datetime.min`` at +05:00 has none)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(field, f"must be a datetime; got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError(field, "must be within years 1 to 9999 in UTC") from None
    return value


def validator(check: Callable[..., Any], *, optional: bool = False,
              **options: Any) -> Callable[[Any, Any, Any], None]:
    """An attrs validator running ``check(field, value, **options)``, with the field
    named ``Class.attribute``; ``optional`` lets ``None`` through."""

    def validate(instance: object, attribute: Any, value: object) -> None:
        if optional and value is None:
            return
        check(f"{type(instance).__name__}.{attribute.name}", value, **options)

    return validate


def _show(value: object) -> str:
    """A bounded repr for messages (a huge argument must not become a huge message)."""
    try:
        shown = repr(value)
    except Exception:
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 80 else shown[:77] + "..."


def as_tuple(value: Any) -> Any:
    """An attrs converter: an iterable (not text or a mapping) as a tuple; anything else
    unchanged, for the field's validator to name (a converter runs first)."""
    if value is None or isinstance(value, str | bytes | Mapping):
        return value
    try:
        return tuple(value)
    except TypeError:
        return value


def _instance_of(kind: type[Any]) -> Callable[[str, object], None]:
    def check(field: str, value: object) -> None:
        if not isinstance(value, kind):
            raise ValidationError(field, f"must be a {kind.__name__}; got {type(value).__name__}")
    return check


def _items(check: Callable[[str, object], Any]) -> Callable[[str, object], None]:
    def each(field: str, value: object) -> None:
        if not isinstance(value, tuple | list):
            raise ValidationError(field, f"must be a sequence; got {type(value).__name__}")
        for i, item in enumerate(value):
            check(f"{field}[{i}]", item)
    return each


def _rule_for(hint: Any) -> Callable[[str, object], Any] | None:
    """The check for a field typed ``hint`` (without its ``None``), if it has a plain one."""
    args = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    rest = [a for a in args if a is not type(None)]
    if rest == [str] or (str in rest and all(
            a is str or (isinstance(a, type) and issubclass(a, enum.Enum)) for a in rest)):
        return partial(text, blank=True)  # a StrEnum member is a str, too
    if rest == [int]:
        return partial(whole_number, minimum=0)
    if rest == [bool]:
        return flag
    if len(rest) != 1:
        return None
    only = rest[0]
    if isinstance(only, type) and attrs.has(only):
        return _instance_of(only)
    if get_origin(only) is tuple:
        inner = get_args(only)[0]
        item = (partial(text, blank=True) if inner is str
                else _instance_of(inner) if isinstance(inner, type) and attrs.has(inner)
                else None)
        return None if item is None else _items(item)
    return None


def checked_fields(cls: type[Any], fields: list[Any]) -> list[Any]:
    """An attrs ``field_transformer``: every field without a validator of its own gets
    the rule its type implies, ``None`` allowed where the type says ``| None``: text of
    valid Unicode for ``str`` (and ``SomeEnum | str``), a whole number >= 0 for ``int``
    (no NaN, infinity or float), a real ``bool``, an instance for an attrs class, each
    item for ``tuple[X, ...]``. Fields whose type it cannot resolve are left alone."""
    namespace = vars(sys.modules[cls.__module__])
    result = []
    for field in fields:
        if field.validator is None and field.init:
            try:
                hint = eval(field.type, namespace) if isinstance(field.type, str) else field.type
            except Exception:  # a name defined later in its module: left alone
                hint = None
            rule = None if hint is None else _rule_for(hint)
            if rule is not None:
                optional = type(None) in get_args(hint)
                field = field.evolve(validator=validator(rule, optional=optional))
        result.append(field)
    return result
