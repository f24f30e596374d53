"""One aiohttp session and the request plumbing every API area shares.

It owns the session (created in the running loop, closed once), builds URLs with
each path segment percent-encoded exactly once, sends through the retry and auth
middlewares, and turns every failure into a :mod:`sinch_calling.errors` exception.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import cattrs
from yarl import URL

from . import __version__
from .auth import Credentials
from .errors import (
    ClientClosedError,
    InvalidResponseError,
    TransportError,
    ValidationError,
    error_from_response,
)
from .regions import CONFIGURATION_PREFIX, SINCH_TRAFFIC_HOSTS, TRAFFIC_PREFIX
from .retry import RetryPolicy, parse_retry_after, provably_unsent, retry_middleware
from .serialization import converter
from .signer import AuthScheme, auth_middleware

__all__ = ["Transport", "encode_segment"]

T = TypeVar("T")

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
_JSON_HEADERS = {"Content-Type": JSON_CONTENT_TYPE}
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_USER_AGENT = f"sinch_calling/{__version__} (+aiohttp {aiohttp.__version__})"
_trace = logging.getLogger("sinch_calling.http")
"""DEBUG: one line per request (method, URL, status, size, time); never headers."""


def _traced(method: str, url: URL, params: Mapping[str, str] | None, outcome: str,
            started: float) -> None:
    if _trace.isEnabledFor(logging.DEBUG):
        where = url.with_query(params) if params else url.with_query(None)
        _trace.debug("%s %s -> %s in %.0f ms", method, where, outcome,
                     (time.perf_counter() - started) * 1000)


def encode_segment(value: str, field: str) -> str:
    """Percent-encode one path segment; ``+`` stays as is, ``/`` and dot-segments cannot escape."""
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a non-empty string")
    try:
        encoded = quote(value, safe="+")
    except UnicodeEncodeError:
        raise ValidationError(field, "must be valid Unicode text (no lone surrogates)") from None
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return encoded


class Transport:
    """Session owner and request sender shared by the resource groups of one client."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        auth: AuthScheme,
        traffic_origin: URL,
        configuration_origin: URL,
        timeout: aiohttp.ClientTimeout,
        retry: RetryPolicy,
        max_connections: int,
    ) -> None:
        self.credentials = credentials
        self.traffic_origin = traffic_origin
        self.configuration_origin = configuration_origin
        self.timeout = timeout
        self.retry = retry
        self._max_connections = max_connections
        origins = {("https", host) for host in SINCH_TRAFFIC_HOSTS}
        origins |= {(o.scheme, o.host or "") for o in (traffic_origin, configuration_origin)}
        signer = auth_middleware(credentials, auth, origins)
        budget = timeout.total
        self._safe = (retry_middleware(retry, idempotent=True, budget=budget), signer)
        self._unsafe = (retry_middleware(retry, idempotent=False, budget=budget), signer)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    # -- session life cycle -------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running event loop."""
        if self._session is None:
            if self._closed:
                raise ClientClosedError("this SinchCalling client is closed")
            asyncio.get_running_loop()  # a session must belong to a running loop
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0),
                timeout=self.timeout,
                headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
                raise_for_status=False,
            )
        return self._session

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    async def close(self) -> None:
        """Close the session; safe to call more than once."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        session = self._session
        if session is not None and not session.closed:
            _warn(f"unclosed SinchCalling client {self!r}; use 'async with' or await close()",
                  ResourceWarning, source=self, stacklevel=1)

    # -- URLs ---------------------------------------------------------------------

    def traffic_url(self, *segments: str) -> URL:
        """``{traffic origin}/calling/v1/{segments...}``; segments already encoded."""
        return self.traffic_origin.with_path(f"{TRAFFIC_PREFIX}/{'/'.join(segments)}",
                                             encoded=True)

    def configuration_url(self, *segments: str) -> URL:
        """``{configuration origin}/v1/{segments...}``; segments already encoded."""
        return self.configuration_origin.with_path(
            f"{CONFIGURATION_PREFIX}/{'/'.join(segments)}", encoded=True
        )

    # -- requests -----------------------------------------------------------------

    def _middlewares(self, method: str, idempotent: bool | None) -> Any:
        safe = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        return self._safe if safe else self._unsafe

    async def request(
        self,
        method: str,
        url: URL,
        *,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body (``None`` when empty).

        ``idempotent`` overrides the method's default (GET/PUT/DELETE are,
        POST/PATCH are not) for the retry policy.
        """
        started = time.perf_counter()
        try:
            async with self.session.request(
                method,
                url,
                data=body,
                params=params,
                headers=_JSON_HEADERS if body is not None else None,
                middlewares=self._middlewares(method, idempotent),
            ) as response:
                payload = await response.read()
                status = response.status
                _traced(method, url, params, f"{status} ({len(payload)} bytes)", started)
                if status >= 400:
                    raise error_from_response(
                        status, payload, reason=response.reason or "",
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    )
        except (TimeoutError, aiohttp.ClientError) as exc:
            _traced(method, url, params, type(exc).__name__, started)
            raise _transport_error(method, url, exc) from None
        if not payload.strip():
            return None
        try:
            return json.loads(payload)
        except ValueError:
            raise InvalidResponseError("response is not JSON", status=status,
                                       body=payload) from None

    async def request_model(
        self,
        cls: type[T],
        method: str,
        url: URL,
        *,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> T:
        """Like :meth:`request`, decoding the body into ``cls``."""
        data = await self.request(method, url, body=body, params=params, idempotent=idempotent)
        return decode(data, cls)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: URL,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a response for streaming; error statuses raise before the body is read.

        The connection is released when the block exits, whatever happens.
        """
        started = time.perf_counter()
        try:
            async with self.session.request(
                method, url, headers=headers, timeout=timeout,
                middlewares=self._middlewares(method, None),
            ) as response:
                _traced(method, url, None, f"{response.status} (streaming "
                        f"{response.content_length} bytes)", started)
                if response.status >= 400:
                    payload = await response.read()
                    raise error_from_response(
                        response.status, payload, reason=response.reason or "",
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    )
                yield response
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _transport_error(method, url, exc) from None


def decode(data: Any, cls: type[T], *, status: int = 200) -> T:
    """Structure ``data`` into ``cls``, raising :class:`InvalidResponseError` on a mismatch."""
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise InvalidResponseError(
            f"cannot decode {cls.__name__}: {exc}", status=status,
            body=json.dumps(data).encode()[:200],
        ) from None


def _transport_error(method: str, url: URL, exc: BaseException) -> TransportError:
    # str(), never repr(): aiohttp's response errors carry the request headers in their
    # repr, Authorization included.
    kind = "timed out" if isinstance(exc, asyncio.TimeoutError) else "failed"
    return TransportError(f"{method} {url.with_query(None)} {kind}: "
                          f"{type(exc).__name__}: {exc}", maybe_sent=not provably_unsent(exc))
