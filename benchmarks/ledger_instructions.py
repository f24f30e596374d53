"""Instructions per row of each SQLite ledger operation, counted by callgrind.

    python -m benchmarks.ledger_instructions [--ledger memory|file]

No network and no runner: a child process opens an :class:`SQLiteLedger`, loads rows
in batches of 1,000 (as the runner does), then claims them 64 at a time, marks them
``sending`` 32 at a time and records their answers 32 at a time, stopping after the
phase asked for. Each phase runs under ``valgrind --tool=callgrind`` (hash seed fixed)
with 2,000 and 6,000 rows; the difference over 4,000 is the instructions per row up
to that phase, both threads included (the event loop's and the ledger's), and each
phase's own share is its difference from the one before. Without a server in the
loop the counts repeat to a few instructions per row. A diagnostic for profiling the
ledger, not a target (the targets are in :mod:`bench_campaign`).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from sinch_calling.campaign.records import CampaignIdentity, Claim, make_new_row, make_row_result
from sinch_calling.campaign.sqlite import SQLiteLedger

from ._callgrind import instructions

PHASES = ("load", "claim", "sending", "answer")
SIZES = (2000, 6000)


async def _child(rows: int, upto: int, path: str | None) -> None:
    ledger = SQLiteLedger(path)
    await ledger.open(CampaignIdentity(fingerprint="bench", options={}))
    new = [make_new_row(f"+46{i:010d}", i, f"+46{i:010d}", None, i + 1, "pending", None)
           for i in range(rows)]
    for at in range(0, rows, 1000):
        await ledger.load(new[at:at + 1000], run="run")
    claims: list[Claim] = []
    while upto >= 2:
        got = await ledger.claim("worker", "run", limit=64, lease=60, loaded_by="run")
        if not got:
            break
        claims.extend(got)
    if upto >= 3:
        for at in range(0, rows, 32):
            await ledger.mark_sending_many(claims[at:at + 32])
    if upto >= 4:
        for at in range(0, rows, 32):
            await ledger.mark_results([make_row_result(c, "placed", f"call-{c.key}", None)
                                       for c in claims[at:at + 32]])
    await ledger.close()


def _count(rows: int, upto: int, kind: str) -> int:
    with tempfile.TemporaryDirectory(prefix="ledger-instructions-") as scratch:
        path = "memory" if kind == "memory" else str(Path(scratch) / "ledger.db")
        return instructions(["benchmarks.ledger_instructions", "--child", str(rows),
                             str(upto), path])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ledger", choices=("memory", "file"), default="memory")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        rows, upto, path = args.child
        asyncio.run(_child(int(rows), int(upto), None if path == "memory" else path))
        return
    before = 0
    for upto, phase in enumerate(PHASES, start=1):
        small, large = (_count(n, upto, args.ledger) for n in SIZES)
        total = (large - small) // (SIZES[1] - SIZES[0])
        print(f"{phase}: {total - before:,} instructions per row "
              f"({total:,} up to here)", flush=True)
        before = total


if __name__ == "__main__":
    main()
