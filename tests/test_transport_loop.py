"""The transport's one request loop against hostile servers (issue 10's middleware-free
path): the inline first attempt and the general path give the same outcomes, traced or
not; one timeout per call across attempts and hops; redirects carrying credentials are
refused; no secret is reachable from any error. Real servers only."""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from typing import Any

import aiohttp
import pytest

import sinch_calling
from sinch_calling import RetryPolicy, SinchCalling
from sinch_calling.errors import (
    ClientClosedError,
    RateLimitedError,
    RedirectError,
    ServerError,
    TransportError,
)
from tests.hostile import reachable_texts
from tests.hostile_http import HostileServer, Reply, Request

KEY, SECRET = "key", "c2VjcmV0"
CALL = {"callId": "abc", "status": "ONGOING"}


@pytest.fixture(params=[False, True], ids=["untraced", "traced"])
def tracing(request: pytest.FixtureRequest) -> Any:
    log = logging.getLogger("sinch_calling.http")
    old = log.level
    log.setLevel(logging.DEBUG if request.param else logging.WARNING)
    yield request.param
    log.setLevel(old)


async def get_or_post(sinch: SinchCalling, call: str) -> Any:
    """``calls.get`` or a tts callout: the answer, or the exception raised."""
    try:
        if call == "get":
            return await sinch.calls.get("abc")
        return await sinch.callouts.tts("+46000000001", text="hi", cli="+46000000000")
    except BaseException as exc:
        return exc


def client(server: HostileServer, **kw: Any) -> SinchCalling:
    return SinchCalling(KEY, SECRET, base_url=server.url, **kw)


# --- one total timeout per call ----------------------------------------------------

async def test_total_timeout_slow_503_then_retry(tracing: bool) -> None:
    """GET: first attempt is a 503 answered after 0.7 s of a 1 s budget; the retry
    must not get a fresh 1 s: the whole call stays within ~1 s."""
    async def respond(req: Request) -> Reply:
        await asyncio.sleep(0.7)
        return Reply(503, {}, b"")

    async with HostileServer(respond) as server, client(
            server, timeout=1.0,
            retry=RetryPolicy(attempts=5, backoff=0.01, max_backoff=0.01)) as sinch:
        started = time.monotonic()
        with pytest.raises((ServerError, TransportError)):
            await sinch.calls.get("abc")
        took = time.monotonic() - started
    assert took < 1.5, f"took {took:.2f}s of a 1 s timeout, {len(server.requests)} attempts"
    assert len(server.requests) <= 2


async def test_total_timeout_hanging_get(tracing: bool) -> None:
    """GET to a server that never answers: one total timeout, not one per attempt."""
    async def respond(req: Request) -> Reply:
        await asyncio.sleep(30)
        return Reply(200)

    async with HostileServer(respond) as server, client(
            server, timeout=0.6,
            retry=RetryPolicy(attempts=5, backoff=0.01, max_backoff=0.01)) as sinch:
        started = time.monotonic()
        with pytest.raises(TransportError):
            await sinch.calls.get("abc")
        took = time.monotonic() - started
    assert took < 1.1, f"took {took:.2f}s of a 0.6 s timeout, {len(server.requests)} attempts"
    assert len(server.requests) == 1  # the first attempt used the whole budget


async def test_total_timeout_slow_redirect(tracing: bool) -> None:
    """A 307 after 0.7 s of a 1 s budget, then a server that hangs: ~1 s in all."""
    async def respond(req: Request) -> Reply:
        if req.path.endswith("/first"):
            await asyncio.sleep(0.7)
            return Reply(307, {"Location": "/calling/v1/calls/id/second"})
        await asyncio.sleep(30)
        return Reply(200)

    async with HostileServer(respond) as server, client(
            server, timeout=1.0, retry=RetryPolicy.never()) as sinch:
        started = time.monotonic()
        with pytest.raises(TransportError):
            await sinch.calls.get("first")
        took = time.monotonic() - started
    assert took < 1.5, f"call took {took:.2f}s with a 1 s total timeout"


