"""Callback event models: what Sinch POSTs to your server (attrs classes only, no I/O).

Decode them with :func:`sinch_calling.events.parse` (or the converter). Fields typed
``Str``/``Int`` are decoded strictly (``"duration": "12"`` is rejected, not coerced);
call ids are non-empty strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Final, TypeAlias

import attrs

from ._enum import WireEnum
from ._names import Id, Int, Str, wire_name
from .calls import CallReason, CallResult
from .common import Destination, Domain, Money

__all__ = [
    "EVENT_CLASSES",
    "AmdReason",
    "AmdResult",
    "AmdStatus",
    "AnsweredCallEvent",
    "CallEvent",
    "CallHeader",
    "DisconnectedCallEvent",
    "EventType",
    "IncomingCallEvent",
    "InputMethod",
    "MenuResult",
    "MenuResultType",
    "NotificationEvent",
    "PromptInputEvent",
    "UnknownEvent",
]


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


@attrs.frozen(kw_only=True)
class CallHeader:
    """A header the calling SDK client attached to the call."""

    key: Str
    value: Str


@attrs.frozen(kw_only=True)
class AmdResult:
    """Answering machine detection result: ``status``, ``reason``, ``duration`` in seconds."""

    status: AmdStatus | str | None = None
    reason: AmdReason | str | None = None
    duration: Int | None = None


@attrs.frozen(kw_only=True)
class MenuResult:
    """What the caller did in a menu: which menu, how it ended, the value and how it came."""

    menu_id: Str | None = None
    type: MenuResultType | str | None = None
    value: Str | None = None
    input_method: InputMethod | str | None = None


_CALL_ID: Final = wire_name("callid", "callId")
_APPLICATION_KEY: Final = wire_name("applicationKey", "applicationkey")


@attrs.frozen(kw_only=True)
class IncomingCallEvent:
    """ICE: a call reached Sinch (an incoming call, or the first leg of a custom callout).

    Answer with SVAML. ``call_resource_url`` is the regional URL to manage this call.
    """

    event: ClassVar[EventType] = EventType.ICE
    call_id: Id = attrs.field(metadata=_CALL_ID)
    call_resource_url: Str | None = None
    timestamp: datetime | None = None
    version: Int | None = None
    custom: Str | None = None
    user_rate: Money | None = None
    cli: Str | None = None
    to: Destination | None = None
    domain: Domain | str | None = None
    application_key: Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    origination_type: Domain | str | None = None
    duration: Int | None = None
    rdnis: Str | None = None
    call_headers: tuple[CallHeader, ...] | None = None
    conference_id: Str | None = None


@attrs.frozen(kw_only=True)
class AnsweredCallEvent:
    """ACE: the callee answered. ``amd`` holds answering machine detection, if enabled.

    Answer with SVAML (``continue`` keeps the callout's own plan).
    """

    event: ClassVar[EventType] = EventType.ACE
    call_id: Id = attrs.field(metadata=_CALL_ID)
    timestamp: datetime | None = None
    version: Int | None = None
    custom: Str | None = None
    application_key: Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    amd: AmdResult | None = None
    conference_id: Str | None = None


@attrs.frozen(kw_only=True)
class PromptInputEvent:
    """PIE: the caller answered (or left) a ``runMenu``. Answer with SVAML."""

    event: ClassVar[EventType] = EventType.PIE
    call_id: Id = attrs.field(metadata=_CALL_ID)
    timestamp: datetime | None = None
    version: Int | None = None
    custom: Str | None = None
    application_key: Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    menu_result: MenuResult | None = None
    conference_id: Str | None = None


@attrs.frozen(kw_only=True)
class DisconnectedCallEvent:
    """DiCE: the call ended; ``result``, ``reason``, ``duration`` and cost. Informational.

    ``from_`` is a string (``"private"`` for a withheld caller); should Sinch ever
    send it as a ``{type, endpoint}`` object it decodes to a :class:`Destination`.
    """

    event: ClassVar[EventType] = EventType.DICE
    call_id: Id = attrs.field(metadata=_CALL_ID)
    timestamp: datetime | None = None
    version: Int | None = None
    custom: Str | None = None
    application_key: Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    reason: CallReason | str | None = None
    result: CallResult | str | None = None
    debit: Money | None = None
    user_rate: Money | None = None
    to: Destination | None = None
    from_: str | Destination | None = None
    duration: Int | None = None
    call_headers: tuple[CallHeader, ...] | None = None
    conference_id: Str | None = None


@attrs.frozen(kw_only=True)
class NotificationEvent:
    """Notify: a recording or transcription is ready, an AMD verdict, or a calling error.

    ``type`` says which (``recording_finished``, ``recording_available``, ...; kept as
    the plain string). Errors also carry ``error_code``, ``error_msg`` and ``user``.
    Informational.
    """

    event: ClassVar[EventType] = EventType.NOTIFY
    call_id: Id | None = attrs.field(default=None, metadata=_CALL_ID)
    timestamp: datetime | None = None
    version: Int | None = None
    custom: Str | None = None
    application_key: Str | None = attrs.field(default=None, metadata=_APPLICATION_KEY)
    type: Str | None = None
    destination: Str | None = None
    amd: AmdResult | None = None
    conference_id: Str | None = None
    error_code: Int | None = None
    error_msg: Str | None = None
    user: Str | None = None


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

EVENT_CLASSES: Final[Mapping[EventType, type[Any]]] = {
    cls.event: cls
    for cls in (
        IncomingCallEvent,
        AnsweredCallEvent,
        PromptInputEvent,
        DisconnectedCallEvent,
        NotificationEvent,
    )
}
