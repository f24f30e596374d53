"""Bulk export of many small recordings: sinch_calling's export vs a hand-written loop.

    python -m benchmarks.bench_export [--count 1000] [--sizes 32768 204800] [--concurrency 16]
                                      [--rounds 7]

The emulator (seeded with ``count`` recordings of ``size`` random bytes) runs in its
own process pinned to core 1; the client runs pinned to core 0. The hand-written
loop signs each request, lists every page, then downloads with ``concurrency``
workers, writing each body with a plain ``open().write()`` on the event loop.
sinch_calling's export does more per file: temporary file + rename, SHA-256, a
manifest line, all off the event loop. The two alternate turns over ``--rounds``
rounds (:mod:`benchmarks._harness`), each turn into a fresh directory. Target (the
transfer issue): at least 0.9x the hand loop's files/s, for each size.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from sinch_calling import SinchCalling
from sinch_calling.auth import signed_headers

from ._harness import Contender, Target, alternate, new_session, parser, print_targets
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


HAND, OURS = "hand-written aiohttp", "sinch_calling export"
Export = Callable[[str, Path, int], Awaitable[int]]


def turn(run: Export, origin: str, concurrency: int, count: int) -> Callable[[], Awaitable[int]]:
    async def once() -> int:
        directory = Path(tempfile.mkdtemp(prefix="bench-export-"))
        try:
            files = await run(origin, directory, concurrency)
        finally:
            shutil.rmtree(directory)
        if files != count:
            raise RuntimeError(f"exported {files} of {count} recordings")
        return files

    return once


async def _bench(origin: str, args: Any, count: int) -> Any:
    contenders = [Contender(HAND, turn(hand_written, origin, args.concurrency, count)),
                  Contender(OURS, turn(with_sinch, origin, args.concurrency, count))]
    return await alternate(contenders, rounds=args.rounds, warmup=args.warmup)


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--sizes", type=int, nargs="+", default=[32 * 1024, 200 * 1024])
    p.add_argument("--concurrency", type=int, default=16)
    args = p.parse_args(argv)
    if args.quick:
        args.count, args.sizes, args.concurrency = 12, [1024], 4
        args.rounds, args.warmup = args.rounds or 1, 0
    args.rounds = args.rounds or 7
    session = new_session("export", args, count=args.count, sizes=args.sizes,
                          concurrency=args.concurrency)
    pin_self(0)
    for size in args.sizes:
        kib = f"{size / 1024:g} KiB"
        print(f"{args.count} recordings of {kib}, concurrency {args.concurrency}")
        with recordings_server(small=(args.count, size)) as origin:
            runs = asyncio.run(_bench(origin, args, args.count))
        summary = session.add(
            f"export-{size}", runs, baseline=HAND, metrics=("rate", "cpu_s"),
            scale={"cpu_s": 1e6},
            targets=[Target(f"export-{size}", f"export of {args.count}x{kib} at concurrency "
                            f"{args.concurrency}, files/s vs hand loop", OURS, "rate", ">=",
                            0.9, baseline=HAND)],
            count=args.count, size=size)
        for name, row in summary.items():
            print(f"  {name:<22}{row['rate']['median']:>8.0f} files/s  "
                  f"{row['rate']['median'] * size / 2**20:>6.1f} MiB/s")
    session.write()
    print_targets(session)


if __name__ == "__main__":
    main()
