"""Campaigns: CPU per call with the ledger, flat memory at 200,000 rows, exact pacing.

    python -m benchmarks.bench_campaign [--rounds 9] [--calls 2000] [--rows 200000]
                                         [--pacing-calls 2000] [--quick]

* **CPU per call** (:mod:`benchmarks._harness`: alternating turns in one process,
  medians and ranges of per-round ratios): a plain loop of ``sinch.callouts.tts`` with
  ``--concurrency`` workers, against a campaign of the same calls with an SQLite ledger
  file (fresh ledger per turn: preflight, load, claim, durable ``sending``, ``placed``),
  and with the in-memory ledger; all against the canned server in another process
  (:mod:`benchmarks._wire`), so the CPU measured is the client's. A fourth contender,
  the durable floor (:mod:`benchmarks._durable_floor`), is the plain loop plus only the
  bookkeeping durability cannot do without (rows in an SQLite file, each ``sending``
  fsynced before its request, answers written): what any durable ledger costs at
  least. Target: the file ledger at most 1.15x the plain loop.
* **Memory and loop stalls**: in a fresh child process, ``--rows`` rows through a
  campaign against the canned server, stopped halfway (first run), then resumed over
  the same input (resume). Each reports its peak RSS growth (``VmHWM``, reset when the
  run starts, over the RSS then) and the longest stretch the event loop spent running
  code between two ticks of a 10 ms timer (its thread's CPU time: on a shared machine
  the timer's wall lateness, also recorded as ``max_late_ms``, includes waiting for a
  core), and the longest full collection of CPython's garbage collector in the run
  (``max_full_gc_ms``, its thread's CPU time: it runs on the loop's thread, in one
  piece, and grows with the whole process's heap, not with the rows). Targets: at most
  50 MiB and 50 ms, each run.
* **Pacing**: ``--pacing-calls`` calls at ``rate=50``, ``concurrency=64``, against a
  canned server in another process that notes each callout as its bytes arrive, on its
  own clock (:mod:`benchmarks._timed_emulator`). Target: no one-second
  window holds more than 50. (With ``--skip``, the groups left out keep their figures
  from the existing result file.)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sinch_calling import SinchCalling
from sinch_calling.campaign import Campaign
from sinch_calling.campaign.pacing import most_in_window

from ._durable_floor import durable_loop
from ._harness import Contender, Target, alternate, new_session, parser, print_targets
from ._server import KEY, SECRET, pin_self
from ._timed_emulator import arrivals, timed_canned_process
from ._wire import canned_server

TEXT = "Hello from the benchmark"
CLI = "+46000000000"
PLAIN, FILE_LEDGER, MEMORY_LEDGER = "plain tts loop", "campaign, SQLite file", \
    "campaign, memory ledger"
FLOOR = "durable floor (hand loop)"


def _numbers(start: int, count: int) -> list[str]:
    return [f"+46{n:010d}" for n in range(start, start + count)]


async def cpu_group(origin: str, server_pid: int, args: argparse.Namespace) -> Any:
    """The alternating CPU comparison."""
    counter = [0]
    scratch = Path(tempfile.mkdtemp(prefix="bench-campaign-"))

    async with SinchCalling(KEY, SECRET, base_url=origin,
                            max_connections=args.concurrency) as sinch:
        async def plain() -> int:
            numbers = iter(_numbers(counter[0], args.calls))
            counter[0] += args.calls

            async def worker() -> None:
                for number in numbers:
                    await sinch.callouts.tts(number, text=TEXT, cli=CLI)

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            return args.calls

        async def campaign(ledger: str | None) -> int:
            numbers = _numbers(counter[0], args.calls)
            counter[0] += args.calls
            if ledger is not None:
                ledger = str(scratch / f"{counter[0]}.db")
            async with Campaign(sinch, Campaign.tts(text=TEXT, cli=CLI), ledger=ledger,
                                concurrency=args.concurrency) as run:
                report = await run.run(numbers)
            assert report.placed == args.calls, report
            return args.calls

        async def file_ledger() -> int:
            return await campaign("file")

        async def memory_ledger() -> int:
            return await campaign(None)

        async def floor() -> int:
            numbers = _numbers(counter[0], args.calls)
            counter[0] += args.calls
            return await durable_loop(sinch, numbers, path=scratch / f"{counter[0]}.floor",
                                      concurrency=args.concurrency, text=TEXT, cli=CLI)

        contenders = [Contender(PLAIN, plain, server_pid),
                      Contender(FILE_LEDGER, file_ledger, server_pid),
                      Contender(MEMORY_LEDGER, memory_ledger, server_pid),
                      Contender(FLOOR, floor, server_pid)]
        return await alternate(contenders, rounds=args.rounds, warmup=args.warmup)


# -- memory and stalls, in a child process ---------------------------------------------------


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mib() -> float:
    """The RSS now; the peak (VmHWM) is reset to it, so imports and start-up do not
    count as the run's peak."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return _status_mib("VmRSS:")


