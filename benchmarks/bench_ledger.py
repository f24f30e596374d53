"""Campaign ledgers: what the ledger costs per call, and throughput with 1, 2, 4 workers.

    python -m benchmarks.bench_ledger [--rounds 5] [--calls 2000] [--rows 3000]

Needs PostgreSQL (``SINCH_CALLING_TEST_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/test``); everything happens in a scratch schema
that is dropped at the end.

* "per call": the ledger operations the runner makes for one call, in this process,
  with 32 calls in flight as the runner keeps them: ``claim`` (32 rows at a time),
  ``reserve_start`` (each call), ``mark_sending_many`` and ``mark_results`` (one call
  for the rows that are ready together; here the 32 of a claim). The SQLite file
  ledger and the PostgreSQL ledger alternate turns (:mod:`benchmarks._harness`).
  Figures per call:
  this process's CPU, wall time, round trips to the store (counted: one per operation
  for PostgreSQL, whose claim pipelines its two statements; for SQLite, hand-offs to
  its thread, and ``reserve_start`` stays in-process) and the PostgreSQL server's CPU
  (all of its processes; the machine's other PostgreSQL users count too).
* "workers": K plain runner processes (``Campaign(..., ledger="postgresql://...")``,
  unlimited rate, concurrency 32) drain one campaign of ``--rows`` rows against the
  emulator in its own process; turns alternate K = 1, 2, 4. Figures: calls per second
  (wall time from start to the last process exiting) and the emulator's CPU per call.
  On a 2-core machine the emulator, PostgreSQL and the workers share both cores, so
  this shows what extra workers cost rather than what they add.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sinch_calling.testing import DEFAULT_KEY, DEFAULT_SECRET

from ._harness import (
    ROOT,
    Contender,
    Session,
    alternate,
    alternate_sync,
    new_session,
    parser,
    process_cpu,
)
from ._server import child_server, free_port

POSTGRES = os.environ.get("SINCH_CALLING_TEST_POSTGRES",
                          "postgresql://postgres@127.0.0.1:5432/test")
IDENTITY_OPTIONS = {"text": "benchmark"}


def _postgres_cpu() -> float:
    total = 0.0
    for pid in Path("/proc").iterdir():
        if not pid.name.isdigit():
            continue
        try:
            if (pid / "comm").read_text().strip() in ("postgres", "postmaster"):
                total += process_cpu(int(pid.name))
        except (OSError, ValueError):
            continue
    return total


def _postgres_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES, connect_timeout=3):
            return True
    except Exception:
        return False


class Counting:
    """Counts a ledger's operations (each one round trip to its store)."""

    OPS = ("claim", "reserve_start", "mark_sending_many", "mark_results", "load")

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger
        self.calls = 0
        for name in self.OPS:
            setattr(self, name, self._wrap(getattr(ledger, name)))

    def _wrap(self, method: Any) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await method(*args, **kwargs)
        return counted


def per_call_contender(kind: str, calls: int, schema: str, scratch: Path) -> Contender:
    from sinch_calling.campaign.records import CampaignIdentity, NewRow, RowResult

    identity = CampaignIdentity(fingerprint="bench", options=IDENTITY_OPTIONS)
    rows = [NewRow(key=str(i), position=i, destination=f"+4670{i:07d}") for i in range(calls)]

    def make() -> Any:
        name = uuid.uuid4().hex[:12]
        if kind == "postgres":
            from sinch_calling.campaign.postgres import PostgresLedger

            return PostgresLedger(POSTGRES, schema=schema, campaign=name, pool_size=32)
        from sinch_calling.campaign.sqlite import SQLiteLedger

        return SQLiteLedger(scratch / f"{name}.db")

    async def turn() -> dict[str, float]:
        ledger = make()
        await ledger.open(identity)
        try:
            await ledger.load(rows)
            counting = Counting(ledger)
            worker, account = f"bench-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
            server = _postgres_cpu()
            started = asyncio.get_running_loop().time()
            cpu = os.times()

            async def start(claim: Any) -> None:
                await counting.reserve_start(account, count=10**6, period=1.0)

            while claims := await counting.claim(worker, "run", limit=32, lease=60):
                await asyncio.gather(*(start(claim) for claim in claims))
                assert all(await counting.mark_sending_many(claims))
                assert all(await counting.mark_results(
                    [RowResult(claim, "placed", f"call-{claim.key}") for claim in claims]))
            after = os.times()
            wall = asyncio.get_running_loop().time() - started
            return {"units": calls, "wall_s_inner": wall,
                    "cpu_s_inner": (after.user + after.system) - (cpu.user + cpu.system),
                    "round_trips": counting.calls,
                    "postgres_cpu_s": _postgres_cpu() - server}
        finally:
            if kind == "postgres":
                await ledger.drop()
            await ledger.close()

    return Contender(kind, turn)


