"""Callback handling cost: CallbackRouter against a hand-written aiohttp handler.

    python -m benchmarks.bench_webhooks [--rounds 15] [--requests 2000] [--concurrency 32]
                                        [--events 2000]

Both sides do the same work for each signed ICE callback: check the Application
signature (HMAC-SHA256, MD5, timestamp window), decode the JSON, call an ``async``
handler with the call id, answer ``{"instructions":[{"name":"say",...}],"action":
{"name":"hangup"}}`` as JSON. The router also builds typed events (attrs; a generated
shortcut, the converter for anything unusual), checks the answer is SVAML Sinch would
accept and encodes it through the converter (once: the handler answers the same
immutable document each time, and the router keeps its encoding).

Two measurements, each alternating turns over many rounds (:mod:`benchmarks._harness`):

* "HTTP": each side is an aiohttp.web server in its own process (both pinned to core
  1); this process (core 0) sends signed callbacks over ``--concurrency`` keep-alive
  connections with :func:`benchmarks._wire.hammer` (a few µs per request, so the server
  is the bottleneck). Figures: requests/s and the server's CPU per request. Targets:
  at least 0.9x the hand handler's requests/s, at most 1.15x its CPU per request.
* "dispatch": the pure coroutines called directly in this process (CPU per callback,
  no network), also with a handler building its answer afresh for every call (no kept
  encoding), and each stage of the router's work alone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from sinch_calling import svaml
from sinch_calling.auth import signed_headers
from sinch_calling.events import IncomingCallEvent
from sinch_calling.webhooks import CallbackRouter

from ._harness import Contender, Session, Target, alternate, new_session, parser, print_targets
from ._server import child_server, free_port, pin_self
from ._wire import hammer, request_bytes

KEY = "bench-key"
SECRET = "YmVuY2gtc2VjcmV0LXNlY3JldA=="
PATH = "/sinch/callbacks"
CONTENT_TYPE = "application/json"
ICE = (Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sinch-sdk-java-voice-v1"
       / "sinchevents" / "IncomingCallEventDto.json").read_bytes()
ANSWER = svaml.Svaml([svaml.Say("Welcome", locale="en-US")], svaml.Hangup())

Dispatch = Callable[[str, str, Mapping[str, str], bytes], Awaitable[tuple[int, Any, bytes]]]


def library_router(*, fresh: bool = False) -> CallbackRouter:
    """The router side; ``fresh``: its handler builds the answer for every call."""
    router = CallbackRouter(KEY, SECRET)

    @router.ice
    async def on_ice(event: IncomingCallEvent) -> svaml.Svaml:
        if fresh:
            return svaml.Svaml([svaml.Say("Welcome", locale="en-US")], svaml.Hangup())
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


ROUTER, HAND = "CallbackRouter", "hand-written aiohttp"
FRESH = "CallbackRouter, answer built per call"


def signed() -> dict[str, str]:
    """Headers of one signed ICE callback, timestamped now."""
    return {"Content-Type": CONTENT_TYPE, **signed_headers(
        KEY, SECRET, method="POST", path=PATH, content_type=CONTENT_TYPE, body=ICE)}


def app(side: str) -> web.Application:
    """The aiohttp.web application of one side."""
    application = web.Application()
    if side == ROUTER:
        application.router.add_post(PATH, library_router().handle)
        return application
    dispatch = hand_written()

    async def handle(request: web.Request) -> web.Response:
        status, answer_headers, body = await dispatch(
            request.method, request.rel_url.raw_path, request.headers, await request.read())
        return web.Response(status=status, headers=answer_headers, body=body)

    application.router.add_post(PATH, handle)
    return application


def serve(side: str, port: int) -> None:
    web.run_app(app(side), host="127.0.0.1", port=port, access_log=None, print=None)


def http_turn(port: int, requests: int, concurrency: int):
    async def turn() -> int:
        # Signed afresh each turn: the timestamp window is minutes, a run can be longer.
        request = request_bytes("POST", PATH, signed(), ICE)
        return await hammer("127.0.0.1", port, request, requests, concurrency)

    return turn


def stage_turn(stage: Callable[[dict[str, str]], object], events: int):
    """One stage of the router's work alone, for the profile of where its time goes."""

    async def turn() -> int:
        headers = signed()
        for _ in range(events):
            stage(headers)
        return events

    return turn


