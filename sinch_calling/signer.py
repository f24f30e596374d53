"""The aiohttp client middleware that authenticates every request attempt."""

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


def authenticator(
    credentials: Credentials, scheme: AuthScheme, allowed_origins: Collection[Origin]
) -> Callable[[ClientRequest], Awaitable[None]]:
    """What :func:`auth_middleware` does to each attempt, as a step of its own (the
    client runs it from its retry middleware: one middleware layer instead of two)."""
    origins = frozenset(allowed_origins)
    basic = credentials.basic() if scheme == "basic" else None

    async def authenticate(request: ClientRequest) -> None:
        url = request.url
        if origin_of(url) not in origins:
            raise UnexpectedHostError(  # refused before sending: nothing went out
                f"refusing to send credentials to {origin_text(url)}", maybe_sent=False)
        headers = request.headers
        if basic is not None:
            headers["Authorization"] = basic
        else:
            headers.update(sign_request(
                credentials,
                method=request.method,
                path=url.raw_path,
                content_type=headers.get("Content-Type"),
                body=await _body_bytes(request),
            ))

    return authenticate
