"""A second cancellation (Ctrl-C twice) while answers already received wait for the
ledger: they are still written (for a bounded time) before the ledger closes, so only
calls whose answer was truly lost end uncertain (found by the review of batched ledger
writes; SQLite and real PostgreSQL)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sinch_calling import SinchCalling
from sinch_calling.campaign import Campaign, SQLiteLedger
from sinch_calling.errors import LedgerError
from sinch_calling.testing import Emulator

from .services import postgres_schema  # noqa: F401

NUMBERS = [f"+4670000{i:04d}" for i in range(40)]
TTS = Campaign.tts(text="hi", cli="+46000000000")


def dials(emulator: Emulator) -> Counter[str]:
    return Counter(r.json()["ttsCallout"]["destination"]["endpoint"]
                   for r in emulator.requests
                   if r.path == "/calling/v1/callouts" and r.method == "POST")


def states(path: Path) -> dict[str, tuple[str, str | None, str | None]]:
    with sqlite3.connect(path) as conn:
        return {k: (s, c, e) for k, s, c, e in conn.execute(
            "SELECT key, state, call_id, error FROM rows")}


class Hooked(SQLiteLedger):
    """An SQLite file ledger with gates before the batch writes (await points)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = {"sending": asyncio.Event(), "results": asyncio.Event()}
        self.gate = {"sending": asyncio.Event(), "results": asyncio.Event()}
        self.gate["sending"].set()
        self.gate["results"].set()
        self.fail_sending_at: int | None = None
        self.sending_calls = 0

    async def mark_sending_many(self, claims: Sequence[Any]) -> list[bool]:
        self.sending_calls += 1
        self.entered["sending"].set()
        await self.gate["sending"].wait()
        if self.fail_sending_at == self.sending_calls:
            raise LedgerError("disk I/O error (injected)")
        return await super().mark_sending_many(claims)

    async def mark_results(self, results: Sequence[Any]) -> list[bool]:
        self.entered["results"].set()
        await self.gate["results"].wait()
        return await super().mark_results(results)



async def test_a_second_cancel_still_records_the_answers_received(
        sinch: SinchCalling, emulator: Emulator, tmp_path: Path) -> None:
    """Every call was ANSWERED (placed, call id known) before the first Ctrl-C; a second
    Ctrl-C while the answers wait for the ledger closes the ledger under the batch
    writer: the placed rows end ``uncertain`` (lease_expired), their call ids lost."""
    path = tmp_path / "l.db"
    ledger = Hooked(path)
    ledger.gate["results"].clear()  # answers' write is slow (a busy disk)
    task = asyncio.create_task(Campaign(sinch, TTS, concurrency=8, ledger=ledger).run(
        NUMBERS[:8]))
    await ledger.entered["results"].wait()
    for _ in range(50):
        await asyncio.sleep(0.01)
    assert sum(dials(emulator).values()) == 8  # all 8 answered 200 with a call id
    task.cancel()          # first: graceful (workers stop at once, drain waits)
    await asyncio.sleep(0.05)
    task.cancel()          # second, while the drain waits for the answers' write
    await asyncio.sleep(0.05)
    ledger.gate["results"].set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await Campaign(sinch, TTS, ledger=path).run(NUMBERS[:8])  # a rerun
    got = states(path)
    placed = [k for k in NUMBERS[:8] if got[k][0] == "placed"]
    assert dials(emulator) == Counter(NUMBERS[:8])  # nothing dialled twice: holds
    assert len(placed) == 8, got  # every call answered before the cancel is placed


def _pg_states(dsn: str, schema: str) -> dict[str, tuple[str, str | None, Any]]:
    import psycopg
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {k: (s, c, e) for k, s, c, e in conn.execute(
            f'SELECT key, state, call_id, error FROM "{schema}".campaign_rows')}


async def test_a_second_cancel_still_records_them_on_postgresql(
        sinch: SinchCalling, emulator: Emulator,
        postgres_schema: tuple[str, str]) -> None:  # noqa: F811
    """No wrapper: another session holds a row lock (an operator's SELECT FOR UPDATE,
    a concurrent load); claims skip it, so workers go idle; the answers' batch waits for
    the lock; answers that arrive meanwhile queue in the runner. Ctrl-C twice."""
    import psycopg

    from sinch_calling.campaign.postgres import PostgresLedger
    dsn, schema = postgres_schema
    emulator.faults.add("POST", "/calling/v1/callouts", delay=0.1, times=4)
    emulator.faults.add("POST", "/calling/v1/callouts", delay=0.6, times=4)
    ledger = PostgresLedger(dsn, schema=schema, campaign="c")
    task = asyncio.create_task(Campaign(sinch, TTS, concurrency=16, ledger=ledger).run(
        NUMBERS[:8]))
    while sum(dials(emulator).values()) < 8:  # noqa: ASYNC110 - the emulator's record
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.03)
    other = await psycopg.AsyncConnection.connect(dsn)
    await other.execute(f'SELECT 1 FROM "{schema}".campaign_rows WHERE key = %s FOR UPDATE',
                        (NUMBERS[0],))
    await asyncio.sleep(0.9)  # every answer (200 + call id) is in
    task.cancel()
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.sleep(0.05)
    await other.rollback()
    await other.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)
    got = _pg_states(dsn, schema)
    assert dials(emulator) == Counter(NUMBERS[:8])
    assert {k: v[0] for k, v in got.items() if v[0] != "placed"} == {}, got


async def test_an_abort_during_a_claim_releases_its_rows_on_postgresql(
        sinch: SinchCalling, emulator: Emulator,
        postgres_schema: tuple[str, str]) -> None:  # noqa: F811
    """Where the orphaned claim mattered (from the review): a PostgreSQL ledger keeps a
    dead worker's claimed rows until their lease runs out (120 s), so a rerun waited.
    Claims that land in the ledger after the abort began are released at its end,
    whatever further cancellations come."""
    from sinch_calling.campaign.postgres import PostgresLedger

    dsn, schema = postgres_schema
    claiming = asyncio.Event()

    class LateClaims(PostgresLedger):
        async def claim(self, worker: str, run: str, *, limit: int, lease: float,
                        loaded_by: str | None = None) -> Sequence[Any]:
            claims = await super().claim(worker, run, limit=limit, lease=lease,
                                         loaded_by=loaded_by)
            claiming.set()
            await asyncio.sleep(0.5)
            return claims

    ledger = LateClaims(dsn, schema=schema, campaign="c")
    task = asyncio.create_task(Campaign(sinch, TTS, concurrency=4, ledger=ledger).run(
        NUMBERS[:10]))
    await claiming.wait()
    for _ in range(3):
        task.cancel()
        await asyncio.sleep(0.05)
    with pytest.raises(asyncio.CancelledError):
        await task
    got = _pg_states(dsn, schema)
    assert {state for state, _, _ in got.values()} == {"pending"}, got
    assert dials(emulator) == Counter()
