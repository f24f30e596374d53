"""The emulator's aiohttp.web application: journal, faults and auth around the routes."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from .authn import authenticate
from .context import APPLICATION_KEY, CUT_AFTER, DROP_ON_PREPARE, EMULATOR
from .faults import Fault
from .journal import RecordedRequest
from .responses import ERROR_STATUS_TEXT, SinchHTTPError, sinch_error
from .routes import configuration, recordings, traffic

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["build_app"]

_log = logging.getLogger("sinch_calling.testing")

MAX_BODY = 8 * 1024 * 1024

_HTML = b"<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"


def _fault_response(fault: Fault) -> web.Response:
    status = fault.status or 500
    headers = {}
    if isinstance(fault.retry_after, str):
        headers["Retry-After"] = fault.retry_after
    elif fault.retry_after is not None:  # delta-seconds are a whole number on the wire
        headers["Retry-After"] = str(math.ceil(fault.retry_after))
    if fault.body == "empty":
        return web.Response(status=status, headers=headers)
    if fault.body == "html":
        return web.Response(status=status, headers=headers, content_type="text/html",
                            body=_HTML.replace(b"{status}", str(status).encode()))
    code = fault.error_code if fault.error_code is not None else status * 100
    response = sinch_error(status, code, ERROR_STATUS_TEXT.get(status, "Fault"))
    response.headers.update(headers)
    return response


def _drop(request: web.Request) -> web.Response:
    """Close the connection without a response (the client sees a disconnect)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)  # never reaches the client


async def _cut(request: web.Request, response: web.Response, cut_after: int) -> web.StreamResponse:
    """Send ``response``'s head and its first ``cut_after`` body bytes, then hang up."""
    body = response.body if isinstance(response.body, bytes) else b""
    stream = web.StreamResponse(status=response.status, reason=response.reason,
                                headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    if cut_after:
        await stream.write(body[:cut_after])
    request.protocol.force_close()
    return stream


class _Dropped(Exception):
    """A ``disconnect="after"`` fault stopped a route's own response before its head."""


async def _drop_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: refuse to send the head of a response the route prepares
    itself while a ``disconnect="after"`` fault is armed."""
    if request.get(DROP_ON_PREPARE):
        raise _Dropped


@web.middleware
async def _emulate(request: web.Request, handler: Handler) -> web.StreamResponse:
    emu = request.app[EMULATOR]
    raw_path = request.raw_path.partition("?")[0]
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        body, too_large = b"", True
    else:
        too_large = False
    emu.requests.append(RecordedRequest(
        method=request.method, path=raw_path, query=dict(request.query),
        headers=request.headers, body=body,
    ))
    if too_large:
        return sinch_error(413, 40003, f"Invalid request: body larger than {MAX_BODY} bytes")
    fault = emu.faults.take(request.method, raw_path, request.path) if len(emu.faults) \
        else None
    if fault is not None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.disconnect == "before":
            return _drop(request)
        if fault.status is not None:
            return _fault_response(fault)
        if fault.cut_after is not None:
            request[CUT_AFTER] = fault.cut_after
    drop_after = fault is not None and fault.disconnect == "after"
    try:
        request[APPLICATION_KEY] = authenticate(
            emu.configuration.applications, request.method, raw_path, request.headers, body,
            window=emu.auth_window)
        if drop_after:
            request[DROP_ON_PREPARE] = True
        response: web.StreamResponse = await handler(request)
    except _Dropped:
        return _drop(request)
    except SinchHTTPError as exc:
        response = exc.response()
    except web.HTTPNotFound:
        response = sinch_error(404, 40400, "Not found")
    except web.HTTPMethodNotAllowed:
        response = sinch_error(405, 40003, "Method not allowed")
    except Exception:  # a bug in a route: answer as Sinch would, but say so in the log
        _log.exception("emulator route failed: %s %s", request.method, raw_path)
        response = sinch_error(500, 50000, "Internal error")
    finally:
        if drop_after:
            request[DROP_ON_PREPARE] = False
    if fault is None:
        return response
    if drop_after:
        return _drop(request)
    if (fault.cut_after is not None and isinstance(response, web.Response)
            and not response.prepared):
        return await _cut(request, response, fault.cut_after)
    return response


def build_app(emu: Emulator) -> web.Application:
    """The application serving every route of the emulated API on one origin."""
    app = web.Application(middlewares=[_emulate], client_max_size=MAX_BODY)
    app[EMULATOR] = emu
    app.on_response_prepare.append(_drop_on_prepare)
    app.add_routes(configuration.routes)
    app.add_routes(traffic.routes)
    app.add_routes(recordings.routes)
    return app
