"""The emulator in its own process, for the multi-process campaign tests.

    python -m tests.fleet_emulator JOURNAL_FILE

prints ``URL KEY SECRET`` on its first line once serving, and appends one JSON line per
callout request to JOURNAL_FILE as it arrives (``t``: the server's ``time.time()`` when
the request came in; ``to``: the destination; ``status``: the answer's status), flushed
at once, so the journal is complete whatever happens to the clients. It stops on
SIGTERM or when its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from sinch_calling.testing import Emulator


async def main(path: str) -> None:
    journal = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115, ASYNC230

    @web.middleware
    async def record(request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
        arrived = time.time()
        if request.method != "POST" or not request.path.endswith("/callouts"):
            return await handler(request)
        body = await request.read()
        try:
            callout = json.loads(body)
            callout = callout.get("ttsCallout") or callout.get("conferenceCallout") or {}
            to = callout.get("destination", {}).get("endpoint")
        except ValueError:
            to = None
        response = await handler(request)
        journal.write(json.dumps({"t": arrived, "to": to, "status": response.status}) + "\n")
        return response

    emulator = Emulator(max_journal=1000)
    emulator.app.middlewares.insert(0, record)
    async with emulator:
        print(emulator.url, emulator.application_key, emulator.application_secret,
              flush=True)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, done.set)
        loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not sys.stdin.read(1)
                        else None)
        await done.wait()
    journal.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
