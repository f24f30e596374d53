"""Retry policy and the one retry loop that applies it (also as a client middleware).

The rule that keeps campaigns safe: a request that could change state twice (a
callout, a SVAML PATCH) is retried only when the server provably did not act on
it: the connection was refused before anything was sent, or the server answered
429. Idempotent requests are also retried after timeouts, resets and 502/503/504.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import attrs
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from yarl import URL

from .errors import ClientClosedError
from .validation import non_negative_seconds, whole_number

__all__ = [
    "RetryPolicy",
    "parse_retry_after",
    "provably_unsent",
    "retry_middleware",
    "with_retries",
]

_TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
_DELTA_SECONDS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?")
_log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``attempts`` counts every try (1 means never retry). Delays grow from
    ``backoff`` by doubling up to ``max_backoff``, with full jitter; a server's
    ``Retry-After`` is honoured up to ``max_retry_after`` (a longer hint is not
    waited out: the 429 is returned as :class:`~sinch_calling.errors.RateLimitedError`).
    The whole operation, retries included, stays within the client's ``timeout``.

    Bounds (:class:`~sinch_calling.errors.ValidationError` naming ``retry.<field>``
    otherwise): ``attempts`` a whole number from 1 to 2**31 - 1; the three durations
    seconds from 0 to :data:`~sinch_calling.validation.MAX_SECONDS`; ``statuses``
    HTTP statuses, whole numbers from 100 to 599.
    """

    attempts: int = 3
    backoff: float = 0.25
    max_backoff: float = 5.0
    max_retry_after: float = 30.0
    statuses: frozenset[int] = attrs.field(default=_TRANSIENT_STATUSES, converter=frozenset)

    def __attrs_post_init__(self) -> None:
        whole_number("retry.attempts", self.attempts, minimum=1)
        for name in ("backoff", "max_backoff", "max_retry_after"):
            non_negative_seconds(f"retry.{name}", getattr(self, name))
        for status in self.statuses:
            whole_number("retry.statuses", status, minimum=100, maximum=599)

    @classmethod
    def never(cls) -> RetryPolicy:
        """No retries at all."""
        return cls(attempts=1)

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before try ``attempt + 1``, or ``None`` to give up."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)

    def delay_after_failures(self, failures: int) -> float | None:
        """Seconds to wait before trying again after ``failures`` (>= 1) tries in a row
        that failed without progress, or ``None`` once ``attempts`` tries are spent.

        For loops that retry on their own rather than through :func:`with_retries`, such as
        a download resuming after its connection dropped (a try that received bytes
        resets the count). The same jittered backoff as :meth:`delay`.
        """
        return self.delay(failures, None)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date, RFC 9110 10.2.3; some
    servers send "2.5"); ``None`` if absent or malformed. Never raises."""
    if not value or not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):  # ASCII digits only: "²".isdigit() is true
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def provably_unsent(exc: BaseException) -> bool:
    """True when the request provably never reached the server."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return False
    if isinstance(exc, aiohttp.ClientConnectorError):
        return not isinstance(exc.os_error, ssl.SSLError)
    return False


def _transient(exc: BaseException) -> bool:
    return provably_unsent(exc) or isinstance(
        exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | aiohttp.ClientPayloadError
        | asyncio.TimeoutError
    )


def _too_late(deadline: float | None, wait: float) -> bool:
    # Leave the next attempt a little time of its own, too.
    return deadline is not None and time.monotonic() + wait * 1.1 + 0.05 >= deadline


