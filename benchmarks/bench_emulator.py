"""Emulator throughput: signed requests per second it serves on one core.

    python -m benchmarks.bench_emulator [--rounds 15] [--requests 2000] [--concurrency 64]

The emulator and, for comparison, a bare aiohttp.web server (same routes, canned
answers, no journal, faults, auth or state) each run in their own process, both
pinned to core 1. This process (core 0) sends signed requests (Application scheme,
signed afresh each turn) over ``--concurrency`` keep-alive connections with
:func:`benchmarks._wire.hammer`, a few µs per request, so the server is the
bottleneck; the two servers alternate turns (:mod:`benchmarks._harness`). Figures:
requests per second and the server's CPU per request (the figure that bounds one
core's capacity), with ratios to the bare server. End-to-end figures, no target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from sinch_calling.auth import signed_headers

from ._harness import Contender, Session, alternate, new_session, parser
from ._server import KEY, SECRET, child_server, free_port, pin_self
from ._wire import hammer, request_bytes

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


# -- the driver ----------------------------------------------------------------------


def signed_request(method: str, path: str, body: bytes | None) -> bytes:
    """One request signed now (Application scheme)."""
    headers = signed_headers(KEY, SECRET, method=method, path=path,
                             content_type=CONTENT_TYPE if body else None, body=body)
    if body:
        headers["Content-Type"] = CONTENT_TYPE
    return request_bytes(method, path, headers, body or b"")


def turn(port: int, method: str, path: str, body: bytes | None, requests: int,
         concurrency: int):
    async def run() -> int:
        return await hammer("127.0.0.1", port, signed_request(method, path, body), requests,
                            concurrency)

    return run


async def run(args: Any) -> Session:
    session = new_session("emulator", args, requests_per_turn=args.requests,
                          concurrency=args.concurrency)
    pin_self(0)
    ports = {"bare": free_port(), "emulator": free_port()}
    with child_server(["-m", "benchmarks.bench_emulator", "--serve-bare", str(ports["bare"])],
                      ports["bare"], name="bare server") as bare, \
            child_server(["-m", "sinch_calling", "emulator", "--port", str(ports["emulator"])],
                         ports["emulator"], name="emulator") as emulator:
        pids = {"bare": bare.pid, "emulator": emulator.pid}
        for name, (method, path, body) in SCENARIOS.items():
            print(name)
            contenders = [Contender(kind, turn(ports[kind], method, path, body, args.requests,
                                               args.concurrency), server_pid=pids[kind])
                          for kind in ("bare", "emulator")]
            runs = await alternate(contenders, rounds=args.rounds, warmup=args.warmup)
            summary = session.add(name, runs, baseline="bare",
                                  metrics=("rate", "server_cpu_s"),
                                  scale={"server_cpu_s": 1e6}, method=method, path=path)
            for kind, row in summary.items():
                print(f"  {kind:<9} {row['rate']['median']:8.0f} req/s  server CPU "
                      f"{row['server_cpu_s']['median']:6.1f} µs/req")
    return session


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--requests", type=int, default=2000, help="requests per turn")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.quick:
        args.requests, args.concurrency = 20, 4
        args.rounds, args.warmup = args.rounds or 1, 0
    args.rounds = args.rounds or 15
    session = asyncio.run(run(args))
    session.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
