"""One aiohttp session and the request plumbing every API area shares.

It owns the session (created in the running loop, closed once), builds URLs, sends
through the retry and auth middlewares, follows redirects by the policy below, reads
answers within bounds, and turns every failure into a :mod:`sinch_calling.errors`
exception.

Redirects: credentials go only to the exact origins (scheme, host, port) the client was
configured with, plus Sinch's https traffic hosts (for ``callResourceUrl``). A GET,
HEAD, PUT or DELETE follows any redirect within them; a POST or PATCH follows only a 307
or 308 (the server says it did not act) within them, sending the same body; a 301, 302
or 303 answered to a POST or PATCH is a :class:`~sinch_calling.errors.RedirectError`
(the server may have acted: never replayed as a GET). A redirect to another origin is an
:class:`~sinch_calling.errors.UnexpectedHostError`; at most ``MAX_REDIRECTS`` are followed.

Bounded reads: a JSON answer is read up to ``MAX_RESPONSE_BYTES`` after decompression
(:class:`~sinch_calling.errors.ResponseTooLargeError` past it); an error answer only up to
``ERROR_BODY_LIMIT`` bytes, and is still typed by its status (:func:`read_error`).

Exceptions leaving this module are created outside any ``except`` block, so they never
chain to aiohttp's exceptions (whose reprs and traceback frames hold the signed request
headers).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any, Final, TypeVar, cast

import aiohttp
import cattrs
from yarl import URL

from ._version import __version__
from .auth import Credentials
from .errors import (
    ApiError,
    ClientClosedError,
    EventLoopError,
    InvalidResponseError,
    RedirectError,
    ResponseTooLargeError,
    SinchError,
    TransportError,
    UnexpectedHostError,
    error_from_response,
)
from .regions import CONFIGURATION_PREFIX, SINCH_TRAFFIC_HOSTS, TRAFFIC_PREFIX, encode_segment
from .retry import RetryPolicy, parse_retry_after, provably_unsent, with_retries
from .serialization import converter, decode_json
from .signer import AuthScheme, Origin, credential_headers, origin_of, origin_text

__all__ = [
    "ERROR_BODY_LIMIT",
    "MAX_REDIRECTS",
    "MAX_RESPONSE_BYTES",
    "Transport",
    "encode_segment",
    "read_bounded",
    "read_error",
    "read_excerpt",
    "redirect_target",
]

T = TypeVar("T")

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_SAFE_TO_REDIRECT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = f"sinch_calling/{__version__} (+aiohttp {aiohttp.__version__})"

MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
"""The most a JSON answer may hold, after decompression (Sinch's are a few KiB)."""
ERROR_BODY_LIMIT: Final = 64 * 1024
"""How much of an error answer is read: enough for any Sinch error, no more."""
MAX_REDIRECTS: Final = 5
_CHUNK = 64 * 1024


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body (decoded, as aiohttp decompresses it), or
    :class:`ResponseTooLargeError` as soon as it exceeds ``limit`` bytes: a claimed
    ``Content-Length`` over the limit is refused unread, an endless or inflating body
    is cut at the limit (aiohttp decompresses incrementally, so memory stays bounded).
    """
    claimed = response.content_length
    if claimed is not None and claimed > limit:
        raise ResponseTooLargeError(limit, status=response.status, claimed=claimed)
    if claimed is not None and "Content-Encoding" not in response.headers:
        return await response.read()  # the common case: exactly the bytes announced
    body = bytearray()
    while True:
        chunk = await response.content.read(_CHUNK)
        if not chunk:
            return bytes(body)
        if len(body) + len(chunk) > limit:
            raise ResponseTooLargeError(limit, status=response.status, claimed=claimed)
        body += chunk


async def read_excerpt(response: aiohttp.ClientResponse, limit: int = ERROR_BODY_LIMIT) -> bytes:
    """At most ``limit`` bytes of the body (decoded); the rest is never read."""
    body = bytearray()
    while len(body) < limit:
        chunk = await response.content.read(min(_CHUNK, limit - len(body)))
        if not chunk:
            break
        body += chunk
    return bytes(body)


async def read_error(response: aiohttp.ClientResponse) -> ApiError:
    """The :class:`~sinch_calling.errors.ApiError` for an error response (returned, not
    raised): typed by the status alone, with Sinch's ``errorCode``, message and
    reference when the first ``ERROR_BODY_LIMIT`` bytes are Sinch JSON. A body that
    breaks off or cannot be decoded leaves the error typed by its status."""
    try:
        body = await read_excerpt(response)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        body = b""
    return error_from_response(
        response.status, body, reason=response.reason or "",
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def redirect_target(method: str, url: URL, response: aiohttp.ClientResponse,
                    origins: frozenset[Origin]) -> URL | None:
    """Where to go next by the redirect policy (module docstring); ``None`` when the
    response is not a redirect. Raises :class:`RedirectError` or
    :class:`UnexpectedHostError` for a redirect that is not followed."""
    status = response.status
    if status not in _REDIRECTS:
        if 300 <= status < 400:  # 300, 304, 305, ...: no answer, and nothing to follow
            raise RedirectError(status, f"{method} {url.with_query(None)} was answered HTTP "
                                        f"{status}, which this client does not follow")
        return None
    location = response.headers.get("Location", "")
    try:
        target = url.join(URL(location)) if location else None
        target_origin = origin_of(target) if target is not None else None
    except (ValueError, TypeError, UnicodeError):
        target, target_origin = None, None
    shown = location[:200]
    if target is None or target_origin is None:
        raise RedirectError(status, f"{method} {url.with_query(None)}: HTTP {status} without "
                                    "a usable Location", location=shown or None)
    if target.raw_user is not None or target.raw_password is not None:
        raise RedirectError(status, f"{method} {url.with_query(None)} was answered HTTP "
                                    f"{status} to a URL carrying credentials of its own: "
                                    "not followed", location=None)
    if method not in _SAFE_TO_REDIRECT and status not in (307, 308):
        raise RedirectError(status, f"{method} {url.with_query(None)} was answered HTTP {status} "
                                    f"to {shown}: not followed (the server may have acted, "
                                    "and it is never replayed as a GET)", location=shown)
    if target_origin not in origins:
        raise UnexpectedHostError(f"{method} {url.with_query(None)} was redirected to "
                                  f"{origin_text(target)}, an origin this client was not "
                                  "configured with: not followed",
                                  maybe_sent=status not in (307, 308))
    return target


_trace = logging.getLogger("sinch_calling.http")
"""DEBUG: one line per HTTP exchange (method, URL, status or failure, time); never
headers or bodies. The command's ``--verbose`` shows it."""


def _traced(method: str, url: URL, params: Mapping[str, str] | None, outcome: object,
            started: float) -> None:
    where = url.with_query(params) if params else url.with_query(None)
    _trace.debug("%s %s -> %s in %.0f ms", method, where, outcome,
                 (time.perf_counter() - started) * 1000)


async def _send(session: aiohttp.ClientSession, method: str, url: URL, body: bytes | None,
                params: Mapping[str, str] | None, headers: dict[str, str],
                timeout: aiohttp.ClientTimeout | None) -> aiohttp.ClientResponse:
    """One attempt: one HTTP exchange, traced."""
    tracing = _trace.isEnabledFor(logging.DEBUG)
    started = time.perf_counter() if tracing else 0.0
    try:
        if timeout is None:
            response = await session.request(method, url, data=body, params=params,
                                              headers=headers, allow_redirects=False)
        else:
            response = await session.request(method, url, data=body, params=params,
                                              headers=headers, allow_redirects=False,
                                              timeout=timeout)
    except (TimeoutError, aiohttp.ClientError) as exc:
        if tracing:
            _traced(method, url, params, type(exc).__name__, started)
        raise
    if tracing:
        _traced(method, url, params, response.status, started)
    return response


def _time_left(base: aiohttp.ClientTimeout, deadline: float | None) -> aiohttp.ClientTimeout:
    """``base`` with ``total`` cut to what is left until ``deadline``
    (``time.monotonic()``); :class:`TimeoutError` when nothing is."""
    if deadline is None:
        return base
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return aiohttp.ClientTimeout(total=left, connect=base.connect, sock_read=base.sock_read,
                                 sock_connect=base.sock_connect,
                                 ceil_threshold=base.ceil_threshold)


_Outcome = aiohttp.ClientResponse | TimeoutError | aiohttp.ClientError
"""What one attempt gave: the answer, or the error that stood for it."""


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
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_downloads: int | None = None,
    ) -> None:
        self.credentials = credentials
        self.traffic_origin = traffic_origin
        self.configuration_origin = configuration_origin
        self.timeout = timeout
        self.retry = retry
        self._retry_statuses = retry.statuses
        self.max_response_bytes = max_response_bytes
        self._max_connections = max_connections
        self._max_downloads = max_connections if max_downloads is None else max_downloads
        self._download_slots: asyncio.Semaphore | None = None
        origins = {("https", host, 443) for host in SINCH_TRAFFIC_HOSTS}
        origins |= {origin_of(o) for o in (traffic_origin, configuration_origin)}
        self.origins: frozenset[Origin] = frozenset(origins)
        """Where credentials may go: exact (scheme, host, port) triples."""
        self._credentials = credential_headers(credentials, auth, self.origins)
        self._closing = asyncio.Event()  # set by close(): calls start no new attempt
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._cut_off = False  # close() stopped waiting with calls still in flight
        self._in_flight = 0
        self._idle: asyncio.Event | None = None

    # -- session life cycle -------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running event loop.

        Raises :class:`ClientClosedError` after :meth:`close`, and
        :class:`EventLoopError` from a loop other than the session's.
        """
        loop = asyncio.get_running_loop()  # a session must belong to a running loop
        if self._closed:
            raise ClientClosedError("this SinchCalling client is closed")
        if self._session is None:
            self._loop = loop
            self._idle = asyncio.Event()
            self._idle.set()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit(),
                                               limit_per_host=0),
                timeout=self.timeout,
                headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
                raise_for_status=False,
            )
        elif loop is not self._loop:
            raise EventLoopError(
                "this SinchCalling client's session belongs to another event loop"
                + (" (now closed)" if self._loop is not None and self._loop.is_closed() else "")
                + ": a client works in the loop that first used it; create one client per "
                  "event loop (per asyncio.run), e.g. with 'async with SinchCalling(...)'")
        return self._session

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    async def close(self) -> None:
        """Refuse new calls, let the calls in flight end, then close the session.

        Calls already in flight end with their own result (each is bounded by the
        client's ``timeout``), but none starts a new attempt: a call waiting to retry
        stops waiting and raises :class:`ClientClosedError` (``maybe_sent`` that of its
        last attempt), and one whose attempt fails now ends with that answer or error.
        If some still run after ``timeout``, the session is closed under them and they
        raise :class:`ClientClosedError` (``maybe_sent=True``). New calls raise
        :class:`ClientClosedError` at once. Safe to call more than once.
        """
        self._closed = True
        if self._loop is None or self._loop is asyncio.get_running_loop():
            self._closing.set()  # an Event belongs to the loop that first waited on it
        if self._in_flight and self._idle is not None \
                and self._loop is asyncio.get_running_loop():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.timeout.total or 30.0)
        self._cut_off = self._in_flight > 0
        session, self._session = self._session, None
        if session is not None and self._loop is asyncio.get_running_loop():
            await session.close()
        # A session of another (closed) loop cannot be closed from this one: dropped.

    def __del__(self, _warn: Any = warnings.warn) -> None:
        session = self._session
        if session is not None and not session.closed:
            _warn(f"unclosed SinchCalling client {self!r}; use 'async with' or await close()",
                  ResourceWarning, source=self, stacklevel=1)

    # -- connection budgets ---------------------------------------------------------
    #
    @property
    def max_connections(self) -> int:
        """The connections API calls may use at once."""
        return self._max_connections

    # API calls and recording bodies draw on separate budgets of one connector: its
    # limit is their sum, and bodies (downloads, streams) also hold a download slot,
    # so at most ``max_downloads`` connections ever carry a body and at least
    # ``max_connections`` stay for API calls. An API call therefore never waits for
    # a download, whatever either number is (a DELETE inside ``async with
    # recordings.stream(...)`` with ``max_connections=1`` included).

    def _connection_limit(self) -> int:
        if self._max_connections <= 0 or self._max_downloads <= 0:
            return 0  # aiohttp: unlimited
        return self._max_connections + self._max_downloads

    @property
    def max_downloads(self) -> int:
        """How many recording bodies may be open at once (its own budget, beside the
        ``max_connections`` for API calls; by default the same number)."""
        return self._max_downloads

    @asynccontextmanager
    async def download_slot(self) -> AsyncIterator[None]:
        """Hold one of the :attr:`max_downloads` slots for a response body (a
        download attempt or a stream); waits while all are taken. API calls never
        take one, so they never wait for a download."""
        if self._max_downloads <= 0:
            yield  # unlimited
            return
        if self._download_slots is None:
            self._download_slots = asyncio.Semaphore(self._max_downloads)
        async with self._download_slots:
            yield

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

    @asynccontextmanager
    async def _open(
        self,
        method: str,
        url: URL,
        *,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        idempotent: bool | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The final response after the retry and redirect policies; released when the
        block exits."""
        session = self.session
        self._enter()
        try:
            response = await self._final(session, method, url, body, params, headers,
                                         idempotent, timeout)
            try:
                yield response
            finally:
                response.release()
        finally:
            self._leave()

    def _enter(self) -> None:
        self._in_flight += 1
        if self._idle is not None:
            self._idle.clear()

    def _leave(self) -> None:
        self._in_flight -= 1
        if not self._in_flight and self._idle is not None:
            self._idle.set()

    async def _final(
        self, session: aiohttp.ClientSession, method: str, url: URL, body: bytes | None,
        params: Mapping[str, str] | None, headers: Mapping[str, str] | None,
        idempotent: bool | None, timeout: aiohttp.ClientTimeout | None,
        first: _Outcome | None = None, started: float | None = None,
    ) -> aiohttp.ClientResponse:
        """The final response (the caller releases it): each hop of the redirect policy
        runs the retry loop (:func:`~sinch_calling.retry.with_retries`), and each
        attempt is authenticated afresh over the exact bytes, path and type it sends.
        Hops and attempts share the call's one timeout, counted from ``started``
        (``time.monotonic()``; now by default). ``first``: the outcome of the first
        hop's attempt 1 when the caller made it."""
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        content_type = JSON_CONTENT_TYPE if body is not None else None
        base = timeout or self.timeout
        if started is None:
            started = time.monotonic()
        deadline = None if base.total is None else started + base.total
        for hop in range(MAX_REDIRECTS + 1):
            if first is None:
                try:  # attempt 1 outside the retry loop: the usual call needs no more
                    first = await _send(session, method, url, body, params,
                                        self._headers(method, url, content_type, body,
                                                      headers),
                                        _time_left(base, deadline) if hop else timeout)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    first = exc
            if isinstance(first, BaseException) or first.status in self.retry.statuses:

                async def send(attempt: int, url: URL = url,
                               params: Mapping[str, str] | None = params
                               ) -> aiohttp.ClientResponse:
                    return await _send(session, method, url, body, params,
                                       self._headers(method, url, content_type, body, headers),
                                       _time_left(base, deadline))

                response = await with_retries(send, self.retry, idempotent=idempotent,
                                              deadline=deadline, stop=self._closing,
                                              method=method, url=url, first=first)
            else:
                response = first
            first = None
            try:
                target = redirect_target(method, url, response, self.origins)
            except SinchError:
                response.release()
                raise
            if target is None:
                return response
            response.release()
            url, params = target, None
        raise RedirectError(response.status, f"{method}: more than {MAX_REDIRECTS} "
                                             "redirects", location=str(url)[:200])

    def _headers(self, method: str, url: URL, content_type: str | None, body: bytes | None,
                 extra: Mapping[str, str] | None) -> dict[str, str]:
        """The headers of one attempt beside the session's own (``User-Agent``,
        ``Accept``): ``extra``, the type, then the credentials (over this attempt's exact
        URL, type and bytes). As few as possible: aiohttp merges each one by one."""
        headers = self._credentials(method, url, content_type, body)
        return {**extra, **headers} if extra else headers

    async def _exchange(
        self, session: aiohttp.ClientSession, method: str, url: URL, body: bytes | None,
        params: Mapping[str, str] | None, idempotent: bool | None, first: _Outcome | None,
        started: float,
    ) -> tuple[int, bytes] | SinchError:
        """The general path of :meth:`request` (retries, redirects, error answers, bounded
        reads of any framing); ``first`` is attempt 1's outcome when already made, the
        call having started at ``started`` (``time.monotonic()``)."""
        response = await self._final(session, method, url, body, params, None,
                                     idempotent, None, first, started)
        try:
            if response.status >= 400:
                return await read_error(response)
            try:
                return response.status, await read_bounded(response, self.max_response_bytes)
            except ResponseTooLargeError as exc:
                return _fresh(exc)  # its traceback's frames hold the response
        finally:
            response.release()

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
        POST/PATCH are not) for the retry policy. Raises an :class:`ApiError` for an
        error status, :class:`InvalidResponseError` for a success that is not JSON or
        too large, :class:`TransportError` when no answer came, and
        :class:`ClientClosedError` once the client is closed.
        """
        # The usual call (a 2xx JSON answer of announced length, no tracing) is handled
        # inline: every coroutine layer costs about 1.5 µs per call (measured with
        # callgrind). Anything else goes on to _exchange, which judges attempt 1 as
        # the retry and redirect policies say.
        error: SinchError | None = None
        outcome: tuple[int, bytes] | SinchError | None = None
        started = time.monotonic()  # the call's one timeout runs from here
        try:
            session = self.session
            self._enter()
            try:
                first: _Outcome | None = None
                if not _trace.isEnabledFor(logging.DEBUG):
                    try:  # the signed headers are never a local: tracebacks keep those
                        first = await session.request(
                            method, url, data=body, params=params, allow_redirects=False,
                            headers=self._credentials(method, url, None if body is None
                                                      else JSON_CONTENT_TYPE, body))
                    except (TimeoutError, aiohttp.ClientError) as exc:
                        first = exc
                    if type(first) is aiohttp.ClientResponse:
                        status = first.status
                        size = first.content_length
                        if 200 <= status < 300 and status not in self._retry_statuses \
                                and size is not None and size <= self.max_response_bytes \
                                and "Content-Encoding" not in first.headers:
                            try:
                                outcome = status, await first.read()
                            finally:
                                first.release()
                if outcome is None:
                    outcome = await self._exchange(session, method, url, body, params,
                                                   idempotent, first, started)
            finally:
                first = None  # an answer or aiohttp error holds the signed request headers
                self._leave()
        except SinchError as exc:
            error = _fresh(exc)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            # ValueError: aiohttp refusing to compose a request (typed, never raw: its
            # frames hold the request headers)
            error = self._failure(method, url, exc)
        except (AssertionError, RuntimeError, asyncio.CancelledError) as exc:
            error = self._closed_under(exc)
        if error is not None:
            raise error  # outside the except blocks: no chain to aiohttp's exception
        if isinstance(outcome, SinchError):
            raise outcome
        status, payload = cast(tuple[int, bytes], outcome)  # set whenever error is None
        return _json(status, payload)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: URL,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a response for streaming; error statuses raise (typed by status, with
        at most ``ERROR_BODY_LIMIT`` bytes read) before the body is handed out.

        The connection is released when the block exits, whatever happens.
        """
        error: BaseException | None = None
        opened = False
        try:
            async with self._open(method, url, headers=headers, timeout=timeout) as response:
                if response.status >= 400:
                    error = await read_error(response)
                else:
                    opened = True
                    yield response
        except SinchError as exc:
            if opened:
                raise  # the caller's own, from inside the block
            error = _fresh(exc)
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = self._failure(method, url, exc)
        except ValueError as exc:
            if opened:
                raise  # the caller's own
            error = self._failure(method, url, exc)  # aiohttp refusing the request
        except (AssertionError, RuntimeError, asyncio.CancelledError) as exc:
            if opened:
                raise
            error = self._closed_under(exc)
        if error is not None:
            raise error

    def _failure(self, method: str, url: URL, exc: BaseException) -> SinchError:
        if self._cut_off:
            return ClientClosedError(f"{method} {url.with_query(None)}: the client was closed "
                                     "while this call was in flight", maybe_sent=True)
        return _transport_error(method, url, exc)

    def _closed_under(self, exc: BaseException) -> SinchError:
        """A call cut off by :meth:`close` (aiohttp raises assertion, runtime or
        cancellation errors then): a :class:`ClientClosedError`, unless the caller's own
        task is being cancelled or the client is not closed (then it is re-raised)."""
        task = asyncio.current_task()
        if not self._cut_off or (task is not None and task.cancelling()):
            raise exc
        return ClientClosedError("the client was closed while this call was in flight",
                                 maybe_sent=True)


