"""Emulator throughput: signed requests per second it serves on one core.

    python -m benchmarks.bench_emulator [--requests 20000] [--concurrency 64]

The server under test runs in its own process pinned to core 1 (``taskset``); this
process drives it from core 0 with a hand-written aiohttp loop that signs every request
(Application scheme, fresh timestamp). Side by side, the same loop drives a bare
aiohttp.web server (same routes, canned answers, no journal, faults, auth or state)
pinned to the same core. For each it prints requests per second (wall), the server's
CPU microseconds per request (from ``/proc``: the figure that bounds one core's
capacity, whatever the client costs) and the ratios to the bare server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import aiohttp

from ._server import KEY, SECRET, child_server, free_port, pin_self

TTS_BODY = json.dumps({"method": "ttsCallout", "ttsCallout": {
    "destination": {"type": "number", "endpoint": "+46000000001"},
    "cli": "+46000000000", "text": "Hello from the benchmark", "locale": "en-US"}}).encode()
CONTENT_TYPE = "application/json; charset=UTF-8"
SCENARIOS = {
    "GET numbers (signed)": ("GET", "/v1/configuration/numbers", None),
    "POST callout (signed)": ("POST", "/calling/v1/callouts", TTS_BODY),
}


# -- the bare server, for comparison -------------------------------------------------


def serve_bare(port: int) -> None:
    """A plain aiohttp.web server with the benchmarked routes and canned answers."""
    from aiohttp import web

    counter = 0

    async def numbers(request: web.Request) -> web.Response:
        return web.json_response({"numbers": [{"number": "+46000000000",
                                               "capability": "voice"}]})

    async def callout(request: web.Request) -> web.Response:
        nonlocal counter
        await request.read()
        counter += 1
        return web.json_response({"callId": f"{counter:032x}"})

    app = web.Application()
    app.router.add_get("/v1/configuration/numbers", numbers)
    app.router.add_post("/calling/v1/callouts", callout)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- processes ---------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextmanager
def server_process(kind: str, cpu: int = 1) -> Iterator[tuple[str, int]]:
    """Start the emulator (``kind="emulator"``) or the bare server, pinned to ``cpu``;
    yield (origin, pid)."""
    port = free_port()
    if kind == "emulator":
        arguments = ["-m", "sinch_calling", "emulator", "--port", str(port)]
    else:
        arguments = ["-m", "benchmarks.bench_emulator", "--serve-bare", str(port)]
    with child_server(arguments, port, cpu=cpu, name=f"{kind} server") as child:
        yield f"http://127.0.0.1:{port}", child.pid


# -- the driver ----------------------------------------------------------------------


class Signer:
    """Hand-written Application signing, one fresh timestamp per request."""

    def __init__(self) -> None:
        self.secret = base64.b64decode(SECRET)

    def headers(self, method: str, path: str, body: bytes | None) -> dict[str, str]:
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode() if body else ""
        content_type = CONTENT_TYPE if body else ""
        text = f"{method}\n{md5}\n{content_type}\nx-timestamp:{stamp}\n{path}"
        signature = base64.b64encode(hmac.digest(self.secret, text.encode(), "sha256")).decode()
        headers = {"Authorization": f"Application {KEY}:{signature}", "x-timestamp": stamp}
        if body:
            headers["Content-Type"] = CONTENT_TYPE
        return headers


async def drive(origin: str, pid: int, method: str, path: str, body: bytes | None,
                requests: int, concurrency: int) -> tuple[float, float]:
    """(requests per second, server CPU microseconds per request)."""
    signer = Signer()
    remaining = requests
    failures = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(origin, connector=connector) as session:

        async def one() -> None:
            nonlocal failures
            async with session.request(method, path, data=body,
                                       headers=signer.headers(method, path, body)) as response:
                await response.read()
                failures += response.status >= 300

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await one()

        for _ in range(200):  # warm up connections, caches, the server's JIT-free paths
            await one()
        failures = 0
        cpu, wall = _cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall, _cpu_seconds(pid) - cpu
    if failures:
        raise RuntimeError(f"{failures} requests failed")
    return requests / wall, cpu / requests * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    pin_self(0)
    rows = []
    for name, (method, path, body) in SCENARIOS.items():
        results = {}
        for kind in ("bare", "emulator"):
            with server_process(kind) as (origin, pid):
                results[kind] = asyncio.run(drive(origin, pid, method, path, body,
                                                  args.requests, args.concurrency))
        rows.append((name, results["bare"], results["emulator"]))
    print(f"{args.requests} requests per row, concurrency {args.concurrency}, server pinned "
          f"to core 1, driver to core 0")
    print(f"{'scenario':24} {'server':9} {'req/s':>8} {'srv us/req':>11} {'capacity/s':>11} "
          f"{'vs bare':>8}")
    for name, bare, emu in rows:
        for label, (rate, cpu) in (("bare", bare), ("emulator", emu)):
            ratio = f"{cpu / bare[1]:.2f}x" if label == "emulator" else ""
            print(f"{name:24} {label:9} {rate:8.0f} {cpu:11.1f} {1e6 / cpu:11.0f} {ratio:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