# --- hostile answers, fast path vs general path ------------------------------------

SECRET_TEXTS = ("Authorization", "c2VjcmV0", "Application key:", "Basic ")


def deep_texts(exc: BaseException) -> list[str]:
    """reachable_texts, plus request headers of any aiohttp response/exception/request
    object held in a frame local (one level deep)."""
    texts = reachable_texts(exc)
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        tb = cur.__traceback__
        while tb is not None:
            for value in tb.tb_frame.f_locals.values():
                for obj in (value, getattr(value, "__dict__", {}).get("_request_info")):
                    info = getattr(obj, "request_info", None) or (
                        obj if isinstance(obj, aiohttp.RequestInfo) else None)
                    if info is not None:
                        texts.append(repr(dict(info.headers)))
                    if isinstance(value, dict):
                        texts.append(repr(value))
            tb = tb.tb_next
        stack += [e for e in (cur.__context__, cur.__cause__) if e is not None]
    return texts


def leaked(exc: BaseException, deep: bool = False) -> list[str]:
    texts = deep_texts(exc) if deep else reachable_texts(exc)
    return [t[:200] for t in texts if "Application key:" in t or "c2VjcmV0" in t
            or ("Application " in t and "key:" in t)]


async def outcome(respond: Any, call: str = "get", **kw: Any) -> tuple[Any, HostileServer]:
    options: dict[str, Any] = {"retry": RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.002,
                                                    max_retry_after=0.05), "timeout": 5.0, **kw}
    async with HostileServer(respond) as server, client(server, **options) as sinch:
        try:
            if call == "get":
                result: Any = await sinch.calls.get("abc")
            elif call == "post":
                result = await sinch.callouts.tts("+46000000001", text="hi", cli="+46000000000")
            else:
                raise AssertionError(call)
        except Exception as exc:
            result = exc
    return result, server


def describe(result: Any) -> Any:
    if isinstance(result, BaseException):
        import re
        text = re.sub(r"127\.0\.0\.1:\d+", "HOST", str(result))
        return (type(result).__name__, text, getattr(result, "maybe_sent", None),
                getattr(result, "status", None))
    return result


