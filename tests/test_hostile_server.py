"""A hostile or broken server (issue 8, failures 1, 2, 3 and 12): credentials stay within
the configured origins, redirects follow one policy, nothing a server sends grows memory
without bound, error mapping never raises, and no exception reaches a secret."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import RetryPolicy, SinchCalling
from sinch_calling.errors import (
    ApiError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    RedirectError,
    ResponseTooLargeError,
    ServerError,
    SinchError,
    TransportError,
    UnexpectedHostError,
    error_from_response,
)
from sinch_calling.retry import parse_retry_after
from sinch_calling.transport import ERROR_BODY_LIMIT, MAX_RESPONSE_BYTES

from .hostile import raw_server, reachable_texts, read_request

KEY = "my-key-id"
SECRET = "bXktc2VjcmV0LWtleQ=="  # base64 of "my-secret-key"
BASIC = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
NEVER = RetryPolicy.never()


class Recorder:
    """An aiohttp app answering each path with a scripted response, recording requests."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.answers: dict[str, Any] = {}
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append((request.method, request.raw_path, dict(request.headers), body))
        answer = self.answers.get(request.path, web.json_response({"callId": "from-b"}))
        return answer() if callable(answer) else answer


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Recorder, TestServer, Recorder, TestServer]]:
    a, b = Recorder(), Recorder()
    async with TestServer(a.app, host="127.0.0.1") as sa, \
            TestServer(b.app, host="127.0.0.1") as sb:
        yield a, sa, b, sb


def _redirect(status: int, location: str) -> Any:
    return lambda: web.Response(status=status, headers={"Location": location})


# -- 1. credentials go only to the configured origins; one redirect policy -------------------


@pytest.mark.parametrize("auth", ["signed", "basic"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_another_port_sends_nothing_there(
        pair: Any, auth: str, status: int) -> None:
    a, sa, b, sb = pair
    # Same scheme and host, another port: another origin (the minimal input).
    a.answers["/v1/configuration/numbers"] = _redirect(
        status, f"http://127.0.0.1:{sb.port}/v1/configuration/numbers")
    async with SinchCalling(KEY, SECRET, auth=auth,  # type: ignore[arg-type]
                            base_url=f"http://127.0.0.1:{sa.port}", retry=NEVER) as sinch:
        with pytest.raises(UnexpectedHostError) as info:
            await sinch.numbers.list()
    assert isinstance(info.value, TransportError)
    # May the server have acted? Not after a 307/308 (by which it says it did not: the
    # client re-sends a callout on one), maybe after any other redirect.
    assert info.value.maybe_sent is (status not in (307, 308))
    assert b.seen == []  # B never saw a request, so never a credential
    assert len(a.seen) == 1


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_a_post_answered_with_a_non_307_redirect_is_an_error(
        pair: Any, status: int) -> None:
    a, sa, _, _ = pair
    # Today's bug: a 303 to a URL answering {"callId": ...} made tts return that id.
    a.answers["/calling/v1/callouts"] = _redirect(status, "/elsewhere")
    a.answers["/elsewhere"] = web.json_response({"callId": "not-a-call-we-placed"})
    async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{sa.port}",
                            retry=NEVER) as sinch:
        with pytest.raises(RedirectError) as info:
            await sinch.callouts.tts("+46000000001", text="Hi")
    assert info.value.status == status
    assert info.value.location == "/elsewhere"
    assert info.value.maybe_sent is True  # the server saw the callout and may have placed it
    assert [m for m, *_ in a.seen] == ["POST"]  # never replayed, as GET or otherwise


@pytest.mark.parametrize("status", [307, 308])
async def test_a_post_follows_307_and_308_within_the_origin_with_the_same_body(
        pair: Any, status: int) -> None:
    a, sa, _, _ = pair
    a.answers["/calling/v1/callouts"] = _redirect(status, "/calling/v1/callouts-here")
    a.answers["/calling/v1/callouts-here"] = web.json_response({"callId": "placed"})
    async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{sa.port}",
                            retry=NEVER) as sinch:
        assert await sinch.callouts.tts("+46000000001", text="Hi") == "placed"
    (m1, _, h1, b1), (m2, p2, h2, b2) = a.seen
    assert (m1, m2) == ("POST", "POST")
    assert b1 == b2
    assert p2 == "/calling/v1/callouts-here"
    assert h1["Authorization"] != h2["Authorization"]  # each hop signed for its own path