async def memory_child(origin: str, rows: int, ledger: str, phase: str) -> dict[str, float]:
    """One run in this (fresh) process: ``first`` stops after half the rows are placed,
    ``resume`` finishes the same input. Returns its figures."""
    loop = asyncio.get_running_loop()
    worst = [0.0, 0.0]  # wall lateness of a 10 ms timer; loop thread CPU in between
    collecting = [0.0, 0.0]  # start of the collection under way; longest full one

    def collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting[0] = time.thread_time()
        elif info["generation"] == 2:
            collecting[1] = max(collecting[1], time.thread_time() - collecting[0])

    async def watch() -> None:
        while True:
            due, busy = loop.time() + 0.01, time.thread_time()
            await asyncio.sleep(0.01)
            worst[0] = max(worst[0], loop.time() - due)
            worst[1] = max(worst[1], time.thread_time() - busy)

    def numbers() -> Any:
        return (f"+46{n:010d}" for n in range(rows))

    async with SinchCalling(KEY, SECRET, base_url=origin, max_connections=64) as sinch:
        await sinch.numbers.query("+46730170101")  # the session and connection exist
        base = _rss_mib()
        watcher = asyncio.create_task(watch())
        gc.callbacks.append(collection)
        started = time.perf_counter()
        placed = [0]
        campaign: Campaign

        def halfway(outcome: Any) -> None:
            placed[0] += outcome.status == "placed"
            if phase == "first" and placed[0] >= rows // 2:
                campaign.stop("benchmark: first run stops halfway")

        campaign = Campaign(sinch, Campaign.tts(text=TEXT, cli=CLI), ledger=ledger,
                            concurrency=64, on_outcome=halfway)
        report = await campaign.run(numbers())
        elapsed = time.perf_counter() - started
        gc.callbacks.remove(collection)
        watcher.cancel()
    peak = _status_mib("VmHWM:")
    return {"units": 1.0, "rows": float(rows), "placed": float(report.placed),
            "skipped": float(report.skipped), "pending": float(report.pending),
            "elapsed_s": elapsed,
            "rss_growth_mib": peak - base, "max_stall_ms": worst[1] * 1000,
            "max_late_ms": worst[0] * 1000, "max_full_gc_ms": collecting[1] * 1000}


def _memory_turn(origin: str, rows: int, ledger: str, phase: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_campaign", "--child", phase, "--origin",
         origin, "--rows", str(rows), "--ledger", ledger],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- pacing -------------------------------------------------------------------------------


