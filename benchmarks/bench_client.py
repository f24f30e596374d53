"""Client overhead, side by side: sinch_calling vs a hand-written aiohttp loop vs the
official Sinch SDK 1.1.4 async client (httpx), against the emulator in another process.

    python -m benchmarks.bench_client [--requests 3000] [--concurrency 64]

For each operation it prints requests per second (wall) and client CPU microseconds per
request (process time of this process: the client's own cost, whatever the server does),
with ratios to the hand-written loop. The emulator runs pinned to core 1, the client to
core 0. The official SDK is measured when ``sinch==1.1.4`` is installed
(``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp

from sinch_calling import SinchCalling

from ._server import KEY, SECRET, emulator_process, pin_self

Operation = Callable[[], Awaitable[object]]

TTS_BODY = {"method": "ttsCallout", "ttsCallout": {
    "destination": {"type": "number", "endpoint": "+46000000001"},
    "cli": "+46000000000", "text": "Hello from the benchmark", "locale": "en-US"}}


async def _drive(operation: Operation, requests: int, concurrency: int) -> tuple[float, float]:
    """Run ``requests`` calls with ``concurrency`` workers; (req/s, client CPU us/req)."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await operation()

    for _ in range(min(50, requests)):  # warm up connections and caches
        await operation()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, cpu / requests * 1e6


class HandWritten:
    """What a careful engineer writes by hand: aiohttp, inline HMAC signing, json."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.secret = base64.b64decode(SECRET)
        self.session = aiohttp.ClientSession()

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode() if body else ""
        ctype = "application/json; charset=UTF-8" if body else ""
        text = f"{method}\n{md5}\n{ctype}\nx-timestamp:{stamp}\n{path}"
        signature = base64.b64encode(
            hmac.new(self.secret, text.encode(), hashlib.sha256).digest()).decode()
        headers = {"Authorization": f"Application {KEY}:{signature}", "x-timestamp": stamp}
        if body:
            headers["Content-Type"] = ctype
        return headers

    async def query(self) -> object:
        path = "/v1/calling/query/number/+46730170101"
        async with self.session.get(self.origin + path,
                                    headers=self._headers("GET", path, b"")) as response:
            response.raise_for_status()
            return (await response.json())["number"]

    async def tts(self) -> object:
        path = "/calling/v1/callouts"
        body = json.dumps(TTS_BODY).encode()
        async with self.session.post(self.origin + path, data=body,
                                     headers=self._headers("POST", path, body)) as response:
            response.raise_for_status()
            return (await response.json())["callId"]


def _official_sdk(origin: str) -> tuple[object, Operation, Operation] | None:
    try:
        from sinch import SinchClientAsync  # type: ignore[import-not-found]
    except ImportError:
        return None
    client = SinchClientAsync(application_key=KEY, application_secret=SECRET)
    host = origin.removeprefix("http://")
    client.configuration.disable_https = True
    client.configuration.voice_origin = host
    client.configuration.voice_applications_origin = host

    async def query() -> object:
        return await client.voice.applications.query_number("+46730170101")

    async def tts() -> object:
        return await client.voice.callouts.text_to_speech(
            destination={"type": "number", "endpoint": "+46000000001"},
            cli="+46000000000", text="Hello from the benchmark", locale="en-US")

    return client, query, tts


async def run(requests: int, concurrency: int) -> None:
    pin_self(0)
    with emulator_process(cpu=1) as origin:
        hand = HandWritten(origin)
        ours = SinchCalling(KEY, SECRET, base_url=origin)
        contenders: dict[str, dict[str, Operation]] = {
            "aiohttp by hand": {"query number (GET)": hand.query,
                                "tts callout (POST)": hand.tts},
            "sinch_calling": {"query number (GET)": lambda: ours.numbers.query("+46730170101")},
        }
        if hasattr(ours.callouts, "tts"):
            contenders["sinch_calling"]["tts callout (POST)"] = lambda: ours.callouts.tts(
                "+46000000001", cli="+46000000000", text="Hello from the benchmark",
                locale="en-US")
        official = _official_sdk(origin)
        if official is not None:
            contenders["sinch 1.1.4 (httpx)"] = {"query number (GET)": official[1],
                                                 "tts callout (POST)": official[2]}
        try:
            await hand.tts()
        except aiohttp.ClientResponseError:  # an emulator without callouts yet
            for operations in contenders.values():
                operations.pop("tts callout (POST)", None)
        results: dict[tuple[str, str], tuple[float, float]] = {}
        try:
            async with ours:
                for name, operations in contenders.items():
                    for operation_name, operation in operations.items():
                        results[(name, operation_name)] = await _drive(operation, requests,
                                                                       concurrency)
        finally:
            await hand.session.close()
            if official is not None:
                session = getattr(official[0].configuration.transport, "http_session", None)
                if session is not None:
                    await session.aclose()

    print(f"{requests} requests, concurrency {concurrency}, emulator in another process\n")
    print(f"{'operation':<20} {'client':<22} {'req/s':>8} {'x hand':>7} "
          f"{'CPU us/req':>11} {'x hand':>7}")
    for operation_name in ("query number (GET)", "tts callout (POST)"):
        base = results.get(("aiohttp by hand", operation_name))
        for name in contenders:
            result = results.get((name, operation_name))
            if result is None or base is None:
                continue
            print(f"{operation_name:<20} {name:<22} {result[0]:>8.0f} {result[0] / base[0]:>7.2f} "
                  f"{result[1]:>11.0f} {result[1] / base[1]:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.concurrency))


if __name__ == "__main__":
    main()