async def test_a_get_follows_redirects_within_the_origin(pair: Any) -> None:
    a, sa, _, _ = pair
    a.answers["/v1/configuration/numbers"] = _redirect(302, "/v1/moved")
    a.answers["/v1/moved"] = web.json_response({"numbers": [{"number": "+4600"}]})
    async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{sa.port}",
                            retry=NEVER) as sinch:
        numbers = await sinch.numbers.list()
    assert [n.number for n in numbers] == ["+4600"]


async def test_redirects_share_the_calls_one_timeout() -> None:
    async def slow_hop(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        hop = int(request.query.get("hop", "0"))
        if hop < 4:
            raise web.HTTPFound(f"/v1/configuration/numbers?hop={hop + 1}")
        return web.json_response({"numbers": []})

    app = web.Application()
    app.router.add_get("/v1/configuration/numbers", slow_hop)
    async with TestServer(app, host="127.0.0.1") as server, \
            SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}",
                         timeout=1.0, retry=NEVER) as sinch:
        # each hop takes 0.3 s, well within 1 s; the five of them do not
        with pytest.raises(TransportError, match="timed out"):
            await sinch.numbers.list()


@pytest.mark.parametrize("status", [300, 304, 305, 399])
async def test_a_3xx_that_is_not_a_redirect_is_never_taken_for_an_answer(
        pair: Any, status: int) -> None:
    a, sa, _, _ = pair
    a.answers["/calling/v1/callouts"] = lambda: web.json_response({"callId": "x"},
                                                                  status=status)
    async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{sa.port}",
                            retry=NEVER) as sinch:
        with pytest.raises(RedirectError):
            await sinch.callouts.tts("+46000000001", text="Hi")


@pytest.mark.parametrize("location", [None, "http://[::1", "ftp://127.0.0.1/x"])
async def test_a_redirect_without_a_usable_location_is_an_error(
        pair: Any, location: str | None) -> None:
    a, sa, _, _ = pair
    headers = {} if location is None else {"Location": location}
    a.answers["/v1/configuration/numbers"] = lambda: web.Response(status=302, headers=headers)
    async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{sa.port}",
                            retry=NEVER) as sinch:
        with pytest.raises((RedirectError, UnexpectedHostError)):
            await sinch.numbers.list()


# -- 2. bounded reads ----------------------------------------------------------------------


def _gzip_of_zeros(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()


async def _endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   status: bytes, headers: bytes = b"Transfer-Encoding: chunked\r\n") -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n" + headers
                 + b"\r\n")
    chunk = b"[" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    for _ in range(100_000):  # bounded, yet far more than any client should read
        writer.write(framed)
        await writer.drain()


@pytest.mark.parametrize(("status", "expected"), [(b"200 OK", ResponseTooLargeError),
                                                  (b"500 Oops", ServerError)])
async def test_an_endless_chunked_body_is_cut_off(status: bytes, expected: type) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _endless(reader, writer, status)

    async with raw_server(handler) as url, \
            SinchCalling(KEY, SECRET, base_url=url, retry=NEVER) as sinch:
        tracemalloc.start()
        try:
            with pytest.raises(expected) as info:
                await sinch.numbers.list()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 * MAX_RESPONSE_BYTES
    if isinstance(info.value, ApiError):
        assert len(info.value.body) <= ERROR_BODY_LIMIT


@pytest.mark.parametrize(("status", "expected"), [(b"200 OK", ResponseTooLargeError),
                                                  (b"500 Internal Server Error", ServerError),
                                                  (b"404 Not Found", NotFoundError)])
async def test_a_body_claiming_a_gibibyte_is_not_read(status: bytes, expected: type) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 1073741824\r\n\r\n")
        for _ in range(64):  # 64 MiB of the claimed GiB, then the peer goes away
            writer.write(bytes(1024 * 1024))
            await writer.drain()

    async with raw_server(handler) as url, \
            SinchCalling(KEY, SECRET, base_url=url, retry=NEVER) as sinch:
        with pytest.raises(expected) as info:
            await sinch.numbers.list()
        if expected is NotFoundError:  # the same for a download
            with pytest.raises(NotFoundError):
                await sinch.recordings.download("rec.mp3", "/nonexistent-dir/never-written/")
    assert not isinstance(info.value, TransportError)


@pytest.mark.parametrize(("status", "expected"), [(200, ResponseTooLargeError),
                                                  (500, ServerError)])