CASES: dict[str, tuple[str, Any]] = {
    "cut_short_get": ("get", lambda r: Reply(200, {}, b'{"callId": "abc", "status": "ONGOING"}',
                                             cut=5)),
    "cut_short_post": ("post", lambda r: Reply(200, {}, b'{"callId": "abc"}', cut=5)),
    "cl_over_bound": ("get", lambda r: Reply(200, {"Content-Length": str(9 * 1024 * 1024)},
                                             b"{}")),
    "gzip_bomb": ("get", lambda r: Reply(200, {"Content-Encoding": "gzip"},
                                         gzip.compress(b" " * (10 * 1024 * 1024)))),
    "gzip_fine": ("get", lambda r: Reply(200, {"Content-Encoding": "gzip"},
                                         gzip.compress(b'{"callId": "abc"}'))),
    "not_json": ("get", lambda r: Reply(200, {}, b"<html>oops</html>")),
    "wrong_shape": ("get", lambda r: Reply.json({"callId": 5, "status": ["x"]})),
    "wrong_shape_list": ("get", lambda r: Reply.json([1, 2])),
    "blank": ("get", lambda r: Reply(200, {}, b"   ")),
    "no_cl_close": ("get", lambda r: Reply(200, {}, b'{"callId": "abc"}', framing="close")),
    "chunked": ("get", lambda r: Reply(200, {}, b'{"callId": "abc"}', framing="chunked")),
    "chunked_cut": ("get", lambda r: Reply(200, {}, b'{"callId": "abc"}', framing="chunked",
                                           cut=3)),
    "post_503": ("post", lambda r: Reply(503, {}, b"")),
    "post_500": ("post", lambda r: Reply(500, {}, b'{"errorCode": 1, "message": "m"}')),
    "post_302": ("post", lambda r: Reply(302, {"Location": "/elsewhere"})),
    "post_303": ("post", lambda r: Reply(303, {"Location": "/elsewhere"})),
    "post_307_other_port": ("post", lambda r: Reply(307, {"Location": "http://127.0.0.1:1/x"})),
    "get_307_other_port": ("get", lambda r: Reply(307, {"Location": "http://127.0.0.1:1/x"})),
    "get_301_other_host": ("get", lambda r: Reply(301, {"Location": "http://localhost/x"})),
    "get_300": ("get", lambda r: Reply(300, {})),
    "get_304": ("get", lambda r: Reply(304, {})),
    "post_429_huge_retry_after": ("post", lambda r: Reply(429, {"Retry-After": "99999"})),
    "get_503_huge_retry_after": ("get", lambda r: Reply(503, {"Retry-After": "99999"})),
    "get_401": ("get", lambda r: Reply(401, {}, b'{"errorCode": 40100, "message": "no"}')),
    "get_200_status_in_retry": ("get", lambda r: Reply.json(CALL, 203)),
    "get_204": ("get", lambda r: Reply(204, {}, b"")),
    "get_huge_error": ("get", lambda r: Reply(400, {}, b"x" * (1024 * 1024))),
    "get_redirect_loop": ("get", lambda r: Reply(307, {"Location": r.path})),
    "post_308_loop": ("post", lambda r: Reply(308, {"Location": r.path})),
    "bad_location": ("get", lambda r: Reply(307, {"Location": "http://[::1"})),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_same_outcome_traced_and_untraced(case: str) -> None:
    call, respond = CASES[case]
    log = logging.getLogger("sinch_calling.http")
    results = []
    for level in (logging.WARNING, logging.DEBUG):
        log.setLevel(level)
        try:
            result, server = await outcome(respond, call)
        finally:
            log.setLevel(logging.NOTSET)
        results.append((describe(result), len(server.requests)))
        if isinstance(result, BaseException):
            assert isinstance(result, sinch_calling.errors.SinchError), repr(result)
            assert not leaked(result), leaked(result)
    assert results[0] == results[1]


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
async def test_no_secret_deep(case: str, traced: bool) -> None:
    call, respond = CASES[case]
    log = logging.getLogger("sinch_calling.http")
    log.setLevel(logging.DEBUG if traced else logging.WARNING)
    try:
        for auth in ("signed", "basic"):
            result, _ = await outcome(respond, call, auth=auth)
            if isinstance(result, BaseException):
                found = leaked(result, deep=True)
                assert not found, (auth, found)
    finally:
        log.setLevel(logging.NOTSET)


def sequence(*replies: Reply) -> Any:
    state = {"n": 0}

    def respond(req: Request) -> Reply:
        i = min(state["n"], len(replies) - 1)
        state["n"] += 1
        return replies[i]
    return respond


def hang_up(req: Request) -> Reply:
    raise ConnectionResetError  # the server closes without answering


SEQ_CASES: dict[str, tuple[str, Any, int]] = {
    "post_429_then_200": ("post", lambda: sequence(Reply(429), Reply.json({"callId": "x"})), 2),
    "post_429_always": ("post", lambda: sequence(Reply(429)), 3),
    "post_429_retry_after_then_200": ("post", lambda: sequence(
        Reply(429, {"Retry-After": "0.01"}), Reply.json({"callId": "x"})), 2),
    "get_503_then_200": ("get", lambda: sequence(Reply(503), Reply.json(CALL)), 2),
    "get_502_504_200": ("get", lambda: sequence(Reply(502), Reply(504), Reply.json(CALL)), 3),
    "get_503_always": ("get", lambda: sequence(Reply(503)), 3),
    "post_502": ("post", lambda: sequence(Reply(502), Reply.json({"callId": "x"})), 1),
    "get_hangup": ("get", lambda: hang_up, 6),  # aiohttp itself re-sends a GET once
    "post_hangup": ("post", lambda: hang_up, 1),
    "get_307_then_503_then_200": ("get", lambda: sequence(
        Reply(307, {"Location": "/calling/v1/calls/id/next"}), Reply(503), Reply.json(CALL)), 3),
    "post_307_then_429_then_200": ("post", lambda: sequence(
        Reply(307, {"Location": "/calling/v1/other"}), Reply(429), Reply.json({"callId": "y"})), 3),
    "post_429_then_307_then_200": ("post", lambda: sequence(
        Reply(429), Reply(307, {"Location": "/calling/v1/other"}), Reply.json({"callId": "y"})), 3),
}


@pytest.mark.parametrize("case", sorted(SEQ_CASES))
async def test_retry_sequences(case: str) -> None:
    call, factory, expected_requests = SEQ_CASES[case]
    log = logging.getLogger("sinch_calling.http")
    results = []
    for level in (logging.WARNING, logging.DEBUG):
        log.setLevel(level)
        try:
            result, server = await outcome(factory(), call)
        finally:
            log.setLevel(logging.NOTSET)
        results.append((describe(result), len(server.requests)))
    assert results[0] == results[1]
    assert results[0][1] == expected_requests


async def test_post_connection_refused_retried_unsent() -> None:
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    for level in (logging.WARNING, logging.DEBUG):
        logging.getLogger("sinch_calling.http").setLevel(level)
        try:
            async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{port}",
                                    retry=RetryPolicy(attempts=3, backoff=0.001,
                                                      max_backoff=0.002)) as sinch:
                with pytest.raises(TransportError) as info:
                    await sinch.callouts.tts("+46000000001", text="hi", cli="+46000000000")
        finally:
            logging.getLogger("sinch_calling.http").setLevel(logging.NOTSET)
        assert info.value.maybe_sent is False
        assert not leaked(info.value, deep=True)


