"""An emulator seeded with recordings, in a child process (its CPU and memory are not
the client's). ``python -m benchmarks._recordings_server PORT --generated KEY:BYTES
--small COUNT:BYTES`` serves until killed."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks._server import KEY, SECRET, free_port
from sinch_calling.testing import Emulator

__all__ = ["KEY", "SECRET", "recordings_server"]


@contextmanager
def recordings_server(*, generated: dict[str, int] | None = None,
                      small: tuple[int, int] | None = None, cpu: int | None = 1) -> Iterator[str]:
    """Start the seeded emulator (pinned to ``cpu`` when there are cores to spare);
    yield its origin."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks._recordings_server", str(port)]
    for key, size in (generated or {}).items():
        command += ["--generated", f"{key}:{size}"]
    if small is not None:
        command += ["--small", f"{small[0]}:{small[1]}"]
    if cpu is not None and (os.cpu_count() or 1) > cpu:
        command = ["taskset", "-c", str(cpu), *command]
    child = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("the recordings server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(10)


async def _serve(port: int, generated: list[str], small: str | None) -> None:
    async with Emulator(KEY, SECRET, port=port) as emu:
        for spec in generated:
            key, _, size = spec.rpartition(":")
            emu.recordings.add_generated(key, int(size), seed=1)
        if small:
            count, size = (int(part) for part in small.split(":"))
            for i in range(count):
                emu.recordings.add(f"calls/{i:05d}.mp3", os.urandom(size))
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--generated", action="append", default=[])
    parser.add_argument("--small")
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.generated, args.small))


if __name__ == "__main__":
    main()
