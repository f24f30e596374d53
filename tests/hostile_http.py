"""A raw asyncio HTTP/1.1 server for peers that break HTTP (tests only).

Each request is answered by a script, ``respond(request) -> Reply``, with exactly the
status line, headers and body bytes it gives: lengths that lie, a 206 nobody asked
for, a body cut after ``cut`` bytes, a body delimited by closing the connection.
Every response closes the connection (``Connection: close``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

from sinch_calling import SinchCalling
from tests.conftest import FAST_RETRY


@attrs.frozen
class Request:
    method: str
    path: str  # percent-decoded, no query
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@attrs.define
class Reply:
    status: int = 200
    headers: dict[str, str] = attrs.Factory(dict)
    body: bytes = b""
    cut: int | None = None
    """Close the connection after this many body bytes."""
    framing: str = "length"
    """``length`` (Content-Length unless given), ``chunked``, or ``close`` (neither)."""
    repeated: list[tuple[str, str]] = attrs.Factory(list)
    """Header lines sent after ``headers`` (a name given twice, say)."""

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Reply:
        return cls(status, {"Content-Type": "application/json"}, json.dumps(data).encode())


Respond = Callable[[Request], Reply | Awaitable[Reply]]


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("content-length", "0").isdigit():
        await reader.readexactly(int(headers.get("content-length", "0")))
    parts = urlsplit(target)
    return Request(method, unquote(parts.path), dict(parse_qsl(parts.query)), headers)


def _encode(reply: Reply) -> tuple[bytes, bytes]:
    """(head, body as sent on the wire)."""
    headers = dict(reply.headers)
    body = reply.body
    if reply.framing == "length":
        headers.setdefault("Content-Length", str(len(body)))
    elif reply.framing == "chunked":
        headers["Transfer-Encoding"] = "chunked"
        pieces = [body[i:i + 16384] for i in range(0, len(body), 16384)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    headers["Connection"] = "close"
    lines = [*headers.items(), *reply.repeated]
    head = f"HTTP/1.1 {reply.status} Whatever\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in lines) + "\r\n"
    try:
        return head.encode("latin-1"), body
    except UnicodeEncodeError:  # text beyond latin-1 (full-width digits, say): its UTF-8
        return head.encode("utf-8"), body


class HostileServer:
    """Serves ``respond`` on 127.0.0.1; ``requests`` lists what it received."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.requests: list[Request] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            reply = self.respond(request)
            if not isinstance(reply, Reply):
                reply = await reply
            head, body = _encode(reply)
            if reply.cut is not None and reply.framing != "chunked":
                body = body[:reply.cut]
            elif reply.cut is not None:  # cut the payload, not the framing bytes
                body = _encode(attrs.evolve(reply, body=reply.body[:reply.cut]))[1][:-5]
            writer.write(head + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def gets(self, prefix: str = "/calling/v1/recording/") -> list[Request]:
        """The recording GETs received."""
        return [r for r in self.requests if r.method == "GET" and r.path.startswith(prefix)]


@asynccontextmanager
async def hostile(respond: Respond, **client: Any) -> AsyncIterator[
        tuple[HostileServer, SinchCalling]]:
    """A :class:`HostileServer` and a client of it (near-instant retries)."""
    options: dict[str, Any] = {"retry": FAST_RETRY, **client}
    async with HostileServer(respond) as server, SinchCalling(
            "key", "c2VjcmV0", base_url=server.url, **options) as sinch:
        yield server, sinch


def ranged(data: bytes, request: Request, headers: dict[str, str] | None = None) -> Reply:
    """A correct answer: 200 with ``data``, or 206 for ``Range: bytes=N-``."""
    base = dict(headers or {})
    wanted = request.header("Range")
    if wanted and wanted.startswith("bytes=") and wanted.endswith("-"):
        start = int(wanted[6:-1])
        if start >= len(data):
            return Reply(416, {"Content-Range": f"bytes */{len(data)}"})
        base["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        return Reply(206, base, data[start:])
    return Reply(200, base, data)
