"""An emulator seeded with recordings, in a child process (its CPU and memory are not
the client's). ``python -m benchmarks._recordings_server PORT --generated KEY:BYTES
--small COUNT:BYTES`` serves until killed."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks._server import KEY, SECRET, child_server, free_port
from sinch_calling.testing import Emulator

__all__ = ["KEY", "SECRET", "recordings_server"]


@contextmanager
def recordings_server(*, generated: dict[str, int] | None = None,
                      small: tuple[int, int] | None = None, cpu: int | None = 1) -> Iterator[str]:
    """Start the seeded emulator (pinned to ``cpu`` when there are cores to spare);
    yield its origin."""
    port = free_port()
    arguments = ["-m", "benchmarks._recordings_server", str(port)]
    for key, size in (generated or {}).items():
        arguments += ["--generated", f"{key}:{size}"]
    if small is not None:
        arguments += ["--small", f"{small[0]}:{small[1]}"]
    with child_server(arguments, port, cpu=cpu, name="recordings server"):
        yield f"http://127.0.0.1:{port}"


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
