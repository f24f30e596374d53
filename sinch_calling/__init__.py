"""sinch_calling: an asyncio-first client for the Sinch Calling API.

:mod:`sinch_calling.svaml` and :mod:`sinch_calling.events` load on first use
(``sinch_calling.svaml``, ``from sinch_calling import events``), so that
``import sinch_calling`` costs only the client core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from . import events, svaml

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

_LAZY = frozenset({"events", "svaml"})


def __getattr__(name: str) -> Any:
    # PEP 562: the submodules that load on first use.
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
