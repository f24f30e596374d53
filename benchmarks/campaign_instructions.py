"""Instructions per campaign call, counted by callgrind: steadier than seconds.

    python -m benchmarks.campaign_instructions [--concurrency 64]

Each contender runs in a child process under ``valgrind --tool=callgrind`` (hash seed
fixed) twice, with 400 and 1,400 calls after the same 200-call warm-up, against the
canned server of :mod:`benchmarks._wire` in another process (not counted); the
difference over 1,000 is the instructions per call, every thread of the client
included (the SQLite ledger's). Contenders: the plain ``callouts.tts`` loop, a campaign
with the in-memory SQLite ledger, and a campaign with a ledger that stores nothing
(``_NullLedger``: what the runner and preflight cost without any storage), the durable
floor (:mod:`benchmarks._durable_floor`: the plain loop plus the least durable
bookkeeping) and a campaign with an SQLite ledger file. ``--only`` counts fewer. The
counts repeat within a few percent from run to run (how the server's answers batch into
reads varies), where seconds on a shared machine swing by a third. A
diagnostic for profiling, not a target: the targets are in :mod:`bench_campaign`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from sinch_calling import SinchCalling
from sinch_calling.campaign import Campaign
from sinch_calling.campaign.ledger import OneRowTransitions
from sinch_calling.campaign.records import (
    ROW_STATES,
    CampaignIdentity,
    Claim,
    LedgerCounts,
    LoadedRow,
    NewRow,
)

from ._callgrind import instructions
from ._durable_floor import durable_loop
from ._server import KEY, SECRET
from ._wire import canned_server

TEXT, CLI = "Hello from the benchmark", "+46000000000"
SIZES = (400, 1400)
CONTENDERS = ("plain", "memory ledger", "null ledger", "durable floor", "file ledger")


class _NullLedger(OneRowTransitions):
    """Stores nothing: rows go from load to claim through a list, every write succeeds."""

    location = "null"

    def __init__(self) -> None:
        self._rows: list[NewRow] = []
        self._next = 0

    async def open(self, identity: CampaignIdentity | None, *, force: bool = False) -> None:
        pass

    async def close(self) -> None:
        pass

    async def identity(self) -> CampaignIdentity | None:
        return None

    async def load(self, rows: Sequence[NewRow], *, retry_failed: bool = False,
                   run: str | None = None) -> list[LoadedRow]:
        self._rows.extend(rows)
        return [LoadedRow(key=r.key, position=r.position, state=r.state) for r in rows]

    async def claim(self, worker: str, run: str, *, limit: int, lease: float,
                    loaded_by: str | None = None) -> list[Claim]:
        rows = self._rows[self._next:self._next + limit]
        self._next += len(rows)
        return [Claim(key=r.key, position=r.position, destination=r.destination or "",
                      worker=worker, data=r.data, line=r.line, token="t") for r in rows]

    async def claimable(self, run: str, *, loaded_by: str | None = None) -> int:
        return 0

    async def renew(self, worker: str, *, lease: float) -> int:
        return 0

    async def mark_sending_many(self, claims: Sequence[Claim]) -> list[bool]:
        return [True] * len(claims)

    async def mark_results(self, results: Sequence[Any]) -> list[bool]:
        return [True] * len(results)

    async def release(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def expire_leases(self, *, everyone: bool = False) -> tuple[int, int]:
        return 0, 0

    async def settle(self, key: str, *, call_id: str | None) -> Any:
        raise NotImplementedError

    async def record_outcome(self, call_id: str, outcome: Any) -> str | None:
        return None

    async def untracked(self, *, batch: int = 500) -> AsyncIterator[tuple[str, str]]:
        return
        yield

    async def results(self, *, states: Any = None) -> AsyncIterator[Any]:
        return
        yield

    async def get(self, key: str) -> Any:
        return None

    async def counts(self) -> LedgerCounts:
        return LedgerCounts(states=dict.fromkeys(ROW_STATES, 0))

    async def reserve_start(self, account: str, *, count: int, period: float) -> float:
        return 0.0

    async def pause_starts(self, account: str, seconds: float) -> None:
        pass


async def _child(origin: str, contender: str, calls: int, concurrency: int) -> None:
    async with SinchCalling(KEY, SECRET, base_url=origin,
                            max_connections=concurrency) as sinch:
        async def turn(start: int, count: int) -> None:
            numbers = [f"+46{n:010d}" for n in range(start, start + count)]
            if contender == "plain":
                pending = iter(numbers)

                async def worker() -> None:
                    for number in pending:
                        await sinch.callouts.tts(number, text=TEXT, cli=CLI)

                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return
            if contender == "durable floor":
                with tempfile.TemporaryDirectory() as scratch:
                    await durable_loop(sinch, numbers, path=Path(scratch) / "floor.db",
                                       concurrency=concurrency, text=TEXT, cli=CLI)
                return
            with tempfile.TemporaryDirectory() as scratch:
                ledger: Any = _NullLedger() if contender == "null ledger" else \
                    str(Path(scratch) / "ledger.db") if contender == "file ledger" else None
                async with Campaign(sinch, Campaign.tts(text=TEXT, cli=CLI), ledger=ledger,
                                    concurrency=concurrency) as run:
                    report = await run.run(numbers)
            assert report.placed == count, report

        await turn(0, 200)  # warm-up: generated code, connections
        await turn(1_000_000, calls)


def _count(origin: str, contender: str, calls: int, concurrency: int) -> int:
    return instructions(["benchmarks.campaign_instructions", "--child", contender,
                         "--origin", origin, "--calls", str(calls),
                         "--concurrency", str(concurrency)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--origin", help=argparse.SUPPRESS)
    p.add_argument("--calls", type=int, help=argparse.SUPPRESS)
    p.add_argument("--only", action="append", choices=CONTENDERS,
                   help="count only these contenders (the plain loop always)")
    args = p.parse_args()
    if args.child:
        asyncio.run(_child(args.origin, args.child, args.calls, args.concurrency))
        return
    per_call: dict[str, int] = {}
    with canned_server() as (origin, _):
        for contender in CONTENDERS:
            if args.only and contender != "plain" and contender not in args.only:
                continue
            small, large = (_count(origin, contender, n, args.concurrency) for n in SIZES)
            per_call[contender] = (large - small) // (SIZES[1] - SIZES[0])
            ratio = per_call[contender] / per_call["plain"]
            print(f"{contender}: {per_call[contender]:,} instructions per call "
                  f"({ratio:.3f}x the plain loop)", flush=True)


if __name__ == "__main__":
    main()