def _fresh(exc: SinchError) -> SinchError:
    """``exc`` without its chain or traceback: one raised inside the signing middleware
    has that frame (and the request headers) in its traceback."""
    exc.__context__ = exc.__cause__ = None
    return exc.with_traceback(None)


def _json(status: int, payload: bytes) -> Any:
    """The decoded body; ``None`` for an empty (or blank) one."""
    if not payload:
        return None
    try:
        return decode_json(payload)
    except (ValueError, RecursionError):
        if not payload.strip():
            return None
        error = InvalidResponseError("response is not JSON", status=status, body=payload[:200])
    raise error


_shortcuts: dict[type[Any], Callable[[Any], Any] | None] = {}


def decode(data: Any, cls: type[T], *, status: int = 200) -> T:
    """Structure ``data`` into ``cls``, raising :class:`InvalidResponseError` on a mismatch.

    A well-formed answer takes the converter's generated shortcut
    (:mod:`sinch_calling._fast_structure`: the same value); anything else, and every
    error, is the converter's own."""
    try:
        fast = _shortcuts[cls]
    except KeyError:
        from ._fast_structure import fast_structure_fn  # built on first use, not at import

        fast = _shortcuts[cls] = fast_structure_fn(cls)
    if fast is not None:
        value: T | None = fast(data)
        if value is not None:
            return value
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError,
            RecursionError) as exc:
        error = InvalidResponseError(f"cannot decode {cls.__name__}: {_reason(exc)}",
                                     status=status, body=_excerpt(data))
    raise error


def _reason(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        try:
            return "; ".join(cattrs.transform_error(exc, path="$",
                                                    format_exception=_why))[:300]
        except Exception:
            return type(exc).__name__
    return str(exc)[:300]


def _why(exc: BaseException, type_: Any) -> str:
    """A decoding failure in words: our hooks' own messages, else cattrs' default."""
    if isinstance(exc, ValueError | TypeError) and str(exc):
        return str(exc)[:120]
    return cattrs.v.format_exception(exc, type_)


def _excerpt(data: Any) -> bytes:
    try:
        return json.dumps(data).encode()[:200]
    except (ValueError, TypeError, RecursionError):
        return b""


def _transport_error(method: str, url: URL, exc: BaseException) -> TransportError:
    # str(), never repr(): aiohttp's response errors carry the request headers in their
    # repr, Authorization included.
    kind = "timed out" if isinstance(exc, asyncio.TimeoutError) else "failed"
    return TransportError(f"{method} {url.with_query(None)} {kind}: "
                          f"{type(exc).__name__}: {exc}", maybe_sent=not provably_unsent(exc))