async def test_a_gzip_bomb_is_not_inflated(status: int, expected: type) -> None:
    bomb = _gzip_of_zeros(100)  # ~100 KiB on the wire, 100 MiB inflated

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, body=bomb, headers={
            "Content-Encoding": "gzip", "Content-Type": "application/json"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    async with TestServer(app, host="127.0.0.1") as server, \
            SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}",
                         retry=NEVER) as sinch:
        tracemalloc.start()
        try:
            with pytest.raises(expected):
                await sinch.numbers.list()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 * MAX_RESPONSE_BYTES


async def test_a_small_gzip_answer_still_decodes(pair: Any) -> None:
    a, sa, _, _ = pair
    body = gzip.compress(json.dumps({"numbers": [{"number": "+4601"}]}).encode())
    a.answers["/v1/configuration/numbers"] = lambda: web.Response(
        body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{sa.port}") as sinch:
        assert [n.number for n in await sinch.numbers.list()] == ["+4601"]


# -- 3. the error mapping and the header parsers never raise --------------------------------


@pytest.mark.parametrize("body", [
    b'{"errorCode": "\xc2\xb2"}',  # "²".isdigit() is true; int() refuses it
    b'{"errorCode": "' + b"5" * 5000 + b'"}',
    b'{"errorCode": ' + b"5" * 4000 + b"}",
    b"[" * 200_000,
    b'{"message": {"nested": [1, 2, 3]}, "reference": ["x"]}',
])
@pytest.mark.parametrize("status", [400, 404, 429, 500, 503, 418])
def test_error_mapping_of_minimal_inputs(body: bytes, status: int) -> None:
    error = error_from_response(status, body, reason="Reason")
    assert error.status == status
    assert error.error_code is None or isinstance(error.error_code, int)


@settings(max_examples=150, deadline=None)
@given(status=st.integers(300, 599), body=st.binary(max_size=300),
       reason=st.text(max_size=30), retry_after=st.none() | st.floats(0, 100))
def test_error_mapping_never_raises(status: int, body: bytes, reason: str,
                                    retry_after: float | None) -> None:
    error = error_from_response(status, body, reason=reason, retry_after=retry_after)
    assert isinstance(error, ApiError)
    assert error.status == status
    assert (status >= 500) == isinstance(error, ServerError)
    str(error), repr(error)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80) | st.binary(max_size=80).map(lambda b: b.decode("latin-1")))
def test_retry_after_parsing_never_raises(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or seconds >= 0


async def test_deep_json_on_a_200_is_an_invalid_response(pair: Any) -> None:
    a, sa, _, _ = pair
    a.answers["/v1/configuration/numbers"] = lambda: web.Response(
        body=b"[" * 200_000, content_type="application/json")
    async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{sa.port}") as sinch:
        with pytest.raises(InvalidResponseError):
            await sinch.numbers.list()


@pytest.mark.parametrize("value", ["\u00b2", "1e999", "-5", "soon", "1.5.5"])
async def test_a_bad_retry_after_is_ignored(pair: Any, value: str) -> None:
    a, sa, _, _ = pair
    a.answers["/v1/configuration/numbers"] = lambda: web.Response(
        status=429, headers={"Retry-After": value.encode().decode("latin-1")})
    async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{sa.port}",
                            retry=NEVER) as sinch:
        with pytest.raises(RateLimitedError) as info:
            await sinch.numbers.list()
    assert info.value.retry_after is None


# -- 12. no secret reachable from an exception ---------------------------------------------


def _assert_no_secret(exc: BaseException, auth: str) -> None:
    texts = reachable_texts(exc)
    assert exc.__context__ is None
    assert exc.__cause__ is None
    for text in texts:
        assert BASIC not in text
        assert SECRET not in text
        assert f"Application {KEY}:" not in text


async def _drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.transport.abort()


async def _loop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await read_request(reader)
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()


async def _elsewhere(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://localhost:9/x\r\n"
                 b"Content-Length: 0\r\n\r\n")
    await writer.drain()


@pytest.mark.parametrize("auth", ["signed", "basic"])
@pytest.mark.parametrize("peer", [_drop, _loop, _elsewhere])
async def test_no_exception_reaches_a_secret(auth: str, peer: Any) -> None:
    async with raw_server(peer) as url, \
            SinchCalling(KEY, SECRET, auth=auth,  # type: ignore[arg-type]
                         base_url=url, retry=RetryPolicy(attempts=2, backoff=0.001)) as sinch:
        for call in (sinch.numbers.list(), sinch.callouts.tts("+46000000001", text="Hi")):
            with pytest.raises(SinchError) as info:
                await call
            _assert_no_secret(info.value, auth)