# -- workers against the emulator ----------------------------------------------------


def workers_contender(workers: int, rows: int, emulator: dict[str, Any], schema: str,
                      numbers: Path) -> Contender:
    def turn() -> dict[str, float]:
        dsn = f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}schema={schema}" \
              f"&campaign=w{workers}-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "SINCH_APPLICATION_KEY": emulator["key"],
               "SINCH_APPLICATION_SECRET": emulator["secret"],
               "SINCH_BASE_URL": emulator["url"]}
        before = process_cpu(emulator["pid"])
        procs = [subprocess.Popen([sys.executable, "-m", "tests.fleet_runner", str(numbers),
                                   dsn, "0", "32", "60"], cwd=ROOT, env=env)
                 for _ in range(workers)]
        codes = [p.wait() for p in procs]
        if any(codes):
            raise RuntimeError(f"a worker failed: {codes}")
        return {"units": rows, "emulator_cpu_s": process_cpu(emulator["pid"]) - before}

    return Contender(f"{workers} worker{'s' if workers > 1 else ''}", turn)


def drop(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main(argv: list[str] | None = None) -> None:
    p: argparse.ArgumentParser = parser(__doc__)
    p.add_argument("--calls", type=int, default=2000, help="calls per per-call turn")
    p.add_argument("--rows", type=int, default=3000, help="rows per workers turn")
    args = p.parse_args(argv)
    if args.quick:
        args.calls, args.rows, args.rounds, args.warmup = 64, 40, args.rounds or 1, 0
    args.rounds = args.rounds or 5
    sizes = (1, 2) if args.quick else (1, 2, 4)
    postgres = _postgres_answers()
    if not postgres and not args.quick:
        sys.exit(f"PostgreSQL does not answer at {POSTGRES} (SINCH_CALLING_TEST_POSTGRES)")
    session: Session = new_session("ledger", args, calls=args.calls, rows=args.rows,
                                   concurrency=32, postgres=POSTGRES.split("@")[-1])
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        with tempfile.TemporaryDirectory() as scratch:
            # A --quick smoke run on a machine without PostgreSQL measures SQLite only.
            kinds = ["sqlite", "postgres"] if postgres else ["sqlite"]
            runs = asyncio.run(alternate(
                [per_call_contender(k, args.calls, schema, Path(scratch)) for k in kinds],
                rounds=args.rounds, warmup=args.warmup))
            session.add("per call", runs, baseline=kinds[0],
                        metrics=["cpu_s_inner", "wall_s_inner", "round_trips",
                                 "postgres_cpu_s"], scale={"cpu_s_inner": 1e6, "wall_s_inner": 1e6,
                                                           "postgres_cpu_s": 1e6})
            if not postgres:
                session.write()
                return
            numbers = Path(scratch) / "numbers.txt"
            numbers.write_text("".join(f"+4671{i:07d}\n" for i in range(args.rows)))
            port = free_port()
            with child_server(["-m", "sinch_calling", "emulator", "--port", str(port),
                               "--quiet", "--max-journal", "1000"], port,
                              cpu=None, name="emulator") as emulator:
                info = {"url": f"http://127.0.0.1:{port}", "key": DEFAULT_KEY,
                        "secret": DEFAULT_SECRET, "pid": emulator.pid}
                runs = alternate_sync([workers_contender(k, args.rows, info, schema, numbers)
                                       for k in sizes],
                                      rounds=args.rounds, warmup=args.warmup)
            session.add("workers", runs, baseline="1 worker",
                        metrics=["rate", "emulator_cpu_s"], scale={"emulator_cpu_s": 1e6})
    finally:
        if postgres:
            drop(schema)
    session.write()
    for group in session.groups.values():
        for name, row in group["summary"].items():
            print(name, {k: round(v["median"], 2) for k, v in row.items()})


if __name__ == "__main__":
    main()
