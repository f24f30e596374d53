"""The emulator over time: stopping with work in flight, frozen time, timers that do not
pile up, bounded journals, and callbacks under load."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sinch_calling import CallbackUrls, CallStatus, RetryPolicy, SinchCalling, svaml
from sinch_calling.errors import NotFoundError, TransportError, ValidationError
from sinch_calling.testing import Emulator, Outcome
from sinch_calling.testing.clock import Clock
from sinch_calling.testing.journal import Journal

ONCE = RetryPolicy(attempts=1)


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (real I/O is involved, so yield a
    little wall time per round; the bound only keeps a broken test from hanging)."""
    for _ in range(5000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


@pytest.fixture
async def frozen() -> AsyncIterator[tuple[Emulator, SinchCalling]]:
    async with Emulator(realtime=False) as emu, SinchCalling(
            emu.application_key, emu.application_secret, base_url=emu.url,
            retry=ONCE) as sinch:
        yield emu, sinch


# -- stopping ----------------------------------------------------------------------------


async def test_stop_cuts_off_a_stalled_request_and_creates_nothing() -> None:
    emu = Emulator()
    await emu.start()
    fault = emu.faults.add("POST", "/calling/v1/callouts", delay=3600)
    async with SinchCalling(emu.application_key, emu.application_secret, base_url=emu.url,
                            retry=ONCE, timeout=3600) as sinch:
        callout = asyncio.create_task(sinch.callouts.tts("+46700000001", text="Hi"))
        await until(lambda: fault.fired == 1)
        await asyncio.wait_for(emu.stop(), 30)  # the bound is a safety net: an hour otherwise
        with pytest.raises(TransportError):
            await callout
    assert emu.traffic.calls == {}
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("sinch-")] == []


async def test_a_callout_finishing_during_stop_leaves_no_task_behind() -> None:
    emu = Emulator(outcomes=Outcome.answered(ring=1))
    await emu.start()
    fault = emu.faults.add("POST", "/calling/v1/callouts", delay=0.05)
    async with SinchCalling(emu.application_key, emu.application_secret, base_url=emu.url,
                            retry=ONCE) as sinch:
        callout = asyncio.create_task(sinch.callouts.tts("+46700000001", text="Hi",
                                                         enable_ace=True))
        await until(lambda: fault.fired == 1)
        await emu.stop()
        await asyncio.gather(callout, return_exceptions=True)  # answered or cut off
    assert emu.clock._tasks == set()
    assert emu.clock.next_due is None
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("sinch-")] == []
    assert emu.clock.errors == []


async def test_a_closed_clock_starts_nothing() -> None:
    clock = Clock(realtime=False)
    ran: list[str] = []

    async def step() -> None:
        ran.append("task")

    await clock.close()
    assert clock.spawn(step(), "late") is None  # closed, not left un-awaited
    assert clock.schedule(0, lambda: ran.append("timer")).cancelled
    await clock.advance()
    assert ran == []
    clock.open()
    clock.spawn(step(), "again")
    await clock.settle()
    assert ran == ["task"]


async def test_emulator_serves_again_after_a_restart() -> None:
    emu = Emulator()
    async with emu:
        pass
    async with emu, SinchCalling(emu.application_key, emu.application_secret,
                                 base_url=emu.url, retry=ONCE) as sinch:
        call_id = await sinch.callouts.tts("+46700000001", text="Hi")
        await sinch.calls.manage(call_id, svaml.Svaml(action=svaml.Hangup()))
        assert emu.call(call_id).status is CallStatus.FINAL


# -- emulated time -----------------------------------------------------------------------


async def test_time_stands_still_without_advance(frozen: tuple[Emulator, SinchCalling]) -> None:
    emu, sinch = frozen
    before = emu.clock.utcnow(), emu.clock.monotonic()
    call_id = await sinch.callouts.tts("+46700000001", text="Hi")  # real I/O in between
    await sinch.calls.get(call_id)
    assert (emu.clock.utcnow(), emu.clock.monotonic()) == before
    await emu.advance(100)
    assert emu.clock.utcnow() - before[0] == timedelta(seconds=100)


async def test_duration_follows_emulated_time_everywhere(
        frozen: tuple[Emulator, SinchCalling]) -> None:
    emu, sinch = frozen
    call_id = await sinch.callouts.tts("+46700000001", text="Hi")
    await emu.advance(100)
    assert emu.call(call_id).duration == (await sinch.calls.get(call_id)).duration == 100
    await sinch.calls.manage(call_id, svaml.Svaml(action=svaml.Hangup()))
    await emu.advance(50)
    call = emu.call(call_id)
    assert call.ended_at == emu.clock.utcnow() - timedelta(seconds=50)
    assert call.duration == (await sinch.calls.get(call_id)).duration == 100


async def test_incoming_call_starts_at_emulated_time(
        frozen: tuple[Emulator, SinchCalling]) -> None:
    emu, _ = frozen
    await emu.advance(3600)
    call = emu.incoming_call("+46700000001", "+46000000000")
    assert call.started_at == emu.clock.utcnow()


