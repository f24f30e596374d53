"""Callback handling cost: CallbackRouter against a hand-written aiohttp handler.

    python -m benchmarks.bench_webhooks [--events 20000] [--requests 5000] [--concurrency 32]

Both sides do the same work for each signed ICE callback: check the Application
signature (HMAC-SHA256, MD5, timestamp window), decode the JSON, call an ``async``
handler with the call id, answer ``{"instructions":[{"name":"say",...}],"action":
{"name":"hangup"}}`` as JSON. The router also builds typed events (attrs, cattrs),
checks the answer is SVAML Sinch would accept and encodes it through the converter.

Two measurements: "dispatch" calls the pure coroutines directly (CPU per callback, no
network); "HTTP" serves each on 127.0.0.1 (aiohttp.web, same process as the client)
and POSTs signed callbacks with a pool of concurrent aiohttp requests.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sinch_calling import svaml
from sinch_calling.auth import signed_headers
from sinch_calling.events import IncomingCallEvent
from sinch_calling.webhooks import CallbackRouter

KEY = "bench-key"
SECRET = "YmVuY2gtc2VjcmV0LXNlY3JldA=="
PATH = "/sinch/callbacks"
CONTENT_TYPE = "application/json"
ICE = (Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sinch-sdk-java-voice-v1"
       / "sinchevents" / "IncomingCallEventDto.json").read_bytes()
ANSWER = svaml.Svaml([svaml.Say("Welcome", locale="en-US")], svaml.Hangup())

Dispatch = Callable[[str, str, Mapping[str, str], bytes], Awaitable[tuple[int, Any, bytes]]]


def library_router() -> CallbackRouter:
    router = CallbackRouter(KEY, SECRET)

    @router.ice
    async def on_ice(event: IncomingCallEvent) -> svaml.Svaml:
        return ANSWER

    return router


def hand_written() -> Dispatch:
    """What one writes without the library: inline HMAC check, json in, json out."""
    secret = base64.b64decode(SECRET)
    window = timedelta(minutes=5)

    async def on_ice(call_id: str) -> dict[str, Any]:
        return {"instructions": [{"name": "say", "text": "Welcome", "locale": "en-US"}],
                "action": {"name": "hangup"}}

    async def dispatch(method: str, path: str, headers: Mapping[str, str],
                       body: bytes) -> tuple[int, Any, bytes]:
        scheme, _, credentials = headers.get("Authorization", "").partition(" ")
        key, _, signature = credentials.rpartition(":")
        stamp = headers.get("x-timestamp", "")
        if scheme.lower() != "application" or key != KEY or not stamp:
            return 401, {}, b""
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if abs(datetime.now(UTC) - moment) > window:
            return 401, {}, b""
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode() if body else ""
        text = f"{method}\n{md5}\n{headers.get('Content-Type', '')}\nx-timestamp:{stamp}\n{path}"
        expected = base64.b64encode(hmac.new(secret, text.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature.encode()):
            return 401, {}, b""
        try:
            event = json.loads(body)
            call_id = event["callid"]
        except (ValueError, KeyError, TypeError):
            return 400, {}, b""
        answer = await on_ice(call_id)
        return 200, {"Content-Type": "application/json"}, json.dumps(
            answer, separators=(",", ":")).encode()

    return dispatch


def headers() -> dict[str, str]:
    return {"Content-Type": CONTENT_TYPE, **signed_headers(
        KEY, SECRET, method="POST", path=PATH, content_type=CONTENT_TYPE, body=ICE)}


async def time_dispatch(dispatch: Dispatch, events: int) -> float:
    signed = headers()
    status, _, _ = await dispatch("POST", PATH, signed, ICE)
    assert status == 200, status
    started = time.perf_counter()
    for _ in range(events):
        await dispatch("POST", PATH, signed, ICE)
    return (time.perf_counter() - started) / events


async def time_http(dispatch: Dispatch, requests: int, concurrency: int) -> float:
    async def handle(request: web.Request) -> web.Response:
        status, answer_headers, body = await dispatch(
            request.method, request.rel_url.raw_path, request.headers, await request.read())
        return web.Response(status=status, headers=answer_headers, body=body)

    app = web.Application()
    app.router.add_post(PATH, handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}{PATH}"
    signed = headers()  # one timestamp: both sides verify the same bytes
    remaining = requests

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with session.post(url, data=ICE, headers=signed) as response:
                await response.read()
                assert response.status == 200, response.status

    try:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            started = time.perf_counter()
            await asyncio.gather(*(worker(session) for _ in range(concurrency)))
            return requests / (time.perf_counter() - started)
    finally:
        await runner.cleanup()


async def main(events: int, requests: int, concurrency: int) -> None:
    router = library_router()
    sides: dict[str, Dispatch] = {"hand-written aiohttp": hand_written(),
                                  "CallbackRouter": router.dispatch}
    per_event = {name: await time_dispatch(d, events) for name, d in sides.items()}
    per_second = {name: await time_http(d, requests, concurrency) for name, d in sides.items()}
    base = "hand-written aiohttp"
    print(f"signed ICE callbacks: {events} dispatched, {requests} over HTTP "
          f"(concurrency {concurrency})")
    print(f"{'':22} {'dispatch µs/event':>18} {'ratio':>6} {'HTTP req/s':>11} {'ratio':>6}")
    for name in sides:
        print(f"{name:22} {per_event[name] * 1e6:18.1f} "
              f"{per_event[name] / per_event[base]:6.2f} "
              f"{per_second[name]:11.0f} {per_second[name] / per_second[base]:6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.requests, args.concurrency))
