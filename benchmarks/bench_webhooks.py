"""Callback handling cost: CallbackRouter against a hand-written aiohttp handler.

    python -m benchmarks.bench_webhooks [--rounds 15] [--requests 6000] [--concurrency 32]
                                        [--events 2000]

Both sides do the same work for each signed ICE callback: check the Application
signature (HMAC-SHA256, MD5, timestamp window), decode the JSON, call an ``async``
handler with the event, which builds its answer for this call (``"Hello <cli>"``, the
caller's number from the event, as a real handler greets by name), and answer
``{"instructions":[{"name":"say","text":"Hello ...","locale":"en-US"}],"action":
{"name":"hangup"}}`` as JSON.

* The hand-written side is what a careful engineer writes with aiohttp alone: the
  signature checked inline (``hmac.compare_digest``), ``json.loads`` of the body, a
  ``KeyError``/``ValueError`` answered 400, the handler reading ``callid`` and ``cli``
  from the dict and building the answer as a fresh dict, ``json.dumps`` (compact
  separators) of it.
* The router's handler gets a typed ``IncomingCallEvent`` (attrs; a generated shortcut,
  the converter for anything unusual) and builds a fresh
  ``svaml.Svaml([svaml.Say(f"Hello {event.cli}", locale="en-US")], svaml.Hangup())``
  (each element validated as it is built); the router checks the answer is SVAML Sinch
  accepts for an ICE answer and encodes it.

A third side, informative only (no target): the router whose handler answers ONE
module-constant document every time, whose encoding the router keeps (not like for
like: the hand handler builds and encodes its answer per call).

Two measurements, each alternating turns over many rounds (:mod:`benchmarks._harness`):

* "HTTP": each side is an aiohttp.web server in its own process (all pinned to core
  1); this process (core 0) sends signed callbacks over ``--concurrency`` keep-alive
  connections with :func:`benchmarks._wire.hammer` (a few µs per request, so the server
  is the bottleneck). Figures: requests/s and the server's CPU per request. Targets
  (both sides building their answer per call): at least 0.9x the hand handler's
  requests/s, at most 1.15x its CPU per request.
* "dispatch": the pure coroutines called directly in this process (CPU per callback,
  no network), the same sides, and each stage of the router's work alone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from contextlib import ExitStack
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


def greeting(event: IncomingCallEvent) -> svaml.Svaml:
    """The router's handler's answer, built for this call."""
    return svaml.Svaml([svaml.Say(f"Hello {event.cli or ''}", locale="en-US")], svaml.Hangup())


def library_router(*, constant: bool = False) -> CallbackRouter:
    """The router side: its handler builds the answer for every call (``constant``: it
    answers the one module-constant document instead)."""
    router = CallbackRouter(KEY, SECRET)

    if constant:
        @router.ice
        async def on_ice_constant(event: IncomingCallEvent) -> svaml.Svaml:
            return ANSWER
    else:
        @router.ice
        async def on_ice(event: IncomingCallEvent) -> svaml.Svaml:
            return greeting(event)

    return router


def hand_verifier() -> Callable[[str, str, Mapping[str, str], bytes], bool]:
    """The hand side's signature check: inline HMAC, timestamp window, MD5."""
    secret = base64.b64decode(SECRET)
    window = timedelta(minutes=5)

    def verified(method: str, path: str, headers: Mapping[str, str], body: bytes) -> bool:
        scheme, _, credentials = headers.get("Authorization", "").partition(" ")
        key, _, signature = credentials.rpartition(":")
        stamp = headers.get("x-timestamp", "")
        if scheme.lower() != "application" or key != KEY or not stamp:
            return False
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if abs(datetime.now(UTC) - moment) > window:
            return False
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode() if body else ""
        text = f"{method}\n{md5}\n{headers.get('Content-Type', '')}\nx-timestamp:{stamp}\n{path}"
        expected = base64.b64encode(hmac.new(secret, text.encode(), hashlib.sha256).digest())
        return hmac.compare_digest(expected, signature.encode())

    return verified


def hand_written() -> Dispatch:
    """What one writes without the library: inline HMAC check, json in, json out."""
    verified = hand_verifier()

    async def on_ice(event: dict[str, Any]) -> dict[str, Any]:
        return {"instructions": [{"name": "say", "text": f"Hello {event.get('cli') or ''}",
                                  "locale": "en-US"}],
                "action": {"name": "hangup"}}

    async def dispatch(method: str, path: str, headers: Mapping[str, str],
                       body: bytes) -> tuple[int, Any, bytes]:
        if not verified(method, path, headers, body):
            return 401, {}, b""
        try:
            event = json.loads(body)
            if event["event"] != "ice" or not isinstance(event["callid"], str):
                return 400, {}, b""
        except (ValueError, KeyError, TypeError):
            return 400, {}, b""
        answer = await on_ice(event)
        return 200, {"Content-Type": "application/json"}, json.dumps(
            answer, separators=(",", ":")).encode()

    return dispatch


