"""Peers that misbehave, for tests: raw asyncio servers and exception inspection."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A loopback TCP server running ``handler`` per connection; yields its origin."""
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The request head and (by Content-Length) body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head + (await reader.readexactly(length) if length else b"")


def reachable_texts(exc: BaseException) -> list[str]:
    """The reprs and messages of everything an exception leaving the library reaches:
    itself, its chain, and the locals of the library's (and aiohttp's) frames in the
    tracebacks, as a traceback printer that records locals would show them."""
    texts: list[str] = []
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [repr(current), str(current)]
        tb: TracebackType | None = current.__traceback__
        while tb is not None:
            where = tb.tb_frame.f_code.co_filename
            if f"{os.sep}sinch_calling{os.sep}" in where or f"{os.sep}aiohttp{os.sep}" in where:
                for value in tb.tb_frame.f_locals.values():
                    try:
                        texts.append(repr(value))
                    except Exception:
                        continue
            tb = tb.tb_next
        stack += [e for e in (current.__context__, current.__cause__) if e is not None]
    return texts
