"""Configuration API: numbers, callback URLs, number lookup (prefix ``/v1``).

Numbers belong to the account: any application may list them and assign them to any of
the account's applications. Callback URLs belong to one application: another
application's are answered 400 40003 Invalid Application Key, as an unknown key.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ...models import CallbackUrls, Capability
from ..checks import is_e164
from ..keys import APPLICATION_KEY
from ..responses import SinchHTTPError, bad_request
from ..state import ConfigurationState
from .body import json_object

__all__ = ["ConfigurationRoutes", "normalize_number"]

_COUNTRY_PREFIXES = {"1": "US", "33": "FR", "44": "GB", "46": "SE", "49": "DE", "55": "BR",
                     "61": "AU", "65": "SG"}


def _application_key(configuration: ConfigurationState, request: web.Request,
                     data: dict[str, Any]) -> str:
    key = data.get("applicationkey", data.get("applicationKey")) or request[APPLICATION_KEY]
    if not isinstance(key, str):
        raise bad_request("Illegal parameter: applicationkey must be a string")
    if key not in configuration.applications:
        raise SinchHTTPError(400, 40003, "Invalid Application Key")
    return key


def _capability(data: dict[str, Any]) -> Capability:
    try:
        return Capability(data.get("capability") or "voice")
    except ValueError:
        raise bad_request("Unable to update numbers: invalid capability") from None


def _own_application(request: web.Request) -> str:
    """The path's application key: the caller's own (any other is invalid for it)."""
    key = request.match_info["application_key"]
    if key != request[APPLICATION_KEY]:  # the caller's key is a known application
        raise SinchHTTPError(400, 40003, "Invalid Application Key")
    return key


def normalize_number(text: str) -> str | None:
    """``+46(0)73-017-0101`` -> ``+46730170101``; ``None`` when it is not an E.164
    number once spaces, dashes, dots, parentheses and a trunk ``(0)`` are taken out
    (a lone country code such as ``+46`` is not one; see
    :func:`~sinch_calling.testing.checks.is_e164`)."""
    cleaned = text.strip().replace("(0)", "")
    if not cleaned.startswith("+"):
        return None
    number = "+" + re.sub(r"[\s\-().]", "", cleaned[1:])
    return number if is_e164(number) else None


async def query_number(request: web.Request) -> web.Response:
    """``GET /v1/calling/query/number/{number}``: the ``number`` wrapper real servers use."""
    normalized = normalize_number(request.match_info["number"])
    if normalized is None:
        raise bad_request("Invalid number specified")
    digits = normalized[1:]
    country = next((c for p, c in sorted(_COUNTRY_PREFIXES.items(), key=lambda i: -len(i[0]))
                    if digits.startswith(p)), "ZZ")
    return web.json_response({
        "number": {
            "countryId": country,
            "numberType": "Mobile" if digits[-1] in "02468" else "Fixed",
            "normalizedNumber": normalized,
            "restricted": False,
            "rate": {"currencyId": "USD", "amount": 0.0368},
        }
    })


class ConfigurationRoutes:
    """The configuration API's handlers, over the account they are handed."""

    def __init__(self, configuration: ConfigurationState) -> None:
        self._configuration = configuration

    def table(self) -> list[web.RouteDef]:
        """Every route, for ``app.add_routes``."""
        numbers = "/v1/configuration/numbers"
        callbacks = "/v1/configuration/callbacks/applications/{application_key}"
        return [
            *(route for path in (numbers, numbers + "/") for route in (
                web.get(path, self.list_numbers),
                web.post(path, self.assign_numbers),
                web.delete(path, self.unassign_number),
            )),
            web.get(callbacks, self.get_callbacks),
            web.post(callbacks, self.update_callbacks),
            web.get("/v1/calling/query/number/{number}", query_number),
        ]

    async def list_numbers(self, request: web.Request) -> web.Response:
        """``GET /v1/configuration/numbers``."""
        numbers = []
        for owned in self._configuration.numbers.values():
            item = {"number": owned.number, "capability": owned.capability.value}
            if owned.application_key:
                item["applicationkey"] = owned.application_key
            numbers.append(item)
        return web.json_response({"numbers": numbers})

    async def assign_numbers(self, request: web.Request) -> web.Response:
        """``POST /v1/configuration/numbers``."""
        data = await json_object(request)
        numbers = data.get("numbers")
        if not isinstance(numbers, list) or not numbers:
            raise bad_request("Missing parameter: numbers", 40002)
        key = _application_key(self._configuration, request, data)
        capability = _capability(data)
        owned = self._configuration.numbers
        for number in numbers:
            if not isinstance(number, str) or not number.startswith("+"):
                raise bad_request(f"Number missing leading +: {number!r}", 40005)
            if number not in owned:
                raise bad_request(f"Unable to update numbers: {number} is not owned")
        for number in numbers:
            owned[number].application_key = key
            owned[number].capability = capability
        return web.Response(status=200)

    async def unassign_number(self, request: web.Request) -> web.Response:
        """``DELETE /v1/configuration/numbers``."""
        data = await json_object(request)
        number = data.get("number")
        if not isinstance(number, str) or not number:
            raise bad_request("Missing parameter: number", 40002)
        key = _application_key(self._configuration, request, data)
        owned = self._configuration.numbers.get(number)
        if owned is None or owned.application_key != key:
            raise bad_request(f"Unable to update numbers: {number} is not assigned to {key}")
        owned.application_key = None
        return web.Response(status=200)

    async def get_callbacks(self, request: web.Request) -> web.Response:
        """``GET /v1/configuration/callbacks/applications/{applicationkey}``."""
        app = self._configuration.applications[_own_application(request)]
        url = {k: v for k, v in (("primary", app.callbacks.primary),
                                 ("fallback", app.callbacks.fallback)) if v}
        return web.json_response({"url": url})

    async def update_callbacks(self, request: web.Request) -> web.Response:
        """``POST /v1/configuration/callbacks/applications/{applicationkey}``."""
        key = _own_application(request)
        data = await json_object(request)
        url = data.get("url")
        if not isinstance(url, dict):
            raise bad_request("Missing parameter: url", 40002)
        for name in ("primary", "fallback"):
            if not isinstance(url.get(name), str | None):
                raise bad_request(f"Illegal parameter: url.{name} must be a string")
        self._configuration.applications[key].callbacks = CallbackUrls(
            primary=url.get("primary"), fallback=url.get("fallback")
        )
        return web.Response(status=200)
