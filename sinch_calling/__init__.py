"""sinch_calling: an asyncio-first client for the Sinch Calling API."""

from . import events, svaml
from ._version import __version__
from .client import SinchCalling
from .models import (
    Call,
    CallbackUrls,
    CallLeg,
    CallReason,
    CallResult,
    CallStatus,
    Capability,
    Conference,
    Destination,
    Domain,
    Money,
    Number,
    NumberInfo,
    Participant,
    Recording,
)
from .regions import Region
from .retry import RetryPolicy
from .serialization import converter

__all__ = [
    "Call",
    "CallLeg",
    "CallReason",
    "CallResult",
    "CallStatus",
    "CallbackUrls",
    "Capability",
    "Conference",
    "Destination",
    "Domain",
    "Money",
    "Number",
    "NumberInfo",
    "Participant",
    "Recording",
    "Region",
    "RetryPolicy",
    "SinchCalling",
    "__version__",
    "converter",
    "events",
    "svaml",
]
