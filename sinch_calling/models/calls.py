"""Call state, as ``calls.get`` reports it."""

from __future__ import annotations

from datetime import datetime

import attrs

from ._enum import WireEnum
from ._names import Id, wire_name
from .common import Destination, Domain, Money

__all__ = ["Call", "CallLeg", "CallReason", "CallResult", "CallStatus"]


class CallStatus(WireEnum):
    """Whether a call is still going."""

    ONGOING = "ONGOING"
    FINAL = "FINAL"


class CallResult(WireEnum):
    """How a call ended."""

    NA = "N/A"
    ANSWERED = "ANSWERED"
    BUSY = "BUSY"
    NOANSWER = "NOANSWER"
    FAILED = "FAILED"


class CallReason(WireEnum):
    """Why a call ended."""

    NA = "N/A"
    TIMEOUT = "TIMEOUT"
    CALLERHANGUP = "CALLERHANGUP"
    CALLEEHANGUP = "CALLEEHANGUP"
    BLOCKED = "BLOCKED"
    NOCREDITPARTNER = "NOCREDITPARTNER"
    MANAGERHANGUP = "MANAGERHANGUP"
    CANCEL = "CANCEL"
    GENERALERROR = "GENERALERROR"


class CallLeg(WireEnum):
    """One side of a connected call, for ``calls.manage_leg`` (Sinch's ``callLeg`` path
    parameter): ``caller`` (who placed the call), ``callee`` (who was connected to) or
    ``both``. Sinch ignores it for conference participants and for calls placed by the
    Callout API: the prompt then goes to the call's only party."""

    CALLER = "caller"
    CALLEE = "callee"
    BOTH = "both"


@attrs.frozen(kw_only=True)
class Call:
    """A call's parties, progress and cost."""

    call_id: Id = attrs.field(metadata=wire_name("callId", "callid"))
    from_: Destination | None = None
    to: Destination | None = None
    domain: Domain | str | None = None
    duration: int | None = None
    status: CallStatus | str | None = None
    result: CallResult | str | None = None
    reason: CallReason | str | None = None
    timestamp: datetime | None = None
    custom: str | None = None
    user_rate: Money | None = None
    debit: Money | None = None
