"""``sinch.numbers``: the numbers the account owns and their applications."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import Capability, Number, NumberInfo
from ..models.wire import (
    AssignNumbersRequest,
    NumbersResponse,
    QueryNumberResponse,
    UnassignNumberRequest,
)
from ..regions import encode_segment
from ..serialization import dumps
from ..transport import Transport, decode
from ..validation import e164, e164_list, identifier, one_of

__all__ = ["NumbersApi"]


class NumbersApi:
    """Configuration of numbers: list, assign, unassign, query (configuration host)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _key(self, application_key: str | None) -> str:
        if application_key is None:
            return self._transport.credentials.application_key
        return identifier("application_key", application_key)

    async def list(self) -> list[Number]:
        """Every number the account owns, with its capability and application, if any."""
        t = self._transport
        response = decode(await t.request("GET", t.configuration_url("configuration", "numbers")),
                          NumbersResponse)
        return list(response.numbers)

    async def assign(
        self,
        numbers: Iterable[str] | str,
        application_key: str | None = None,
        capability: Capability | str = Capability.VOICE,
    ) -> None:
        """Assign numbers (E.164) to an application (default: this client's)."""
        request = AssignNumbersRequest(
            numbers=e164_list("numbers", numbers),
            application_key=self._key(application_key),
            capability=one_of("capability", capability, Capability),
        )
        t = self._transport
        await t.request("POST", t.configuration_url("configuration", "numbers"),
                        body=dumps(request), idempotent=True)

    async def unassign(
        self,
        number: str,
        application_key: str | None = None,
        capability: Capability | str = Capability.VOICE,
    ) -> None:
        """Remove a number (E.164) from an application (default: this client's)."""
        request = UnassignNumberRequest(
            number=e164("number", number),
            application_key=self._key(application_key),
            capability=one_of("capability", capability, Capability),
        )
        t = self._transport
        await t.request("DELETE", t.configuration_url("configuration", "numbers"),
                        body=dumps(request))

    async def query(self, number: str) -> NumberInfo:
        """Country, type, normalized form and rate of any number."""
        t = self._transport
        url = t.configuration_url("calling", "query", "number", encode_segment(number, "number"))
        response = decode(await t.request("GET", url), QueryNumberResponse)
        return response.number if response.number is not None else NumberInfo()
