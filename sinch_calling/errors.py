"""The exceptions this library raises, and the mapping of error responses onto them.

Every failure the server reports becomes an :class:`ApiError` subclass that carries
the HTTP status, Sinch's ``errorCode``, the message and the reference, whatever the
body looked like (Sinch JSON, an empty body or a proxy's HTML page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "BusyError",
    "ClientClosedError",
    "EventLoopError",
    "EventParseError",
    "InvalidResponseError",
    "LeaseLostError",
    "LedgerBusyError",
    "LedgerCorruptError",
    "LedgerError",
    "LedgerMismatchError",
    "LedgerNotFoundError",
    "LedgerUnavailableError",
    "NotFoundError",
    "RateLimitedError",
    "RedirectError",
    "ResponseTooLargeError",
    "RowError",
    "RowStateError",
    "ServerError",
    "SignatureError",
    "SinchError",
    "TransportError",
    "UnexpectedHostError",
    "UnknownRowError",
    "ValidationError",
    "error_from_response",
]

_EXCERPT = 200
_MESSAGE_LIMIT = 500
_MAX_CODE_DIGITS = 18


class SinchError(Exception):
    """Base class of every exception raised by sinch_calling.

    ``maybe_sent`` (every class has it) answers the question a caller placing calls
    must ask after a failure: *may the server have acted on the request?* True means
    a callout may have been placed (or a call changed), so it must not be sent again
    blindly (treat it as uncertain and reconcile); False means it provably was not
    acted on, so it is safe to send again. Each class documents its value; here it is
    False (errors that concern no request: callbacks, configuration).
    """

    maybe_sent: bool = False


class ValidationError(SinchError, ValueError):
    """An argument broke a rule; raised before any request is sent.

    ``field`` names the offending argument, ``rule`` says what it must be.
    ``maybe_sent`` is False: nothing was sent.
    """

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class TransportError(SinchError):
    """The request did not get an HTTP response: connection failure, reset or timeout.

    ``maybe_sent`` is False only when the request provably never reached the server
    (the connection was refused or the name did not resolve), so even a callout may
    be sent again safely; True otherwise.
    """

    def __init__(self, message: str, *, maybe_sent: bool = True) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class UnexpectedHostError(TransportError):
    """A redirect pointed outside the origins the client was configured with.

    The first request reached a server (so ``maybe_sent`` is True), but nothing, and no
    credentials, went to the other origin.
    """

    def __init__(self, message: str, *, maybe_sent: bool = True) -> None:
        super().__init__(message, maybe_sent=maybe_sent)


class ClientClosedError(SinchError, RuntimeError):
    """The client was used after ``close()`` (or after its ``async with`` block), or a
    call in flight outlasted ``close()``'s wait and was cut off.

    ``maybe_sent`` is False for a call refused because the client was already closed
    (nothing was sent), True for one cut off in flight (a callout may have been placed).
    """

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class EventLoopError(SinchError, RuntimeError):
    """The client was used from an event loop other than the one its session belongs to
    (for example in a second ``asyncio.run``). Create one client per event loop.
    ``maybe_sent`` is False: raised before the request was sent."""


class EventParseError(SinchError, ValueError):
    """A callback body that is not a well-formed Sinch event (not JSON, no ``event``, bad
    types). ``maybe_sent`` is False: it concerns no request of this client."""


class BusyError(SinchError, OSError):
    """Another run (in this process or another) is writing the same files: an export
    into the same directory, or a download of the same recording to the same file
    (:mod:`sinch_calling.transfer.directory`). Nothing was written; retry once it
    has finished."""


class InvalidResponseError(SinchError):
    """A successful response whose body could not be decoded into the expected model.

    ``maybe_sent`` is True: the server answered with success, so it acted (a callout
    whose answer carries no usable ``callId`` may still have been placed).
    """

    maybe_sent = True

    def __init__(self, message: str, *, status: int, body: bytes = b"") -> None:
        super().__init__(f"{message} (HTTP {status}; body starts {_excerpt(body)!r})")
        self.status = status
        self.body = body


class ResponseTooLargeError(InvalidResponseError):
    """A successful answer larger than the client reads (``limit`` bytes, after
    decompression); ``claimed`` is the ``Content-Length`` the server announced, if any."""

    def __init__(self, limit: int, *, status: int, claimed: int | None = None) -> None:
        what = f"claims {claimed} bytes" if claimed is not None and claimed > limit \
            else "is longer"
        super().__init__(f"response body {what}; at most {limit} are read", status=status)
        self.limit = limit
        self.claimed = claimed


class SignatureError(SinchError):
    """A callback's signature is missing, malformed, stale or does not match.
    ``maybe_sent`` is False: it concerns no request of this client."""


class ApiError(SinchError):
    """The server answered with an error status.

    Attributes: ``status`` (HTTP status code), ``error_code`` (Sinch's numeric code,
    ``None`` when the body had none), ``message``, ``reference`` (Sinch's trace
    reference, quote it to support), ``body`` (the raw bytes, for diagnosis) and
    ``maybe_sent``: by default False for a 4xx (the server refused the request: 400,
    401/403, 404, 429 and the rest), True for a 5xx (a server or a proxy failed, maybe
    after acting) and for a 3xx (see :class:`RedirectError`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: int | None = None,
        reference: str | None = None,
        body: bytes = b"",
        maybe_sent: bool | None = None,
    ) -> None:
        detail = f"HTTP {status}"
        if error_code is not None:
            detail += f", errorCode {error_code}"
        super().__init__(f"{message} ({detail})" if message else detail)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.reference = reference
        self.body = body
        self.maybe_sent = (not 400 <= status < 500) if maybe_sent is None else maybe_sent


