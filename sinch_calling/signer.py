"""Credentials on every request attempt: the pure header builder the client uses, and
the same step as an aiohttp client middleware for sessions of your own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Literal

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from yarl import URL

from .auth import Credentials, sign_request
from .errors import UnexpectedHostError

__all__ = [
    "AuthScheme",
    "Origin",
    "UnexpectedHostError",
    "auth_middleware",
    "authenticator",
    "credential_headers",
    "origin_of",
    "origin_text",
]

AuthScheme = Literal["signed", "basic"]
Origin = tuple[str, str, int]
"""``(scheme, host, port)``, lower case, the port explicit."""


def origin_of(url: URL) -> Origin:
    """The exact origin of ``url``: scheme, host and port (the scheme's default if none)."""
    return (url.scheme.lower(), (url.raw_host or "").lower(), url.port or 0)


def origin_text(url: URL) -> str:
    """``scheme://host:port`` for messages, an IPv6 host in brackets
    (``http://[::1]:8080``, not ``http://::1:8080``)."""
    host = url.raw_host or ""
    return f"{url.scheme}://{f'[{host}]' if ':' in host else host}:{url.port}"


async def _body_bytes(request: ClientRequest) -> bytes:
    body = request.body
    if not body:
        return b""
    return await body.as_bytes()


def auth_middleware(
    credentials: Credentials, scheme: AuthScheme, allowed_origins: Collection[Origin]
) -> aiohttp.ClientMiddlewareType:
    """Sign (or Basic-authenticate) each attempt, over the exact bytes, path and type sent.

    A request outside ``allowed_origins`` (exact scheme, host and port) is refused with
    :class:`UnexpectedHostError` rather than sent with credentials.
    """
    authenticate = authenticator(credentials, scheme, allowed_origins)

    async def middleware(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        await authenticate(request)
        return await handler(request)

    return middleware


def credential_headers(
    credentials: Credentials, scheme: AuthScheme, allowed_origins: Collection[Origin]
) -> Callable[[str, URL, str | None, bytes | None], dict[str, str]]:
    """A pure function giving the headers that authenticate one attempt:
    ``headers(method, url, content_type, body)`` -> ``{"Authorization": ..., ...}``
    (plus ``x-timestamp`` when signing, and ``Content-Type`` when ``content_type`` is
    given), over the exact method, percent-encoded path (``url.raw_path``),
    ``Content-Type`` value and body bytes sent.

    A ``url`` outside ``allowed_origins`` (exact scheme, host and port) raises
    :class:`UnexpectedHostError` (``maybe_sent=False``): credentials never go there.
    """
    origins = frozenset(allowed_origins)
    basic = credentials.basic() if scheme == "basic" else None

    def headers(method: str, url: URL, content_type: str | None,
                body: bytes | None) -> dict[str, str]:
        if origin_of(url) not in origins:
            raise UnexpectedHostError(  # refused before sending: nothing went out
                f"refusing to send credentials to {origin_text(url)}", maybe_sent=False)
        if basic is not None:
            out = {"Authorization": basic}
        else:
            out = sign_request(credentials, method=method, path=url.raw_path,
                               content_type=content_type, body=body)
        if content_type is not None:
            out["Content-Type"] = content_type
        return out

    return headers


def authenticator(
    credentials: Credentials, scheme: AuthScheme, allowed_origins: Collection[Origin]
) -> Callable[[ClientRequest], Awaitable[None]]:
    """What :func:`auth_middleware` does to each attempt, as a step of its own (for
    :func:`~sinch_calling.retry.retry_middleware`'s ``before_attempt``): the
    :func:`credential_headers` of the request as aiohttp is about to send it."""
    authenticate = credential_headers(credentials, scheme, allowed_origins)

    async def step(request: ClientRequest) -> None:
        headers = request.headers
        headers.update(authenticate(request.method, request.url, headers.get("Content-Type"),
                                    await _body_bytes(request)))

    return step