ROUTER, HAND = "CallbackRouter", "hand-written aiohttp"
CONSTANT = "CallbackRouter, one constant answer (informative)"
SIDES = {"router": ROUTER, "hand": HAND, "constant": CONSTANT}


def signed() -> dict[str, str]:
    """Headers of one signed ICE callback, timestamped now."""
    return {"Content-Type": CONTENT_TYPE, **signed_headers(
        KEY, SECRET, method="POST", path=PATH, content_type=CONTENT_TYPE, body=ICE)}


def app(side: str) -> web.Application:
    """The aiohttp.web application of one side."""
    application = web.Application()
    if side != HAND:
        application.router.add_post(PATH, library_router(constant=side == CONSTANT).handle)
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
    build the handler's answer, check and encode it (a document built per call), check
    the constant document and take its kept encoding (the same document answered
    again); and the hand handler's signature check and JSON decoding alone."""
    from sinch_calling.auth import Credentials, verify_request
    from sinch_calling.events import parse
    from sinch_calling.svaml import check_answer

    credentials = Credentials(KEY, SECRET)
    hand_verify = hand_verifier()
    router = library_router()
    event = parse(ICE)
    if not isinstance(event, IncomingCallEvent):
        raise RuntimeError("the ICE fixture must decode to an IncomingCallEvent")
    built = [greeting(event) for _ in range(events)]  # a new document each call
    position = iter(())

    def answer(_: object) -> bytes:
        nonlocal position
        document = next(position, None)
        if document is None:
            position = iter(built)
            document = next(position)
        return router._answer(check_answer(document, "ice")).body

    def kept(_: object) -> bytes:
        return router._answer(check_answer(ANSWER, "ice")).body

    return [
        Contender("stage: verify signature", stage_turn(
            lambda h: verify_request(credentials, "POST", PATH, h, ICE), events)),
        Contender("stage: decode typed event", stage_turn(lambda _: parse(ICE), events)),
        Contender("stage: build answer", stage_turn(lambda _: greeting(event), events)),
        Contender("stage: check and encode answer", stage_turn(answer, events)),
        Contender("stage: check answer, kept encoding", stage_turn(kept, events)),
        Contender("hand stage: verify signature", stage_turn(
            lambda h: hand_verify("POST", PATH, h, ICE), events)),
        Contender("hand stage: json.loads", stage_turn(lambda _: json.loads(ICE), events)),
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
    ports = {side: free_port() for side in SIDES.values()}
    with ExitStack() as servers:
        pids = {side: servers.enter_context(child_server(
            ["-m", "benchmarks.bench_webhooks", "--serve", flag, str(ports[side])],
            ports[side], name=f"{flag} server")).pid for flag, side in SIDES.items()}
        contenders = [Contender(side, http_turn(ports[side], args.requests, args.concurrency),
                                server_pid=pids[side]) for side in (HAND, ROUTER, CONSTANT)]
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
        print(f"  {side:<50} {row['rate']['median']:8.0f} req/s  server CPU "
              f"{row['server_cpu_s']['median']:6.1f} µs/req")
    print("dispatch (in process)")
    contenders = [Contender(HAND, dispatch_turn(hand_written(), args.events)),
                  Contender(ROUTER, dispatch_turn(library_router().dispatch, args.events)),
                  Contender(CONSTANT, dispatch_turn(library_router(constant=True).dispatch,
                                                    args.events)),
                  *stages(args.events)]
    runs = await alternate(contenders, rounds=args.rounds, warmup=args.warmup)
    summary = session.add("dispatch", runs, baseline=HAND, metrics=("cpu_s", "wall_s"),
                          scale={"cpu_s": 1e6, "wall_s": 1e6})
    for side, row in summary.items():
        print(f"  {side:<50} {row['cpu_s']['median']:6.1f} µs/event")
    return session


def main(argv: list[str] | None = None) -> None:
    if argv is None and sys.argv[1:2] == ["--serve"]:
        serve(SIDES[sys.argv[2]], int(sys.argv[3]))
        return
    p = parser(__doc__)
    p.add_argument("--requests", type=int, default=6000,
                   help="HTTP requests per turn (the server CPU is read in 10 ms ticks)")
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
