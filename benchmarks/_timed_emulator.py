"""The emulator in a child process, also noting when each callout arrived.

    python -m benchmarks._timed_emulator PORT

Every ``POST /calling/v1/callouts`` is noted as ``[seconds, destination, status]`` on
the child's own monotonic clock, as the request reaches the server (before signature
checks); ``GET /_timed/callouts`` returns them all as JSON. Campaign tests and the
campaign benchmark count calls and measure pacing with it, "as Sinch sees them".
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from aiohttp import web

from sinch_calling.testing import Emulator

from ._server import child_server, free_port

CALLOUTS = "/calling/v1/callouts"


def timed_emulator(port: int) -> Emulator:
    """An :class:`Emulator` on ``port`` that notes callouts (see the module docs)."""
    noted: list[list[Any]] = []

    @web.middleware
    async def note(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/_timed/callouts":
            return web.json_response(noted)  # answered here: no signature needed
        if request.method != "POST" or request.path != CALLOUTS:
            return await handler(request)
        arrived = time.monotonic()
        try:
            body = json.loads(await request.read())
            callout = body.get("ttsCallout") or body.get("conferenceCallout") or \
                body.get("customCallout") or {}
            destination = callout.get("destination", {}).get("endpoint")
        except (ValueError, AttributeError):
            destination = None
        entry: list[Any] = [arrived, destination, None]
        noted.append(entry)
        response = await handler(request)
        entry[2] = response.status
        return response

    emulator = Emulator(port=port, max_journal=1000)
    emulator.app.middlewares.insert(0, note)
    return emulator


async def _serve(port: int) -> None:
    async with timed_emulator(port):
        await asyncio.Event().wait()


@contextmanager
def timed_emulator_process(cpu: int | None = 1) -> Iterator[str]:
    """Start the timed emulator in a child process; yield its origin."""
    port = free_port()
    with child_server(["-m", "benchmarks._timed_emulator", str(port)], port, cpu=cpu,
                      name="timed emulator"):
        yield f"http://127.0.0.1:{port}"


async def noted_callouts(origin: str) -> list[tuple[float, str | None, int | None]]:
    """``(arrival seconds, destination, HTTP status)`` of every callout so far."""
    async with aiohttp.ClientSession() as session, \
            session.get(f"{origin}/_timed/callouts") as response:
        return [tuple(entry) for entry in await response.json()]  # type: ignore[misc]


def most_in_window(times: list[float], window: float = 1.0) -> int:
    """The most arrivals within any ``window`` seconds (any interval (t - window, t])."""
    times = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - window:
            first += 1
        best = max(best, last - first + 1)
    return best


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
