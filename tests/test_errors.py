"""Every error response becomes the right ApiError, whatever its body looks like."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st

from sinch_calling import RetryPolicy, SinchCalling
from sinch_calling.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    error_from_response,
)

KEY, SECRET = "key", "c2VjcmV0"


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (401, AuthenticationError), (403, AuthenticationError),
     (404, NotFoundError), (429, RateLimitedError), (500, ServerError), (503, ServerError),
     (409, ApiError)],
)
def test_status_maps_to_class(status: int, cls: type[ApiError]) -> None:
    error = error_from_response(status, b"")
    assert type(error) is cls
    assert error.status == status


def test_sinch_json_body_with_numeric_code() -> None:
    body = json.dumps({"status": "400 ParameterValidation", "errorCode": 40001,
                       "message": "Illegal parameters", "reference": "ref-1"}).encode()
    error = error_from_response(400, body)
    assert (error.error_code, error.message, error.reference) == (40001, "Illegal parameters",
                                                                  "ref-1")
    assert "40001" in str(error)
    assert "400" in str(error)


def test_sinch_json_body_with_string_code() -> None:
    error = error_from_response(404, b'{"errorCode": "40400", "message": "Call not found"}')
    assert error.error_code == 40400
    assert isinstance(error, NotFoundError)


def test_html_body_still_says_the_status() -> None:
    error = error_from_response(502, b"<html><body>Bad Gateway</body></html>",
                                reason="Bad Gateway")
    assert isinstance(error, ServerError)
    assert error.error_code is None
    assert "502" in str(error)
    assert "Bad Gateway" in str(error)


def test_empty_body_uses_the_reason() -> None:
    error = error_from_response(503, b"", reason="Service Unavailable")
    assert error.message == "Service Unavailable"


def test_rate_limited_carries_retry_after() -> None:
    error = error_from_response(429, b"", retry_after=3.0)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 3.0


@given(st.integers(min_value=400, max_value=599), st.binary(max_size=300))
def test_any_body_any_status_gives_an_api_error(status: int, body: bytes) -> None:
    error = error_from_response(status, body)
    assert isinstance(error, ApiError)
    assert error.status == status
    assert str(status) in str(error)


Responder = Callable[[web.Request], web.StreamResponse]


@pytest.fixture
async def odd_server() -> AsyncIterator[Callable[[web.StreamResponse], TestServer]]:
    """A real server answering every request with one canned response."""
    servers: list[TestServer] = []

    def make(response: web.StreamResponse) -> TestServer:
        async def handler(_: web.Request) -> web.StreamResponse:
            return response

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        server = TestServer(app)
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


async def _call(server: TestServer) -> None:
    await server.start_server()
    origin = f"http://{server.host}:{server.port}"
    async with SinchCalling(KEY, SECRET, base_url=origin, retry=RetryPolicy.never()) as sinch:
        await sinch.numbers.list()


@pytest.mark.parametrize(
    ("response", "cls", "code"),
    [
        (web.Response(status=400, text='{"errorCode":"40002","message":"Missing"}',
                      content_type="application/json"), BadRequestError, 40002),
        (web.Response(status=502, text="<html>proxy</html>", content_type="text/html"),
         ServerError, None),
        (web.Response(status=401), AuthenticationError, None),
        (web.Response(status=429, headers={"Retry-After": "7"}), RateLimitedError, None),
    ],
)
async def test_odd_error_shapes_over_the_wire(
    odd_server: Callable[[web.StreamResponse], TestServer],
    response: web.Response, cls: type[ApiError], code: int | None,
) -> None:
    with pytest.raises(cls) as info:
        await _call(odd_server(response))
    assert info.value.error_code == code
    if cls is RateLimitedError:
        assert info.value.retry_after == 7.0  # type: ignore[attr-defined]


async def test_success_with_garbage_body_is_an_invalid_response(
    odd_server: Callable[[web.StreamResponse], TestServer],
) -> None:
    with pytest.raises(InvalidResponseError):
        await _call(odd_server(web.Response(status=200, text="<html>hello</html>")))


async def test_success_with_wrong_shape_is_an_invalid_response(
    odd_server: Callable[[web.StreamResponse], TestServer],
) -> None:
    with pytest.raises(InvalidResponseError, match="NumbersResponse"):
        await _call(odd_server(web.json_response({"numbers": [{"nope": 1}]})))


async def test_connection_refused_is_a_transport_error(unused_tcp_port: int) -> None:
    async with SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{unused_tcp_port}",
                            retry=RetryPolicy.never()) as sinch:
        with pytest.raises(TransportError, match="GET"):
            await sinch.numbers.list()
