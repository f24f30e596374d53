"""The emulator's aiohttp.web application: journal, faults and auth around the routes."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import SignatureError
from .context import APPLICATION_KEY, CUT_AFTER, EMULATOR
from .faults import Fault
from .journal import RecordedRequest
from .responses import ERROR_STATUS_TEXT, SinchHTTPError, sinch_error
from .routes import configuration, recordings, traffic

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["build_app"]

_HTML = b"<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"


def _fault_response(fault: Fault) -> web.Response:
    status = fault.status or 500
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    if fault.body == "empty":
        return web.Response(status=status, headers=headers)
    if fault.body == "html":
        return web.Response(status=status, headers=headers, content_type="text/html",
                            body=_HTML.replace(b"{status}", str(status).encode()))
    response = sinch_error(status, status * 100, ERROR_STATUS_TEXT.get(status, "Fault"))
    response.headers.update(headers)
    return response


def _application_key(authorization: str) -> str:
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() == "application":
        return rest.strip().rpartition(":")[0]
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(rest.strip()).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def _authenticate(emu: Emulator, request: web.Request, body: bytes) -> str:
    authorization = request.headers.get("Authorization", "")
    if not authorization:
        raise SinchHTTPError(401, 40108, "Invalid credentials: missing Authorization header")
    scheme = authorization.strip().partition(" ")[0].lower()
    if scheme not in ("application", "basic"):
        raise SinchHTTPError(401, 40301, "Invalid authorization scheme for calling the method")
    key = _application_key(authorization)
    app = emu.configuration.applications.get(key)
    if app is None:
        raise SinchHTTPError(401, 40108, "Invalid credentials: unknown application key")
    try:
        app.verifier.verify(request.method, request.rel_url.raw_path, request.headers, body)
    except SignatureError as exc:
        raise SinchHTTPError(401, 40108, f"Invalid credentials: {exc}") from None
    return key


@web.middleware
async def _emulate(request: web.Request, handler: Handler) -> web.StreamResponse:
    emu = request.app[EMULATOR]
    body = await request.read()
    emu.requests.append(RecordedRequest(
        method=request.method, path=request.rel_url.raw_path, query=dict(request.query),
        headers=request.headers, body=body,
    ))
    fault = emu.faults.take(request.method, request.path)
    if fault is not None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status is not None:
            return _fault_response(fault)
        if fault.cut_after is not None:
            request[CUT_AFTER] = fault.cut_after
    try:
        request[APPLICATION_KEY] = _authenticate(emu, request, body)
        response: web.StreamResponse = await handler(request)
        return response
    except SinchHTTPError as exc:
        return exc.response()
    except web.HTTPNotFound:
        return sinch_error(404, 40400, "Not found")
    except web.HTTPMethodNotAllowed:
        return sinch_error(405, 40003, "Method not allowed")


def build_app(emu: Emulator) -> web.Application:
    """The application serving every route of the emulated API on one origin."""
    app = web.Application(middlewares=[_emulate], client_max_size=8 * 1024 * 1024)
    app[EMULATOR] = emu
    app.add_routes(configuration.routes)
    app.add_routes(traffic.routes)
    app.add_routes(recordings.routes)
    return app
