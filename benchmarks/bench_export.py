"""Bulk export of many small recordings: sinch_calling's export vs a hand-written loop.

    python -m benchmarks.bench_export [--count 1000] [--size 32768] [--concurrency 16]

The emulator (seeded with ``count`` recordings of ``size`` random bytes) runs in its
own process pinned to core 1; the client runs pinned to core 0. The hand-written
loop signs each request, lists every page, then downloads with ``concurrency``
workers, writing each body with a plain ``open().write()`` on the event loop.
sinch_calling's export does more per file: temporary file + rename, SHA-256, a
manifest line, all off the event loop. Rounds alternate, each into a fresh directory.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp

from sinch_calling import SinchCalling
from sinch_calling.auth import signed_headers

from ._recordings_server import KEY, SECRET, recordings_server
from ._server import pin_self

PAGE = 100


def _signed(method: str, path: str) -> dict[str, str]:
    return signed_headers(KEY, SECRET, method=method, path=path, content_type=None, body=None)


async def hand_written(origin: str, directory: Path, concurrency: int) -> int:
    """List every page, then download with ``concurrency`` workers; returns files written."""
    async with aiohttp.ClientSession() as session:
        keys: list[str] = []
        page = 1
        while True:
            path = "/calling/v1/recording"
            async with session.get(origin + path, params={"page": page, "pageSize": PAGE},
                                   headers=_signed("GET", path)) as response:
                response.raise_for_status()
                items = await response.json()
            keys += [item["key"] for item in items]
            if len(items) < PAGE:
                break
            page += 1
        queue = iter(keys)

        async def worker() -> None:
            for key in queue:
                path = "/calling/v1/recording/" + quote(key, safe="")
                async with session.get(origin + path, headers=_signed("GET", path)) as response:
                    response.raise_for_status()
                    body = await response.read()
                (directory / key.replace("/", "_")).write_bytes(body)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(keys)


async def with_sinch(origin: str, directory: Path, concurrency: int) -> int:
    """sinch_calling's export; returns files written."""
    async with SinchCalling(KEY, SECRET, base_url=origin) as sinch:
        report = await sinch.recordings.export(directory, concurrency=concurrency,
                                               page_size=PAGE)
    assert report.ok, report.failures[:3]
    return report.downloaded


async def _timed(run: object, origin: str, concurrency: int) -> tuple[float, int]:
    directory = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        started = time.perf_counter()
        files = await run(origin, directory, concurrency)  # type: ignore[operator]
        return time.perf_counter() - started, files
    finally:
        shutil.rmtree(directory)


async def _bench(origin: str, rounds: int, concurrency: int) -> dict[str, list[float]]:
    variants = {"hand-written aiohttp": hand_written, "sinch_calling export": with_sinch}
    rates: dict[str, list[float]] = {name: [] for name in variants}
    await _timed(hand_written, origin, concurrency)  # warm up the server and the disk
    for _ in range(rounds):
        for name, run in variants.items():
            seconds, files = await _timed(run, origin, concurrency)
            rates[name].append(files / seconds)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=32 * 1024)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pin_self(0)
    with recordings_server(small=(args.count, args.size)) as origin:
        rates = asyncio.run(_bench(origin, args.rounds, args.concurrency))
    base = statistics.median(rates["hand-written aiohttp"])
    print(f"\n{args.count} recordings of {args.size} bytes, concurrency {args.concurrency}, "
          f"median of {args.rounds} rounds")
    print(f"{'variant':<24}{'files/s':>10}{'MiB/s':>9}{'ratio':>8}")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:<24}{rate:>10.0f}{rate * args.size / 2**20:>9.1f}{rate / base:>8.2f}")


if __name__ == "__main__":
    main()