class BadRequestError(ApiError):
    """HTTP 400: the server rejected the parameters (Sinch codes 4000x)."""


class AuthenticationError(ApiError):
    """HTTP 401 or 403: bad credentials, signature or authorization scheme."""


class NotFoundError(ApiError):
    """HTTP 404: no such call, conference, recording or number (Sinch code 40400)."""


class RateLimitedError(ApiError):
    """HTTP 429: too many requests. ``retry_after`` is the server's hint, in seconds."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(status, message, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """HTTP 5xx: the server (or a proxy in front of it) failed."""


class RedirectError(ApiError):
    """A redirect the client does not follow: a 301, 302 or 303 answered to a POST or
    PATCH (the server may have acted; it is never replayed as a GET), a redirect with no
    usable ``Location``, or too many of them. ``location`` is the target, if any.

    ``maybe_sent`` is True except after a 307 or 308 (by which the server says it did not
    act): a 301/302/303 answered to a callout means it may have been placed.
    """

    def __init__(self, status: int, message: str, *, location: str | None = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("maybe_sent", status not in (307, 308))
        super().__init__(status, message, **kwargs)
        self.location = location


def _excerpt(body: bytes) -> str:
    return body[:_EXCERPT].decode("utf-8", "replace")


def _error_code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 10**_MAX_CODE_DIGITS else None
    if isinstance(value, str):
        text = value.strip()
        # "²".isdigit() is true and int() refuses it: ASCII digits only, and few of them.
        if text.isascii() and text.isdigit() and len(text) <= _MAX_CODE_DIGITS:
            return int(text)
    return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MESSAGE_LIMIT]


def _class_for(status: int) -> type[ApiError]:
    if status == 400:
        return BadRequestError
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return ApiError


def _details(body: bytes, reason: str) -> tuple[str, int | None, str | None]:
    message, error_code, reference = "", None, None
    try:
        data = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        error_code = _error_code(data.get("errorCode"))
        message = _text(data.get("message") or data.get("error") or data.get("status")) or ""
        reference = _text(data.get("reference"))
    elif body.strip():
        message = f"{reason or 'error'}: non-JSON body {_excerpt(body)!r}"
    return message, error_code, reference


def error_from_response(
    status: int, body: bytes, *, reason: str = "", retry_after: float | None = None
) -> ApiError:
    """Build the :class:`ApiError` subclass for an error response. Pure; never raises.

    The class follows the status alone (a 500 is a :class:`ServerError` whatever its
    body); ``body`` (pass an excerpt: the transport reads at most
    ``ERROR_BODY_LIMIT`` bytes of it) adds Sinch's ``errorCode``, message and reference
    when it is Sinch JSON.
    """
    reason = reason if isinstance(reason, str) else ""
    try:
        message, error_code, reference = _details(body, reason)
    except Exception:  # the contract is "never raises": fall back to the status alone
        message, error_code, reference = "", None, None
    kwargs: dict[str, Any] = {"error_code": error_code, "reference": reference,
                              "body": bytes(body)}
    cls = _class_for(status)
    if cls is RateLimitedError:
        return RateLimitedError(status, message or reason or "error", retry_after=retry_after,
                                **kwargs)
    return cls(status, message or reason or "error", **kwargs)


# -- campaign ledgers (sinch_calling.campaign.ledger re-exports them) ----------------


class LedgerError(SinchError):
    """Base class of the ledger's errors."""


class LedgerCorruptError(LedgerError):
    """The store is not a campaign ledger, is damaged, or has a newer schema version.
    The message names the location and what is wrong; nothing was changed."""


class LedgerMismatchError(LedgerError):
    """The ledger was made for another campaign (different options or template).

    ``differences`` maps each option that differs to ``(in the ledger, now)``. Rerun
    with the original options, use another ledger, or pass ``force=True`` to adopt
    the ledger's rows for the new campaign (settled rows stay settled).
    """

    def __init__(self, location: str,
                 differences: Mapping[str, tuple[object, object]]) -> None:
        names = ", ".join(sorted(differences)) or "fingerprint"
        super().__init__(
            f"ledger {location} belongs to a different campaign (differs in: {names}); "
            "use the original options, another ledger, or force=True to reuse it")
        self.location = location
        self.differences = dict(differences)


class LedgerNotFoundError(LedgerError):
    """A look at a ledger (``open(None)``: status, results, settle, a dry run) found no
    campaign ledger there: no file, no ledger schema, or no campaign of that name."""


class LedgerBusyError(LedgerError):
    """Another run holds a ledger that allows one run at a time (the SQLite file)."""


class LedgerUnavailableError(LedgerError):
    """The ledger's database stayed unreachable longer than the ledger's ``outage``
    budget (statements were retried on fresh connections meanwhile). Nothing was
    recorded by the failing operation; rows already ``sending`` become ``uncertain``
    when their lease runs out, never ``pending``."""


class LeaseLostError(LedgerError):
    """The row is no longer held by this worker (its lease ran out and the row moved
    on, or an operator settled it). The caller must not send or must log the answer:
    the ledger keeps what it has."""


class UnknownRowError(LedgerError, KeyError):
    """No row with that key (or call id) in this ledger."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown row"


class RowStateError(LedgerError):
    """The row is not in a state that allows the operation (for example settling a row
    that is not uncertain). The message gives the row and its state."""


class RowError(SinchError, ValueError):
    """One campaign row cannot be dialled (preflight): ``str()`` says which column
    breaks which rule."""
