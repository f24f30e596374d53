"""Campaigns against the emulator in another process, counted on ITS journal and clock;
flat memory at 200,000 rows in a child process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sinch_calling import SinchCalling
from sinch_calling.campaign import CallOutcome, Campaign, read_rows
from sinch_calling.campaign.pacing import most_in_window
from sinch_calling.testing import DEFAULT_KEY, DEFAULT_SECRET

from .conftest import FAST_RETRY
from .test_campaign import REMINDER, crm_csv
from .timed_emulator import noted_callouts, timed_emulator_process

ROOT = Path(__file__).resolve().parent.parent
TTS = Campaign.tts(text="Your code is 1234", cli="+46000000000")


@pytest.fixture
def origin() -> Iterator[str]:
    with timed_emulator_process() as emulator:
        yield emulator.url


def _client(origin: str, secret: str = DEFAULT_SECRET) -> SinchCalling:
    return SinchCalling(DEFAULT_KEY, secret, base_url=origin, retry=FAST_RETRY)


async def _placed(origin: str) -> Counter[str | None]:
    return Counter(d for _, d, status in await noted_callouts(origin) if status == 200)


async def test_crm_export_wrong_secret_then_right_then_ctrl_c_then_rerun(
    origin: str, tmp_path: Path
) -> None:
    expected = crm_csv(tmp_path / "crm.csv")
    ledger = tmp_path / "reminders.db"

    def campaign(sinch: SinchCalling, **kwargs: object) -> Campaign:
        return Campaign(sinch, REMINDER, ledger=ledger, number_column="phone",
                        concurrency=16, **kwargs)  # type: ignore[arg-type]

    # 1. A wrong secret: credentials rejected at once, nothing placed, all pending.
    async with _client(origin, "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==") as bad:
        report = await campaign(bad).run(read_rows(tmp_path / "crm.csv"))
    assert report.stopped is not None
    assert report.stopped.startswith("credentials rejected")
    assert report.pending == len(expected["good"])
    noted = await noted_callouts(origin)
    assert len(noted) <= 16
    assert {status for *_, status in noted} == {401}

    # 2. The right secret, interrupted (Ctrl-C) after some calls.
    enough = asyncio.Event()
    async with _client(origin) as good:
        def progress(outcome: CallOutcome) -> None:
            if outcome.status == "placed":
                progress.placed += 1  # type: ignore[attr-defined]
                if progress.placed >= 300:  # type: ignore[attr-defined]
                    enough.set()
        progress.placed = 0  # type: ignore[attr-defined]
        task = asyncio.create_task(campaign(good, on_outcome=progress).run(
            read_rows(tmp_path / "crm.csv")))
        await enough.wait()
        task.cancel()
        stopped = await task
        assert stopped.stopped == "interrupted"
        assert stopped.placed >= 300
        assert stopped.pending > 0

        # 3. The rerun finishes the job.
        rerun = await campaign(good).run(read_rows(tmp_path / "crm.csv"))
    assert rerun.stopped is None
    assert (rerun.pending, rerun.uncertain, rerun.failed) == (0, 0, 0)
    assert rerun.placed == stopped.pending
    placed = await _placed(origin)
    assert set(placed) == set(expected["good"])
    assert max(placed.values()) == 1  # no number dialled twice, on the server's journal


async def test_5xx_rows_stay_uncertain_until_settled(origin: str, tmp_path: Path) -> None:
    # A server that accepts the call and then fails the answer: the emulator's own
    # child process cannot be given faults, so this one runs a custom place that
    # reports the first two answers as lost.
    lost: list[str] = []

    async def place(client: SinchCalling, row):  # type: ignore[no-untyped-def]
        call_id = await client.callouts.tts(row.destination, text="Hi", cli="+46000000000")
        if len(lost) < 2:
            lost.append(row.destination)
            raise ConnectionResetError("answer lost")
        return call_id

    ledger = tmp_path / "l.db"
    numbers = [f"+4672{i:07d}" for i in range(6)]
    async with _client(origin) as sinch:
        first = await Campaign(sinch, place, ledger=ledger, concurrency=1).run(numbers)
        assert (first.placed, first.uncertain) == (4, 2)
        again = await Campaign(sinch, place, ledger=ledger).run(numbers)
        assert (again.placed, again.earlier_uncertain) == (0, 2)
        campaign = Campaign(sinch, place, ledger=ledger)
        rows = [o async for o in campaign.results(states=["uncertain"])]
        await campaign.settle(rows[0].row, call_id="seen-in-the-dashboard")
        await campaign.settle(rows[1].row, call_id=None)
        third = await campaign.run(numbers)
    assert (third.placed, third.earlier_uncertain) == (1, 0)
    placed = await _placed(origin)
    assert placed[lost[1]] == 2  # the "not placed" one, dialled again as decided
    assert placed[lost[0]] == 1


async def test_pacing_on_the_other_process_clock(origin: str) -> None:
    async with _client(origin) as sinch:
        # The margin absorbs this shared machine's scheduling jitter between the client's
        # paced start and the other process's reading of it (as the fleet tests do); the
        # pacing itself is checked exactly on the client's clock in test_campaign.py.
        report = await Campaign(sinch, TTS, rate=20, concurrency=64,
                                pacing_margin=0.25).run(
            [f"+4673{i:07d}" for i in range(50)])
    assert report.placed == 50
    arrivals = [t for t, _, status in await noted_callouts(origin) if status == 200]
    assert most_in_window(arrivals) <= 20


_CHILD = """
import asyncio, json, sqlite3, sys, time
from sinch_calling import SinchCalling
from sinch_calling.campaign import Campaign, SQLiteLedger

