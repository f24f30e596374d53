"""Callback events Sinch POSTs to your server, and :func:`parse` to decode them.

``ice`` (incoming call), ``ace`` (answered), ``pie`` (prompt input, after ``runMenu``),
``dice`` (disconnected) and ``notify`` (recordings, transcriptions, AMD, errors). An
event type this version does not know decodes to :class:`UnknownEvent`, never an error.

The event classes live in :mod:`sinch_calling.models.events` (re-exported here) and
decode through the shared :data:`sinch_calling.serialization.converter`, so
``converter.structure(data, IncomingCallEvent)`` and ``converter.unstructure(event)``
round-trip the wire JSON. Decoding is strict about JSON types (``"duration": "12"`` is
rejected, not coerced) and lenient about the rest: unknown fields are ignored, unknown
enum values stay strings. :func:`parse` takes the converter's shortcut for a
well-formed event (:mod:`sinch_calling._fast_structure`: the same event, generated from
the same fields and rules); anything else, and every error, is the converter's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import cattrs

from ._fast_structure import fast_structure_fn
from .errors import EventParseError
from .models.events import (
    EVENT_CLASSES,
    AmdReason,
    AmdResult,
    AmdStatus,
    AnsweredCallEvent,
    CallEvent,
    CallHeader,
    DisconnectedCallEvent,
    EventType,
    IncomingCallEvent,
    InputMethod,
    MenuResult,
    MenuResultType,
    NotificationEvent,
    PromptInputEvent,
    UnknownEvent,
)
from .serialization import converter, decode_json

__all__ = [
    "AmdReason",
    "AmdResult",
    "AmdStatus",
    "AnsweredCallEvent",
    "CallEvent",
    "CallHeader",
    "DisconnectedCallEvent",
    "EventParseError",
    "EventType",
    "IncomingCallEvent",
    "InputMethod",
    "MenuResult",
    "MenuResultType",
    "NotificationEvent",
    "PromptInputEvent",
    "UnknownEvent",
    "parse",
]


_BY_NAME: Final[Mapping[str, type[Any]]] = {kind.value: cls
                                            for kind, cls in EVENT_CLASSES.items()}
"""Event classes by their exact wire name (``"ice"``); other spellings take EventType()."""


def parse(body: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> CallEvent:
    """Decode one callback body (raw JSON bytes or text, or an already decoded mapping).

    Raises :class:`EventParseError` for anything that is not a Sinch event: not JSON,
    not an object, no ``event`` string, or a known event whose fields have wrong types.
    """
    data = _load(body)
    if type(data) is dict:  # the usual body, with an exact event name: no more checks
        known = data.get("event")
        cls = _BY_NAME.get(known) if type(known) is str else None
        if cls is not None:
            found: CallEvent = _structure(data, cls)
            return found
    if not isinstance(data, Mapping):
        raise EventParseError(f"a callback body must be a JSON object, got {_json_kind(data)}")
    name = data.get("event")
    if not isinstance(name, str) or not name.strip():
        raise EventParseError('a callback body must have an "event" string')
    # The exact spelling first (what EventType() finds first), else any case and spaces.
    cls = _BY_NAME.get(name) if type(name) is str else None
    if cls is None:
        try:
            cls = EVENT_CLASSES[EventType(name.strip())]
        except ValueError:
            cls = UnknownEvent
    event: CallEvent = _structure(data, cls)
    return event


def _structure(data: Mapping[str, Any], cls: type[Any]) -> Any:
    """What :func:`_converted` gives: a well-formed event through the converter's
    shortcut (the same event), anything else through the converter itself."""
    if cls is not UnknownEvent:  # the converter has a hook of its own for it
        fast = fast_structure_fn(cls)
        if fast is not None:
            event = fast(data)
            if event is not None:
                return event
    return _converted(data, cls)


def _converted(data: Mapping[str, Any], cls: type[Any]) -> Any:
    """``converter.structure`` with every failure turned into :class:`EventParseError`."""
    try:
        return converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        lines = cattrs.transform_error(exc, path="$", format_exception=_describe)
        details = "; ".join(f"{where}: {what}" for what, _, where in
                            (line.rpartition(" @ ") for line in lines))
        raise EventParseError(f"malformed {cls.__name__}: {details}") from exc
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise EventParseError(f"malformed {cls.__name__}: {exc}") from exc


def _load(body: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> Any:
    if type(body) is not bytes:  # bytes, what a server hands over, skip these checks
        if isinstance(body, Mapping):
            return body
        if isinstance(body, memoryview):
            body = body.tobytes()
        if not isinstance(body, bytes | bytearray | str):
            raise EventParseError(f"cannot parse a {type(body).__name__} as a callback body")
    try:
        return decode_json(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise EventParseError(f"a callback body must be JSON: {exc}") from None


def _describe(exc: BaseException, _: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    return str(exc) or type(exc).__name__


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
             dict: "an object"}
    return kinds.get(type(value), "a number" if isinstance(value, int | float) else "a value")
