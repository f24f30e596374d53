"""One big recording to disk: sinch_calling's download vs a plain aiohttp loop.

    python -m benchmarks.bench_download [--size-mib 512] [--rounds 5]

The emulator (serving a generated recording chunk by chunk) runs in its own process
pinned to core 1. Every measured download runs in a fresh child process pinned to
core 0, so its peak-RSS growth (``ru_maxrss`` after minus before the download) is its
own. The baseline is the loop people write by hand: sign, ``iter_chunked(64 KiB)``,
``file.write`` on the event loop (and the same with ``iter_any``). "max lag" is the
longest an event-loop heartbeat (1 ms sleeps) was late during the download. The
variants alternate turns, one child each, over ``--rounds`` rounds
(:mod:`benchmarks._harness`); the throughput is the child's own download time.
Targets (the transfer issue): at least 0.9x the ``iter_chunked`` loop's throughput,
peak RSS growth at most 64 MiB.
"""

from __future__ import annotations

import asyncio
import functools
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from sinch_calling import SinchCalling
from sinch_calling.auth import signed_headers

from ._harness import Contender, Target, alternate_sync, new_session, parser, print_targets
from ._recordings_server import KEY, SECRET, recordings_server
from ._server import pin_self

RECORDING = "big.mp3"
BASE, OURS = "aiohttp iter_chunked", "sinch_calling"
VARIANTS = (BASE, "aiohttp iter_any", OURS)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _baseline(origin: str, target: Path, *, any_size: bool = False) -> None:
    path = f"/calling/v1/recording/{RECORDING}"
    headers = signed_headers(KEY, SECRET, method="GET", path=path, content_type=None, body=None)
    async with aiohttp.ClientSession() as session, session.get(origin + path,
                                                               headers=headers) as response:
        response.raise_for_status()
        chunks = (response.content.iter_any() if any_size
                  else response.content.iter_chunked(64 * 1024))
        with target.open("wb") as handle:  # the naive loop, on purpose
            async for chunk in chunks:
                handle.write(chunk)


async def _baseline_any(origin: str, target: Path) -> None:
    await _baseline(origin, target, any_size=True)


async def _sinch(origin: str, target: Path) -> None:
    async with SinchCalling(KEY, SECRET, base_url=origin) as sinch:
        await sinch.recordings.download(RECORDING, target)


async def _measure(run: Callable[[], Awaitable[None]]) -> dict[str, float]:
    lag, stop = 0.0, False

    async def heartbeat() -> None:
        nonlocal lag
        while not stop:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            lag = max(lag, time.perf_counter() - started - 0.001)

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.01)
    before = _rss_mib()
    started = time.perf_counter()
    await run()
    seconds = time.perf_counter() - started
    stop = True
    await beat
    return {"seconds": seconds, "rss_growth_mib": _rss_mib() - before, "max_lag_ms": lag * 1e3}


def _child(variant: str, origin: str, target: str) -> None:
    pin_self(0)
    runs = {BASE: _baseline, "aiohttp iter_any": _baseline_any, OURS: _sinch}
    result = asyncio.run(_measure(lambda: runs[variant](origin, Path(target))))
    print(json.dumps(result))


def _spawn(variant: str, origin: str, target: Path, size_mib: float) -> dict[str, float]:
    """One turn: download in a fresh child; (1 download, its own figures)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_download", "--child", variant, origin,
         str(target)], check=True, capture_output=True, text=True,
    ).stdout
    size = target.stat().st_size
    target.unlink()
    if size != int(size_mib * 1024 * 1024):
        raise RuntimeError(f"{variant} wrote {size} bytes")
    figures = json.loads(out.strip().splitlines()[-1])
    return {"units": 1, "mib": size_mib, "seconds_each": figures["seconds"],
            "mib_per_s": size_mib / figures["seconds"], **figures}


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--size-mib", type=float, default=512)
    p.add_argument("--child", nargs=3, metavar=("VARIANT", "ORIGIN", "TARGET"))
    args = p.parse_args(argv)
    if args.child:
        _child(*args.child)
        return
    if args.quick:
        args.size_mib = 1
        args.rounds, args.warmup = args.rounds or 1, 0
    args.rounds = args.rounds or 5
    session = new_session("download", args, size_mib=args.size_mib)
    size = int(args.size_mib * 1024 * 1024)
    with recordings_server(generated={RECORDING: size}) as origin, \
            tempfile.TemporaryDirectory() as tmp:
        contenders = [Contender(v, functools.partial(_spawn, v, origin, Path(tmp) / "out.mp3",
                                                     args.size_mib)) for v in VARIANTS]
        runs = alternate_sync(contenders, rounds=args.rounds, warmup=args.warmup)
    summary = session.add(
        "download", runs, baseline=BASE,
        metrics=("seconds_each", "mib_per_s", "rss_growth_mib", "max_lag_ms"),
        targets=[Target("download-throughput", f"{args.size_mib:g} MiB download, throughput "
                        "vs iter_chunked loop", OURS, "seconds_each", ">=", 0.9,
                        baseline=BASE, invert=True),
                 Target("download-rss", f"{args.size_mib:g} MiB download, peak RSS growth",
                        OURS, "rss_growth_mib", "<=", 64, unit=" MiB")])
    print(f"{args.size_mib:g} MiB recording, {args.rounds} rounds (fresh process each)")
    for variant, row in summary.items():
        print(f"  {variant:<22}{row['mib_per_s']['median']:>7.0f} MiB/s  peak RSS growth "
              f"{row['rss_growth_mib']['max']:.1f} MiB  max lag "
              f"{row['max_lag_ms']['median']:.1f} ms")
    session.write()
    print_targets(session)


if __name__ == "__main__":
    main()
