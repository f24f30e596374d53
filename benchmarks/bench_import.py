"""Import time and first-call setup: what ``import sinch_calling`` costs beyond aiohttp's
own import, and what the first call pays once.

    python -m benchmarks.bench_import [--rounds 21]

Import: fresh child processes alternate (:mod:`benchmarks._harness`), one importing
``aiohttp`` alone, one importing ``sinch_calling`` (which imports aiohttp); each child
times its own import statement (wall, ``perf_counter``, and CPU, ``process_time``: on
a shared machine the wall time includes waiting for a core). Per round, "beyond
aiohttp" is the difference. Target: at most 40 ms.

First call: a fresh child imports sinch_calling, then makes ``1 + --calls`` number
lookups, then as many tts callouts, one at a time against :mod:`benchmarks._wire`'s
canned server (the first lookup also opens the session and connection), and dispatches
signed ICE callbacks through a :class:`CallbackRouter`; the one-time setup is the
first call's time minus the median of the others. Target: a few ms (5).

Every child runs with its bytecode cached, as after ``pip install`` (which compiles
each module): ``PYTHONDONTWRITEBYTECODE`` is cleared and ``PYTHONPYCACHEPREFIX`` names a
fresh directory, filled once for aiohttp and sinch_calling before the first round.
Without this, a checkout whose environment forbids writing bytecode (an editable install
with ``PYTHONDONTWRITEBYTECODE=1``) compiles every sinch_calling module from source at
each import, while aiohttp, compiled when installed, does not (125 ms beyond aiohttp
that way against 88 ms cached, same code, medians of 15 rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from ._harness import (
    ROOT,
    Contender,
    Session,
    Target,
    alternate_sync,
    new_session,
    parser,
    print_targets,
)
from ._wire import canned_server

ONLY_AIOHTTP, OURS = "import aiohttp", "import sinch_calling"
BEYOND = "sinch_calling beyond aiohttp"

_IMPORT = """
import json, sys, time
started, cpu = time.perf_counter(), time.process_time()
import {module}
print(json.dumps({{"import_s": time.perf_counter() - started,
                  "import_cpu_s": time.process_time() - cpu, "modules": len(sys.modules)}}))
"""


@contextlib.contextmanager
def cached_bytecode() -> Iterator[dict[str, str]]:
    """The children's environment: bytecode cached in a directory of this run's own
    (removed afterwards), filled first for everything the children import, as an
    install does."""
    with tempfile.TemporaryDirectory(prefix="bench-import-pycache-") as pycache:
        env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
               "PYTHONPYCACHEPREFIX": pycache}
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "sinch_calling")],
                       check=True, env=env, capture_output=True)
        subprocess.run([sys.executable, "-c", "import aiohttp, aiohttp.web, sinch_calling"],
                       check=True, env=env)
        yield env


def _import_turn(module: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _IMPORT.format(module=module)], check=True,
                         capture_output=True, text=True, env=env).stdout
    return {"units": 1, **json.loads(out)}


def import_profile(runs: int = 3, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """``python -X importtime -c "import sinch_calling"``, the smallest of ``runs`` runs
    per module: sinch_calling's modules, aiohttp, attrs, cattrs and orjson costing 2 ms
    or more (cumulative), in import order."""
    best: dict[str, tuple[float, float, int]] = {}
    for _ in range(runs):
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import sinch_calling"],
                             check=True, capture_output=True, text=True, env=env).stderr
        for line in err.splitlines()[1:]:
            own, total, name = line.split("|")
            module, depth = name.strip(), (len(name) - len(name.lstrip()) - 1) // 2
            own_ms, total_ms = int(own.split(":")[1]) / 1e3, int(total) / 1e3
            if module in best:
                own_ms, total_ms = min(own_ms, best[module][0]), min(total_ms, best[module][1])
            best[module] = (own_ms, total_ms, depth)
    kept = {"sinch_calling", "aiohttp", "attr", "attrs", "cattrs", "orjson"}
    return [{"module": m, "self_ms": round(own, 2), "cumulative_ms": round(total, 2),
             "depth": depth}
            for m, (own, total, depth) in best.items()
            if total >= 2 and m.split(".")[0] in kept and (m == "aiohttp" or "." not in m
                                                           or m.startswith("sinch_calling"))]


def _first_calls(origin: str, calls: int) -> dict[str, float]:
    """In a fresh process: the first call's extra time for each operation, in seconds."""
    started = time.perf_counter()
    import sinch_calling  # noqa: F401
    from sinch_calling import SinchCalling, svaml
    from sinch_calling.auth import signed_headers
    from sinch_calling.events import IncomingCallEvent
    from sinch_calling.webhooks import CallbackRouter

    from .bench_webhooks import CONTENT_TYPE, ICE, KEY, PATH, SECRET

    imported = time.perf_counter() - started

    async def timed(operation: Any) -> float:
        begun = time.perf_counter()
        await operation()
        return time.perf_counter() - begun

    async def extra(operation: Any) -> float:
        first = await timed(operation)
        rest = [await timed(operation) for _ in range(calls)]
        return first - statistics.median(rest)

    async def main() -> dict[str, float]:
        async with SinchCalling("key", "c2VjcmV0", base_url=origin) as client:
            # The very first call also opens the session and its connection.
            query = await extra(lambda: client.numbers.query("+46730170101"))
            tts = await extra(lambda: client.callouts.tts(
                "+46000000001", cli="+46000000000", text="Hello", locale="en-US"))
        router = CallbackRouter(KEY, SECRET)

        @router.ice
        async def on_ice(event: IncomingCallEvent) -> svaml.Svaml:
            return svaml.Svaml([svaml.Say("Welcome")], svaml.Hangup())

        headers = {"Content-Type": CONTENT_TYPE, **signed_headers(
            KEY, SECRET, method="POST", path=PATH, content_type=CONTENT_TYPE, body=ICE)}
        callback = await extra(lambda: router.dispatch("POST", PATH, headers, ICE))
        return {"first_tts_extra_s": tts, "first_query_extra_s": query,
                "first_callback_extra_s": callback, "import_s": imported}

    return asyncio.run(main())