ROWS, LEDGER = int(sys.argv[1]), sys.argv[2]

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) for l in lines if l.startswith(field)) / 1024

def rss():
    # Start measuring the peak here: VmHWM is reset (imports, a .pyc compiled just
    # now, would otherwise count as the run's peak).
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return status("VmRSS:")

def peak():
    return status("VmHWM:")

def numbers():
    return (f"+46{n:010d}" for n in range(ROWS))

async def place(sinch, row):
    return "call-" + row.key

async def main():
    async with SinchCalling("key", "c2VjcmV0", base_url="http://127.0.0.1:9") as sinch:
        base = rss()
        dry = await Campaign(sinch, place, ledger=LEDGER).preflight(numbers())
        first = peak() - base
        # The first run's state, written directly: all placed but the last 500 rows.
        # (Memory is the point here, not durability: commits skip fsync.)
        campaign = Campaign(sinch, place, ledger=SQLiteLedger(LEDGER, durable=False),
                            concurrency=64)
        await campaign.run(f"+46{n:010d}" for n in range(1))
        with sqlite3.connect(LEDGER) as conn:
            conn.executemany(
                "INSERT INTO rows (key, position, destination, state, call_id, updated_at) "
                "VALUES (?, ?, ?, 'placed', ?, 0)",
                ((f"+46{n:010d}", n, f"+46{n:010d}", f"c{n}") for n in range(1, ROWS - 500)))
        base = rss()
        resumed = await campaign.run(numbers())
        count = 0
        async for outcome in campaign.results():
            count += 1
        second = peak() - base
    print(json.dumps({"dry_pending": dry.pending, "dry_growth": first,
                      "resume_placed": resumed.placed, "resume_skipped": resumed.skipped,
                      "results": count, "resume_growth": second}))

asyncio.run(main())
"""


def test_memory_stays_flat_at_200k_rows(tmp_path: Path) -> None:
    rows = 200_000
    done = subprocess.run([sys.executable, "-c", _CHILD, str(rows), str(tmp_path / "m.db")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["dry_pending"] == rows
    assert figures["resume_placed"] == 500
    assert figures["resume_skipped"] == rows - 500
    assert figures["results"] == rows
    # Preflight of 200,000 rows, and a resume reading them all, in flat memory.
    assert figures["dry_growth"] < 50, figures
    assert figures["resume_growth"] < 50, figures