# --- close() with calls in flight -----------------------------------------------------

async def test_close_during_retry_wait_post_429() -> None:
    async with HostileServer(lambda r: Reply(429, {"Retry-After": "5"})) as server:
        sinch = client(server, retry=RetryPolicy(attempts=3, max_retry_after=10), timeout=20)
        async with sinch:
            task = asyncio.create_task(
                sinch.callouts.tts("+46000000001", text="hi", cli="+46000000000"))
            while not server.requests:  # noqa: ASYNC110 - the server's own record
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await sinch.close()
            with pytest.raises(ClientClosedError) as info:
                await task
            assert time.monotonic() - started < 1
        assert info.value.maybe_sent is False
        assert len(server.requests) == 1
        assert not leaked(info.value, deep=True)


async def test_close_during_slow_first_attempt_answers() -> None:
    async def respond(req: Request) -> Reply:
        await asyncio.sleep(0.3)
        return Reply.json({"callId": "late"})
    async with HostileServer(respond) as server:
        sinch = client(server, timeout=5)
        task = asyncio.create_task(
            sinch.callouts.tts("+46000000001", text="hi", cli="+46000000000"))
        while not server.requests:  # noqa: ASYNC110 - the server's own record
            await asyncio.sleep(0.01)
        await sinch.close()
        assert await task == "late"
        with pytest.raises(ClientClosedError) as info:
            await sinch.calls.get("abc")
        assert info.value.maybe_sent is False


# --- retry.with_retries(first=...) directly ------------------------------------------

from sinch_calling.retry import with_retries  # noqa: E402


async def test_with_retries_first_timeout_not_idempotent() -> None:
    calls: list[int] = []

    async def send(attempt: int) -> aiohttp.ClientResponse:
        calls.append(attempt)
        raise AssertionError("must not send")

    with pytest.raises(TimeoutError):
        await with_retries(send, RetryPolicy(attempts=3, backoff=0.001), idempotent=False,
                           first=TimeoutError())
    assert calls == []


async def test_with_retries_first_timeout_idempotent_counts_attempts() -> None:
    calls: list[int] = []

    async def send(attempt: int) -> aiohttp.ClientResponse:
        calls.append(attempt)
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await with_retries(send, RetryPolicy(attempts=3, backoff=0.001), idempotent=True,
                           first=TimeoutError())
    assert calls == [2, 3]


