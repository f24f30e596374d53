"""The cheapest loop that keeps a campaign ledger's promise: the floor of any ledger.

A reference contender, not a library feature. It does what the plain ``callouts.tts``
loop does, plus the least durable bookkeeping a campaign cannot do without (rule 1 of
:mod:`sinch_calling.campaign.ledger`: a row is ``sending`` on disk before its request
leaves), and nothing else:

* rows go into one SQLite file first (``INSERT`` through ``executemany``, one
  transaction; WAL, as :class:`~sinch_calling.campaign.sqlite.SQLiteLedger`);
* each worker takes the next row from an in-memory iterator (no claims: one process);
* before sending, the row's id joins the next group commit, which marks every queued
  row ``sending`` with one ``executemany`` and is fsynced (``synchronous=FULL``) on one
  thread that owns the connection; the workers wait for that commit, then send;
* answers are written in the same transactions (``synchronous=NORMAL`` would do; they
  ride along), by id.

No validation, no preflight, no pacing, no leases, no error handling, no report: all
the runner's other work is left out, so the gap between this loop and the plain loop
is what durability itself costs on this machine, and no ledger can be cheaper.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sinch_calling import SinchCalling

_SCHEMA = "CREATE TABLE rows (id INTEGER PRIMARY KEY, number TEXT NOT NULL, " \
          "state INTEGER NOT NULL DEFAULT 0, call_id TEXT)"


class _Writer:
    """Group commits on one thread: queued ``sending`` ids and answers, one transaction."""

    def __init__(self, path: Path) -> None:
        self._loop = asyncio.get_running_loop()
        self._conn = sqlite3.connect(str(path), isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)
        self._sending: list[tuple[int]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._answers: list[tuple[str, int]] = []
        self._busy = False
        self._idle = asyncio.Event()  # no batch in flight
        self._idle.set()
        self._wake = threading.Condition()
        self._batch: tuple[list[tuple[int]], list[tuple[str, int]],
                           list[asyncio.Future[None]]] | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def load(self, numbers: Sequence[str]) -> None:
        self._conn.execute("BEGIN")
        self._conn.executemany("INSERT INTO rows (id, number) VALUES (?, ?)",
                               enumerate(numbers))
        self._conn.execute("COMMIT")

    def sending(self, row: int) -> asyncio.Future[None]:
        waiter = self._loop.create_future()
        self._sending.append((row,))
        self._waiting.append(waiter)
        self._flush()
        return waiter

    def answer(self, row: int, call_id: str) -> None:
        self._answers.append((call_id, row))
        self._flush()

    def _flush(self) -> None:
        if self._busy or not (self._sending or self._answers):
            return
        self._busy = True
        self._idle.clear()
        batch = self._sending, self._answers, self._waiting
        self._sending, self._answers, self._waiting = [], [], []
        with self._wake:
            self._batch = batch
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._batch is None and not self._closing:
                    self._wake.wait()
                if self._batch is None:
                    return
                sending, answers, waiting = self._batch
                self._batch = None
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("UPDATE rows SET state = 1 WHERE id = ?", sending)
            self._conn.executemany("UPDATE rows SET state = 2, call_id = ? WHERE id = ?",
                                   answers)
            self._conn.execute("COMMIT")
            self._loop.call_soon_threadsafe(self._done, waiting)

    def _done(self, waiting: list[asyncio.Future[None]]) -> None:
        for waiter in waiting:
            waiter.set_result(None)
        self._busy = False
        self._flush()
        if not self._busy:
            self._idle.set()

    async def close(self) -> None:
        await self._idle.wait()  # the workers are done: nothing is queued after this
        with self._wake:
            self._closing = True
            self._wake.notify()
        await asyncio.to_thread(self._thread.join)
        self._conn.close()


async def durable_loop(sinch: SinchCalling, numbers: Sequence[str], *, path: Path,
                       concurrency: int, text: str, cli: str) -> int:
    """Call every number with the durable floor's bookkeeping; return how many."""
    writer = _Writer(path)
    await asyncio.to_thread(writer.load, numbers)
    rows: Iterator[tuple[int, str]] = enumerate(numbers)

    async def worker() -> None:
        for row, number in rows:
            await writer.sending(row)
            call_id: Any = await sinch.callouts.tts(number, text=text, cli=cli)
            writer.answer(row, call_id)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await writer.close()
    return len(numbers)
