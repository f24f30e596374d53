"""Request signing and verification: Sinch's "Application" scheme, in one place (pure).

``Authorization: Application {key}:{signature}`` where the signature is
``Base64(HMAC-SHA256(Base64Decode(secret), StringToSign))`` and

    StringToSign = METHOD \\n Content-MD5 \\n Content-Type \\n x-timestamp:TS \\n path

(Sinch, "Authentication: signed requests"; Sinch signs its callbacks the same way).
:func:`sign_request` and :func:`verify_request` are the only code that knows the scheme:
the client's middleware, :class:`CallbackVerifier`, the callback router and the emulator
all call them. No I/O, no event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from ._time import format_timestamp, now_timestamp, parse_timestamp
from .errors import SignatureError, ValidationError
from .validation import MAX_SECONDS, positive_seconds

__all__ = [
    "CallbackVerifier",
    "Credentials",
    "basic_authorization",
    "content_md5",
    "format_timestamp",
    "max_age_seconds",
    "parse_timestamp",
    "sign",
    "sign_request",
    "signed_headers",
    "string_to_sign",
    "verify_request",
]

_EMPTY_MD5 = ""
_URLSAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+={0,2}")
# Visible ASCII: a key travels in a header, so CR, LF, spaces and non-ASCII cannot.
_KEY = re.compile(r"[\x21-\x7e]+")
DEFAULT_MAX_AGE = timedelta(minutes=5)


def content_md5(body: bytes) -> str:
    """Base64 of the MD5 of ``body``; the empty string for an empty body."""
    if not body:
        return _EMPTY_MD5
    return binascii.b2a_base64(hashlib.md5(body).digest(), newline=False).decode("ascii")


def string_to_sign(method: str, md5: str, content_type: str, timestamp: str, path: str) -> str:
    """The exact text that is signed, per Sinch's Application scheme."""
    return f"{method.upper()}\n{md5}\n{content_type}\nx-timestamp:{timestamp}\n{path}"


def sign(secret: bytes, text: str) -> str:
    """Base64 of HMAC-SHA256 of ``text`` (UTF-8) keyed by the decoded secret."""
    return binascii.b2a_base64(hmac.digest(secret, text.encode("utf-8"), "sha256"),
                               newline=False).decode("ascii")


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
    """An application key and its secret, validated once. The secret never shows in a repr.

    The key is visible ASCII (it travels in a header); the secret is base64 text, as the
    Sinch dashboard shows it (the URL-safe alphabet is accepted too). Raises
    :class:`ValidationError` naming ``application_key`` or ``application_secret``.
    """

    __slots__ = ("_basic", "_key", "_mac")

    def __init__(self, application_key: str, application_secret: str) -> None:
        if not isinstance(application_key, str) or not application_key.strip():
            raise ValidationError("application_key", "must be a non-empty string")
        key = application_key.strip()
        if not _KEY.fullmatch(key):
            raise ValidationError("application_key", "must be visible ASCII characters only "
                                                     "(no spaces, CR, LF or other controls)")
        self._key = key
        secret = _decode_secret(application_secret)
        # One keyed HMAC per client, copied per request: the key schedule runs once.
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)
        self._basic = basic_authorization(self._key, application_secret.strip())

    @property
    def application_key(self) -> str:
        """The application key (public)."""
        return self._key

    def signature(self, text: str) -> str:
        """Sign ``text`` (UTF-8) with this secret: Base64 of HMAC-SHA256."""
        mac = self._mac.copy()
        mac.update(text.encode("utf-8"))
        return binascii.b2a_base64(mac.digest(), newline=False).decode("ascii")

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


def sign_request(
    credentials: Credentials,
    *,
    method: str,
    path: str,
    content_type: str | None,
    body: bytes | None,
    timestamp: str | datetime | None = None,
) -> dict[str, str]:
    """The ``Authorization`` and ``x-timestamp`` headers signing one request. Pure.

    ``path`` is the path exactly as sent (percent-encoded, no host or query);
    ``content_type`` the exact ``Content-Type`` value sent (``None`` when there is
    none); ``body`` the exact bytes; ``timestamp`` defaults to now.
    """
    if timestamp is None:
        stamp = now_timestamp()
    else:
        stamp = timestamp if isinstance(timestamp, str) else format_timestamp(timestamp)
    text = string_to_sign(method, content_md5(body or b""), content_type or "", stamp, path)
    return {
        "Authorization": f"Application {credentials.application_key}:{credentials.signature(text)}",
        "x-timestamp": stamp,
    }


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

    :func:`sign_request` for a key and secret given as text; see there.
    """
    return sign_request(Credentials(application_key, application_secret), method=method,
                        path=path, content_type=content_type, body=body, timestamp=timestamp)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if isinstance(key, str) and key.lower() == lowered:
            return candidate
    return None


def _ascii(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.isascii():
        raise SignatureError(f"malformed {name} header")
    return value


def max_age_seconds(max_age: timedelta | float | None) -> float | None:
    """``max_age`` as seconds: ``None`` (no freshness check), or a ``timedelta`` or a
    number of seconds > 0 and at most :data:`~sinch_calling.validation.MAX_SECONDS`.

    Raises :class:`ValidationError` naming ``max_age`` otherwise (NaN, infinity, <= 0,
    an integer too large for a float).
    """
    if max_age is None:
        return None
    if isinstance(max_age, timedelta):
        return positive_seconds("max_age", max_age.total_seconds())
    return positive_seconds("max_age", max_age)


_MAX_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z


def _current(now: datetime | float | None) -> datetime:
    """``now`` as an aware datetime: the clock, a datetime (naive means UTC) or POSIX
    seconds. A caller's bad ``now`` is a :class:`ValidationError`, not a bad signature."""
    if now is None:
        return datetime.now(UTC)
    if isinstance(now, datetime):
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    if isinstance(now, int | float) and not isinstance(now, bool) \
            and -_MAX_EPOCH <= now <= _MAX_EPOCH:  # compared first: float(10**400) overflows
        try:
            return datetime.fromtimestamp(now, UTC)
        except (ValueError, OverflowError, OSError):
            pass
    raise ValidationError("now", "must be a datetime or POSIX seconds within years 1 to 9999; "
                                 f"got {str(now)[:40]!r}")


