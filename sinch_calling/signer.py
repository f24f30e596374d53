"""The aiohttp client middleware that authenticates every request attempt."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse

from .auth import Credentials, _signed

__all__ = ["AuthScheme", "UnexpectedHostError", "auth_middleware"]

AuthScheme = Literal["signed", "basic"]


class UnexpectedHostError(aiohttp.ClientError):
    """Refused to authenticate a request to a host the user did not choose (a redirect)."""


async def _body_bytes(request: ClientRequest) -> bytes:
    body = request.body
    if not body:
        return b""
    return await body.as_bytes()


def auth_middleware(
    credentials: Credentials, scheme: AuthScheme, allowed_hosts: Collection[str]
) -> aiohttp.ClientMiddlewareType:
    """Sign (or Basic-authenticate) each attempt, over the exact bytes, path and type sent.

    Requests to hosts outside ``allowed_hosts`` (say, after a redirect) are refused
    rather than sent with credentials.
    """
    hosts = frozenset(h.lower() for h in allowed_hosts)

    async def middleware(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        host = (request.url.raw_host or "").lower()
        if host not in hosts:
            raise UnexpectedHostError(f"refusing to send credentials to {host!r}")
        headers = request.headers
        if scheme == "basic":
            headers["Authorization"] = credentials.basic()
        else:
            headers.update(_signed(
                credentials,
                request.method,
                request.url.raw_path,
                headers.get("Content-Type", ""),
                await _body_bytes(request),
                None,
            ))
        return await handler(request)

    return middleware