def _first_call_turn(origin: str, calls: int, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_import", "--child", origin,
                          str(calls)], check=True, capture_output=True, text=True,
                         env=env).stdout
    return {"units": 1, **json.loads(out.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--calls", type=int, default=20, help="later calls the first is compared to")
    p.add_argument("--child", nargs=2, metavar=("ORIGIN", "CALLS"), help="(internal)")
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_first_calls(args.child[0], int(args.child[1]))))
        return
    if args.quick:
        args.calls = 3
        args.rounds, args.warmup = args.rounds or 1, 0
    args.rounds = args.rounds or 21
    session = new_session("import", args, calls=args.calls,
                          bytecode="cached (PYTHONPYCACHEPREFIX, compiled before round 1)")
    with cached_bytecode() as env:
        _measure(session, args, env)
    session.write()
    print_targets(session)


def _measure(session: Session, args: argparse.Namespace, env: dict[str, str]) -> None:
    print("import time")
    runs = alternate_sync([Contender(ONLY_AIOHTTP, functools.partial(_import_turn, "aiohttp",
                                                                     env)),
                           Contender(OURS, functools.partial(_import_turn, "sinch_calling",
                                                             env))],
                          rounds=args.rounds, warmup=args.warmup)
    runs[BEYOND] = [{"units": 1.0, "beyond_s": ours["import_s"] - base["import_s"],
                     "beyond_cpu_s": ours["import_cpu_s"] - base["import_cpu_s"]}
                    for ours, base in zip(runs[OURS], runs[ONLY_AIOHTTP], strict=True)]
    metrics = ("import_s", "import_cpu_s", "beyond_s", "beyond_cpu_s")
    summary = session.add(
        "import", runs, baseline=None, metrics=metrics, scale=dict.fromkeys(metrics, 1e3),
        targets=[Target("import-time", "import sinch_calling beyond aiohttp (wall)", BEYOND,
                        "beyond_s", "<=", 40, unit=" ms", scale=1e3),
                 Target("import-cpu", "import sinch_calling beyond aiohttp (CPU)", BEYOND,
                        "beyond_cpu_s", "<=", 40, unit=" ms", scale=1e3)])
    for name, row in summary.items():
        for metric, figures in row.items():
            print(f"  {name:<30} {metric:<10} {figures['median']:6.1f} ms "
                  f"({figures['min']:.1f}..{figures['max']:.1f})")
    print("first call")
    with canned_server(cpu=None) as (origin, _):
        runs = alternate_sync([Contender("first call", functools.partial(
            _first_call_turn, origin, args.calls, env))], rounds=args.rounds,
            warmup=args.warmup)
    metrics = ("first_tts_extra_s", "first_query_extra_s", "first_callback_extra_s")
    summary = session.add("first-call", runs, baseline=None, metrics=metrics,
                          scale=dict.fromkeys(metrics, 1e3),
                          targets=[Target(f"first-{m.split('_')[1]}",
                                          f"first {m.split('_')[1]} call's one-time setup",
                                          "first call", m, "<=", 5, unit=" ms", scale=1e3)
                                   for m in metrics])
    for metric, figures in summary["first call"].items():
        print(f"  {metric:<24} {figures['median']:6.2f} ms "
              f"({figures['min']:.2f}..{figures['max']:.2f})")
    session.profile["import"] = import_profile(1 if args.quick else 3, env)


if __name__ == "__main__":
    main()
