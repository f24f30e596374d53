"""Configuration API: numbers, callback URLs, number lookup (prefix ``/v1``).

Numbers belong to the account: any application may list them and assign them to any of
the account's applications. Callback URLs belong to one application: another
application's are answered 400 40003 Invalid Application Key, as an unknown key.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from ...models import CallbackUrls, Capability
from ..context import APPLICATION_KEY, emulator_of
from ..responses import SinchHTTPError, bad_request

__all__ = ["routes"]

routes = web.RouteTableDef()

_COUNTRY_PREFIXES = {"1": "US", "33": "FR", "44": "GB", "46": "SE", "49": "DE", "55": "BR",
                     "61": "AU", "65": "SG"}


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read())
    except ValueError:
        raise bad_request("Invalid request body: not JSON", 40003) from None
    if not isinstance(data, dict):
        raise bad_request("Invalid request body: expected an object", 40003)
    return data


def _application_key(request: web.Request, data: dict[str, Any]) -> str:
    emu = emulator_of(request)
    key = data.get("applicationkey", data.get("applicationKey")) or request[APPLICATION_KEY]
    if not isinstance(key, str):
        raise bad_request("Illegal parameter: applicationkey must be a string")
    if key not in emu.configuration.applications:
        raise SinchHTTPError(400, 40003, "Invalid Application Key")
    return key


def _capability(data: dict[str, Any]) -> Capability:
    try:
        return Capability(data.get("capability") or "voice")
    except ValueError:
        raise bad_request("Unable to update numbers: invalid capability") from None


@routes.get("/v1/configuration/numbers")
@routes.get("/v1/configuration/numbers/")
async def list_numbers(request: web.Request) -> web.Response:
    """``GET /v1/configuration/numbers``."""
    numbers = []
    for owned in emulator_of(request).configuration.numbers.values():
        item = {"number": owned.number, "capability": owned.capability.value}
        if owned.application_key:
            item["applicationkey"] = owned.application_key
        numbers.append(item)
    return web.json_response({"numbers": numbers})


@routes.post("/v1/configuration/numbers")
@routes.post("/v1/configuration/numbers/")
async def assign_numbers(request: web.Request) -> web.Response:
    """``POST /v1/configuration/numbers``."""
    data = await _json_body(request)
    numbers = data.get("numbers")
    if not isinstance(numbers, list) or not numbers:
        raise bad_request("Missing parameter: numbers", 40002)
    key = _application_key(request, data)
    capability = _capability(data)
    owned = emulator_of(request).configuration.numbers
    for number in numbers:
        if not isinstance(number, str) or not number.startswith("+"):
            raise bad_request(f"Number missing leading +: {number!r}", 40005)
        if number not in owned:
            raise bad_request(f"Unable to update numbers: {number} is not owned")
    for number in numbers:
        owned[number].application_key = key
        owned[number].capability = capability
    return web.Response(status=200)


@routes.delete("/v1/configuration/numbers")
@routes.delete("/v1/configuration/numbers/")
async def unassign_number(request: web.Request) -> web.Response:
    """``DELETE /v1/configuration/numbers``."""
    data = await _json_body(request)
    number = data.get("number")
    if not isinstance(number, str) or not number:
        raise bad_request("Missing parameter: number", 40002)
    key = _application_key(request, data)
    owned = emulator_of(request).configuration.numbers.get(number)
    if owned is None or owned.application_key != key:
        raise bad_request(f"Unable to update numbers: {number} is not assigned to {key}")
    owned.application_key = None
    return web.Response(status=200)


def _own_application(request: web.Request) -> str:
    """The path's application key: the caller's own (any other is invalid for it)."""
    key = request.match_info["application_key"]
    if key != request[APPLICATION_KEY]:  # the caller's key is a known application
        raise SinchHTTPError(400, 40003, "Invalid Application Key")
    return key


@routes.get("/v1/configuration/callbacks/applications/{application_key}")
async def get_callbacks(request: web.Request) -> web.Response:
    """``GET /v1/configuration/callbacks/applications/{applicationkey}``."""
    app = emulator_of(request).configuration.applications[_own_application(request)]
    url = {k: v for k, v in (("primary", app.callbacks.primary),
                             ("fallback", app.callbacks.fallback)) if v}
    return web.json_response({"url": url})


@routes.post("/v1/configuration/callbacks/applications/{application_key}")
async def update_callbacks(request: web.Request) -> web.Response:
    """``POST /v1/configuration/callbacks/applications/{applicationkey}``."""
    key = _own_application(request)
    data = await _json_body(request)
    url = data.get("url")
    if not isinstance(url, dict):
        raise bad_request("Missing parameter: url", 40002)
    for name in ("primary", "fallback"):
        if not isinstance(url.get(name), str | None):
            raise bad_request(f"Illegal parameter: url.{name} must be a string")
    emulator_of(request).configuration.applications[key].callbacks = CallbackUrls(
        primary=url.get("primary"), fallback=url.get("fallback")
    )
    return web.Response(status=200)


def normalize_number(text: str) -> str | None:
    """``+46(0)73-017-0101`` -> ``+46730170101``; ``None`` when it is not a number."""
    cleaned = text.strip().replace("(0)", "")
    if not cleaned.startswith("+"):
        return None
    digits = re.sub(r"[\s\-().]", "", cleaned[1:])
    return f"+{digits}" if digits.isdigit() and 2 <= len(digits) <= 15 else None


@routes.get("/v1/calling/query/number/{number}")
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