async def with_retries(
    send: Callable[[int], Awaitable[ClientResponse]], policy: RetryPolicy, *,
    idempotent: bool, deadline: float | None = None, stop: asyncio.Event | None = None,
    method: str = "", url: URL | None = None,
    first: ClientResponse | TimeoutError | aiohttp.ClientError | None = None,
) -> ClientResponse:
    """The one retry loop: ``await send(attempt)`` (attempt 1, 2, ...) until an answer
    is final by ``policy``, and return it (the caller releases it).

    The questions asked after each attempt:

    * an error (no answer): retried when the request provably never reached the server
      (any method), or, for an idempotent request, when it was transient (a timeout, a
      reset, a dropped connection); otherwise re-raised;
    * an answer whose status is in ``policy.statuses``: retried after a 429 (the server
      did not act, whatever the method), or after the others for an idempotent
      request, waiting ``Retry-After`` when given (over ``policy.max_retry_after`` the
      answer is returned instead); other statuses are returned;
    * a wait that would outlast ``deadline`` (``time.monotonic()`` seconds), or a
      ``stop`` event already set (the client is closing), returns the last answer (or
      re-raises the last error) instead.

    ``stop`` set during a wait raises :class:`~sinch_calling.errors.ClientClosedError`
    whose ``maybe_sent`` is that of the last attempt (False after a 429 or a refused
    connection). ``method`` and ``url`` only name the request in logs and errors.
    ``first``: the outcome of attempt 1 when the caller made it itself (the answer, or
    the error it raised), so that the loop starts by judging it.
    """
    attempt = 1
    while True:
        try:
            if first is None:
                response = await send(attempt)
            elif isinstance(first, BaseException):
                raise first
            else:
                response = first
            first = None
        except (TimeoutError, aiohttp.ClientError) as exc:
            first = None
            retryable = _transient(exc) if idempotent else provably_unsent(exc)
            wait = policy.delay(attempt, None) if retryable else None
            if wait is None or _too_late(deadline, wait) or _stopped(stop):
                raise
            cause, maybe_sent = type(exc).__name__, not provably_unsent(exc)
        else:
            status = response.status
            if status not in policy.statuses or (status != 429 and not idempotent):
                return response
            wait = policy.delay(attempt, parse_retry_after(response.headers.get("Retry-After")))
            if wait is None or _too_late(deadline, wait) or _stopped(stop):
                return response
            response.release()
            cause, maybe_sent = f"HTTP {status}", status != 429
        where = "" if url is None else url.with_query(None)
        _log.debug("retrying %s %s after %s in %.2f s (attempt %d of %d)", method,
                   "" if url is None else url.path, cause, wait, attempt + 1, policy.attempts)
        if await _pause(wait, stop):
            raise ClientClosedError(
                f"{method} {where}: the client was closed while this call waited to retry "
                f"(last attempt: {cause})", maybe_sent=maybe_sent)
        attempt += 1


def retry_middleware(
    policy: RetryPolicy, *, idempotent: bool, budget: float | None = None,
    stop: asyncio.Event | None = None,
    before_attempt: Callable[[ClientRequest], Awaitable[None]] | None = None,
) -> aiohttp.ClientMiddlewareType:
    """:func:`with_retries` as an aiohttp client middleware, for a session of your own
    (:class:`~sinch_calling.SinchCalling` runs the loop itself, without middleware).

    Put it before the signing middleware so that each attempt is signed afresh, or
    give the signing step as ``before_attempt`` (run before every attempt, its errors
    handled as the attempt's own). ``budget`` (seconds, the request's total timeout)
    stops it from starting a wait that would outlast the request: the last answer (a
    429 the server provably did not act on) is returned rather than turned into a
    timeout. ``stop``: see :func:`with_retries`.
    """

    async def middleware(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        async def send(attempt: int) -> ClientResponse:
            if before_attempt is not None:
                await before_attempt(request)
            return await handler(request)

        deadline = None if budget is None else time.monotonic() + budget
        return await with_retries(send, policy, idempotent=idempotent, deadline=deadline,
                                  stop=stop, method=request.method, url=request.url)

    return middleware


def _stopped(stop: asyncio.Event | None) -> bool:
    return stop is not None and stop.is_set()


async def _pause(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep ``seconds``; True (at once) if ``stop`` is set first."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        return False
    return True
