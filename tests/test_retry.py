"""The retry rules: nothing that could act twice is ever sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sinch_calling import RetryPolicy, SinchCalling
from sinch_calling.errors import RateLimitedError, ServerError, TransportError, ValidationError
from sinch_calling.retry import parse_retry_after
from sinch_calling.testing import Emulator

from .conftest import FAST_RETRY


class Flaky:
    """A real server whose first ``failures`` answers are ``status`` (or a dropped
    connection when ``status`` is 0), then 200 ``{}``."""

    def __init__(self, status: int, failures: int, headers: dict[str, str] | None = None):
        self.status, self.failures, self.headers = status, failures, headers or {}
        self.hits: list[tuple[str, str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.hits.append((request.method, request.headers["x-timestamp"],
                          request.headers["Authorization"]))
        if len(self.hits) <= self.failures:
            if self.status == 0:
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            return web.Response(status=self.status, headers=self.headers)
        return web.json_response({})


@pytest.fixture
async def serve() -> AsyncIterator[object]:
    servers: list[TestServer] = []

    async def start(flaky: Flaky) -> SinchCalling:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", flaky.handle)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return SinchCalling("key", "c2VjcmV0", base_url=f"http://{server.host}:{server.port}",
                            retry=FAST_RETRY)

    yield start
    for server in servers:
        await server.close()


async def _send(sinch: SinchCalling, method: str) -> object:
    transport = sinch._transport
    async with sinch:
        return await transport.request(method, transport.traffic_url("x"),
                                       body=b"{}" if method != "GET" else None)


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
async def test_429_is_retried_for_every_method(serve, method: str) -> None:  # type: ignore[no-untyped-def]
    flaky = Flaky(429, failures=2)
    assert await _send(await serve(flaky), method) == {}
    assert len(flaky.hits) == 3


async def test_each_attempt_is_signed_afresh(serve) -> None:  # type: ignore[no-untyped-def]
    flaky = Flaky(429, failures=1)
    await _send(await serve(flaky), "POST")
    (_, _, first), (_, _, second) = flaky.hits
    assert first.startswith("Application key:")
    assert second.startswith("Application key:")


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried_for_get(serve, status: int) -> None:  # type: ignore[no-untyped-def]
    flaky = Flaky(status, failures=1)
    assert await _send(await serve(flaky), "GET") == {}
    assert len(flaky.hits) == 2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_never_retried_for_unsafe_methods(
    serve, method: str, status: int  # type: ignore[no-untyped-def]
) -> None:
    flaky = Flaky(status, failures=1)
    with pytest.raises(ServerError):
        await _send(await serve(flaky), method)
    assert len(flaky.hits) == 1


async def test_dropped_connection_is_not_retried_for_post(serve) -> None:  # type: ignore[no-untyped-def]
    flaky = Flaky(0, failures=1)
    with pytest.raises(TransportError):
        await _send(await serve(flaky), "POST")
    assert len(flaky.hits) == 1


async def test_dropped_connection_is_retried_for_get(serve) -> None:  # type: ignore[no-untyped-def]
    flaky = Flaky(0, failures=1)
    assert await _send(await serve(flaky), "GET") == {}
    assert len(flaky.hits) == 2


async def test_exhausted_429_raises_rate_limited_with_hint(serve) -> None:  # type: ignore[no-untyped-def]
    flaky = Flaky(429, failures=10, headers={"Retry-After": "0"})
    with pytest.raises(RateLimitedError) as info:
        await _send(await serve(flaky), "POST")
    assert info.value.retry_after == 0.0
    assert len(flaky.hits) == FAST_RETRY.attempts


async def test_retry_after_beyond_the_cap_is_not_waited_out(serve) -> None:  # type: ignore[no-untyped-def]
    flaky = Flaky(429, failures=1, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitedError) as info:
        await _send(await serve(flaky), "GET")
    assert info.value.retry_after == 3600.0
    assert len(flaky.hits) == 1


async def test_connection_refused_is_retried_even_for_post(unused_tcp_port: int) -> None:
    # Nothing listens: the request provably never left, so even a POST may be retried.
    sinch = SinchCalling("key", "c2VjcmV0", base_url=f"http://127.0.0.1:{unused_tcp_port}",
                         retry=FAST_RETRY)
    with pytest.raises(TransportError, match="POST"):
        await _send(sinch, "POST")


async def test_emulator_429_fault_then_success(sinch: SinchCalling, emulator: Emulator) -> None:
    fault = emulator.faults.add("GET", "/v1/configuration/numbers", status=429, retry_after=0,
                                times=2)
    assert await sinch.numbers.list()
    assert fault.fired == 2
    assert len(emulator.requests) == 3


def test_policy_validation() -> None:
    with pytest.raises(ValidationError, match=r"retry\.attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValidationError, match=r"retry\.backoff"):
        RetryPolicy(backoff=-1)


def test_delays_grow_and_stop() -> None:
    policy = RetryPolicy(attempts=4, backoff=1.0, max_backoff=3.0)
    assert 0 <= policy.delay(1, None)  <= 1.0  # type: ignore[operator]
    assert 0 <= policy.delay(3, None) <= 3.0  # type: ignore[operator]
    assert policy.delay(4, None) is None
    assert policy.delay(1, 2.5) == 2.5
    assert RetryPolicy.never().delay(1, None) is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("5", 5.0), ("  12 ", 12.0), ("2.5", 2.5), ("soon", None),
     ("-1", None), ("1.2.3", None),
     ("Fri, 27 Nov 2026 12:00:10 GMT", 10.0), ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0)],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


async def test_a_wait_that_would_outlast_the_timeout_returns_the_429() -> None:
    # Retry-After 2 s with 1 s left: a 429 (provably not acted on), never a timeout.
    flaky = Flaky(429, failures=10, headers={"Retry-After": "2"})
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", flaky.handle)
    async with TestServer(app) as server:
        sinch = SinchCalling("key", "c2VjcmV0", base_url=f"http://{server.host}:{server.port}",
                             timeout=1.0, retry=RetryPolicy(max_retry_after=10))
        with pytest.raises(RateLimitedError):
            await _send(sinch, "POST")
    assert len(flaky.hits) == 1
