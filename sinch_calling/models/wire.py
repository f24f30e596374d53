"""Request and response envelopes as they travel; the public API unwraps them."""

from __future__ import annotations

import attrs

from ._names import wire_name
from .common import Capability
from .numbers import CallbackUrls, Number, NumberInfo

__all__ = [
    "AssignNumbersRequest",
    "CallbackUrlsEnvelope",
    "NumbersResponse",
    "QueryNumberResponse",
    "UnassignNumberRequest",
]


@attrs.frozen(kw_only=True)
class NumbersResponse:
    """``GET /configuration/numbers``."""

    numbers: tuple[Number, ...] = ()


@attrs.frozen(kw_only=True)
class AssignNumbersRequest:
    """``POST /configuration/numbers``."""

    numbers: tuple[str, ...]
    application_key: str | None = attrs.field(
        default=None, metadata=wire_name("applicationkey", "applicationKey")
    )
    capability: Capability | str | None = None


@attrs.frozen(kw_only=True)
class UnassignNumberRequest:
    """``DELETE /configuration/numbers``."""

    number: str
    application_key: str | None = attrs.field(
        default=None, metadata=wire_name("applicationkey", "applicationKey")
    )
    capability: Capability | str | None = None


@attrs.frozen(kw_only=True)
class QueryNumberResponse:
    """``GET /calling/query/number/{number}``: real servers say ``number``, docs ``numberItem``."""

    number: NumberInfo | None = attrs.field(default=None, metadata=wire_name("number",
                                                                             "numberItem"))


@attrs.frozen(kw_only=True)
class CallbackUrlsEnvelope:
    """``{"url": {"primary": ..., "fallback": ...}}`` both ways."""

    url: CallbackUrls = attrs.Factory(CallbackUrls)
