"""The emulator in a child process, noting when each callout arrived on its own clock.

    python -m tests.timed_emulator          # prints "PORT <n>" once it listens

Every ``POST /calling/v1/callouts`` is noted as ``[seconds, destination, status]`` on
the child's monotonic clock, as the request reaches the server (before signature
checks); ``GET /_timed/callouts`` returns them all as JSON. Campaign tests count calls
("no number dialled twice", across runs and worker processes that come and go) and
measure pacing with it, as Sinch would see the calls arrive: in another process, on
another clock, with the emulator's journal outliving every worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from aiohttp import web

from sinch_calling.testing import DEFAULT_KEY, DEFAULT_SECRET, Emulator

CALLOUTS = "/calling/v1/callouts"
Noted = tuple[float, str | None, int | None]


def timed_emulator() -> Emulator:
    """An :class:`Emulator` on a free port that notes callouts (see the module docs)."""
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

    emulator = Emulator(max_journal=1000)
    emulator.app.middlewares.insert(0, note)
    return emulator


class TimedEmulator:
    """:func:`timed_emulator` in a child process (started by :meth:`start`)."""

    key, secret = DEFAULT_KEY, DEFAULT_SECRET

    def __init__(self) -> None:
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> TimedEmulator:
        """Start the child; return once it listens."""
        self.process = subprocess.Popen([sys.executable, "-m", "tests.timed_emulator"],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the timed emulator did not start ({line!r})")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    def stop(self) -> None:
        """End the child (idempotent)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.communicate(timeout=10)

    def env(self) -> dict[str, str]:
        """The environment a ``sinch-calling`` process needs to call it."""
        return {"SINCH_APPLICATION_KEY": self.key, "SINCH_APPLICATION_SECRET": self.secret,
                "SINCH_BASE_URL": self.url}

    async def journal(self) -> list[dict[str, Any]]:
        """Every callout so far: ``t`` (arrival, seconds), ``to``, ``status``."""
        return [{"t": t, "to": to, "status": status}
                for t, to, status in await noted_callouts(self.url)]


@contextmanager
def timed_emulator_process() -> Iterator[TimedEmulator]:
    """A started :class:`TimedEmulator`, stopped afterwards."""
    emulator = TimedEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


async def noted_callouts(origin: str) -> list[Noted]:
    """``(arrival seconds, destination, HTTP status)`` of every callout so far."""
    async with aiohttp.ClientSession() as session, \
            session.get(f"{origin}/_timed/callouts") as response:
        return [(t, to, status) for t, to, status in await response.json()]


async def _serve() -> None:
    async with timed_emulator() as emulator:
        print(f"PORT {emulator.port}", flush=True)
        # Nobody reads the pipe from now on: never block on it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve())