def stages(events: int) -> list[Contender]:
    """The router's stages, each alone: verify the signature, decode the typed event,
    check and encode the SVAML answer (a document built per call), check it and take
    its kept encoding (the same document answered again)."""
    from sinch_calling.auth import Credentials, verify_request
    from sinch_calling.events import parse
    from sinch_calling.serialization import dumps
    from sinch_calling.svaml import check_answer

    credentials = Credentials(KEY, SECRET)

    def answer(_: object) -> bytes:
        check_answer(ANSWER, "ice")
        return dumps(ANSWER)

    router = library_router()

    def kept(_: object) -> bytes:
        return router._answer(check_answer(ANSWER, "ice")).body

    return [
        Contender("stage: verify signature", stage_turn(
            lambda h: verify_request(credentials, "POST", PATH, h, ICE), events)),
        Contender("stage: decode typed event", stage_turn(lambda _: parse(ICE), events)),
        Contender("stage: check and encode answer", stage_turn(answer, events)),
        Contender("stage: check answer, kept encoding", stage_turn(kept, events)),
    ]


def dispatch_turn(dispatch: Dispatch, events: int):
    async def turn() -> int:
        headers = signed()
        for _ in range(events):
            status, _, _ = await dispatch("POST", PATH, headers, ICE)
            if status != 200:
                raise RuntimeError(f"dispatch answered {status}")
        return events

    return turn


async def run(args) -> Session:
    session = new_session("webhooks", args, requests_per_turn=args.requests,
                          concurrency=args.concurrency, events_per_turn=args.events)
    pin_self(0)
    ports = {ROUTER: free_port(), HAND: free_port()}
    with child_server(["-m", "benchmarks.bench_webhooks", "--serve", "router",
                       str(ports[ROUTER])], ports[ROUTER], name="router server") as router, \
            child_server(["-m", "benchmarks.bench_webhooks", "--serve", "hand",
                          str(ports[HAND])], ports[HAND], name="hand server") as hand:
        pids = {ROUTER: router.pid, HAND: hand.pid}
        contenders = [Contender(side, http_turn(ports[side], args.requests, args.concurrency),
                                server_pid=pids[side]) for side in (HAND, ROUTER)]
        print(f"HTTP, concurrency {args.concurrency}")
        runs = await alternate(contenders, rounds=args.rounds, warmup=args.warmup)
    summary = session.add(
        "http", runs, baseline=HAND, metrics=("rate", "server_cpu_s", "cpu_s"),
        scale={"server_cpu_s": 1e6, "cpu_s": 1e6},
        targets=[Target("router-rate", "CallbackRouter requests/s vs hand handler (HTTP)",
                        ROUTER, "rate", ">=", 0.9, baseline=HAND),
                 Target("router-cpu", "CallbackRouter server CPU per request vs hand handler",
                        ROUTER, "server_cpu_s", "<=", 1.15, baseline=HAND)],
        concurrency=args.concurrency)
    for side, row in summary.items():
        print(f"  {side:<22} {row['rate']['median']:8.0f} req/s  server CPU "
              f"{row['server_cpu_s']['median']:6.1f} µs/req")
    print("dispatch (in process)")
    contenders = [Contender(HAND, dispatch_turn(hand_written(), args.events)),
                  Contender(ROUTER, dispatch_turn(library_router().dispatch, args.events)),
                  Contender(FRESH, dispatch_turn(library_router(fresh=True).dispatch,
                                                 args.events)),
                  *stages(args.events)]
    runs = await alternate(contenders, rounds=args.rounds, warmup=args.warmup)
    summary = session.add("dispatch", runs, baseline=HAND, metrics=("cpu_s", "wall_s"),
                          scale={"cpu_s": 1e6, "wall_s": 1e6})
    for side, row in summary.items():
        print(f"  {side:<22} {row['cpu_s']['median']:6.1f} µs/event")
    return session


def main(argv: list[str] | None = None) -> None:
    if argv is None and sys.argv[1:2] == ["--serve"]:
        serve(ROUTER if sys.argv[2] == "router" else HAND, int(sys.argv[3]))
        return
    p = parser(__doc__)
    p.add_argument("--requests", type=int, default=2000, help="HTTP requests per turn")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--events", type=int, default=2000, help="dispatched events per turn")
    args = p.parse_args(argv)
    if args.quick:
        args.requests, args.events, args.concurrency = 20, 20, 4
        args.rounds, args.warmup = args.rounds or 1, 0
    args.rounds = args.rounds or 15
    session = asyncio.run(run(args))
    session.write()
    print_targets(session)


if __name__ == "__main__":
    main()
