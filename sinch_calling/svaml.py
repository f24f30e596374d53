"""SVAML: the instructions and the action that steer a call.

A document is ``Svaml(instructions, action)``; it is what an ICE, ACE or PIE
callback answers and what ``calls.manage`` sends::

    Svaml([Say("Your code is 1234"), SendDtmf("ww12#")], Hangup())

Every element encodes through :data:`sinch_calling.converter` to its wire shape
(``{"name": "say", "text": ...}``), leaving out unset fields, and decodes back by
its ``name``. A name this version does not know decodes to
:class:`UnknownInstruction` or :class:`UnknownAction`, which keep the raw object and
encode it unchanged. Pure: no I/O.

Where each action may appear (Sinch's rules, checked by :func:`check_answer`):
``connectPstn`` in ICE and PIE answers; ``connectMxp``, ``connectSip``,
``connectStream`` and ``park`` in ICE; ``continue`` in ACE and PIE; ``hangup``,
``connectConf`` and ``runMenu`` everywhere. ``sendDtmf`` is not allowed in ACE answers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Union, get_args

import attrs

from .errors import ValidationError
from .models._names import wire_name
from .models.callouts import ConferenceDtmfMode, ConferenceDtmfOptions, MusicOnHold
from .models.common import Destination
from .validation import (
    as_tuple,
    checked_fields,
    dtmf,
    e164,
    positive_int,
    text,
    validator,
    whole_number,
)

__all__ = [
    "ACTIONS",
    "INSTRUCTIONS",
    "MAX_MENU_REPEATS",
    "Action",
    "Answer",
    "AnsweringMachineDetection",
    "CallHeader",
    "ConferenceDtmfMode",
    "ConferenceDtmfOptions",
    "ConnectConf",
    "ConnectMxp",
    "ConnectPstn",
    "ConnectSip",
    "ConnectStream",
    "Continue",
    "Hangup",
    "Instruction",
    "Menu",
    "MenuOption",
    "MusicOnHold",
    "Park",
    "PlayFiles",
    "RecordingOptions",
    "RunMenu",
    "Say",
    "SendDtmf",
    "SetCookie",
    "StartRecording",
    "StopRecording",
    "StreamingOptions",
    "Svaml",
    "TranscriptionOptions",
    "UnknownAction",
    "UnknownInstruction",
    "check_answer",
]


MAX_MENU_REPEATS = 100
"""The most :attr:`Menu.repeats` accepts (this library's bound; Sinch documents none)."""

_Validator = Callable[[Any, Any, Any], None]


def _ascii_first(check: _Validator, *, optional: bool) -> _Validator:
    """``check`` (the text rule, blank allowed) with its common case decided at once: a
    plain ``str`` of ASCII is valid Unicode text (and so is ``None`` where allowed);
    anything else gets the full check, with its error."""

    def validate(instance: Any, attribute: Any, value: Any) -> None:
        if type(value) is str and value.isascii():
            return
        if value is None and optional:
            return
        check(instance, attribute, value)

    return validate


_dtmf = validator(dtmf)
_e164 = validator(e164, optional=True)
_text = _ascii_first(validator(text, blank=True), optional=False)
_positive = validator(positive_int)


def _fields(cls: type[Any], fields: list[Any]) -> list[Any]:
    """:func:`~sinch_calling.validation.checked_fields`, with the text rule it gives a
    ``str`` or ``str | None`` field taking :func:`_ascii_first`'s quick case."""
    namespace = vars(sys.modules[cls.__module__])
    result = []
    for before, field in zip(fields, checked_fields(cls, fields), strict=True):
        if before.validator is None and field.validator is not None:
            hint = eval(field.type, namespace) if isinstance(field.type, str) else field.type
            kinds = set(get_args(hint) or (hint,))
            if kinds - {type(None)} == {str}:  # checked_fields' rule: text, blank allowed
                field = field.evolve(validator=_ascii_first(
                    field.validator, optional=type(None) in kinds))
        result.append(field)
    return result


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError("PlayFiles.ids", "must be a sequence of strings (file ids); "
                                               f"got {type(value).__name__}")
    items = tuple(value)
    for i, item in enumerate(items):
        text(f"PlayFiles.ids[{i}]", item, blank=True)
    return items


def _raw(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError("data", f"must be a JSON object (a mapping); "
                                      f"got {type(value).__name__}")
    return dict(value)


def _tag(name: str) -> Any:
    """The element's wire ``name``: fixed per class, encoded, never passed to ``__init__``."""
    return attrs.field(init=False, default=name, repr=False)


# -- shared option objects ---------------------------------------------------------
# MusicOnHold, ConferenceDtmfMode and ConferenceDtmfOptions live in models.callouts
# (callouts use them too) and are re-exported here.


@attrs.frozen(field_transformer=_fields)
class CallHeader:
    """A custom SIP/MXP header passed along with a connected call."""

    key: str
    value: str


@attrs.frozen(kw_only=True, field_transformer=_fields)
class AnsweringMachineDetection:
    """``amd``: detect answering machines on a ``connectPstn`` leg (``async_`` is ``async``)."""

    enabled: bool | None = None
    async_: bool | None = None


@attrs.frozen(kw_only=True, field_transformer=_fields)
class TranscriptionOptions:
    """Whether (and in which locale) a recording is transcribed."""

    enabled: bool | None = None
    locale: str | None = None


@attrs.frozen(kw_only=True, field_transformer=_fields)
class RecordingOptions:
    """Where a recording goes. ``credentials`` (storage keys) never appear in reprs."""

    destination_url: str | None = None
    credentials: str | None = attrs.field(default=None, repr=False)
    format: str | None = None
    notification_events: bool | None = None
    transcription_options: TranscriptionOptions | None = None


@attrs.frozen(kw_only=True, field_transformer=_fields)
class StreamingOptions:
    """Audio format of a ``connectStream`` websocket."""

    version: int | None = None
    sample_rate: int | None = None


# -- instructions ------------------------------------------------------------------


@attrs.frozen(kw_only=True, field_transformer=_fields)
class PlayFiles:
    """Play prompts: pre-recorded file ids or ``#tts[...]`` / ``#ssml[...]`` strings."""

    ids: tuple[str, ...] = attrs.field(kw_only=False, converter=_strings)
    locale: str | None = None
    name: str = _tag("playFiles")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class Say:
    """Speak ``text`` (text-to-speech). Sinch's default limit is 600 characters per
    application (support can change it), so it is not checked here."""

    text: str = attrs.field(kw_only=False, validator=_text)
    locale: str | None = None
    name: str = _tag("say")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class SendDtmf:
    """Send DTMF tones: 0-9, ``*``, ``#``; ``w`` pauses 500 ms. Not allowed in ACE answers."""

    value: str = attrs.field(kw_only=False, validator=_dtmf)
    name: str = _tag("sendDtmf")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class SetCookie:
    """Store a key/value pair that later callbacks of this call carry."""

    key: str = attrs.field(kw_only=False, validator=_text)
    value: str = attrs.field(kw_only=False, validator=_text)
    name: str = _tag("setCookie")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class Answer:
    """Answer the call now (before connecting it onwards)."""

    name: str = _tag("answer")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class StartRecording:
    """Start recording the call (``options``: where to, format, transcription).

    Decoding also accepts ``recordingOptions``, the spelling calling-api.md uses."""

    options: RecordingOptions | None = attrs.field(
        kw_only=False, default=None, metadata=wire_name("options", "recordingOptions")
    )
    name: str = _tag("startRecording")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class StopRecording:
    """Stop a recording started with :class:`StartRecording`."""

    name: str = _tag("stopRecording")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class UnknownInstruction:
    """An instruction this version does not know; ``data`` is the raw JSON object,
    encoded back unchanged."""

    data: Mapping[str, Any] = attrs.field(kw_only=False, factory=dict, converter=_raw)

    @property
    def name(self) -> str:
        """The wire ``name`` (empty if there was none)."""
        return str(self.data.get("name", ""))


# -- actions -----------------------------------------------------------------------


@attrs.frozen(kw_only=True, field_transformer=_fields)
class Hangup:
    """End the call."""

    name: str = _tag("hangup")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class Continue:
    """Go on as the callout request said (ACE and PIE answers)."""

    name: str = _tag("continue")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class ConnectPstn:
    """Connect the call to a phone number (``number``: E.164, ``+`` and digits).

    ``max_duration`` and ``dial_timeout`` are seconds; ``dtmf`` is sent when the
    callee answers; ``amd`` turns on answering-machine detection."""

    number: str | None = attrs.field(
        kw_only=False, default=None, validator=_e164
    )
    locale: str | None = None
    max_duration: int | None = attrs.field(default=None, validator=_positive)
    dial_timeout: int | None = attrs.field(default=None, validator=_positive)
    cli: str | None = None
    suppress_callbacks: bool | None = None
    dtmf: str | None = attrs.field(default=None, validator=_dtmf)
    indications: str | None = None
    amd: AnsweringMachineDetection | None = None
    name: str = _tag("connectPstn")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class ConnectMxp:
    """Connect the call to an app or web user (``Destination.username(...)``).

    Its headers travel as ``callHeaders`` (protocol notes, Sinch's current reference and
    Node SDK); the Java SDK's ``callheaders`` is accepted on input."""

    destination: Destination | None = attrs.field(kw_only=False, default=None)
    call_headers: tuple[CallHeader, ...] | None = attrs.field(
        default=None,
        metadata=wire_name("callHeaders", "callheaders"),
        converter=as_tuple,
    )
    name: str = _tag("connectMxp")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class ConnectConf:
    """Put the call into conference ``conference_id`` (created by its first caller)."""

    conference_id: str = attrs.field(kw_only=False, validator=_text)
    conference_dtmf_options: ConferenceDtmfOptions | None = None
    moh: MusicOnHold | str | None = None
    name: str = _tag("connectConf")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class ConnectSip:
    """Connect the call to a SIP address (``Destination.sip(...)``)."""

    destination: Destination | None = attrs.field(kw_only=False, default=None)
    max_duration: int | None = attrs.field(default=None, validator=_positive)
    cli: str | None = None
    transport: str | None = None
    suppress_callbacks: bool | None = None
    call_headers: tuple[CallHeader, ...] | None = attrs.field(
        default=None,
        metadata=wire_name("callHeaders", "callheaders"),
        converter=as_tuple,
    )
    moh: MusicOnHold | str | None = None
    name: str = _tag("connectSip")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class ConnectStream:
    """Stream the call's audio to a websocket server."""

    destination: Destination | None = attrs.field(kw_only=False, default=None)
    max_duration: int | None = attrs.field(default=None, validator=_positive)
    call_headers: tuple[CallHeader, ...] | None = attrs.field(
        default=None,
        metadata=wire_name("callHeaders", "callheaders"),
        converter=as_tuple,
    )
    streaming_options: StreamingOptions | None = None
    name: str = _tag("connectStream")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class MenuOption:
    """A key the caller can press (``dtmf``) and what it does (``action``:
    ``menu(<menu id>)`` or ``return(<value>)``)."""

    dtmf: str = attrs.field(kw_only=False, validator=_dtmf)
    action: str = attrs.field(kw_only=False, validator=_text)


@attrs.frozen(kw_only=True, field_transformer=_fields)
class Menu:
    """One menu of a :class:`RunMenu`: prompts, input limits and options.

    ``repeats`` (how often the prompt is repeated while no input comes) is at most
    :data:`MAX_MENU_REPEATS`: Sinch documents no bound, and a caller hearing a prompt
    more often is a mistake. The other numbers are whole numbers up to 2**31 - 1
    (``timeout_mills`` and ``max_timeout_mills`` are milliseconds)."""

    id: str = attrs.field(kw_only=False, validator=_text)
    main_prompt: str | None = None
    repeat_prompt: str | None = None
    repeats: int | None = attrs.field(default=None, validator=validator(
        whole_number, optional=True, minimum=0, maximum=MAX_MENU_REPEATS))
    max_digits: int | None = None
    timeout_mills: int | None = None
    max_timeout_mills: int | None = None
    options: tuple[MenuOption, ...] | None = attrs.field(default=None, converter=as_tuple)


@attrs.frozen(kw_only=True, field_transformer=_fields)
class RunMenu:
    """Play an IVR menu; the caller's choice arrives as a PIE callback."""

    menus: tuple[Menu, ...] = attrs.field(kw_only=False, default=(), converter=as_tuple)
    main_menu: str | None = None
    barge: bool | None = None
    locale: str | None = None
    enable_voice: bool | None = None
    name: str = _tag("runMenu")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class Park:
    """Hold the call (playing prompts) until ``calls.manage`` says what to do."""

    intro_prompt: str | None = attrs.field(kw_only=False, default=None)
    hold_prompt: str | None = None
    locale: str | None = None
    max_duration: int | None = attrs.field(default=None, validator=_positive)
    name: str = _tag("park")


@attrs.frozen(kw_only=True, field_transformer=_fields)
class UnknownAction:
    """An action this version does not know; ``data`` is the raw JSON object,
    encoded back unchanged."""

    data: Mapping[str, Any] = attrs.field(kw_only=False, factory=dict, converter=_raw)

    @property
    def name(self) -> str:
        """The wire ``name`` (empty if there was none)."""
        return str(self.data.get("name", ""))


Instruction = Union[  # noqa: UP007 -- a runtime alias cattrs dispatches on
    PlayFiles, Say, SendDtmf, SetCookie, Answer, StartRecording, StopRecording,
    UnknownInstruction,
]
"""Any SVAML instruction."""

Action = Union[  # noqa: UP007 -- a runtime alias cattrs dispatches on
    Hangup, Continue, ConnectPstn, ConnectMxp, ConnectConf, ConnectSip, ConnectStream,
    RunMenu, Park, UnknownAction,
]
"""Any SVAML action."""

_INSTRUCTIONS: tuple[type[Any], ...] = (
    PlayFiles, Say, SendDtmf, SetCookie, Answer, StartRecording, StopRecording,
)
_ACTIONS: tuple[type[Any], ...] = (
    Hangup, Continue, ConnectPstn, ConnectMxp, ConnectConf, ConnectSip, ConnectStream,
    RunMenu, Park,
)


_INSTRUCTION_CLASSES: Final = frozenset((*_INSTRUCTIONS, UnknownInstruction))
_ACTION_CLASSES: Final = frozenset((*_ACTIONS, UnknownAction))
_ANY_INSTRUCTION: Final = (*_INSTRUCTIONS, UnknownInstruction)
_ANY_ACTION: Final = (*_ACTIONS, UnknownAction)


def _instructions(value: Iterable[Any]) -> tuple[Any, ...]:
    if type(value) is list or type(value) is tuple:  # the usual case, decided at once
        items = tuple(value)
        for item in items:
            if type(item) not in _INSTRUCTION_CLASSES:
                break
        else:
            return items
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValidationError("Svaml.instructions", "must be a sequence of instructions")
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, _ANY_INSTRUCTION):
            raise ValidationError(f"Svaml.instructions[{i}]",
                                  f"must be an instruction; got {type(item).__name__}")
    return items


def _action(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and type(value) not in _ACTION_CLASSES \
            and not isinstance(value, _ANY_ACTION):
        raise ValidationError("Svaml.action", f"must be an action; got {type(value).__name__}")


@attrs.frozen
class Svaml:
    """A SVAML document: instructions run in order, then the one action.

    ``Svaml([Say("Bye")], Hangup())``. Encode with ``converter.unstructure(doc)`` or
    ``serialization.dumps(doc)``; decode with ``converter.structure(data, Svaml)``.
    """

    instructions: tuple[Instruction, ...] = attrs.field(default=(), converter=_instructions)
    action: Action | None = attrs.field(default=None, validator=_action)


INSTRUCTIONS = _INSTRUCTIONS
"""The instruction classes, each tagged on the wire by its ``name``."""
ACTIONS = _ACTIONS
"""The action classes, each tagged on the wire by its ``name``."""


# -- where elements may appear ---------------------------------------------------------

_ACTION_EVENTS: dict[str, frozenset[str]] = {
    "connectPstn": frozenset({"ice", "pie"}),
    "connectMxp": frozenset({"ice"}),
    "connectSip": frozenset({"ice"}),
    "connectStream": frozenset({"ice"}),
    "park": frozenset({"ice"}),
    "continue": frozenset({"ace", "pie"}),
}


def check_answer(document: object, event: str, *, field: str = "svaml") -> Svaml:
    """Check that ``document`` is SVAML Sinch accepts as the answer to ``event``
    (``"ice"``, ``"ace"``, ``"pie"``, or ``"manage"`` for ``calls.manage``): a
    :class:`Svaml` with exactly one action, allowed there. Returns it; raises
    :class:`~sinch_calling.errors.ValidationError` naming ``field`` otherwise."""
    if not isinstance(document, Svaml):
        raise ValidationError(field, f"must be a svaml.Svaml; got {type(document).__name__}")
    action = document.action
    if action is None:
        raise ValidationError(f"{field}.action", "a SVAML document needs exactly one action")
    allowed = _ACTION_EVENTS.get(action.name)  # by the name sent, whatever the class
    if allowed is not None and event not in allowed and event != "manage":
        raise ValidationError(f"{field}.action", f"Sinch refuses {action.name!r} in "
                                                 f"an {event} answer")
    if event == "ace" and any(isinstance(i, SendDtmf) for i in document.instructions):
        raise ValidationError(f"{field}.instructions", "Sinch refuses sendDtmf in an ace answer")
    return document
