"""The emulator in a child process, also noting when each callout arrived.

    python -m benchmarks._timed_emulator PORT [--canned]

Every ``POST /calling/v1/callouts`` is noted as ``[seconds, destination, status]`` on
the child's own monotonic clock, as the request reaches the server (before signature
checks); ``GET /_timed/callouts`` returns them all as JSON. Campaign tests and the
campaign benchmark count calls and measure pacing with it, "as Sinch sees them".

``--canned`` serves :mod:`benchmarks._wire`'s canned answers instead of the emulator and
notes each request with the kernel's receive time of its first bytes
(``SO_TIMESTAMPNS``, wall clock): when it reached the machine, however long this
process then waited for a core (on a loaded machine the emulator's own notes bunch
up behind its backlog). The pacing benchmark uses it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from aiohttp import web

from sinch_calling.testing import Emulator

from ._server import child_server, free_port
from ._wire import ANSWERS, _answer, _content_length

_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux

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


def _kernel_stamp(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return float(seconds + nanoseconds / 1e9)
    return None


def _serve_canned(port: int) -> None:
    """Canned answers; each request noted with the KERNEL's receive time of its first
    bytes (``SO_TIMESTAMPNS``): when it reached this machine, however late this process
    got a core to read it. One thread per connection."""
    noted: list[list[Any]] = []
    lock = threading.Lock()

    def connection(conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        buffer, first = b"", 0.0
        with conn:
            while True:
                data, ancillary, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16))
                if not data:
                    return
                stamp = _kernel_stamp(ancillary) or time.time()
                if not buffer:
                    first = stamp
                buffer += data
                out = []
                while (end := buffer.find(b"\r\n\r\n")) >= 0:
                    size = end + 4 + _content_length(buffer[:end + 2])
                    if len(buffer) < size:
                        break
                    head, body, buffer = buffer[:end], buffer[end + 4:size], buffer[size:]
                    if head.startswith(b"GET /_timed/callouts"):
                        with lock:
                            out.append(_answer(json.dumps(noted).encode()))
                    else:
                        try:
                            callout = json.loads(body)["ttsCallout"]
                            destination = callout["destination"]["endpoint"]
                        except (ValueError, KeyError, TypeError):
                            destination = None
                        with lock:
                            noted.append([first, destination, 200])
                        out.append(ANSWERS[b"POST"])
                    first = stamp  # what is left began in this receive
                if out:
                    conn.sendall(b"".join(out))

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1024)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=connection, args=(conn,), daemon=True).start()


async def _serve(port: int) -> None:
    async with timed_emulator(port):
        await asyncio.Event().wait()


@contextmanager
def timed_emulator_process(cpu: int | None = 1, *, canned: bool = False) -> Iterator[str]:
    """Start the timed emulator (or the timed canned server) in a child process; yield
    its origin."""
    port = free_port()
    with child_server(["-m", "benchmarks._timed_emulator", str(port),
                       *(["--canned"] if canned else [])], port, cpu=cpu,
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
    if "--canned" in sys.argv[2:]:
        _serve_canned(int(sys.argv[1]))
    else:
        asyncio.run(_serve(int(sys.argv[1])))