async def test_with_retries_first_response_429_then_200() -> None:
    async def respond(req: Request) -> Reply:
        return Reply(429 if req.path == "/a" else 200)

    async with HostileServer(respond) as server, aiohttp.ClientSession() as session:
        first = await session.post(server.url + "/a")
        calls: list[int] = []

        async def send(attempt: int) -> aiohttp.ClientResponse:
            calls.append(attempt)
            return await session.post(server.url + "/b")

        response = await with_retries(send, RetryPolicy(attempts=3, backoff=0.001),
                                      idempotent=False, first=first)
        assert response.status == 200
        assert calls == [2]
        assert first.closed  # released
        response.release()


async def test_with_retries_first_response_final_returned_as_is() -> None:
    async with HostileServer(lambda r: Reply(503)) as server, \
            aiohttp.ClientSession() as session:
        first = await session.post(server.url + "/a")

        async def send(attempt: int) -> aiohttp.ClientResponse:
            raise AssertionError("must not send")

        response = await with_retries(send, RetryPolicy(), idempotent=False, first=first)
        assert response is first
        response.release()


# --- a redirect whose Location carries userinfo (same origin) -------------------------

@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("call", ["get", "post"])
async def test_redirect_with_userinfo_same_origin(call: str, traced: bool) -> None:
    """307 to http://u:p@<same host:port>/next: the same origin by (scheme, host, port).
    Whatever happens, the caller must get a typed SinchError with no secret reachable."""
    holder: dict[str, str] = {}

    def respond(req: Request) -> Reply:
        if req.path.endswith("/next"):
            return Reply.json({"callId": "abc"})
        return Reply(307, {"Location": holder["base"].replace("http://", "http://u:p@")
                           + "/calling/v1/next"})

    logging.getLogger("sinch_calling.http").setLevel(logging.DEBUG if traced else logging.WARNING)
    try:
        async with HostileServer(respond) as server, client(server) as sinch:
            holder["base"] = server.url
            result = await get_or_post(sinch, call)
            assert isinstance(result, RedirectError), repr(result)  # not followed
            assert not leaked(result, deep=True), leaked(result, deep=True)
            assert len(server.requests) == 1
    finally:
        logging.getLogger("sinch_calling.http").setLevel(logging.NOTSET)


@pytest.mark.parametrize("auth", ["signed", "basic"])
async def test_a_redirect_carrying_credentials_is_refused_with_no_secret(auth: str) -> None:
    import base64

    token = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    holder: dict[str, str] = {}

    def respond(req: Request) -> Reply:
        return Reply(307, {"Location": holder["base"].replace("http://", "http://u@")
                           + "/calling/v1/next"})

    async with HostileServer(respond) as server, client(server, auth=auth) as sinch:
        holder["base"] = server.url
        with pytest.raises(RedirectError) as info:
            await sinch.calls.get("abc")
    assert "credentials" in str(info.value)
    assert not leaked(info.value, deep=True)
    assert not [t for t in deep_texts(info.value) if token in t]


# --- malformed answers from a raw server ------------------------------------------------

from tests.hostile import raw_server  # noqa: E402
from tests.hostile import read_request as raw_read  # noqa: E402

