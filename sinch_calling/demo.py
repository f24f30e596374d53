"""The offline demo: the whole library, end to end, against the embedded emulator.

It plays the three jobs the library exists for: a callout campaign, a web backend that
answers Sinch's signed callbacks with SVAML, and a bulk export of recordings, plus the
configuration and live-call operations around them. No account, no network.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from . import events, svaml
from .campaign import Campaign
from .client import SinchCalling
from .testing import Emulator, Mix, Outcome
from .webhooks import CallbackRouter

__all__ = ["run_demo"]

CAMPAIGN_SIZE = 200
RECORDINGS = 25


def _backend(router: CallbackRouter, heard: Counter[str]) -> web.Application:
    """A web backend: every answered call hears a code and hangs up."""

    @router.ace
    async def answered(event: events.AnsweredCallEvent) -> svaml.Svaml:
        heard["ace"] += 1
        return svaml.Svaml([svaml.Say("Your code is 1234", locale="en-US")], svaml.Hangup())

    @router.dice
    async def disconnected(event: events.DisconnectedCallEvent) -> None:
        heard[f"dice {event.result}"] += 1

    app = web.Application()
    app.router.add_post("/sinch/callbacks", router.handle)
    return app


async def _configuration(sinch: SinchCalling, say: Callable[[str], None]) -> None:
    numbers = await sinch.numbers.list()
    say(f"numbers owned: {', '.join(n.number for n in numbers)}")
    await sinch.numbers.assign([numbers[0].number])
    say(f"assigned {numbers[0].number} to application {sinch.application_key}")
    info = await sinch.numbers.query("+46730170101")
    rate = f"{info.rate.amount} {info.rate.currency_id}/min" if info.rate else "no rate"
    say(f"query +46730170101: {info.country_id}, {info.number_type}, {rate}")


async def _campaign(emu: Emulator, sinch: SinchCalling, say: Callable[[str], None]) -> None:
    numbers = [f"+4670{i:07d}" for i in range(CAMPAIGN_SIZE)]
    limited = emu.faults.add("POST", "/calling/v1/callouts", status=429, retry_after=0, times=3)
    campaign = Campaign(sinch, Campaign.tts(text="Your code is 1234", cli="+46000000000",
                                            enable_ace=True, enable_dice=True),
                        concurrency=32)
    report = await campaign.run(numbers + numbers[:10])  # ten duplicates, never called twice
    await emu.advance()  # emulated time: rings, answers, callbacks, hang-ups
    results = Counter(str(emu.call(call_id).result) for call_id in emu.traffic.calls)
    say(f"campaign: {report.placed} calls placed, {report.skipped} duplicates skipped, "
        f"{report.failed + report.uncertain} problems, {limited.fired} rate limits absorbed; "
        f"outcomes {dict(sorted(results.items()))}")


async def _live_calls(emu: Emulator, sinch: SinchCalling, say: Callable[[str], None]) -> None:
    emu.outcomes.set("+467[12]*", Outcome.answered())  # picked up at once, up until hung up
    guests = [await sinch.callouts.conference(f"+4671000000{i}", "demo-room",
                                              greeting="Welcome to the demo room")
              for i in range(3)]
    await sinch.conferences.mute("demo-room", guests[0])
    await sinch.conferences.kick("demo-room", guests[1])
    room = await sinch.conferences.get("demo-room")
    say("conference demo-room: " + ", ".join(
        f"{p.cli}{' (muted)' if p.muted else ''}" for p in room.participants))
    await sinch.conferences.kick_all("demo-room")

    call_id = await sinch.callouts.custom(
        destination="+46720000001",
        ice=svaml.Svaml(action=svaml.ConnectPstn(number="+46720000001")),
        ace=svaml.Svaml([svaml.Say("Please hold")], svaml.Continue()),
    )
    await sinch.calls.manage(call_id, svaml.Svaml([svaml.Say("Goodbye")], svaml.Hangup()))
    call = await sinch.calls.get(call_id)
    say(f"custom callout {call_id[:8]}...: {call.status}, {call.result}, {call.reason}")


async def _recordings(emu: Emulator, sinch: SinchCalling, directory: Path,
                      say: Callable[[str], None]) -> None:
    for index in range(RECORDINGS):
        emu.recordings.add_generated(f"calls/2026/rec-{index:03d}.mp3", 256 * 1024, seed=index)
    cuts = emu.faults.add("GET", "/calling/v1/recording/*", cut_after=100_000, times=2)
    first = await sinch.recordings.export(directory, concurrency=8)
    again = await sinch.recordings.export(directory, concurrency=8, delete_after=True)
    left = [r async for r in sinch.recordings.list()]
    say(f"export: {first.downloaded} recordings, {first.bytes_downloaded // 1024} KiB, "
        f"{cuts.fired} cut connections resumed; second run downloaded {again.downloaded}, "
        f"deleted {again.deleted} on the server ({len(left)} left); manifest {first.manifest.name}")


async def run_demo(*, verbose: bool = True) -> int:
    """Start an emulator, drive it with a client and a backend, print what happens;
    return 0 on success."""

    def say(text: str) -> None:
        if verbose:
            print(text, flush=True)

    heard: Counter[str] = Counter()
    mix = Mix({Outcome.answered(ring=4, talk=20): 85, Outcome.busy(ring=2): 7,
               Outcome.no_answer(ring=30): 5, Outcome.failed(): 3}, seed=2026)
    async with Emulator(outcomes=mix, realtime=False) as emu:
        router = CallbackRouter(emu.application_key, emu.application_secret)
        runner = web.AppRunner(_backend(router, heard), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            async with SinchCalling(emu.application_key, emu.application_secret,
                                    base_url=emu.url) as sinch:
                say(f"emulator at {emu.url}; {sinch!r}")
                await _configuration(sinch, say)
                await sinch.callbacks.update(f"http://127.0.0.1:{port}/sinch/callbacks")
                say(f"callbacks now go to the demo backend on port {port}")
                await _campaign(emu, sinch, say)
                say(f"backend answered {heard['ace']} ACE callbacks with SVAML and logged "
                    f"{sum(v for k, v in heard.items() if k.startswith('dice'))} DiCE")
                await _live_calls(emu, sinch, say)
                with tempfile.TemporaryDirectory(prefix="sinch-demo-") as directory:
                    await _recordings(emu, sinch, Path(directory), say)
        finally:
            await runner.cleanup()
        print(f"demo finished: {len(emu.requests)} signed requests served, "
              f"{len(emu.events)} signed callbacks sent", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(asyncio.run(run_demo()))
