"""The callback verifier and router under forged input (issue 8, failures 7, 8 and 9):
malformed headers are a 401, never a 500; max_age=None turns freshness off; paths a
framework decoded or a proxy rewrote still verify."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling.auth import CallbackVerifier, signed_headers
from sinch_calling.errors import SignatureError, ValidationError
from sinch_calling.webhooks import CallbackRouter, path_spellings

KEY = "app-key"
SECRET = "c2VjcmV0LWZvci13ZWJob29rcw=="
DICE = b'{"event":"dice","callid":"c1"}'
TYPE = "application/json"


def sign(path: str, body: bytes = DICE, *, when: datetime | None = None) -> dict[str, str]:
    headers = signed_headers(KEY, SECRET, method="POST", path=path, content_type=TYPE,
                             body=body, timestamp=when)
    return {**headers, "Content-Type": TYPE}


@pytest.fixture
async def served() -> AsyncIterator[tuple[int, CallbackRouter]]:
    router = CallbackRouter(KEY, SECRET)
    app = web.Application()
    app.router.add_post("/sinch/cb", router.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server.port, router


async def _raw_post(port: int, head_lines: list[bytes], body: bytes = DICE) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /sinch/cb HTTP/1.1\r\nHost: x\r\n" + b"".join(
            line + b"\r\n" for line in head_lines)
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()


# -- 7. malformed headers are 401; max_age ----------------------------------------------------


@pytest.mark.parametrize("header", ["Authorization", "Content-Type", "x-timestamp"])
async def test_a_non_utf8_byte_in_a_header_is_a_401(served: Any, header: str) -> None:
    port, _ = served
    good = sign("/sinch/cb")
    lines = []
    for name, value in good.items():
        raw = f"{name}: {value}".encode()
        if name.lower() == header.lower():
            raw += b"\xff\xfe"
        lines.append(raw)
    assert await _raw_post(port, lines) == 401
    assert await _raw_post(port, [f"{k}: {v}".encode() for k, v in good.items()]) == 200


@settings(max_examples=60, deadline=None)
@given(authorization=st.text(max_size=60), stamp=st.text(max_size=40),
       content_type=st.text(max_size=40))
def test_the_verifier_raises_only_signature_errors(authorization: str, stamp: str,
                                                   content_type: str) -> None:
    verifier = CallbackVerifier(KEY, SECRET)
    headers = {"Authorization": authorization, "x-timestamp": stamp,
               "Content-Type": content_type}
    with pytest.raises(SignatureError):
        verifier.verify("POST", "/sinch/cb", headers, DICE)


@settings(max_examples=40, deadline=None)
@given(authorization=st.binary(max_size=40), path=st.text(max_size=30))
def test_surrogate_escaped_headers_and_paths_raise_signature_errors(
        authorization: bytes, path: str) -> None:
    verifier = CallbackVerifier(KEY, SECRET)
    headers = sign("/sinch/cb")
    headers["Authorization"] = "Application app-key:" + authorization.decode(
        "utf-8", "surrogateescape")
    with pytest.raises(SignatureError):
        verifier.verify("POST", path, headers, DICE)


def test_max_age_none_turns_freshness_off() -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    CallbackVerifier(KEY, SECRET, max_age=None).verify("POST", "/sinch/cb",
                                                       sign("/sinch/cb", when=old), DICE)
    with pytest.raises(SignatureError, match="window"):
        CallbackVerifier(KEY, SECRET).verify("POST", "/sinch/cb", sign("/sinch/cb", when=old),
                                             DICE)


@pytest.mark.parametrize("max_age", [math.nan, math.inf, -math.inf, 0, -1,
                                     timedelta(seconds=-1), "300", True])
def test_max_age_must_be_finite_and_positive(max_age: Any) -> None:
    with pytest.raises(ValidationError, match="max_age"):
        CallbackVerifier(KEY, SECRET, max_age=max_age)
    with pytest.raises(ValidationError, match="max_age"):
        CallbackRouter(KEY, SECRET, max_age=max_age)


# -- 8. ASGI without raw_path ---------------------------------------------------------------


async def _asgi(router: CallbackRouter, path: str, headers: dict[str, str],
                raw_path: bytes | None = None) -> int:
    scope: dict[str, Any] = {
        "type": "http", "method": "POST", "path": path,
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
    }
    if raw_path is not None:
        scope["raw_path"] = raw_path
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": DICE, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await router.asgi(scope, receive, send)
    status: int = sent[0]["status"]
    return status


@pytest.mark.parametrize("signed_path", [
    "/sinch/cb/client%3AAnonymous", "/sinch/cb/client%3aAnonymous", "/sinch/cb/a%7Eb",
    "/sinch/cb/a%2Fb", "/sinch/cb/client:Anonymous", "/sinch/cb/a%20b", "/sinch/cb/%C3%A9t%C3%A9",
])
async def test_asgi_without_raw_path_accepts_what_sinch_signed(signed_path: str) -> None:
    router = CallbackRouter(KEY, SECRET)
    headers = sign(signed_path)
    assert await _asgi(router, unquote(signed_path), headers) == 200
    assert await _asgi(router, unquote(signed_path), headers,
                       raw_path=signed_path.encode()) == 200
    # and a signature for another path is still refused
    assert await _asgi(router, "/sinch/other", headers) == 401


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1,
                        max_size=8), min_size=1, max_size=4))
def test_the_quoted_spelling_of_any_path_is_among_its_spellings(segments: list[str]) -> None:
    from urllib.parse import quote
    path = "/" + "/".join(segments)
    spellings = path_spellings(path)
    assert 1 <= len(spellings) <= 64
    assert quote(path, safe="/-._~") in spellings


# -- 9. a proxy that rewrites the path ------------------------------------------------------


async def test_public_path_prefix_behind_a_rewriting_proxy() -> None:
    router = CallbackRouter(KEY, SECRET, public_path_prefix="/voice/")
    plain = CallbackRouter(KEY, SECRET)
    app = web.Application()
    app.router.add_post("/sinch/cb", router.handle)
    app.router.add_post("/plain/sinch/cb", plain.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        import aiohttp
        async with aiohttp.ClientSession() as session:
            # Sinch signs /voice/sinch/cb; the proxy forwards /sinch/cb
            async with session.post(f"http://127.0.0.1:{server.port}/sinch/cb", data=DICE,
                                    headers=sign("/voice/sinch/cb")) as answer:
                assert answer.status == 200
            async with session.post(f"http://127.0.0.1:{server.port}/sinch/cb", data=DICE,
                                    headers=sign("/sinch/cb")) as answer:
                assert answer.status == 401


@pytest.mark.parametrize("prefix", ["voice", "/vo ice", 5, "/v?x=1"])
def test_a_bad_public_path_prefix_is_a_validation_error(prefix: Any) -> None:
    with pytest.raises(ValidationError, match="public_path_prefix"):
        CallbackRouter(KEY, SECRET, public_path_prefix=prefix)
