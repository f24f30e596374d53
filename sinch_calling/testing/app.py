"""The emulator's aiohttp.web application: journal, faults and auth around the routes.

:class:`Gateway` is the one middleware: every request is journaled, may meet a scripted
fault, is authenticated, reaches its route, has a route's error shaped as Sinch shapes
it, and is reported to the observers (:mod:`.observe`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler

from .authn import authenticate
from .faults import Fault, Faults
from .journal import Journal, RecordedRequest
from .keys import APPLICATION_KEY, CUT_AFTER, DROP_ON_PREPARE, DROPPED
from .observe import Exchange, Observers
from .responses import ERROR_STATUS_TEXT, SinchHTTPError, sinch_error
from .state import ConfigurationState

__all__ = ["MAX_BODY", "Gateway", "build_app"]

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
    request[DROPPED] = "dropped by fault"
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
    request[DROPPED] = f"cut by fault after {cut_after} body bytes"
    request.protocol.force_close()
    return stream


class _Dropped(Exception):
    """A ``disconnect="after"`` fault stopped a route's own response before its head."""


async def _drop_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: refuse to send the head of a response the route prepares
    itself while a ``disconnect="after"`` fault is armed."""
    if request.get(DROP_ON_PREPARE):
        raise _Dropped


class Gateway:
    """The middleware every request passes through, handed the parts it uses: the
    ``requests`` journal, the ``faults`` script, the ``configuration`` (applications
    and the accepted clock skew) and the ``observers``."""

    __middleware_version__ = 1  # what ``@web.middleware`` marks: a new-style middleware

    def __init__(self, *, requests: Journal[RecordedRequest], faults: Faults,
                 configuration: ConfigurationState, observers: Observers) -> None:
        self._requests = requests
        self._faults = faults
        self._configuration = configuration
        self._observers = observers

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter() if self._observers else 0.0
        try:
            response = await self._serve(request, handler)
        except ConnectionError:  # the client hung up (mid-body, mid-response): not a failure
            request[DROPPED] = "client disconnected"
            response = web.Response(status=500)  # never reaches anyone
        if self._observers:
            error = request.get(DROPPED)
            self._observers.notify(Exchange(
                kind="request", method=request.method, target=_raw_path(request),
                status=response.status if error is None or response.prepared else None,
                elapsed=time.perf_counter() - started, error=error))
        return response

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw_path = _raw_path(request)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            body, too_large = b"", True
        else:
            too_large = False
        self._requests.append(RecordedRequest(
            method=request.method, path=raw_path, query=dict(request.query),
            headers=request.headers, body=body,
        ))
        if too_large:
            return sinch_error(413, 40003, f"Invalid request: body larger than {MAX_BODY} bytes")
        faults = self._faults
        fault = faults.take(request.method, raw_path, request.path) if len(faults) else None
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
            applications = self._configuration.applications
            key = authenticate(applications, request.method, raw_path, request.headers, body,
                               window=self._configuration.auth_window)
            request[APPLICATION_KEY] = applications[key].key  # one string, not one per call
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
        except ConnectionError:  # the client hung up mid-response: not the route's fault
            raise
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


def _raw_path(request: web.Request) -> str:
    return request.raw_path.partition("?")[0]


def build_app(gateway: Gateway, routes: Iterable[web.RouteDef]) -> web.Application:
    """The application serving ``routes`` on one origin, every request through
    ``gateway``."""
    app = web.Application(middlewares=[gateway], client_max_size=MAX_BODY)
    app.on_response_prepare.append(_drop_on_prepare)
    app.add_routes(routes)
    return app