def verify_request(
    credentials: Credentials | Callable[[str], Credentials | None],
    method: str,
    path: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_age: timedelta | float | None = 300.0,
    now: datetime | float | None = None,
) -> str:
    """Check one signed request; return its application key, or raise :class:`SignatureError`.

    ``credentials`` is the expected application's, or a lookup from a key to its
    credentials (``None`` for an unknown key). ``path`` is the raw path as received
    (no query), or several spellings of it, any of which may match (see
    :class:`~sinch_calling.webhooks.CallbackRouter` for paths a framework decoded).
    ``max_age`` bounds, in seconds (or a ``timedelta``), how far ``x-timestamp`` may be
    from ``now`` either way; ``None`` turns the freshness check off; NaN, infinity or
    <= 0 is a :class:`ValidationError`. Any malformed header (non-ASCII,
    unparsable) is a :class:`SignatureError`, never another exception.
    """
    seconds = (max_age if type(max_age) is float and 0 < max_age <= MAX_SECONDS
               else max_age_seconds(max_age))
    authorization = _header(headers, "Authorization")
    if not authorization:
        raise SignatureError("missing Authorization header")
    scheme, _, token = _ascii("Authorization", authorization).strip().partition(" ")
    if scheme.lower() != "application":
        raise SignatureError(f"unsupported authorization scheme {scheme[:20]!r}")
    key, sep, signature = token.strip().rpartition(":")
    if not sep or not key or not signature:
        raise SignatureError("Authorization must read 'Application key:signature'")
    found = credentials if isinstance(credentials, Credentials) else credentials(key)
    if found is None or found.application_key != key:
        raise SignatureError("unknown application key")
    stamp = _header(headers, "x-timestamp")
    if not stamp:
        raise SignatureError("missing x-timestamp header")
    current = None if seconds is None else _current(now)
    try:
        moment = parse_timestamp(_ascii("x-timestamp", stamp))
        if current is not None and seconds is not None:
            fresh = abs((current - moment).total_seconds()) <= seconds
        else:
            fresh = True
    except (ValueError, OverflowError, TypeError):
        raise SignatureError("x-timestamp is not an ISO-8601 timestamp") from None
    if not fresh:
        raise SignatureError("x-timestamp is outside the accepted window")
    content_type = _ascii("Content-Type", _header(headers, "Content-Type") or "")
    md5 = content_md5(body)
    given = signature.encode("ascii")
    for candidate in (path,) if isinstance(path, str) else path:
        try:
            text = string_to_sign(method, md5, content_type, stamp, candidate)
            expected = found.signature(text)
        except UnicodeError:
            continue
        if hmac.compare_digest(expected.encode("ascii"), given):
            return key
    raise SignatureError("signature does not match")


class CallbackVerifier:
    """Verify Sinch's signed callbacks: :meth:`verify` returns, or raises :class:`SignatureError`.

    ``max_age`` bounds how far ``x-timestamp`` may be from now, either way (a
    ``timedelta`` or seconds; default 5 minutes); ``None`` turns the check off (to
    replay stored callbacks in tests). NaN, infinity or <= 0 is a :class:`ValidationError`.
    """

    __slots__ = ("_credentials", "_max_age")

    def __init__(
        self,
        application_key: str,
        application_secret: str,
        max_age: timedelta | float | None = DEFAULT_MAX_AGE,
    ) -> None:
        self._credentials = Credentials(application_key, application_secret)
        self._max_age = max_age_seconds(max_age)

    @property
    def application_key(self) -> str:
        """The application whose callbacks this verifier accepts."""
        return self._credentials.application_key

    def __repr__(self) -> str:
        age = None if self._max_age is None else timedelta(seconds=self._max_age)
        return (f"CallbackVerifier(application_key={self._credentials.application_key!r}, "
                f"max_age={age!r})")

    def verify(
        self,
        method: str,
        path: str | Sequence[str],
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> None:
        """Return if the request is authentic; raise :class:`SignatureError` otherwise.

        ``path`` is the raw request path (as received, without query), or several
        spellings of it; ``headers`` any case-insensitive or plain mapping; ``body``
        the raw bytes.
        """
        verify_request(self._credentials, method, path, headers, body,
                       max_age=self._max_age, now=now)
