"""The exceptions this library raises, and the mapping of error responses onto them.

Every failure the server reports becomes an :class:`ApiError` subclass that carries
the HTTP status, Sinch's ``errorCode``, the message and the reference, whatever the
body looked like (Sinch JSON, an empty body or a proxy's HTML page).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "InvalidResponseError",
    "NotFoundError",
    "RateLimitedError",
    "ServerError",
    "SignatureError",
    "SinchError",
    "TransportError",
    "ValidationError",
    "error_from_response",
]

_EXCERPT = 200


class SinchError(Exception):
    """Base class of every exception raised by sinch_calling."""


class ValidationError(SinchError, ValueError):
    """An argument broke a rule; raised before any request is sent.

    ``field`` names the offending argument, ``rule`` says what it must be.
    """

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class TransportError(SinchError):
    """The request did not get an HTTP response: connection failure, reset or timeout.

    ``maybe_sent`` is False only when the request provably never reached the server
    (the connection was refused or the name did not resolve), so even a callout may
    be sent again safely.
    """

    def __init__(self, message: str, *, maybe_sent: bool = True) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class ClientClosedError(SinchError, RuntimeError):
    """The client was used after ``close()`` (or after its ``async with`` block)."""


class InvalidResponseError(SinchError):
    """A successful response whose body could not be decoded into the expected model."""

    def __init__(self, message: str, *, status: int, body: bytes = b"") -> None:
        super().__init__(f"{message} (HTTP {status}; body starts {_excerpt(body)!r})")
        self.status = status
        self.body = body


class SignatureError(SinchError):
    """A callback's signature is missing, malformed, stale or does not match."""


class ApiError(SinchError):
    """The server answered with an error status.

    Attributes: ``status`` (HTTP status code), ``error_code`` (Sinch's numeric code,
    ``None`` when the body had none), ``message``, ``reference`` (Sinch's trace
    reference, quote it to support) and ``body`` (the raw bytes, for diagnosis).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: int | None = None,
        reference: str | None = None,
        body: bytes = b"",
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


def _excerpt(body: bytes) -> str:
    return body[:_EXCERPT].decode("utf-8", "replace")


def _error_code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


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


def error_from_response(
    status: int, body: bytes, *, reason: str = "", retry_after: float | None = None
) -> ApiError:
    """Build the :class:`ApiError` subclass for an error response. Pure; never raises."""
    message, error_code, reference = "", None, None
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        error_code = _error_code(data.get("errorCode"))
        raw_message = data.get("message") or data.get("error") or data.get("status")
        message = str(raw_message) if raw_message is not None else ""
        raw_reference = data.get("reference")
        reference = str(raw_reference) if raw_reference is not None else None
    elif body.strip():
        message = f"{reason or 'error'}: non-JSON body {_excerpt(body)!r}"
    if not message:
        message = reason or "error"
    cls = _class_for(status)
    kwargs: dict[str, Any] = {"error_code": error_code, "reference": reference, "body": body}
    if cls is RateLimitedError:
        return RateLimitedError(status, message, retry_after=retry_after, **kwargs)
    return cls(status, message, **kwargs)
