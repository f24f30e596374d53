"""Every model of the Calling API: attrs classes only, no I/O."""

from .callouts import (
    CalloutMethod,
    CalloutRequest,
    CalloutResponse,
    ConferenceCallout,
    ConferenceDtmfMode,
    ConferenceDtmfOptions,
    CustomCallout,
    MusicOnHold,
    TtsCallout,
)
from .calls import Call, CallLeg, CallReason, CallResult, CallStatus
from .common import Capability, Destination, DestinationType, Domain, Money
from .conferences import Conference, Participant
from .numbers import CallbackUrls, Number, NumberInfo
from .recordings import Recording

__all__ = [
    "Call",
    "CallLeg",
    "CallReason",
    "CallResult",
    "CallStatus",
    "CallbackUrls",
    "CalloutMethod",
    "CalloutRequest",
    "CalloutResponse",
    "Capability",
    "Conference",
    "ConferenceCallout",
    "ConferenceDtmfMode",
    "ConferenceDtmfOptions",
    "CustomCallout",
    "Destination",
    "DestinationType",
    "Domain",
    "Money",
    "MusicOnHold",
    "Number",
    "NumberInfo",
    "Participant",
    "Recording",
    "TtsCallout",
]
