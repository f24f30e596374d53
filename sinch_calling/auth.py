"""Request signing and callback verification (pure: no I/O, no event loop).

The "Application" scheme: ``Authorization: Application {key}:{signature}`` where the
signature is ``Base64(HMAC-SHA256(Base64Decode(secret), StringToSign))`` and

    StringToSign = METHOD \\n Content-MD5 \\n Content-Type \\n x-timestamp:TS \\n path

Sinch signs its callbacks the same way, so :class:`CallbackVerifier` checks both
callbacks arriving at a web backend and (in the emulator) requests from clients.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from .errors import SignatureError, ValidationError

__all__ = [
    "CallbackVerifier",
    "Credentials",
    "basic_authorization",
    "content_md5",
    "format_timestamp",
    "parse_timestamp",
    "sign",
    "signed_headers",
    "string_to_sign",
]

_EMPTY_MD5 = ""
_URLSAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def content_md5(body: bytes) -> str:
    """Base64 of the MD5 of ``body``; the empty string for an empty body."""
    if not body:
        return _EMPTY_MD5
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


def string_to_sign(method: str, md5: str, content_type: str, timestamp: str, path: str) -> str:
    """The exact text that is signed, per Sinch's Application scheme."""
    return f"{method.upper()}\n{md5}\n{content_type}\nx-timestamp:{timestamp}\n{path}"


def sign(secret: bytes, text: str) -> str:
    """Base64 of HMAC-SHA256 of ``text`` (UTF-8) keyed by the decoded secret."""
    return base64.b64encode(hmac.digest(secret, text.encode("utf-8"), "sha256")).decode("ascii")


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``: ``2023-11-22T09:10:11.999Z``."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
            f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z")


def parse_timestamp(text: str) -> datetime:
    """Parse any ISO-8601 form (``Z`` or an offset, fractions or none); naive means UTC."""
    value = text.strip()
    if value.endswith(("z", "Z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _decode_secret(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret.strip():
        raise ValidationError("application_secret", "must be a non-empty string")
    text = secret.strip()
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
        if _URLSAFE_BASE64.fullmatch(text):  # the URL-safe alphabet, padding optional
            try:
                decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            except (binascii.Error, ValueError):
                decoded = b""
    if not decoded:
        raise ValidationError(
            "application_secret", "must be base64 text, as the Sinch dashboard shows it"
        )
    return decoded


class Credentials:
    """An application key and its secret, validated once. The secret never shows in a repr."""

    __slots__ = ("_basic", "_key", "_secret", "_secret_text")

    def __init__(self, application_key: str, application_secret: str) -> None:
        if not isinstance(application_key, str) or not application_key.strip():
            raise ValidationError("application_key", "must be a non-empty string")
        self._key = application_key.strip()
        self._secret = _decode_secret(application_secret)
        self._secret_text = application_secret.strip()
        self._basic = basic_authorization(self._key, self._secret_text)

    @property
    def application_key(self) -> str:
        """The application key (public)."""
        return self._key

    def signature(self, text: str) -> str:
        """Sign ``text`` with this secret."""
        return sign(self._secret, text)

    def basic(self) -> str:
        """The ``Authorization`` value for Basic authentication."""
        return self._basic

    def __repr__(self) -> str:
        return f"Credentials(application_key={self._key!r}, application_secret=<hidden>)"

    def __reduce__(self) -> str:
        raise TypeError("Credentials cannot be pickled")


def basic_authorization(application_key: str, application_secret: str) -> str:
    """``Basic Base64(key:secret)``."""
    token = base64.b64encode(f"{application_key}:{application_secret}".encode()).decode("ascii")
    return f"Basic {token}"


def signed_headers(
    application_key: str,
    application_secret: str,
    *,
    method: str,
    path: str,
    content_type: str | None,
    body: bytes | None,
    timestamp: str | datetime | None = None,
) -> dict[str, str]:
    """Return the ``Authorization`` and ``x-timestamp`` headers for one request.

    ``path`` is the path exactly as sent (percent-encoded, no host or query);
    ``content_type`` the exact header value sent (``None`` when there is none);
    ``timestamp`` defaults to now.
    """
    credentials = Credentials(application_key, application_secret)
    return _signed(credentials, method, path, content_type or "", body or b"", timestamp)


def _signed(
    credentials: Credentials,
    method: str,
    path: str,
    content_type: str,
    body: bytes,
    timestamp: str | datetime | None,
) -> dict[str, str]:
    if timestamp is None:
        timestamp = datetime.now(UTC)
    stamp = timestamp if isinstance(timestamp, str) else format_timestamp(timestamp)
    text = string_to_sign(method, content_md5(body), content_type, stamp, path)
    return {
        "Authorization": f"Application {credentials.application_key}:{credentials.signature(text)}",
        "x-timestamp": stamp,
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


class CallbackVerifier:
    """Verify a signed request: Sinch's callbacks to you, or (in the emulator) clients' calls.

    ``max_age`` bounds how far ``x-timestamp`` may be from now, either way (default 5
    minutes). ``allow_basic`` also accepts ``Basic key:secret`` (the emulator uses it;
    Sinch never signs callbacks that way).
    """

    __slots__ = ("_allow_basic", "_credentials", "_max_age")

    def __init__(
        self,
        application_key: str,
        application_secret: str,
        max_age: timedelta | float = timedelta(minutes=5),
        *,
        allow_basic: bool = False,
    ) -> None:
        self._credentials = Credentials(application_key, application_secret)
        seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else float(max_age)
        if seconds <= 0:
            raise ValidationError("max_age", "must be positive")
        self._max_age = timedelta(seconds=seconds)
        self._allow_basic = allow_basic

    def __repr__(self) -> str:
        return (f"CallbackVerifier(application_key={self._credentials.application_key!r}, "
                f"max_age={self._max_age!r})")

    def verify(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> None:
        """Return if the request is authentic; raise :class:`SignatureError` otherwise.

        ``path`` is the raw request path (as received, without query); ``headers`` any
        case-insensitive or plain mapping; ``body`` the raw bytes.
        """
        authorization = _header(headers, "Authorization")
        if not authorization:
            raise SignatureError("missing Authorization header")
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and self._allow_basic:
            if not hmac.compare_digest(authorization.strip().encode(),
                                       self._credentials.basic().encode()):
                raise SignatureError("Basic credentials do not match")
            return
        if scheme != "application":
            raise SignatureError(f"unsupported authorization scheme {scheme!r}")
        key, sep, signature = credentials.strip().rpartition(":")
        if not sep or not key or not signature:
            raise SignatureError("Authorization must read 'Application key:signature'")
        if key != self._credentials.application_key:
            raise SignatureError("unknown application key")
        stamp = _header(headers, "x-timestamp")
        if not stamp:
            raise SignatureError("missing x-timestamp header")
        try:
            moment = parse_timestamp(stamp)
        except ValueError:
            raise SignatureError("x-timestamp is not an ISO-8601 timestamp") from None
        current = now or datetime.now(UTC)
        if abs(current - moment) > self._max_age:
            raise SignatureError("x-timestamp is outside the accepted window")
        content_type = _header(headers, "Content-Type") or ""
        text = string_to_sign(method, content_md5(body), content_type, stamp, path)
        expected = self._credentials.signature(text)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise SignatureError("signature does not match")