async def test_an_early_hangup_cancels_the_talk_timer(
        frozen: tuple[Emulator, SinchCalling]) -> None:
    emu, sinch = frozen
    emu.outcomes.default = Outcome.answered(talk=3600)
    call_id = await sinch.callouts.tts("+46700000001", text="Hi")
    await emu.settle()
    await sinch.calls.manage(call_id, svaml.Svaml(action=svaml.Hangup()))
    await emu.settle()
    assert emu.clock.next_due is None
    before = emu.clock.utcnow()
    await emu.advance()
    assert emu.clock.utcnow() == before
    assert emu.call(call_id).duration == 0


# -- timers do not pile up ---------------------------------------------------------------


async def test_fired_realtime_timers_leave_the_heap() -> None:
    clock = Clock(realtime=True)
    fired: list[int] = []
    done = asyncio.Event()
    count = 500

    def ring(i: int) -> None:
        fired.append(i)
        if len(fired) == count:
            done.set()

    for i in range(count):
        clock.schedule(0, lambda i=i: ring(i))  # type: ignore[misc]
    await done.wait()
    assert len(clock._timers) < 100  # fired timers are compacted away as they go
    await clock.close()


async def test_cancelled_timers_leave_the_heap() -> None:
    clock = Clock(realtime=False)
    timers = [clock.schedule(60, lambda: None) for _ in range(1000)]
    keep = clock.schedule(30, lambda: None)
    for timer in timers:
        timer.cancel()
    assert len(clock._timers) < 100
    assert clock.next_due == keep.due


# -- bounded journals ----------------------------------------------------------------------


async def test_max_journal_keeps_the_newest_requests_events_and_finished_calls() -> None:
    async def backend(request: web.Request) -> web.Response:
        return web.json_response({"action": {"name": "continue"}})

    app = web.Application()
    app.router.add_post("/sinch", backend)
    async with TestServer(app, host="127.0.0.1") as server, Emulator(
            realtime=False, max_journal=3) as emu, SinchCalling(
            emu.application_key, emu.application_secret, base_url=emu.url,
            retry=ONCE) as sinch:
        emu.configuration.applications[emu.application_key].callbacks = CallbackUrls(
            primary=str(server.make_url("/sinch")))
        ids = []
        for i in range(5):
            call_id = await sinch.callouts.tts(f"+4670000000{i}", text="Hi", enable_ace=True)
            await emu.settle()  # the ACE goes out
            await sinch.calls.manage(call_id, svaml.Svaml(action=svaml.Hangup()))
            ids.append(call_id)
        await emu.settle()
        assert len(emu.requests) == 3
        assert [r.method for r in emu.requests] == ["PATCH", "POST", "PATCH"]
        assert emu.requests[-1].path == f"/calling/v1/calls/id/{ids[-1]}"
        assert emu.requests[1:] == list(emu.requests)[1:]
        assert [e.call_id for e in emu.events] == ids[-3:]
        assert sorted(emu.traffic.calls) == sorted(ids[-3:])
        with pytest.raises(KeyError):
            emu.progress(ids[0])
        with pytest.raises(NotFoundError):
            await sinch.calls.get(ids[0])
        assert emu.progress(ids[-1]).call_id == ids[-1]


async def test_max_journal_never_forgets_a_call_in_progress() -> None:
    async with Emulator(realtime=False, max_journal=1) as emu, SinchCalling(
            emu.application_key, emu.application_secret, base_url=emu.url,
            retry=ONCE) as sinch:
        live = [await sinch.callouts.tts(f"+4670000000{i}", text="Hi") for i in range(3)]
        for call_id in live:
            assert (await sinch.calls.get(call_id)).status is CallStatus.ONGOING


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_max_journal_validation(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        Emulator(max_journal=bad)  # type: ignore[arg-type]
    assert info.value.field == "max_journal"


def test_journal_reads_like_a_list() -> None:
    journal: Journal[int] = Journal()
    assert journal == []
    assert (journal != []) is False
    journal.extend([1, 2, 3])
    assert journal == [1, 2, 3]
    assert journal != [1, 2]
    assert (journal[0], journal[-1], journal[1:]) == (1, 3, [2, 3])
    capped: Journal[int] = Journal(range(10), maxlen=4)
    assert capped == [6, 7, 8, 9]


# -- callbacks under load ------------------------------------------------------------------


async def test_many_concurrent_callbacks_wait_for_no_pool() -> None:
    """Every ACE reaches the backend at once, as from Sinch: none waits for a pooled
    connection (with a pool of 64 this backend would never answer, and all would time
    out to FAILED)."""
    count = 100
    arrived = 0
    everyone = asyncio.Event()

    async def backend(request: web.Request) -> web.Response:
        nonlocal arrived
        await request.read()
        arrived += 1
        if arrived == count:
            everyone.set()
        await everyone.wait()
        return web.json_response({"action": {"name": "continue"}})

    app = web.Application()
    app.router.add_post("/sinch", backend)
    async with TestServer(app, host="127.0.0.1") as server, Emulator(
            realtime=False, callback_timeout=30) as emu, SinchCalling(
            emu.application_key, emu.application_secret, base_url=emu.url,
            retry=ONCE) as sinch:
        emu.configuration.applications[emu.application_key].callbacks = CallbackUrls(
            primary=str(server.make_url("/sinch")))
        for i in range(count):
            await sinch.callouts.tts(f"+467000{i:05d}", text="Hi", enable_ace=True)
        await emu.settle()
    assert [e.status for e in emu.events] == [200] * count
