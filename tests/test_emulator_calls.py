"""The emulator's call life cycle: outcomes, emulated time, SVAML from PATCH."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from sinch_calling import (
    CallReason,
    CallResult,
    CallStatus,
    RetryPolicy,
    SinchCalling,
    svaml,
)
from sinch_calling.errors import ValidationError
from sinch_calling.testing import Emulator, Mix, Outcome, Outcomes

FAST = RetryPolicy(attempts=1)


@pytest.fixture
async def manual() -> AsyncIterator[tuple[Emulator, SinchCalling]]:
    """An emulator whose time moves only with advance(), and a client of it."""
    async with Emulator(realtime=False) as emu, SinchCalling(
            emu.application_key, emu.application_secret, base_url=emu.url,
            retry=FAST) as sinch:
        yield emu, sinch


async def test_default_answers_at_once_and_stays_up(sinch: SinchCalling,
                                                    emulator: Emulator) -> None:
    call_id = await sinch.callouts.tts("+46000000001", text="Hello")
    call = emulator.call(call_id)
    assert call.answered_at is not None  # synchronously, inside the callout request
    await emulator.settle()
    await emulator.advance(3600)
    assert (await sinch.calls.get(call_id)).status is CallStatus.ONGOING
    assert emulator.progress(call_id).prompts == ["Hello"]


async def test_conference_callout_joins_at_once(sinch: SinchCalling,
                                                emulator: Emulator) -> None:
    call_id = await sinch.callouts.conference("+46000000001", "room-1", greeting="Hi")
    conference = await sinch.conferences.get("room-1")
    assert [p.call_id for p in conference.participants] == [call_id]
    assert emulator.progress(call_id).prompts == ["Hi"]


async def test_manage_hangup_ends_the_call(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = await sinch.callouts.conference("+46000000001", "room-1")
    await sinch.calls.manage(call_id, svaml.Svaml([svaml.Say("Bye")], svaml.Hangup()))
    call = await sinch.calls.get(call_id)
    assert (call.status, call.result, call.reason) == (
        CallStatus.FINAL, CallResult.ANSWERED, CallReason.MANAGERHANGUP)
    assert "room-1" not in emulator.traffic.conferences  # the room went with its last call
    assert emulator.progress(call_id).prompts == ["Bye"]


@pytest.mark.parametrize(("outcome", "result", "reason"), [
    (Outcome.busy(), CallResult.BUSY, CallReason.CALLEEHANGUP),
    (Outcome.no_answer(), CallResult.NOANSWER, CallReason.TIMEOUT),
    (Outcome.failed(), CallResult.FAILED, CallReason.GENERALERROR),
    (Outcome.failed(reason=CallReason.BLOCKED), CallResult.FAILED, CallReason.BLOCKED),
    (Outcome.answered(talk=0), CallResult.ANSWERED, CallReason.CALLEEHANGUP),
])
async def test_outcomes_without_delay(sinch: SinchCalling, emulator: Emulator,
                                      outcome: Outcome, result: CallResult,
                                      reason: CallReason) -> None:
    emulator.outcomes.set("+46000000001", outcome)
    call_id = await sinch.callouts.tts("+46000000001", text="Hello")
    await emulator.settle()
    call = await sinch.calls.get(call_id)
    assert (call.status, call.result, call.reason) == (CallStatus.FINAL, result, reason)


async def test_ring_and_talk_follow_emulated_time(
        manual: tuple[Emulator, SinchCalling]) -> None:
    emu, sinch = manual
    emu.outcomes.set("+4670*", Outcome.answered(ring=5, talk=40))
    call_id = await sinch.callouts.tts("+46700000001", text="Hello")
    await emu.advance(4.9)
    assert (await sinch.calls.get(call_id)).status is CallStatus.ONGOING
    assert emu.call(call_id).answered_at is None
    await emu.advance(0.2)
    assert emu.call(call_id).answered_at is not None
    await emu.advance(39.8)
    assert (await sinch.calls.get(call_id)).status is CallStatus.ONGOING
    await emu.advance(1)
    call = await sinch.calls.get(call_id)
    assert (call.status, call.result, call.reason, call.duration) == (
        CallStatus.FINAL, CallResult.ANSWERED, CallReason.CALLEEHANGUP, 40)


async def test_advance_without_seconds_runs_everything(
        manual: tuple[Emulator, SinchCalling]) -> None:
    emu, sinch = manual
    emu.outcomes.default = Outcome.no_answer(ring=45)
    ids = [await sinch.callouts.tts(f"+4670000000{i}", text="Hi") for i in range(3)]
    await emu.advance()
    assert {emu.call(i).result for i in ids} == {CallResult.NOANSWER}


async def test_hangup_while_ringing(manual: tuple[Emulator, SinchCalling]) -> None:
    emu, sinch = manual
    emu.outcomes.default = Outcome.answered(ring=30)
    call_id = await sinch.callouts.tts("+46700000001", text="Hi")
    await sinch.calls.manage(call_id, svaml.Svaml(action=svaml.Hangup()))
    await emu.settle()
    call = emu.call(call_id)
    assert (call.status, call.result) == (CallStatus.FINAL, CallResult.NA)
    await emu.advance()
    assert call.answered_at is None


async def test_realtime_progress_with_tiny_durations(sinch: SinchCalling,
                                                     emulator: Emulator) -> None:
    import asyncio

    emulator.outcomes.default = Outcome.busy(ring=0.001)
    call_id = await sinch.callouts.tts("+46000000001", text="Hi")
    while emulator.call(call_id).status is CallStatus.ONGOING:  # noqa: ASYNC110 - wall time
        await asyncio.sleep(0.001)
    assert emulator.call(call_id).result is CallResult.BUSY


async def test_mix_is_seeded_and_stable() -> None:
    weights = {"answered": 80, "busy": 10, "noanswer": 5, "failed": 5}

    def picks(seed: int) -> list[CallResult]:
        outcomes = Outcomes(Mix(weights, seed=seed))
        return [outcomes.choose(f"+46700{i:05d}").result for i in range(1000)]

    first = picks(7)
    assert first == picks(7)
    assert first != picks(8)
    counts = Counter(first)
    assert 730 < counts[CallResult.ANSWERED] < 870
    assert counts[CallResult.BUSY] > 50
    assert counts[CallResult.FAILED] > 20


async def test_mix_counts_repeated_calls_to_one_number() -> None:
    outcomes = Outcomes(Mix({Outcome.answered(): 1, Outcome.busy(): 1}, seed=1))
    results = {outcomes.choose("+46700000001").result for _ in range(50)}
    assert results == {CallResult.ANSWERED, CallResult.BUSY}


async def test_campaign_sees_the_mix(sinch: SinchCalling) -> None:
    mix = Mix({Outcome.answered(talk=0): 8, Outcome.busy(): 1, Outcome.failed(): 1}, seed=3)
    async with Emulator(outcomes=mix) as emu, SinchCalling(
            emu.application_key, emu.application_secret, base_url=emu.url) as client:
        ids = [await client.callouts.tts(f"+467000{i:05d}", text="Hi") for i in range(200)]
        await emu.settle()
        results = Counter(emu.call(i).result for i in ids)
    assert set(results) == {CallResult.ANSWERED, CallResult.BUSY, CallResult.FAILED}
    assert all(emu.call(i).status is CallStatus.FINAL for i in ids)


def test_outcome_rules_precedence() -> None:
    outcomes = Outcomes()
    outcomes.set("+4670*", "busy")
    outcomes.set("+46701*", Outcome.failed())
    outcomes.set("+46701000000", Outcome.no_answer())
    assert outcomes.choose("+46700000000").result is CallResult.BUSY
    assert outcomes.choose("+46701999999").result is CallResult.FAILED  # latest glob first
    assert outcomes.choose("+46701000000").result is CallResult.NOANSWER  # exact first
    assert outcomes.choose("+1555").result is CallResult.ANSWERED
    outcomes.reset()
    assert outcomes.choose("+46700000000").result is CallResult.ANSWERED


@pytest.mark.parametrize("bad", [
    lambda: Outcome.answered(ring=-1),
    lambda: Outcome.answered(talk=-1),
    lambda: Mix({}),
    lambda: Mix({"answered": -1, "busy": 2}),
    lambda: Mix({"maybe": 1}),
    lambda: Outcomes("sometimes"),
])
def test_outcome_validation(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        bad()


async def test_emulator_accepts_a_single_outcome() -> None:
    async with Emulator(outcomes=Outcome.busy()) as emu, SinchCalling(
            emu.application_key, emu.application_secret, base_url=emu.url) as sinch:
        call_id = await sinch.callouts.tts("+46000000001", text="Hi")
        await emu.settle()
        assert emu.call(call_id).result is CallResult.BUSY


async def test_patch_run_menu_records_the_scripted_input(sinch: SinchCalling,
                                                         emulator: Emulator) -> None:
    call_id = await sinch.callouts.tts("+46000000001", text="Hi")
    emulator.press(call_id, "2")
    menu = svaml.RunMenu([svaml.Menu("main", options=[svaml.MenuOption("2", "return(two)")])],
                         main_menu="main")
    await sinch.calls.manage(call_id, svaml.Svaml(action=menu))
    await emulator.settle()
    assert emulator.progress(call_id).menu_results == [
        {"menuId": "main", "type": "return", "value": "two", "inputMethod": "dtmf"}]


async def test_stop_cancels_pending_steps() -> None:
    emu = Emulator(outcomes=Outcome.answered(ring=3600))
    async with emu, SinchCalling(emu.application_key, emu.application_secret,
                                 base_url=emu.url) as sinch:
        await sinch.callouts.tts("+46000000001", text="Hi")
    assert emu.clock._tasks == set()


def test_mix_from_a_command_line_spec() -> None:
    mix = Mix.from_spec("answered=80, busy=10,noanswer=5,failed=5", seed=7, ring=2, talk=20)
    picks = {mix.pick(f"+4670{i:04d}", 0) for i in range(400)}
    assert {o.result for o in picks} == {CallResult.ANSWERED, CallResult.BUSY,
                                         CallResult.NOANSWER, CallResult.FAILED}
    assert {(o.ring, o.talk) for o in picks if o.answers} == {(2, 20)}
    assert {o.talk for o in picks if not o.answers} == {None}
    with pytest.raises(ValidationError):
        Mix.from_spec("answered=lots")
    with pytest.raises(ValidationError):
        Mix.from_spec("sometimes=1")
