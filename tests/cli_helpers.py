"""Running ``sinch-calling`` as a user types it: a subprocess, against an emulator that
runs in another subprocess (started by the ``sinch-calling emulator`` command itself)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

COMMAND = [sys.executable, "-m", "sinch_calling"]


@attrs.frozen
class ChildEmulator:
    """An ``sinch-calling emulator`` child process: its URL, exported variables, log."""

    url: str
    environ: dict[str, str]
    log: Path
    process: subprocess.Popen[str]

    def log_text(self) -> str:
        """What it logged to stderr so far."""
        return self.log.read_text()


@contextmanager
def child_emulator(*options: str) -> Iterator[ChildEmulator]:
    """Start ``sinch-calling emulator --port 0 OPTIONS`` and read the export lines."""
    with tempfile.TemporaryDirectory(prefix="sinch-cli-") as directory:
        log = Path(directory) / "emulator.log"
        with log.open("w") as stderr:
            process = subprocess.Popen([*COMMAND, "emulator", "--port", "0", *options],
                                       stdout=subprocess.PIPE, stderr=stderr, text=True,
                                       env=clean_environ())
        try:
            exported: dict[str, str] = {}
            assert process.stdout is not None
            while "SINCH_BASE_URL" not in exported:
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError(f"the emulator did not start: {log.read_text()}")
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exported[name] = value
            yield ChildEmulator(exported["SINCH_BASE_URL"], exported, log, process)
        finally:
            process.terminate()
            process.communicate(timeout=10)


def clean_environ(**extra: str) -> dict[str, str]:
    """The process environment without any SINCH_ variable, plus ``extra``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
    environ.update(extra)
    environ.setdefault("COLUMNS", "200")
    return environ


def sinch_calling(argv: Sequence[str], *, emulator: ChildEmulator | None,
                  input: str | bytes | None = None, cwd: Path | None = None,
                  timeout: float = 60, text: bool = True,
                  **extra_env: str) -> subprocess.CompletedProcess[Any]:
    """Run ``sinch-calling ARGV`` to completion, with the emulator's variables."""
    environ = clean_environ(**(emulator.environ if emulator else {}), **extra_env)
    return subprocess.run([*COMMAND, *argv], input=input, capture_output=True, text=text,
                          env=environ, cwd=cwd, timeout=timeout, check=False)


class _SlowCallouts(asyncio.Protocol):
    """Answers every request (keep-alive, Content-Length bodies) with a new callId,
    ``delay`` seconds after it arrived."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = b""
        self.served = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.served += 1
            body = b'{"callId":"slow-%d-%d"}' % (id(self), self.served)
            answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            asyncio.get_running_loop().call_later(self.delay, self._write, answer)

    def _write(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)


@contextmanager
def slow_callouts(delay: float) -> Iterator[dict[str, str]]:
    """A server on its own thread that answers every callout ``delay`` seconds late (a
    campaign stopped meanwhile has calls in flight); yields the environment variables
    that point the command at it."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    async def serve() -> asyncio.AbstractServer:
        server = await loop.create_server(lambda: _SlowCallouts(delay), "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        return server

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(serve())
        started.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield {"SINCH_APPLICATION_KEY": "slow-key",
               "SINCH_APPLICATION_SECRET": "c2xvdy1zZWNyZXQ=",
               "SINCH_BASE_URL": f"http://127.0.0.1:{port[0]}"}
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
