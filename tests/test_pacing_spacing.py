"""Evenly spaced starts (``spacing_for_rate``) keep "at most ``rate`` in any one-second
window" whatever the clock's scale (float rounding of reservation times), and a paced
run ends even with no margin at all (review of the spacing change)."""

from __future__ import annotations

import asyncio
import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import SinchCalling
from sinch_calling.campaign import Campaign, CampaignRow
from sinch_calling.campaign.pacing import SlidingWindow, most_in_window, spacing_for_rate
from sinch_calling.errors import RateLimitedError


@settings(max_examples=60, deadline=None)
@given(rate=st.sampled_from([1, 2.5, 10, 50, 50.9, 100, 1000]) | st.floats(1, 2000),
       margin=st.sampled_from([0.0, 0.05]) | st.floats(0, 0.5),
       epoch=st.sampled_from([0.0, 1.7e9, 12345.678]))
def test_spaced_reservations_never_put_more_than_rate_in_one_second(
        rate: float, margin: float, epoch: float) -> None:
    window, spacing = SlidingWindow(), spacing_for_rate(rate, margin)
    count = math.floor(rate)
    starts = [window.reserve(epoch, 1, spacing) for _ in range(3 * count + 5)]
    assert most_in_window(starts, 1.0) <= count
    assert all(b > a for a, b in itertools.pairwise(starts))


def test_spacing_below_one_call_a_second() -> None:
    assert spacing_for_rate(0.5, 0.0) == pytest.approx(2.0, abs=1e-5)


async def test_a_paced_run_with_no_margin_ends(sinch: SinchCalling) -> None:
    """With ``pacing_margin=0`` every wake-up was "late", and each row took new slots
    forever: the run never ended."""
    starts: list[float] = []

    async def place(client: SinchCalling, row: CampaignRow) -> str:
        starts.append(asyncio.get_running_loop().time())
        return await client.callouts.tts(row.destination, text="Hi", cli="+46000000000")

    report = await asyncio.wait_for(Campaign(sinch, place, rate=20, pacing_margin=0,
                                             concurrency=8).run(
        [f"+4673{i:06d}" for i in range(12)]), timeout=20)
    assert report.placed == 12
    assert most_in_window(starts) <= 20


async def test_a_429_pause_holds_back_starts_already_reserved(sinch: SinchCalling) -> None:
    """A row whose slot comes during a 429 pause is not sent then (it is pending again
    and dialled after the pause): before, every start already reserved went ahead."""
    starts: list[float] = []
    limited: list[float] = []

    async def place(client: SinchCalling, row: CampaignRow) -> str:
        now = asyncio.get_running_loop().time()
        if row.key.endswith("05") and not limited:
            limited.append(now)
            raise RateLimitedError(429, "slow down", retry_after=1.0)
        starts.append(now)
        return await client.callouts.tts(row.destination, text="Hi", cli="+46000000000")

    report = await Campaign(sinch, place, rate=40, concurrency=16, max_retry_after=5).run(
        [f"+4674{i:06d}" for i in range(30)])
    assert report.placed == 30
    (pause,) = limited
    assert [t - pause for t in starts if pause + 0.05 < t < pause + 0.95] == []


async def test_a_graceful_stop_does_not_wait_for_the_paced_slots(sinch: SinchCalling,
                                                                 tmp_path: Path) -> None:
    """Workers waiting for their slots learn of a stop at once: before, a paced run's
    stop (Ctrl-C) waited for every reserved slot (7 s here; up to ``stop_timeout``)."""
    campaign = Campaign(sinch, Campaign.tts(text="Hi", cli="+46000000000"), rate=1,
                        concurrency=8, ledger=tmp_path / "l.db")
    run = asyncio.create_task(campaign.run([f"+4675{i:06d}" for i in range(20)]))
    await asyncio.sleep(1.2)
    loop = asyncio.get_running_loop()
    stopped_at = loop.time()
    campaign.stop("test")
    report = await asyncio.wait_for(run, timeout=10)
    assert loop.time() - stopped_at < 1.0
    assert report.stopped == "test"
    assert report.placed + report.pending == 20
    assert report.totals is not None
    assert report.totals.states["sending"] == report.totals.states["claimed"] == 0
