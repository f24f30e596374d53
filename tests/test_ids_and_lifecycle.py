"""Identifiers decode only from non-empty strings (issue 8, #4); close() with calls in
flight (#5); a client used from two event loops (#6)."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sinch_calling import RetryPolicy, SinchCalling
from sinch_calling.campaign import Campaign
from sinch_calling.errors import (
    ClientClosedError,
    EventLoopError,
    InvalidResponseError,
    SinchError,
    TransportError,
)

KEY = "my-key-id"
SECRET = "bXktc2VjcmV0LWtleQ=="
NOT_IDS = [None, 123, 1.5, True, {"x": 1}, ["a"], ""]


def _server(answer: Any, *, delay: float = 0.0) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        if delay:
            await asyncio.sleep(delay)
        return web.json_response(answer)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@pytest.mark.parametrize("value", NOT_IDS, ids=repr)
async def test_a_call_id_that_is_not_a_non_empty_string_is_invalid(value: Any) -> None:
    async with TestServer(_server({"callId": value}), host="127.0.0.1") as server, \
            SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}") as sinch:
        with pytest.raises(InvalidResponseError, match="call_id"):
            await sinch.callouts.tts("+46000000001", text="Hi")
        with pytest.raises(InvalidResponseError, match="call_id"):
            await sinch.calls.get("abc")


@pytest.mark.parametrize("value", NOT_IDS, ids=repr)
async def test_a_recording_key_or_participant_id_that_is_not_a_string_is_invalid(
        value: Any) -> None:
    answer = {"participants": [{"id": value}]}
    async with TestServer(_server(answer), host="127.0.0.1") as server, \
            SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}") as sinch:
        with pytest.raises(InvalidResponseError):
            await sinch.conferences.get("room")
    async with TestServer(_server([{"key": value}]), host="127.0.0.1") as server, \
            SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}") as sinch:
        with pytest.raises(InvalidResponseError):
            async for _ in sinch.recordings.list():
                pass


async def test_a_campaign_never_records_none_as_a_placed_call() -> None:
    async with TestServer(_server({"callId": None}), host="127.0.0.1") as server, \
            SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}",
                         retry=RetryPolicy.never()) as sinch:
        campaign = Campaign(sinch, Campaign.tts(text="Hi"), rate=100)
        report = await campaign.run(["+46000000001"])
    assert report.placed == 0  # the callout may have been placed, under no known id
    assert report.uncertain == 1


# -- 5. close() with calls in flight ----------------------------------------------------


async def test_close_lets_the_calls_in_flight_end_with_their_own_result() -> None:
    async with TestServer(_server({"numbers": []}, delay=0.05), host="127.0.0.1") as server:
        sinch = SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}",
                             max_connections=5)
        calls = [asyncio.create_task(sinch.numbers.list()) for _ in range(20)]
        await asyncio.sleep(0.01)  # all 20 in flight, 15 of them waiting for a connection
        await sinch.close()
        results = await asyncio.gather(*calls, return_exceptions=True)
        with pytest.raises(ClientClosedError):
            await sinch.numbers.list()
    assert results == [[]] * 20


async def test_close_cuts_off_calls_that_outlast_the_timeout_with_a_library_error() -> None:
    async with TestServer(_server({"numbers": []}, delay=3), host="127.0.0.1") as server:
        sinch = SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}",
                             max_connections=2, timeout=0.3, retry=RetryPolicy.never())
        calls = [asyncio.create_task(sinch.numbers.list()) for _ in range(6)]
        await asyncio.sleep(0.01)
        await sinch.close()
        results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        assert isinstance(result, ClientClosedError | TransportError), repr(result)


async def test_a_cancelled_caller_still_sees_its_cancellation() -> None:
    async with TestServer(_server({"numbers": []}, delay=3), host="127.0.0.1") as server, \
            SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}") as sinch:
        call = asyncio.create_task(sinch.numbers.list())
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call


# -- 6. two event loops -----------------------------------------------------------------


@pytest.fixture
def threaded_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"numbers": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_client_used_from_a_second_event_loop_says_so(threaded_server: str) -> None:
    clients = [SinchCalling(KEY, SECRET, base_url=threaded_server)]  # never closed

    async def use() -> Any:
        return await clients[0].numbers.list()

    assert asyncio.run(use()) == []
    with pytest.raises(EventLoopError, match="another event loop") as info:
        asyncio.run(use())
    assert isinstance(info.value, SinchError)
    clients.clear()
    del info
    gc.collect()  # the abandoned session's warnings belong to this test


def test_a_client_closed_in_its_loop_says_it_is_closed_in_another(threaded_server: str) -> None:
    sinch = SinchCalling(KEY, SECRET, base_url=threaded_server)

    async def use() -> Any:
        async with sinch:
            return await sinch.numbers.list()

    assert asyncio.run(use()) == []
    with pytest.raises(ClientClosedError):
        asyncio.run(use())


@pytest.mark.parametrize("fields", [
    {"custom": {"x": 1}}, {"custom": None, "cli": True} , {"duration": 12.7},
    {"duration": True}, {"duration": "12"}, {"status": 5}, {"userRate": {"amount": "1"}},
], ids=repr)
def test_no_field_decodes_to_nonsense(fields: dict[str, Any]) -> None:
    # The siblings of the ids: no value is coerced (str(None), str({...}), int(12.7)).
    from sinch_calling import Call
    from sinch_calling.transport import decode
    data = {"callId": "c1", **fields}
    if "cli" in data:
        data["from"] = {"type": "number", "endpoint": data.pop("cli")}
    with pytest.raises(InvalidResponseError):
        decode(data, Call)


def test_a_json_number_where_text_is_expected_keeps_its_spelling() -> None:
    from sinch_calling import Call
    from sinch_calling.transport import decode
    assert decode({"callId": "c1", "custom": 5}, Call).custom == "5"
    assert decode({"callId": "c1", "duration": 12.0}, Call).duration == 12
