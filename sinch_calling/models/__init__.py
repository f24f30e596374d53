"""Every model of the Calling API: attrs classes only, no I/O."""

from .calls import Call, CallReason, CallResult, CallStatus
from .common import Capability, Destination, DestinationType, Domain, Money
from .conferences import Conference, Participant
from .numbers import CallbackUrls, Number, NumberInfo
from .recordings import Recording

__all__ = [
    "Call",
    "CallReason",
    "CallResult",
    "CallStatus",
    "CallbackUrls",
    "Capability",
    "Conference",
    "Destination",
    "DestinationType",
    "Domain",
    "Money",
    "Number",
    "NumberInfo",
    "Participant",
    "Recording",
]
