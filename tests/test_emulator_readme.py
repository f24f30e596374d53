"""The README's emulator example, kept honest: a campaign and a web backend together."""

from __future__ import annotations

from collections import Counter

from aiohttp import web
from aiohttp.test_utils import TestServer

from sinch_calling import CallbackUrls, CallResult, SinchCalling, events, svaml
from sinch_calling.testing import Emulator, Mix, Outcome
from sinch_calling.webhooks import CallbackRouter


async def test_campaign_against_the_emulator() -> None:
    mix = Mix({Outcome.answered(ring=5, talk=30): 80, Outcome.busy(ring=3): 10,
               Outcome.no_answer(ring=30): 5, Outcome.failed(): 5}, seed=42)
    async with Emulator(outcomes=mix, realtime=False) as emu:
        # The web backend under test, answering Sinch's callbacks.
        router = CallbackRouter(emu.application_key, emu.application_secret)
        said: list[str] = []

        @router.ace
        async def answered(event: events.AnsweredCallEvent) -> svaml.Svaml:
            return svaml.Svaml([svaml.Say("Your code is 1234")], svaml.Hangup())

        @router.dice
        async def disconnected(event: events.DisconnectedCallEvent) -> None:
            said.append(str(event.result))

        app = web.Application()
        app.router.add_post("/sinch", router.handle)
        async with TestServer(app, host="127.0.0.1") as backend:
            emu.configuration.applications[emu.application_key].callbacks = CallbackUrls(
                primary=str(backend.make_url("/sinch")))
            emu.faults.add("POST", "/calling/v1/callouts", status=429, retry_after=0)

            async with SinchCalling(emu.application_key, emu.application_secret,
                                    base_url=emu.url) as sinch:
                ids = [await sinch.callouts.tts(f"+4670000{i:04d}", text="Hi",
                                                enable_ace=True, enable_dice=True)
                       for i in range(100)]
            await emu.advance()  # ring, answer, callbacks, hang up: no sleeping

        results = Counter(emu.call(call_id).result for call_id in ids)
        assert results[CallResult.ANSWERED] > 60
        assert set(results) <= {CallResult.ANSWERED, CallResult.BUSY, CallResult.NOANSWER,
                                CallResult.FAILED}
        assert len(emu.requests_to("/calling/v1/callouts", "POST")) == 101  # 429, retried
        assert len(emu.events_named("dice")) == 100
        assert said.count("ANSWERED") == results[CallResult.ANSWERED]
        answered_id = next(i for i in ids if emu.call(i).result is CallResult.ANSWERED)
        assert emu.progress(answered_id).prompts == ["Hi", "Your code is 1234"]
