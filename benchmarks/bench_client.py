"""Client overhead: sinch_calling vs a hand-written signed aiohttp loop vs the official
Sinch SDK 1.1.4 async client, against a client-bound server.

    python -m benchmarks.bench_client [--concurrency 1 16 64 256] [--rounds 15]
                                     [--requests 600] [--emulator]

The server is :mod:`benchmarks._wire`'s canned keep-alive server in its own process
(pinned to core 1; a few µs per request), so this process's CPU (pinned to core 0) is
the client's own cost. For each operation (tts callout POST, ``numbers.query`` GET) and
each concurrency, the contenders alternate turns of ``--requests`` calls over
``--rounds`` rounds (:mod:`benchmarks._harness`). Targets: client CPU per call at most
1.05x the hand loop's; callouts per CPU second at least 8x the official SDK's.
``--emulator`` runs the same turns against the emulator instead (end-to-end figures,
written to ``client_emulator.json``).

The official SDK is measured when ``sinch==1.1.4`` is installed (``.[bench]``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import aiohttp

from sinch_calling import SinchCalling

from ._harness import Contender, Session, Target, alternate, new_session, parser, print_targets
from ._server import KEY, SECRET, emulator_process, pin_self
from ._wire import canned_server

Operation = Callable[[], Awaitable[object]]

NUMBER = "+46730170101"
TTS_BODY = {"method": "ttsCallout", "ttsCallout": {
    "destination": {"type": "number", "endpoint": "+46000000001"},
    "cli": "+46000000000", "text": "Hello from the benchmark", "locale": "en-US"}}
HAND, OURS, OFFICIAL = "aiohttp by hand", "sinch_calling", "sinch 1.1.4"
OPERATIONS = ("tts", "query")


class HandWritten:
    """What a careful engineer writes by hand: aiohttp, inline HMAC signing, json, no
    validation, dicts out. Same connection limit as sinch_calling's default."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.secret = base64.b64decode(SECRET)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, limit_per_host=0))

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
        path = f"/v1/calling/query/number/{NUMBER}"
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

    async def close(self) -> None:
        await self.session.close()


def ours(client: SinchCalling) -> dict[str, Operation]:
    return {
        "tts": lambda: client.callouts.tts("+46000000001", cli="+46000000000",
                                           text="Hello from the benchmark", locale="en-US"),
        "query": lambda: client.numbers.query(NUMBER),
    }


async def official_sdk(origin: str, stack: AsyncExitStack) -> dict[str, Operation] | None:
    """The official SDK's async client pointed at ``origin``; None when not installed."""
    try:
        from sinch import SinchClientAsync
    except ImportError:
        return None
    client = SinchClientAsync(application_key=KEY, application_secret=SECRET)
    host = origin.removeprefix("http://")
    client.configuration.disable_https = True
    client.configuration.voice_origin = host
    client.configuration.voice_applications_origin = host

    async def close() -> None:
        session = getattr(client.configuration.transport, "http_session", None)
        if session is not None:
            await session.aclose()

    stack.push_async_callback(close)

    async def query() -> object:
        return await client.voice.applications.query_number(NUMBER)

    async def tts() -> object:
        return await client.voice.callouts.text_to_speech(
            destination={"type": "number", "endpoint": "+46000000001"},
            cli="+46000000000", text="Hello from the benchmark", locale="en-US")

    return {"tts": tts, "query": query}


def turn(operation: Operation, requests: int, concurrency: int) -> Callable[[], Awaitable[int]]:
    """One turn: ``requests`` calls spread over ``concurrency`` workers."""

    async def run() -> int:
        remaining = requests

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await operation()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests

    return run


def targets(operation: str, concurrency: int, official: bool) -> list[Target]:
    name = "tts callout" if operation == "tts" else "numbers.query GET"
    out = [Target(f"client-cpu-{operation}-c{concurrency}",
                  f"{name}, client CPU per call vs hand loop, concurrency {concurrency}",
                  OURS, "cpu_s", "<=", 1.05, baseline=HAND)]
    if official and operation == "tts":
        out.append(Target(f"official-{operation}-c{concurrency}",
                          f"{name}s per CPU second vs official SDK 1.1.4, "
                          f"concurrency {concurrency}",
                          OURS, "cpu_s", ">=", 8.0, baseline=OFFICIAL, invert=True))
    return out


async def run(args: Any) -> Session:
    name = "client_emulator" if args.emulator else "client"
    session = new_session(name, args, concurrency=args.concurrency,
                          requests_per_turn=args.requests,
                          server="emulator" if args.emulator else "benchmarks._wire")
    pin_self(0)
    server = emulator_process(cpu=1) if args.emulator else canned_server(cpu=1)
    with server as started:
        origin, pid = (started, None) if isinstance(started, str) else started
        async with AsyncExitStack() as stack:
            hand = HandWritten(origin)
            stack.push_async_callback(hand.close)
            client = await stack.enter_async_context(SinchCalling(KEY, SECRET,
                                                                  base_url=origin))
            sides: dict[str, dict[str, Operation]] = {
                HAND: {"tts": hand.tts, "query": hand.query}, OURS: ours(client)}
            official = None if args.no_official else await official_sdk(origin, stack)
            if official is not None:
                sides[OFFICIAL] = official
            for operation in OPERATIONS:
                for concurrency in args.concurrency:
                    print(f"{operation}, concurrency {concurrency}")
                    contenders = [Contender(side, turn(ops[operation], args.requests,
                                                       concurrency), server_pid=pid)
                                  for side, ops in sides.items()]
                    runs = await alternate(contenders, rounds=args.rounds, warmup=args.warmup)
                    session.add(f"{operation}-c{concurrency}", runs, baseline=HAND,
                                metrics=("cpu_s", "wall_s", "rate", "server_cpu_s"),
                                scale={"cpu_s": 1e6, "wall_s": 1e6, "server_cpu_s": 1e6},
                                targets=() if args.emulator else targets(
                                    operation, concurrency, official is not None),
                                operation=operation, concurrency=concurrency)
                    _print(session.groups[f"{operation}-c{concurrency}"]["summary"])
    return session


def _print(summary: dict[str, dict[str, Any]]) -> None:
    for side, row in summary.items():
        cpu = row["cpu_s"]
        line = (f"  {side:<16} {row['rate']['median']:8.0f} calls/s  "
                f"CPU {cpu['median']:7.1f} µs/call ({cpu['min']:.1f}..{cpu['max']:.1f})")
        if "cpu_s_ratio" in row:
            r = row["cpu_s_ratio"]
            line += f"  x hand {r['median']:.3f} ({r['min']:.3f}..{r['max']:.3f})"
        print(line)


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64, 256])
    p.add_argument("--requests", type=int, default=600, help="calls per turn")
    p.add_argument("--emulator", action="store_true", help="end-to-end, against the emulator")
    p.add_argument("--no-official", action="store_true", help="skip the official SDK")
    args = p.parse_args(argv)
    if args.quick:
        args.concurrency, args.requests = [1, 4], 8
        args.rounds, args.warmup = args.rounds or 1, 0
    args.rounds = args.rounds or 15
    session = asyncio.run(run(args))
    session.write()
    print_targets(session)


if __name__ == "__main__":
    main()
