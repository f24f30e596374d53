"""Models shared by several API areas: money, destinations and the wire enums."""

from __future__ import annotations

import attrs

from ._enum import WireEnum

__all__ = ["Capability", "Destination", "DestinationType", "Domain", "Money"]


class Capability(WireEnum):
    """What a number is assigned for."""

    VOICE = "voice"
    SMS = "sms"


class Domain(WireEnum):
    """The network a call leg is on."""

    PSTN = "pstn"
    MXP = "mxp"
    SIP = "sip"


class DestinationType(WireEnum):
    """How ``Destination.endpoint`` is to be read."""

    NUMBER = "number"
    USERNAME = "username"
    SIP = "sip"
    DID = "did"
    WEBSOCKET = "Websocket"  # the spelling the Java SDK sends


@attrs.frozen(kw_only=True)
class Money:
    """An amount in a currency, such as a rate per minute or a debit."""

    currency_id: str | None = None
    amount: float | None = None


@attrs.frozen(kw_only=True)
class Destination:
    """Who to call (or who called): ``{"type": "number", "endpoint": "+46..."}``.

    Build one with :meth:`number`, :meth:`username`, :meth:`sip`; a plain ``str``
    given where a destination is expected means a PSTN number.
    """

    type: DestinationType | str
    endpoint: str

    @classmethod
    def number(cls, number: str) -> Destination:
        """A PSTN number in E.164 form (``+`` and digits)."""
        return cls(type=DestinationType.NUMBER, endpoint=number)

    @classmethod
    def username(cls, username: str) -> Destination:
        """A data (app or web) user, the ``mxp`` domain."""
        return cls(type=DestinationType.USERNAME, endpoint=username)

    @classmethod
    def sip(cls, address: str) -> Destination:
        """A SIP address."""
        return cls(type=DestinationType.SIP, endpoint=address)
