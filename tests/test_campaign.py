"""Campaigns: every destination called once, uncertain calls never repeated."""

from __future__ import annotations

from pathlib import Path

import pytest

from sinch_calling import SinchCalling
from sinch_calling.campaign import CallOutcome, Campaign
from sinch_calling.errors import ValidationError
from sinch_calling.testing import Emulator

from .conftest import FAST_RETRY

NUMBERS = [f"+4670000{i:04d}" for i in range(40)]
TTS = Campaign.tts(text="Your code is 1234", cli="+46000000000")


def _callouts(emulator: Emulator) -> list[str]:
    return [r.json()["ttsCallout"]["destination"]["endpoint"] for r in emulator.requests
            if r.path == "/calling/v1/callouts"]


async def test_every_destination_is_called_exactly_once(
    sinch: SinchCalling, emulator: Emulator
) -> None:
    outcomes: list[CallOutcome] = []
    report = await Campaign(sinch, TTS, concurrency=8, on_outcome=outcomes.append).run(
        NUMBERS + NUMBERS[:5] + [f" {NUMBERS[0]} "])
    assert (report.placed, report.skipped, report.failed, report.uncertain) == (40, 6, 0, 0)
    assert sorted(_callouts(emulator)) == sorted(NUMBERS)
    assert {o.call_id for o in outcomes if o.status == "placed"} == set(emulator.traffic.calls)


async def test_async_iterable_input(sinch: SinchCalling, emulator: Emulator) -> None:
    async def numbers():  # type: ignore[no-untyped-def]
        for number in NUMBERS[:3]:
            yield number

    report = await Campaign(sinch, TTS).run(numbers())
    assert report.placed == 3


async def test_rate_limited_calls_are_requeued_and_placed_once(
    sinch: SinchCalling, emulator: Emulator
) -> None:
    # More 429s than the client's own retries: the campaign pauses and requeues.
    emulator.faults.add("POST", "/calling/v1/callouts", status=429, retry_after=0, times=6)
    report = await Campaign(sinch, TTS, concurrency=4).run(NUMBERS[:10])
    assert report.placed == 10
    assert len(emulator.traffic.calls) == 10


async def test_server_errors_are_uncertain_and_never_retried(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.faults.add("POST", "/calling/v1/callouts", status=503, times=1)
    journal = tmp_path / "campaign.jsonl"
    report = await Campaign(sinch, TTS, concurrency=1, journal=journal).run(NUMBERS[:3])
    assert (report.placed, report.uncertain) == (2, 1)
    uncertain = report.problems[0]
    assert uncertain.status == "uncertain"
    assert "503" in (uncertain.error or "")
    sent = len(_callouts(emulator))
    # A second run with the same journal places nothing: not even the uncertain one.
    again = await Campaign(sinch, TTS, journal=journal).run(NUMBERS[:3])
    assert (again.placed, again.skipped) == (0, 3)
    assert len(_callouts(emulator)) == sent


async def test_journal_resumes_an_interrupted_campaign(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    journal = tmp_path / "campaign.jsonl"
    await Campaign(sinch, TTS, journal=journal).run(NUMBERS[:10])
    report = await Campaign(sinch, TTS, journal=journal).run(NUMBERS[:20])
    assert (report.placed, report.skipped) == (10, 10)
    assert sorted(_callouts(emulator)) == sorted(NUMBERS[:20])


async def test_a_crash_between_sending_and_outcome_is_never_repeated(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    journal = tmp_path / "campaign.jsonl"
    journal.write_text(f'{{"destination":"{NUMBERS[0]}","state":"sending"}}\n'
                       '{"destination":"torn')
    report = await Campaign(sinch, TTS, journal=journal).run(NUMBERS[:2])
    assert (report.placed, report.uncertain, report.skipped) == (1, 1, 0)
    assert "interrupted" in (report.problems[0].error or "")
    assert _callouts(emulator) == [NUMBERS[1]]


async def test_invalid_destinations_fail_without_a_request(
    sinch: SinchCalling, emulator: Emulator
) -> None:
    report = await Campaign(sinch, TTS).run(["not-a-number", NUMBERS[0]])
    assert (report.placed, report.failed) == (1, 1)
    assert "destination" in (report.problems[0].error or "")
    assert _callouts(emulator) == [NUMBERS[0]]


@pytest.mark.parametrize(("kwargs", "field"), [({"rate": 0}, "rate"),
                                               ({"concurrency": 0}, "concurrency"),
                                               ({"max_requeues": -1}, "max_requeues")])
def test_bad_options(sinch: SinchCalling, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Campaign(sinch, TTS, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


async def test_rate_is_applied(sinch: SinchCalling) -> None:
    report = await Campaign(sinch, TTS, rate=200, concurrency=16).run(NUMBERS[:20])
    assert report.placed == 20
    assert report.calls_per_second > 0


async def test_a_rate_below_one_per_second_works(sinch: SinchCalling) -> None:
    report = await Campaign(sinch, TTS, rate=0.5).run(NUMBERS[:1])
    assert report.placed == 1


async def test_one_string_is_not_a_list_of_numbers(sinch: SinchCalling) -> None:
    with pytest.raises(ValidationError, match="destinations"):
        await Campaign(sinch, TTS).run(NUMBERS[0])


async def test_a_success_that_cannot_be_decoded_is_uncertain(sinch: SinchCalling) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    hits: list[str] = []

    async def placed_but_odd(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"id": "not-the-field-you-expect"})

    app = web.Application()
    app.router.add_post("/calling/v1/callouts", placed_but_odd)
    async with TestServer(app, host="127.0.0.1") as server, \
            SinchCalling("key", "c2VjcmV0", base_url=f"http://127.0.0.1:{server.port}") as odd:
        report = await Campaign(odd, TTS).run(NUMBERS[:1])
    assert (report.placed, report.uncertain, report.failed) == (0, 1, 0)
    assert len(hits) == 1


async def test_a_custom_place_that_raises_is_uncertain_not_a_crash(sinch: SinchCalling) -> None:
    async def broken(_: SinchCalling, destination: str) -> str:
        raise KeyError(destination)

    seen: list[str] = []

    def noisy(outcome: CallOutcome) -> None:
        seen.append(outcome.status)
        raise RuntimeError("a progress bar bug")

    report = await Campaign(sinch, broken, on_outcome=noisy).run(NUMBERS[:2])
    assert (report.uncertain, seen) == (2, ["uncertain", "uncertain"])


async def test_an_unreachable_server_places_nothing_and_a_later_run_retries(
    unused_tcp_port: int, tmp_path: Path
) -> None:
    journal = tmp_path / "campaign.jsonl"
    async with SinchCalling("key", "c2VjcmV0", base_url=f"http://127.0.0.1:{unused_tcp_port}",
                            retry=FAST_RETRY) as down:
        report = await Campaign(down, TTS, journal=journal, max_requeues=1).run(NUMBERS[:2])
    assert (report.placed, report.failed, report.uncertain) == (0, 2, 0)
    assert "later run" in (report.problems[0].error or "")
    async with Emulator() as emu, SinchCalling(emu.application_key, emu.application_secret,
                                               base_url=emu.url) as up:
        again = await Campaign(up, TTS, journal=journal).run(NUMBERS[:2])
    assert again.placed == 2
