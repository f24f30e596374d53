"""Callback events Sinch POSTs to your server, and :func:`parse` to decode them.

``ice`` (incoming call), ``ace`` (answered), ``pie`` (prompt input, after ``runMenu``),
``dice`` (disconnected) and ``notify`` (recordings, transcriptions, AMD, errors). An
event type this version does not know decodes to :class:`UnknownEvent`, never an error.

Events are attrs frozen classes decoded through the shared
:data:`sinch_calling.serialization.converter`, so ``converter.structure(data,
IncomingCallEvent)`` and ``converter.unstructure(event)`` round-trip the wire JSON.
Decoding is strict about JSON types (``"duration": "12"`` is rejected, not coerced) and
lenient about the rest: unknown fields are ignored, unknown enum values stay strings.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Final, TypeAlias, Union, get_args, get_origin

import attrs
import cattrs

from .errors import SinchError
from .models._enum import WireEnum
from .models.calls import CallReason, CallResult
from .models.common import Destination, Domain, Money
from .serialization import converter, decode_json, wire_name

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


class EventParseError(SinchError, ValueError):
    """A callback body that is not a well-formed Sinch event (not JSON, no ``event``, bad types)."""


class EventType(WireEnum):
    """The ``event`` field of a callback."""

    ICE = "ice"
    ACE = "ace"
    PIE = "pie"
    DICE = "dice"
    NOTIFY = "notify"


class AmdStatus(WireEnum):
    """Answering machine detection verdict."""

    HUMAN = "human"
    MACHINE = "machine"
    NOTSURE = "notsure"
    HANGUP = "hangup"


class AmdReason(WireEnum):
    """Why answering machine detection decided as it did."""

    LONGGREETING = "longgreeting"
    INITIALSILENCE = "initialsilence"


class MenuResultType(WireEnum):
    """How a ``runMenu`` ended."""

    ERROR = "error"
    RETURN = "return"
    SEQUENCE = "sequence"
    TIMEOUT = "timeout"
    HANGUP = "hangup"
    INVALIDINPUT = "invalidinput"


class InputMethod(WireEnum):
    """How the caller answered a menu."""

    DTMF = "dtmf"
    VOICE = "voice"


class _Strict:
    """Marks a field whose JSON type is checked instead of coerced (see ``_strict_hook``)."""


_STRICT: Final = _Strict()
_Str: TypeAlias = Annotated[str, _STRICT]
_Int: TypeAlias = Annotated[int, _STRICT]


@attrs.frozen(kw_only=True)
class CallHeader:
    """A header the calling SDK client attached to the call."""

    key: _Str
    value: _Str


@attrs.frozen(kw_only=True)
class AmdResult:
    """Answering machine detection result: ``status``, ``reason``, ``duration`` in seconds."""

    status: AmdStatus | str | None = None
    reason: AmdReason | str | None = None
    duration: _Int | None = None


@attrs.frozen(kw_only=True)
class MenuResult:
    """What the caller did in a menu: which menu, how it ended, the value and how it came."""

    menu_id: _Str | None = None
    type: MenuResultType | str | None = None
    value: _Str | None = None
    input_method: InputMethod | str | None = None


_CALL_ID: Final = wire_name("callid", "callId")
_APPLICATION_KEY: Final = wire_name("applicationKey", "applicationkey")


@attrs.frozen(kw_only=True)
class IncomingCallEvent:
    """ICE: a call reached Sinch (an incoming call, or the first leg of a custom callout).

    Answer with SVAML. ``call_resource_url`` is the regional URL to manage this call.
    """

    event: ClassVar[EventType] = EventType.ICE
    call_id: _Str = attrs.field(metadata=_CALL_ID)
    call_resource_url: _Str | None = None
    timestamp: datetime | None = None
    version: _Int | None = None
    custom: _Str | None = None
    user_rate: Money | None = None
    cli: _Str | None = None
    to: Destination | None = None
    domain: Domain | str | None = None
    application_key: _Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    origination_type: Domain | str | None = None
    duration: _Int | None = None
    rdnis: _Str | None = None
    call_headers: tuple[CallHeader, ...] | None = None
    conference_id: _Str | None = None


@attrs.frozen(kw_only=True)
class AnsweredCallEvent:
    """ACE: the callee answered. ``amd`` holds answering machine detection, if enabled.

    Answer with SVAML (``continue`` keeps the callout's own plan).
    """

    event: ClassVar[EventType] = EventType.ACE
    call_id: _Str = attrs.field(metadata=_CALL_ID)
    timestamp: datetime | None = None
    version: _Int | None = None
    custom: _Str | None = None
    application_key: _Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    amd: AmdResult | None = None
    conference_id: _Str | None = None


@attrs.frozen(kw_only=True)
class PromptInputEvent:
    """PIE: the caller answered (or left) a ``runMenu``. Answer with SVAML."""

    event: ClassVar[EventType] = EventType.PIE
    call_id: _Str = attrs.field(metadata=_CALL_ID)
    timestamp: datetime | None = None
    version: _Int | None = None
    custom: _Str | None = None
    application_key: _Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    menu_result: MenuResult | None = None
    conference_id: _Str | None = None


@attrs.frozen(kw_only=True)
class DisconnectedCallEvent:
    """DiCE: the call ended; ``result``, ``reason``, ``duration`` and cost. Informational.

    ``from_`` is a string (``"private"`` for a withheld caller); should Sinch ever
    send it as a ``{type, endpoint}`` object it decodes to a :class:`Destination`.
    """

    event: ClassVar[EventType] = EventType.DICE
    call_id: _Str = attrs.field(metadata=_CALL_ID)
    timestamp: datetime | None = None
    version: _Int | None = None
    custom: _Str | None = None
    application_key: _Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    reason: CallReason | str | None = None
    result: CallResult | str | None = None
    debit: Money | None = None
    user_rate: Money | None = None
    to: Destination | None = None
    from_: str | Destination | None = None
    duration: _Int | None = None
    call_headers: tuple[CallHeader, ...] | None = None
    conference_id: _Str | None = None


@attrs.frozen(kw_only=True)
class NotificationEvent:
    """Notify: a recording or transcription is ready, an AMD verdict, or a calling error.

    ``type`` says which (``recording_finished``, ``recording_available``, ...; kept as
    the plain string). Errors also carry ``error_code``, ``error_msg`` and ``user``.
    Informational.
    """

    event: ClassVar[EventType] = EventType.NOTIFY
    call_id: _Str | None = attrs.field(default=None, metadata=_CALL_ID)
    timestamp: datetime | None = None
    version: _Int | None = None
    custom: _Str | None = None
    application_key: _Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    type: _Str | None = None
    destination: _Str | None = None
    amd: AmdResult | None = None
    conference_id: _Str | None = None
    error_code: _Int | None = None
    error_msg: _Str | None = None
    user: _Str | None = None


@attrs.frozen(kw_only=True)
class UnknownEvent:
    """An event type this version does not know: its ``event`` name and the whole body."""

    event: str
    call_id: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict, hash=False)


CallEvent: TypeAlias = (
    IncomingCallEvent
    | AnsweredCallEvent
    | PromptInputEvent
    | DisconnectedCallEvent
    | NotificationEvent
    | UnknownEvent
)
"""Anything :func:`parse` returns."""

_EVENT_CLASSES: Final[dict[EventType, type[Any]]] = {
    cls.event: cls
    for cls in (
        IncomingCallEvent,
        AnsweredCallEvent,
        PromptInputEvent,
        DisconnectedCallEvent,
        NotificationEvent,
    )
}


def parse(body: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> CallEvent:
    """Decode one callback body (raw JSON bytes or text, or an already decoded mapping).

    Raises :class:`EventParseError` for anything that is not a Sinch event: not JSON,
    not an object, no ``event`` string, or a known event whose fields have wrong types.
    """
    data = _load(body)
    if not isinstance(data, Mapping):
        raise EventParseError(f"a callback body must be a JSON object, got {_json_kind(data)}")
    name = data.get("event")
    if not isinstance(name, str) or not name.strip():
        raise EventParseError('a callback body must have an "event" string')
    try:
        cls = _EVENT_CLASSES[EventType(name.strip())]
    except ValueError:
        cls = UnknownEvent
    event: CallEvent = _structure(data, cls)
    return event


def _structure(data: Mapping[str, Any], cls: type[Any]) -> Any:
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


# --- converter hooks, registered once at import -------------------------------------------


def _strict_base(tp: Any) -> type[Any] | None:
    """``str``/``int`` for ``_Str``/``_Int``, also inside ``| None``; else ``None``."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) != 1:
            return None
        tp = args[0]
    if get_origin(tp) is Annotated and any(m is _STRICT for m in tp.__metadata__):
        base: type[Any] = get_args(tp)[0]
        return base
    return None


def _strict_hook(tp: Any) -> Callable[[Any, Any], Any]:
    # Also handles the optional form directly: cattrs' generic optional hook re-dispatches
    # on every call, which costs more than the check itself.
    base = _strict_base(tp)
    assert base is not None  # the factory's predicate
    expected = _JSON_NAMES[base]
    optional = get_origin(tp) in (Union, types.UnionType)

    def structure(value: Any, _: Any) -> Any:
        if type(value) is base or (value is None and optional):
            return value
        if base is int and isinstance(value, float) and value.is_integer():
            return int(value)
        # bool is an int subclass: rejected on purpose
        raise TypeError(f"expected {expected}, got {type(value).__name__}")

    return structure


_JSON_NAMES: Final = {str: "a string", int: "an integer"}


def _from_party(value: Any, _: Any) -> str | Destination | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        party: Destination = converter.structure(value, Destination)
        return party
    raise TypeError(f"expected a string or a destination object, got {type(value).__name__}")


def _structure_unknown(data: Any, _: Any) -> UnknownEvent:
    if not isinstance(data, Mapping) or not isinstance(data.get("event"), str):
        raise TypeError('expected a JSON object with an "event" string')
    call_id = data.get("callid", data.get("callId"))
    return UnknownEvent(
        event=data["event"],
        call_id=call_id if isinstance(call_id, str) else None,
        data=types.MappingProxyType(dict(data)),
    )


def _object_only(cls: type[Any]) -> Callable[[Any, Any], Any]:
    fields_only = converter.get_structure_hook(cls)

    def structure(data: Any, tp: Any) -> Any:
        # The generated hook would turn a list or a string into an all-default instance.
        if not isinstance(data, Mapping):
            raise TypeError(f"expected a JSON object, got {_json_kind(data)}")
        return fields_only(data, tp)

    return structure


def _with_event_name(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    fields_only = converter.get_unstructure_hook(cls)
    name = cls.event.value

    def unstructure(event: Any) -> dict[str, Any]:
        return {"event": name, **fields_only(event)}

    return unstructure


converter.register_structure_hook_factory(lambda tp: _strict_base(tp) is not None, _strict_hook)
converter.register_structure_hook(str | Destination | None, _from_party)
converter.register_structure_hook(UnknownEvent, _structure_unknown)
converter.register_unstructure_hook(UnknownEvent, lambda event: dict(event.data))
for _cls in _EVENT_CLASSES.values():
    converter.register_unstructure_hook(_cls, _with_event_name(_cls))
for _cls in (CallHeader, AmdResult, MenuResult, *_EVENT_CLASSES.values()):
    converter.register_structure_hook(_cls, _object_only(_cls))