RAW = {
    "garbage": b"NOT HTTP AT ALL\r\n\r\n",
    "status_99": b"HTTP/1.1 99 Low\r\nContent-Length: 0\r\n\r\n",
    "status_1xx_only": b"HTTP/1.1 100 Continue\r\n\r\n",
    "status_600": b"HTTP/1.1 600 High\r\nContent-Length: 2\r\n\r\n{}",
    "huge_header": b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200000 + b"\r\nContent-Length: 2\r\n\r\n{}",
    "neg_cl": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}",
    "two_cl": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "bad_encoding": (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n"
                     b"abcd"),
    "unknown_encoding": (b"HTTP/1.1 200 OK\r\nContent-Encoding: zz\r\nContent-Length: 2"
                         b"\r\n\r\n{}"),
    "br_encoding_bad": (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 4"
                        b"\r\n\r\nabcd"),
    "deflate_bad": (b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 4"
                    b"\r\n\r\nabcd"),
    "zstd_bad": (b"HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nContent-Length: 4"
                 b"\r\n\r\nabcd"),
    "http09": b"{}",
    "non_latin_header": ("HTTP/1.1 200 OK\r\nX: \u00e9\u4e2d\r\nContent-Length: 2\r\n\r\n"
                         "{}").encode(),
    "location_nul": b"HTTP/1.1 307 R\r\nLocation: /a\x00b\r\nContent-Length: 0\r\n\r\n",
    "location_userinfo_rel": (b"HTTP/1.1 307 R\r\nLocation: //u@127.0.0.1:PORT/x\r\n"
                              b"Content-Length: 0\r\n\r\n"),
    "location_ipv6": b"HTTP/1.1 307 R\r\nLocation: http://[::1]:1/x\r\nContent-Length: 0\r\n\r\n",
    "location_bad_port": (b"HTTP/1.1 307 R\r\nLocation: http://127.0.0.1:99999/x\r\n"
                          b"Content-Length: 0\r\n\r\n"),
    "location_scheme": (b"HTTP/1.1 307 R\r\nLocation: ftp://127.0.0.1/x\r\n"
                        b"Content-Length: 0\r\n\r\n"),
}


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("call", ["get", "post"])
@pytest.mark.parametrize("case", sorted(RAW))
async def test_raw_malformed(case: str, call: str, traced: bool) -> None:
    port_holder: dict[str, str] = {}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw_read(reader)
        writer.write(RAW[case].replace(b"PORT", port_holder["port"].encode()))
        await writer.drain()
        writer.close()

    logging.getLogger("sinch_calling.http").setLevel(logging.DEBUG if traced else logging.WARNING)
    try:
        async with raw_server(handler) as origin:
            port_holder["port"] = origin.rsplit(":", 1)[1]
            async with SinchCalling(KEY, SECRET, base_url=origin, timeout=3,
                                    retry=RetryPolicy(attempts=2, backoff=0.001)) as sinch:
                result = await get_or_post(sinch, call)
    finally:
        logging.getLogger("sinch_calling.http").setLevel(logging.NOTSET)
    if isinstance(result, BaseException):
        assert isinstance(result, sinch_calling.errors.SinchError), repr(result)
        assert not leaked(result), leaked(result)


async def test_total_timeout_post_429_retry_after_outlasting_budget(tracing: bool) -> None:
    """POST: a 429 answered after 0.8 s of a 1 s budget with Retry-After 0.5: waiting
    would outlast the call's one timeout, so the 429 must be returned (RateLimitedError)
    and the callout never re-sent after the budget."""
    async def respond(req: Request) -> Reply:
        if len(server.requests) == 1:
            await asyncio.sleep(0.8)
            return Reply(429, {"Retry-After": "0.5"})
        return Reply.json({"callId": "late"})

    async with HostileServer(respond) as server, client(
            server, timeout=1.0, retry=RetryPolicy(attempts=3, max_retry_after=10)) as sinch:
        started = time.monotonic()
        try:
            result: Any = await sinch.callouts.tts("+46000000001", text="hi", cli="+46000000000")
        except RateLimitedError as exc:
            result = exc
        took = time.monotonic() - started
    assert isinstance(result, RateLimitedError), (result, f"{took:.2f}s",
                                                  len(server.requests))


async def test_redirect_with_userinfo_stream() -> None:
    holder: dict[str, str] = {}

    def respond(req: Request) -> Reply:
        return Reply(307, {"Location": holder["base"].replace("http://", "http://u@")
                           + "/calling/v1/next"})

    async with HostileServer(respond) as server, client(server) as sinch:
        holder["base"] = server.url
        with pytest.raises(RedirectError):
            async with sinch.recordings.stream("rec-1"):
                pass
        assert len(server.requests) == 1
