"""Authenticate a client's request as Sinch does: Application signature or Basic.

Tolerant of every well-behaved client: the scheme word in any case, ``x-timestamp`` in
any ISO-8601 form (``Z`` or an offset, with or without fractions), and the signature
checked against whatever ``Content-Type`` arrived (or none), on the raw path as sent.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Mapping

from ..auth import Credentials, verify_request
from ..errors import SignatureError
from .responses import SinchHTTPError
from .state import Application

__all__ = ["authenticate"]


def _invalid(why: str) -> SinchHTTPError:
    return SinchHTTPError(401, 40108, f"Invalid credentials: {why}")


def authenticate(
    applications: Mapping[str, Application],
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    window: float | None,
    now: float | None = None,
) -> str:
    """The application key of an authentic request; :class:`SinchHTTPError` (401) otherwise.

    ``window`` bounds, in seconds, how far ``x-timestamp`` may be from ``now`` either way
    (``None``: any timestamp is fresh).
    """
    authorization = headers.get("Authorization")
    if not authorization:
        raise _invalid("missing Authorization header")
    scheme, _, credentials = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "application":
        return _application(applications, method, raw_path, headers, body, credentials,
                            window, now)
    if scheme == "basic":
        return _basic(applications, credentials)
    raise SinchHTTPError(401, 40301, "Invalid authorization scheme for calling the method")


def _application(
    applications: Mapping[str, Application],
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: str,
    window: float | None,
    now: float | None,
) -> str:
    def lookup(key: str) -> Credentials | None:
        app = applications.get(key)
        return None if app is None else app.credentials

    try:
        return verify_request(lookup, method, raw_path, headers, body, max_age=window,
                              now=time.time() if now is None else now)
    except SignatureError as exc:
        raise _invalid(str(exc)) from None


def _basic(applications: Mapping[str, Application], credentials: str) -> str:
    try:
        key = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid("malformed Basic credentials") from None
    app = applications.get(key)
    if app is None:
        raise _invalid("unknown application key")
    expected = app.credentials.basic().partition(" ")[2]
    if not hmac.compare_digest(expected.encode(), credentials.strip().encode()):
        raise _invalid("Basic credentials do not match")
    return key
