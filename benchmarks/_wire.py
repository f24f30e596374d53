"""Minimal HTTP/1.1 on raw asyncio protocols, for measuring the OTHER side.

* :func:`serve` (``python -m benchmarks._wire PORT``): a client-bound server. Keep-alive,
  one canned answer per method (``POST`` -> ``{"callId": ...}``, ``GET`` -> a number
  lookup), a few µs per request, no signature check, no routing. Run it in its own
  process (:func:`canned_server`) so that a client's CPU is its own.
* :func:`hammer`: a server-bound client. ``concurrency`` keep-alive connections, each
  sending one prepared request and reading its answer (Content-Length framing) until
  ``total`` answers arrived; costs a few µs per request, so the server under test is
  the bottleneck.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ._server import child_server, free_port

CALLOUT = b'{"callId":"4398599d1ba84ef3bde0a82dfb61abed"}'
NUMBER = (b'{"number":{"countryId":"SE","numberType":"Mobile","normalizedNumber":'
          b'"+46730170101","restricted":false,"rate":{"currencyId":"USD","amount":0.0368}}}')


def _answer(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


ANSWERS = {b"POST": _answer(CALLOUT), b"GET": _answer(NUMBER)}
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def _content_length(head: bytes) -> int:
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = head.find(b"\r\n", at + 2)
    return int(head[at + 17:end if end >= 0 else None])


class _CannedServer(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            size = end + 4 + _content_length(buffer[:end + 2])
            if len(buffer) < size:
                break
            out.append(ANSWERS.get(buffer[:buffer.find(b" ")], NOT_FOUND))
            buffer = buffer[size:]
        self.buffer = buffer
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def serve(port: int) -> None:
    """Serve canned answers on 127.0.0.1:``port`` until killed."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_CannedServer, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


@contextmanager
def canned_server(cpu: int | None = 1) -> Iterator[tuple[str, int]]:
    """Start :func:`serve` in a child process (pinned to ``cpu`` when there are cores to
    spare); yield (origin, pid)."""
    port = free_port()
    with child_server(["-m", "benchmarks._wire", str(port)], port, cpu=cpu,
                      name="canned server") as child:
        yield f"http://127.0.0.1:{port}", child.pid


# -- the server-bound client ---------------------------------------------------------------


class _Hammer(asyncio.Protocol):
    def __init__(self, request: bytes, budget: list[int], done: asyncio.Future[None],
                 failures: list[bytes]) -> None:
        self.request, self.budget, self.done, self.failures = request, budget, done, failures
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        if self.budget[0] <= 0:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)
            return
        self.budget[0] -= 1
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            self.buffer = buffer
            return
        size = end + 4 + _content_length(buffer[:end + 2])
        if len(buffer) < size:
            self.buffer = buffer
            return
        if buffer[9:12] != b"200":
            self.failures.append(buffer[:size])
        self.buffer = buffer[size:]
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if self.budget[0] > 0 or exc is not None:
                self.done.set_exception(ConnectionError(f"connection lost: {exc}"))
            else:
                self.done.set_result(None)


async def hammer(host: str, port: int, request: bytes, total: int, concurrency: int) -> int:
    """Send ``request`` ``total`` times over ``concurrency`` keep-alive connections;
    return how many answers were 200 (a non-200 answer raises RuntimeError)."""
    loop = asyncio.get_running_loop()
    budget = [total]
    failures: list[bytes] = []
    dones = []
    for _ in range(min(concurrency, total)):
        done: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(lambda d=done: _Hammer(request, budget, d, failures),
                                     host, port)
        dones.append(done)
    await asyncio.gather(*dones)
    if failures:
        raise RuntimeError(f"{len(failures)} answers were not 200, e.g. {failures[0][:200]!r}")
    return total


def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """An HTTP/1.1 request, ready to send over and over on a keep-alive connection."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
             *(f"{k}: {v}" for k, v in headers.items()), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
