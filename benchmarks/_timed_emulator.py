"""A canned server in a child process that notes when each callout reached the machine.

    python -m benchmarks._timed_emulator PORT

It serves :mod:`benchmarks._wire`'s canned answers and notes each request with the
kernel's receive time of its first bytes (``SO_TIMESTAMPNS``, wall clock): when it
reached the machine, however long this process then waited for a core (on a loaded
machine a server's own notes bunch up behind its backlog). ``GET /_timed/callouts``
returns the notes, ``[seconds, destination, status]``, as JSON. The campaign
benchmark's pacing group measures "as Sinch sees them" with it. (The tests' own timed
emulator, the real emulator noting arrivals, is ``tests/timed_emulator.py``.)
"""

from __future__ import annotations

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

from ._server import child_server, free_port
from ._wire import ANSWERS, _answer, _content_length

_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux


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


@contextmanager
def timed_canned_process(cpu: int | None = 1) -> Iterator[str]:
    """Start the timed canned server in a child process; yield its origin."""
    port = free_port()
    with child_server(["-m", "benchmarks._timed_emulator", str(port)], port, cpu=cpu,
                      name="timed canned server"):
        yield f"http://127.0.0.1:{port}"


async def arrivals(origin: str) -> list[float]:
    """When each callout the server answered reached the machine (seconds)."""
    async with aiohttp.ClientSession() as session, \
            session.get(f"{origin}/_timed/callouts") as response:
        notes = await response.json()
    return [float(t) for t, _, status in notes if status == 200]


if __name__ == "__main__":
    _serve_canned(int(sys.argv[1]))