async def pacing(calls: int, rate: float) -> dict[str, Any]:
    """``calls`` calls at ``rate`` against the timed emulator; what it saw."""
    with timed_canned_process() as origin:
        async with SinchCalling(KEY, SECRET, base_url=origin) as sinch:
            started = time.perf_counter()
            report = await Campaign(sinch, Campaign.tts(text=TEXT, cli=CLI), rate=rate,
                                    concurrency=64).run(_numbers(0, calls))
            elapsed = time.perf_counter() - started
        times = await arrivals(origin)
    first = [t for t in times if t < min(times) + 1.0]
    return {"calls": float(calls), "rate": float(rate), "placed": float(report.placed),
            "elapsed_s": elapsed, "most_in_any_second": float(most_in_window(times)),
            "first_second": float(len(first)),
            "achieved_rate": (len(times) - 1) / (max(times) - min(times))}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--calls", type=int, default=2000, help="calls per CPU turn")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rows", type=int, default=200_000, help="rows of the memory runs")
    p.add_argument("--pacing-calls", type=int, default=2000)
    p.add_argument("--child", choices=("first", "resume"), help=argparse.SUPPRESS)
    p.add_argument("--origin", help=argparse.SUPPRESS)
    p.add_argument("--ledger", help=argparse.SUPPRESS)
    p.add_argument("--skip", action="append", default=[],
                   choices=("cpu", "memory", "pacing"), help="leave a group out")
    args = p.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(memory_child(args.origin, args.rows, args.ledger,
                                                  args.child))))
        return
    if args.quick:
        args.calls, args.rows, args.pacing_calls = 100, 2000, 120
    args.rounds = args.rounds or (2 if args.quick else 9)
    session = new_session("campaign", args, calls=args.calls, concurrency=args.concurrency,
                          rows=args.rows, pacing_calls=args.pacing_calls)
    pin_self(0)
    with canned_server() as (origin, pid):
        if "cpu" not in args.skip:
            runs = asyncio.run(cpu_group(origin, pid, args))
            summary = session.add(
                "cpu per call", runs, baseline=PLAIN, metrics=["cpu_s", "wall_s"],
                scale={"cpu_s": 1e6, "wall_s": 1e6},
                targets=[Target("campaign_cpu", "campaign CPU per call, SQLite ledger / "
                                "plain loop", FILE_LEDGER, "cpu_s", "<=", 1.15,
                                baseline=PLAIN)],
                calls=args.calls, concurrency=args.concurrency)
            for name, row in summary.items():
                ratio = row.get("cpu_s_ratio", {}).get("median")
                print(f"{name}: {row['cpu_s']['median']:.0f} us CPU per call"
                      + (f" ({ratio:.2f}x)" if ratio else ""))
        if "memory" not in args.skip:
            with tempfile.TemporaryDirectory(prefix="bench-campaign-") as scratch:
                ledger = os.path.join(scratch, "memory.db")
                first = _memory_turn(origin, args.rows, ledger, "first")
                resume = _memory_turn(origin, args.rows, ledger, "resume")
            runs = {"first run": [first], "resume": [resume]}
            session.add("memory", runs, baseline=None,
                        metrics=["rss_growth_mib", "max_stall_ms", "max_full_gc_ms"],
                        targets=[Target(f"{phase}_rss", f"{phase}: peak RSS growth", phase,
                                        "rss_growth_mib", "<=", 50, unit=" MiB")
                                 for phase in runs] +
                        [Target(f"{phase}_stall", f"{phase}: longest loop stall", phase,
                                "max_stall_ms", "<=", 50, unit=" ms") for phase in runs],
                        rows=args.rows)
            print(f"memory: first {first}, resume {resume}")
    if "pacing" not in args.skip:
        seen = asyncio.run(pacing(args.pacing_calls, 50))
        session.add("pacing", {"rate=50": [{"units": 1.0, **seen}]}, baseline=None,
                    metrics=["most_in_any_second"],
                    targets=[Target("pacing", "most callouts Sinch saw in one second at "
                                    "rate=50", "rate=50", "most_in_any_second", "<=", 50,
                                    unit="")])
        print(f"pacing: {seen}")
    _keep_skipped(session, args)
    print_targets(session)
    session.write()


def _keep_skipped(session: Any, args: argparse.Namespace) -> None:
    """Carry the groups a ``--skip`` left out over from the existing result file."""
    path = Path(args.results) / "campaign.json"
    if not args.skip or args.quick or not path.exists():
        return
    previous = json.loads(path.read_text())
    for name, group in previous.get("groups", {}).items():
        if name not in session.groups:
            session.groups[name] = group
            session.targets += [t for t in previous.get("targets", [])
                                if t.get("group") == name]


if __name__ == "__main__":
    main()
