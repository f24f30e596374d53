"""Configuration models: numbers, number lookups and callback URLs."""

from __future__ import annotations

import attrs

from ._names import wire_name
from .common import Capability, Money

__all__ = ["CallbackUrls", "Number", "NumberInfo"]


@attrs.frozen(kw_only=True)
class Number:
    """A number the account owns, and the application it is assigned to, if any."""

    number: str
    application_key: str | None = attrs.field(
        default=None, metadata=wire_name("applicationkey", "applicationKey")
    )
    capability: Capability | str | None = None


@attrs.frozen(kw_only=True)
class NumberInfo:
    """What ``numbers.query`` tells about a number: country, type, rate."""

    country_id: str | None = None
    number_type: str | None = None
    normalized_number: str | None = None
    restricted: bool | None = None
    rate: Money | None = None


@attrs.frozen(kw_only=True)
class CallbackUrls:
    """An application's callback URLs; ``fallback`` is used when ``primary`` fails."""

    primary: str | None = None
    fallback: str | None = None
