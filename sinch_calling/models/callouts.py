"""Callout requests (``POST /calling/v1/callouts``), their answer, and the options
they share with SVAML and conference commands."""

from __future__ import annotations

import attrs

from ..validation import checked_fields, validator, whole_number
from ._enum import WireEnum
from ._names import Id, wire_name
from .common import Destination, Domain

__all__ = [
    "CalloutMethod",
    "CalloutRequest",
    "CalloutResponse",
    "ConferenceCallout",
    "ConferenceDtmfMode",
    "ConferenceDtmfOptions",
    "CustomCallout",
    "MusicOnHold",
    "TtsCallout",
]


class MusicOnHold(WireEnum):
    """What a participant hears while held or alone in a conference."""

    RING = "ring"
    MUSIC1 = "music1"
    MUSIC2 = "music2"
    MUSIC3 = "music3"


class ConferenceDtmfMode(WireEnum):
    """What a conference does with the DTMF its participants press."""

    IGNORE = "ignore"
    FORWARD = "forward"
    DETECT = "detect"


@attrs.frozen(kw_only=True, field_transformer=checked_fields)
class ConferenceDtmfOptions:
    """How DTMF is handled in a conference: ``mode`` and, for ``detect``, the most
    digits collected and how long (milliseconds) to wait for them."""

    mode: ConferenceDtmfMode | str | None = None
    max_digits: int | None = attrs.field(
        default=None, validator=validator(whole_number, optional=True, minimum=0))
    timeout_mills: int | None = attrs.field(
        default=None, validator=validator(whole_number, optional=True, minimum=0))


class CalloutMethod(WireEnum):
    """The kind of callout, the request's ``method``."""

    TTS = "ttsCallout"
    CONFERENCE = "conferenceCallout"
    CUSTOM = "customCallout"


@attrs.frozen(kw_only=True)
class TtsCallout:
    """``ttsCallout``: call ``destination`` and play ``text`` or ``prompts``."""

    destination: Destination
    cli: str | None = None
    dtmf: str | None = None
    domain: Domain | str | None = None
    custom: str | None = None
    locale: str | None = None
    text: str | None = None
    prompts: str | None = None
    enable_ace: bool | None = None
    enable_dice: bool | None = None
    enable_pie: bool | None = None


@attrs.frozen(kw_only=True)
class ConferenceCallout:
    """``conferenceCallout``: call ``destination`` and join it to ``conference_id``."""

    destination: Destination
    conference_id: str
    cli: str | None = None
    locale: str | None = None
    greeting: str | None = None
    conference_dtmf_options: ConferenceDtmfOptions | None = None
    dtmf: str | None = None
    max_duration: int | None = None
    enable_ace: bool | None = None
    enable_dice: bool | None = None
    enable_pie: bool | None = None
    moh_class: MusicOnHold | str | None = None
    custom: str | None = None
    domain: Domain | str | None = None


@attrs.frozen(kw_only=True)
class CustomCallout:
    """``customCallout``: each of ``ice``/``ace``/``pie``/``dice`` is a callback URL or a
    SVAML document as JSON text."""

    cli: str | None = None
    destination: Destination | None = None
    dtmf: str | None = None
    custom: str | None = None
    max_duration: int | None = None
    ice: str | None = None
    ace: str | None = None
    pie: str | None = None
    dice: str | None = None


@attrs.frozen(kw_only=True)
class CalloutRequest:
    """The body of ``POST /callouts``: the ``method`` and the matching callout."""

    method: CalloutMethod | str
    tts_callout: TtsCallout | None = None
    conference_callout: ConferenceCallout | None = None
    custom_callout: CustomCallout | None = None


@attrs.frozen(kw_only=True)
class CalloutResponse:
    """The answer to ``POST /callouts``: ``{"callId": ...}``."""

    call_id: Id = attrs.field(metadata=wire_name("callId", "callid"))
