"""Reading a JSON request body as Sinch's API does: strict JSON, declared as JSON.

Sinch answers 400 ``errorCode`` 40003 (invalid request) for a body it cannot read as
JSON, so the emulator refuses, with that error, what a lenient parser would let
through: ``NaN`` / ``Infinity`` literals (Python's ``json`` module reads them; RFC 8259
has no such values), bytes that are not UTF-8 (a byte-order mark included), and a body
whose ``Content-Type`` is not JSON (``application/json``, or a ``+json`` type, with
``charset=utf-8`` if any charset). The client sends ``application/json; charset=UTF-8``
and never NaN (``serialization.dumps`` refuses it).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from aiohttp import web

from ..responses import bad_request

__all__ = ["INVALID", "json_object", "strict_json"]

INVALID = 40003


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def strict_json(body: bytes | str) -> Any:
    """``body`` parsed as RFC 8259 JSON (bytes: in UTF-8); ``ValueError`` otherwise."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return json.loads(text, parse_constant=_no_constant)


def _is_json_type(request: web.Request) -> bool:
    media = request.content_type.lower()  # aiohttp: application/octet-stream when absent
    if media != "application/json" and not (media.startswith("application/")
                                             and media.endswith("+json")):
        return False
    charset = request.charset
    return charset is None or charset.lower().replace("_", "-") in ("utf-8", "utf8")


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's body, a JSON object; 400 40003 for anything else."""
    if not _is_json_type(request):
        raise bad_request("Invalid request: the body must be JSON (Content-Type "
                          f"application/json), not {request.headers.get('Content-Type')!r}",
                          INVALID)
    try:
        data = strict_json(await request.read())
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise bad_request(f"Invalid request: body is not JSON ({exc})", INVALID) from None
    except RecursionError:  # [[[[...]]]] nested past Python's limit: no API body is
        raise bad_request("Invalid request: body nested too deeply", INVALID) from None
    if not isinstance(data, dict):
        raise bad_request("Invalid request: expected a JSON object", INVALID)
    return data
