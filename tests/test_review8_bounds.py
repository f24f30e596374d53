"""Issue 8's review: ``maybe_sent`` on every error, numbers checked before any conversion,
one identifier rule for arguments and responses, origins and prefixes checked up front,
and a closing client that starts no new attempt. Real local servers, no mocks."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import RetryPolicy, SinchCalling, events, svaml
from sinch_calling.auth import CallbackVerifier, Credentials, sign_request, verify_request
from sinch_calling.errors import (
    ApiError,
    ClientClosedError,
    EventLoopError,
    EventParseError,
    InvalidResponseError,
    RateLimitedError,
    RedirectError,
    ServerError,
    SignatureError,
    SinchError,
    TransportError,
    UnexpectedHostError,
    ValidationError,
    error_from_response,
)
from sinch_calling.models import CalloutResponse, ConferenceDtmfOptions
from sinch_calling.transport import decode
from sinch_calling.validation import INT32_MAX, MAX_SECONDS, identifier
from sinch_calling.webhooks import CallbackRouter

KEY = "my-key-id"
SECRET = "bXktc2VjcmV0LWtleQ=="
NUMBER = "+46000000001"


class Server:
    """Answers each path with a queued (or fixed) response; records what it saw."""

    def __init__(self, answer: Callable[[web.Request], web.StreamResponse]) -> None:
        self.seen: list[tuple[str, str]] = []
        self.first = asyncio.Event()
        self.answer = answer
        self.app = web.Application(middlewares=[self.handle])

    @web.middleware
    async def handle(self, request: web.Request, handler: Any) -> web.StreamResponse:
        await request.read()
        self.seen.append((request.method, request.path))
        self.first.set()
        return self.answer(request)


@pytest.fixture
async def servers() -> AsyncIterator[list[TestServer]]:
    started: list[TestServer] = []
    yield started
    for test_server in started:
        await test_server.close()


async def _start(servers: list[TestServer],
                 answer: Callable[[web.Request], web.StreamResponse]) -> tuple[Server, str]:
    server = Server(answer)
    test_server = TestServer(server.app, host="127.0.0.1")
    await test_server.start_server()
    servers.append(test_server)
    return server, f"http://127.0.0.1:{test_server.port}"


# -- 1. maybe_sent: may the server have acted? -------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_a_callout_answered_with_a_non_307_redirect_may_have_been_placed(
        servers: list[TestServer], status: int) -> None:
    # The review's camp.py: a 303 to a POST was read as "Sinch refused, nothing placed".
    server, base = await _start(servers, lambda _: web.Response(
        status=status, headers={"Location": "/calling/v1/calls/id/placed-123"}))
    async with SinchCalling(KEY, SECRET, base_url=base, retry=RetryPolicy.never()) as sinch:
        with pytest.raises(RedirectError) as info:
            await sinch.callouts.tts(NUMBER, text="hi")
    assert info.value.maybe_sent is True
    assert server.seen == [("POST", "/calling/v1/callouts")]


async def test_endless_307s_to_a_callout_say_it_was_never_acted_on(
        servers: list[TestServer]) -> None:
    _, base = await _start(servers, lambda _: web.Response(
        status=307, headers={"Location": "/calling/v1/callouts"}))
    async with SinchCalling(KEY, SECRET, base_url=base, retry=RetryPolicy.never()) as sinch:
        with pytest.raises(RedirectError) as info:
            await sinch.callouts.tts(NUMBER, text="hi")
    assert info.value.maybe_sent is False  # each 307 says "not acted on; send it there"


@pytest.mark.parametrize(("status", "cls", "maybe_sent"), [
    (400, ApiError, False), (401, ApiError, False), (403, ApiError, False),
    (404, ApiError, False), (409, ApiError, False), (429, RateLimitedError, False),
    (500, ServerError, True), (502, ServerError, True), (503, ServerError, True),
    (504, ServerError, True),
])
async def test_every_error_status_says_whether_the_callout_may_be_placed(
        servers: list[TestServer], status: int, cls: type[ApiError], maybe_sent: bool) -> None:
    _, base = await _start(servers, lambda _: web.json_response(
        {"errorCode": 40000, "message": "no"}, status=status))
    async with SinchCalling(KEY, SECRET, base_url=base, retry=RetryPolicy.never()) as sinch:
        with pytest.raises(cls) as info:
            await sinch.callouts.tts(NUMBER, text="hi")
    assert info.value.maybe_sent is maybe_sent
    assert error_from_response(status, b"").maybe_sent is maybe_sent


async def test_a_success_that_cannot_be_decoded_may_have_placed_the_callout(
        servers: list[TestServer]) -> None:
    _, base = await _start(servers, lambda _: web.json_response({"callId": " "}))
    async with SinchCalling(KEY, SECRET, base_url=base) as sinch:
        with pytest.raises(InvalidResponseError) as info:
            await sinch.callouts.tts(NUMBER, text="hi")
    assert info.value.maybe_sent is True


async def test_errors_before_or_beside_any_request_were_not_sent() -> None:
    with pytest.raises(ValidationError) as refused:
        SinchCalling(KEY, SECRET, timeout=-1)
    assert refused.value.maybe_sent is False
    sinch = SinchCalling(KEY, SECRET, base_url="http://127.0.0.1:1")
    await sinch.close()
    with pytest.raises(ClientClosedError) as closed:
        await sinch.calls.get("c1")
    assert closed.value.maybe_sent is False
    for cls in (EventLoopError, EventParseError, SignatureError, SinchError):
        assert cls.maybe_sent is False
    assert TransportError("x").maybe_sent is True
    assert UnexpectedHostError("x").maybe_sent is True


# -- 2. numbers checked before any conversion ---------------------------------------------

HUGE = st.one_of(st.just(10**400), st.integers(min_value=10**308, max_value=10**500),
                 st.integers(max_value=-(10**308), min_value=-(10**500)))
TOO_BIG_INT = st.one_of(HUGE, st.integers(INT32_MAX + 1, 2**80))
TOO_LONG = st.one_of(HUGE, st.integers(MAX_SECONDS + 1, 2**80),
                     st.floats(MAX_SECONDS * 1.01, 1e308))


def _verify(max_age: Any = 300.0, now: Any = None) -> Any:
    credentials = Credentials(KEY, SECRET)
    headers = sign_request(credentials, method="POST", path="/cb", content_type=None, body=b"")
    return verify_request(credentials, "POST", "/cb", headers, b"", max_age=max_age, now=now)


SECONDS: dict[str, Callable[[Any], Any]] = {
    "timeout": lambda v: SinchCalling(KEY, SECRET, timeout=v),
    "max_age": lambda v: CallbackVerifier(KEY, SECRET, max_age=v),
    "max_age ": lambda v: CallbackRouter(KEY, SECRET, max_age=v),
    "max_age  ": lambda v: _verify(max_age=v),
    "handler_timeout": lambda v: CallbackRouter(KEY, SECRET, handler_timeout=v),
    "retry.backoff": lambda v: RetryPolicy(backoff=v),
    "retry.max_backoff": lambda v: RetryPolicy(max_backoff=v),
    "retry.max_retry_after": lambda v: RetryPolicy(max_retry_after=v),
}
WHOLE: dict[str, Callable[[Any], Any]] = {
    "max_connections": lambda v: SinchCalling(KEY, SECRET, max_connections=v),
    "retry.attempts": lambda v: RetryPolicy(attempts=v),
    "retry.statuses": lambda v: RetryPolicy(statuses=[v]),
    "Menu.repeats": lambda v: svaml.Menu("main", repeats=v),
    "Menu.max_digits": lambda v: svaml.Menu("main", max_digits=v),
    "Menu.timeout_mills": lambda v: svaml.Menu("main", timeout_mills=v),
    "Menu.max_timeout_mills": lambda v: svaml.Menu("main", max_timeout_mills=v),
    "ConferenceDtmfOptions.max_digits": lambda v: ConferenceDtmfOptions(max_digits=v),
    "ConferenceDtmfOptions.timeout_mills": lambda v: ConferenceDtmfOptions(timeout_mills=v),
    "ConnectPstn.max_duration": lambda v: svaml.ConnectPstn(NUMBER, max_duration=v),
    "ConnectPstn.dial_timeout": lambda v: svaml.ConnectPstn(NUMBER, dial_timeout=v),
    "ConnectSip.max_duration": lambda v: svaml.ConnectSip(max_duration=v),
    "ConnectStream.max_duration": lambda v: svaml.ConnectStream(max_duration=v),
    "Park.max_duration": lambda v: svaml.Park(max_duration=v),
    "StreamingOptions.version": lambda v: svaml.StreamingOptions(version=v),
    "StreamingOptions.sample_rate": lambda v: svaml.StreamingOptions(sample_rate=v),
}


NUMBERS = [(field, build, TOO_LONG) for field, build in sorted(SECONDS.items())] \
    + [(field, build, TOO_BIG_INT) for field, build in sorted(WHOLE.items())]


@pytest.mark.parametrize(("field", "build", "values"), NUMBERS, ids=[n[0] for n in NUMBERS])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_numeric_argument_refuses_huge_numbers_naming_itself(
        field: str, build: Callable[[Any], Any], values: Any, data: st.DataObject) -> None:
    with pytest.raises(ValidationError) as info:
        build(data.draw(values))
    assert info.value.field == field.strip()


@pytest.mark.parametrize(("field", "value"), [
    ("timeout", 10**400), ("max_age", 10**400), ("max_age", timedelta.max),
    ("retry.statuses", 10**100), ("retry.statuses", 600), ("retry.statuses", 99),
    ("Menu.repeats", 10**100), ("Menu.repeats", svaml.MAX_MENU_REPEATS + 1),
])
def test_the_reviews_minimal_numbers(field: str, value: Any) -> None:
    build = SECONDS.get(field) or WHOLE[field]
    with pytest.raises(ValidationError, match=field):
        build(value)


def test_the_largest_values_are_taken() -> None:
    assert svaml.Menu("main", repeats=svaml.MAX_MENU_REPEATS).repeats == svaml.MAX_MENU_REPEATS
    assert RetryPolicy(statuses=[100, 599]).statuses == {100, 599}
    assert svaml.Park(max_duration=INT32_MAX).max_duration == INT32_MAX
    assert repr(CallbackVerifier(KEY, SECRET, max_age=MAX_SECONDS))
    assert repr(CallbackRouter(KEY, SECRET, max_age=MAX_SECONDS))


@pytest.mark.parametrize("now", [10**400, math.nan, math.inf, "now", 10**12])
def test_a_bad_now_is_the_callers_error_not_a_bad_signature(now: Any) -> None:
    with pytest.raises(ValidationError, match="now"):
        _verify(now=now)


async def test_page_size_refuses_huge_numbers(servers: list[TestServer]) -> None:
    server, base = await _start(servers, lambda _: web.json_response([]))
    async with SinchCalling(KEY, SECRET, base_url=base) as sinch:
        with pytest.raises(ValidationError, match="page_size"):
            async for _ in sinch.recordings.list(page_size=10**100):
                pass
    assert server.seen == []


# -- 3. one identifier rule, both directions -----------------------------------------------

BAD_IDS = [" ", "", "\ud800", "a\r\nb", "\x00", "a\x7fb", "\x85", "\t"]


@pytest.mark.parametrize("call_id", BAD_IDS)
async def test_an_id_the_library_refuses_as_an_argument_is_refused_in_a_response(
        servers: list[TestServer], call_id: str) -> None:
    server, base = await _start(servers, lambda _: web.json_response({"callId": call_id}))
    async with SinchCalling(KEY, SECRET, base_url=base) as sinch:
        with pytest.raises(InvalidResponseError, match="call_id"):
            await sinch.callouts.tts(NUMBER, text="hi")
        sent = len(server.seen)
        with pytest.raises(ValidationError, match="call_id"):
            await sinch.calls.get(call_id)
        with pytest.raises(ValidationError, match="conference_id"):
            await sinch.conferences.get(call_id)
    assert len(server.seen) == sent  # the arguments were refused before sending


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=6) | st.sampled_from(BAD_IDS))
def test_decoding_an_id_uses_the_argument_rule(value: str) -> None:
    try:
        identifier("call_id", value)
        taken = True
    except ValidationError:
        taken = False
    try:
        decode({"callId": value}, CalloutResponse)
        decoded = True
    except InvalidResponseError:
        decoded = False
    assert taken is decoded


def test_an_unknown_events_call_id_follows_the_rule_too() -> None:
    assert events.parse({"event": "transfer", "callid": "a\r\nb"}).call_id is None
    assert events.parse({"event": "transfer", "callid": "c1"}).call_id == "c1"


# -- 4. origins and prefixes checked up front ----------------------------------------------


@pytest.mark.parametrize("base_url", [
    "http://h:0", "http://%00/", "http://a b/", "http://-h:1", "http://[fe80::1%25eth0]:1/",
    "http://" + "a" * 64 + ".example",
])
def test_a_base_url_no_connection_could_use_is_refused(base_url: str) -> None:
    with pytest.raises(ValidationError, match="base_url"):
        SinchCalling(KEY, SECRET, base_url=base_url)


@pytest.mark.parametrize("base_url", [
    "http://127.0.0.1:1", "http://[::1]:65535", "https://emulator_1.local", "http://localhost",
    "https://bücher.example",
])
def test_usual_base_urls_are_taken(base_url: str) -> None:
    SinchCalling(KEY, SECRET, base_url=base_url)


@pytest.mark.parametrize("prefix", ["/v\x00", "/v#x", "/v\x7f", "/v?x", "/v x", "v"])
def test_a_public_path_prefix_sinch_could_not_have_signed_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError, match="public_path_prefix"):
        CallbackRouter(KEY, SECRET, public_path_prefix=prefix)


# -- 5. an IPv6 origin in messages -----------------------------------------------------------


async def test_an_ipv6_redirect_target_is_shown_in_brackets(servers: list[TestServer]) -> None:
    _, base = await _start(servers, lambda _: web.Response(
        status=302, headers={"Location": "http://[::1]:37867/v1/configuration/numbers"}))
    async with SinchCalling(KEY, SECRET, base_url=base) as sinch:
        with pytest.raises(UnexpectedHostError) as info:
            await sinch.numbers.list()
    assert "http://[::1]:37867" in str(info.value)


# -- 6. a closing client starts no new attempt ----------------------------------------------


@pytest.mark.parametrize(("method", "status", "maybe_sent"), [
    ("GET", 503, True), ("POST", 429, False)])
async def test_close_stops_a_call_waiting_to_retry(
        servers: list[TestServer], method: str, status: int, maybe_sent: bool) -> None:
    server, base = await _start(servers, lambda _: web.json_response(
        {}, status=status, headers={"Retry-After": "2"}))
    sinch = SinchCalling(KEY, SECRET, base_url=base, timeout=60,
                         retry=RetryPolicy(attempts=5, max_retry_after=5))
    call = asyncio.ensure_future(sinch.calls.get("c1") if method == "GET"
                                 else sinch.callouts.tts(NUMBER, text="hi"))
    await server.first.wait()
    await asyncio.sleep(0.05)  # now in its 2 s retry wait
    await sinch.close()
    assert call.done()  # close() waited for it, and it did not wait out its retries
    with pytest.raises(ClientClosedError) as info:
        call.result()
    assert info.value.maybe_sent is maybe_sent
    assert len(server.seen) == 1  # no attempt after close() began


async def test_a_call_answered_after_close_began_ends_with_that_answer(
        servers: list[TestServer]) -> None:
    gate = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await gate.wait()
        return web.json_response({}, status=503, headers={"Retry-After": "0"})

    app = web.Application()
    app.router.add_get("/calling/v1/calls/id/c1", slow)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    servers.append(test_server)
    sinch = SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{test_server.port}",
                         retry=RetryPolicy(attempts=5))
    call = asyncio.ensure_future(sinch.calls.get("c1"))
    await asyncio.sleep(0.1)
    closing = asyncio.ensure_future(sinch.close())
    await asyncio.sleep(0.05)
    gate.set()
    await closing
    with pytest.raises(ServerError) as info:  # its own last answer, not a retry
        call.result()
    assert info.value.status == 503
