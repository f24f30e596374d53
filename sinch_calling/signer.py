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
    credentials: Credentials, scheme: AuthScheme, allowed_origins: Collection[tuple[str, str]]
) -> aiohttp.ClientMiddlewareType:
    """Sign (or Basic-authenticate) each attempt, over the exact bytes, path and type sent.

    Requests outside ``allowed_origins`` (``(scheme, host)`` pairs), say after a
    redirect to another host or from https to http, are refused rather than sent with
    credentials.
    """
    origins = frozenset((s.lower(), h.lower()) for s, h in allowed_origins)

    async def middleware(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        url = request.url
        if (url.scheme, (url.raw_host or "").lower()) not in origins:
            raise UnexpectedHostError(
                f"refusing to send credentials to {url.scheme}://{url.raw_host}")
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
