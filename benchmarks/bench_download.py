"""One big recording to disk: sinch_calling's download vs a plain aiohttp loop.

    python -m benchmarks.bench_download [--size-mib 512] [--rounds 3]

The emulator (serving a generated recording chunk by chunk) runs in its own process
pinned to core 1. Every measured download runs in a fresh child process pinned to
core 0, so its peak-RSS growth (``ru_maxrss`` after minus before the download) is its
own. The baseline is the loop people write by hand: sign, ``iter_chunked(64 KiB)``,
``file.write`` on the event loop (and the same with ``iter_any``). "max lag" is the
longest an event-loop heartbeat (1 ms sleeps) was late during the download. The last
row adds SHA-256 (what an export computes) to sinch_calling's download.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from sinch_calling import SinchCalling
from sinch_calling.auth import signed_headers

from ._recordings_server import KEY, SECRET, recordings_server
from ._server import pin_self

RECORDING = "big.mp3"
VARIANTS = ("aiohttp iter_chunked", "aiohttp iter_any", "sinch_calling", "sinch_calling+sha256")


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


async def _sinch_hashing(origin: str, target: Path) -> None:
    from sinch_calling.transfer import download_file

    async with SinchCalling(KEY, SECRET, base_url=origin) as sinch:
        transport = sinch._transport
        done = await download_file(transport, transport.traffic_url("recording", RECORDING),
                                   target, hashing=True)
        assert done.sha256


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
    runs = {"aiohttp iter_chunked": _baseline, "aiohttp iter_any": _baseline_any,
            "sinch_calling": _sinch,
            "sinch_calling+sha256": _sinch_hashing}
    result = asyncio.run(_measure(lambda: runs[variant](origin, Path(target))))
    print(json.dumps(result))


def _spawn(variant: str, origin: str, target: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_download", "--child", variant, origin,
         str(target)], check=True, capture_output=True, text=True,
    ).stdout
    target.unlink()
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "ORIGIN", "TARGET"))
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    size = args.size_mib * 1024 * 1024
    results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    with recordings_server(generated={RECORDING: size}) as origin, \
            tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for variant in VARIANTS:  # interleaved, so drift hits every variant alike
                results[variant].append(_spawn(variant, origin, Path(tmp) / "out.mp3"))
    base = statistics.median(r["seconds"] for r in results[VARIANTS[0]])
    print(f"\n{args.size_mib} MiB recording, {args.rounds} rounds, median (fresh process each)")
    print(f"{'variant':<22}{'MiB/s':>9}{'ratio':>8}{'peak RSS growth':>17}{'max lag':>10}")
    for variant, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        rss = max(r["rss_growth_mib"] for r in runs)
        lag = statistics.median(r["max_lag_ms"] for r in runs)
        print(f"{variant:<22}{args.size_mib / seconds:>9.0f}{base / seconds:>8.2f}"
              f"{rss:>13.1f} MiB{lag:>7.1f} ms")


if __name__ == "__main__":
    main()
