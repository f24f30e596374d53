"""Callbacks from the emulator to a real aiohttp.web backend on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from sinch_calling import CallbackUrls, CallResult, CallStatus, SinchCalling, events, svaml
from sinch_calling.auth import CallbackVerifier
from sinch_calling.serialization import converter
from sinch_calling.testing import Emulator, Outcome
from sinch_calling.webhooks import CallbackRouter

from .conftest import fixture_json

Answer = Callable[[dict[str, Any]], "web.StreamResponse | dict[str, Any] | None"]


class Backend:
    """A real web backend that records what it receives and answers with ``answer``."""

    def __init__(self, answer: Answer | None = None, status: int = 200) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.answer = answer
        self.status = status
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append((request.raw_path, dict(request.headers), body))
        if self.status >= 300:
            return web.Response(status=self.status)
        reply = self.answer(json.loads(body)) if self.answer else None
        if isinstance(reply, web.StreamResponse):
            return reply
        return web.json_response(reply) if reply is not None else web.Response()

    async def start(self) -> Backend:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.received]


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    server = await Backend().start()
    yield server
    await server.stop()


def use(emulator: Emulator, primary: str | None, fallback: str | None = None) -> None:
    emulator.configuration.applications[emulator.application_key].callbacks = CallbackUrls(
        primary=primary, fallback=fallback)


def _menu() -> dict[str, Any]:
    menu = svaml.RunMenu([svaml.Menu("main", main_prompt="#tts[Press 1 or 2]", max_digits=1,
                                     options=[svaml.MenuOption("1", "return(yes)"),
                                              svaml.MenuOption("2", "menu(more)")]),
                          svaml.Menu("more", options=[svaml.MenuOption("3", "return")])],
                         main_menu="main")
    return converter.unstructure(svaml.Svaml([svaml.Say("Welcome")], menu))  # type: ignore[no-any-return]


async def test_tts_ace_and_dice_are_signed_as_sinch_signs(
        sinch: SinchCalling, emulator: Emulator, backend: Backend) -> None:
    use(emulator, backend.url + "/sinch/callbacks?token=1")
    backend.answer = lambda event: {"action": {"name": "hangup"}} if event["event"] == "ace" \
        else None
    call_id = await sinch.callouts.tts("+46000000001", text="Hi", custom="c-1",
                                       enable_ace=True, enable_dice=True)
    await emulator.settle()
    verifier = CallbackVerifier(emulator.application_key, emulator.application_secret)
    for path, headers, body in backend.received:
        assert path == "/sinch/callbacks?token=1"
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"].startswith(f"Application {emulator.application_key}:")
        verifier.verify("POST", "/sinch/callbacks", headers, body)
    ace, dice = (events.parse(body) for _, _, body in backend.received)
    assert isinstance(ace, events.AnsweredCallEvent)
    assert (ace.call_id, ace.custom, ace.application_key) == (call_id, "c-1",
                                                              emulator.application_key)
    assert isinstance(dice, events.DisconnectedCallEvent)
    assert (dice.result, dice.reason, dice.from_) == (CallResult.ANSWERED,
                                                     "MANAGERHANGUP", "private")
    assert [e.name for e in emulator.events] == ["ace", "dice"]
    assert emulator.events[0].svaml == {"action": {"name": "hangup"}}
    assert emulator.events_named("dice", call_id)[0].ok
    assert (await sinch.calls.get(call_id)).status is CallStatus.FINAL


async def test_event_shapes_match_the_java_fixtures(sinch: SinchCalling, emulator: Emulator,
                                                    backend: Backend) -> None:
    use(emulator, backend.url + "/cb")
    emulator.outcomes.default = Outcome.answered(dtmf="1")
    backend.answer = lambda event: {"ice": {"action": {"name": "connectPstn",
                                                       "number": "+46000000001"}},
                                    "ace": _menu(),
                                    "pie": {"action": {"name": "hangup"}}}.get(event["event"])
    call_id = await sinch.callouts.custom(destination="+46000000001",
                                          ice=backend.url + "/cb")
    await emulator.settle()
    received = backend.events()
    assert [e["event"] for e in received] == ["ice", "ace", "pie", "dice"]
    fixtures = {"ice": "IncomingCallEventDto", "ace": "AnsweredCallEventDto",
                "pie": "PromptInputEventDto", "dice": "DisconnectedCallEventDto"}
    for event in received:
        shape = fixture_json(f"sinchevents/{fixtures[event['event']]}.json")
        optional = {"conferenceId", "custom", "amd"}
        assert set(event) >= set(shape) - optional, event["event"]
        assert event["callid"] == call_id
    ice = received[0]
    assert ice["callResourceUrl"] == f"{emulator.url}/calling/v1/calls/id/{call_id}"
    assert ice["to"] == {"type": "number", "endpoint": "+46000000001"}
    assert received[2]["menuResult"] == {"menuId": "main", "type": "return", "value": "yes",
                                         "inputMethod": "dtmf"}


async def test_fallback_when_primary_answers_500(sinch: SinchCalling, emulator: Emulator,
                                                 backend: Backend) -> None:
    broken = await Backend(status=500).start()
    try:
        use(emulator, broken.url + "/primary", backend.url + "/fallback")
        call_id = await sinch.callouts.tts("+46000000001", text="Hi", enable_dice=True)
        await sinch.calls.manage(call_id, svaml.Svaml(action=svaml.Hangup()))
        await emulator.settle()
    finally:
        await broken.stop()
    assert [(e.status, e.fallback) for e in emulator.events] == [(500, False), (200, True)]
    assert [path for path, _, _ in backend.received] == ["/fallback"]


async def test_fallback_when_primary_is_down(sinch: SinchCalling, emulator: Emulator,
                                             backend: Backend) -> None:
    down = await Backend().start()
    await down.stop()  # nothing listens there any more
    use(emulator, down.url + "/primary", backend.url + "/fallback")
    call_id = await sinch.callouts.tts("+46000000001", text="Hi", enable_ace=True)
    await emulator.settle()
    first, second = emulator.events
    assert (first.status, first.error is not None, second.status, second.fallback) == (
        None, True, 200, True)
    assert backend.events()[0]["callid"] == call_id


async def test_slow_primary_times_out_to_fallback(backend: Backend) -> None:
    gate = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        await gate.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with Emulator(callback_timeout=0.05) as emu, SinchCalling(
                emu.application_key, emu.application_secret, base_url=emu.url) as sinch:
            use(emu, f"http://127.0.0.1:{runner.addresses[0][1]}/slow", backend.url + "/fb")
            await sinch.callouts.tts("+46000000001", text="Hi", enable_ace=True)
            await emu.settle()
            assert [(e.status, e.fallback) for e in emu.events] == [(None, False), (200, True)]
            assert "Timeout" in (emu.events[0].error or "")
    finally:
        gate.set()
        await runner.cleanup()


async def test_no_fallback_on_a_4xx(sinch: SinchCalling, emulator: Emulator,
                                    backend: Backend) -> None:
    refusing = await Backend(status=401).start()
    try:
        use(emulator, refusing.url + "/p", backend.url + "/f")
        await sinch.callouts.tts("+46000000001", text="Hi", enable_ace=True)
        await emulator.settle()
    finally:
        await refusing.stop()
    assert [e.status for e in emulator.events] == [401]
    assert backend.received == []


async def test_menu_without_input_times_out(sinch: SinchCalling, emulator: Emulator,
                                            backend: Backend) -> None:
    use(emulator, backend.url + "/cb")
    answers = iter([_menu(), {"action": {"name": "continue"}}])
    backend.answer = lambda event: next(answers) if event["event"] in ("ace", "pie") else None
    call_id = await sinch.callouts.tts("+46000000001", text="Hi", enable_ace=True,
                                       enable_pie=True)
    await emulator.settle()
    pie = emulator.events_named("pie")[0]
    assert pie.event["menuResult"]["type"] == "timeout"
    assert emulator.call(call_id).status is CallStatus.ONGOING  # continue keeps it up


async def test_scripted_keys_walk_submenus(sinch: SinchCalling, emulator: Emulator,
                                           backend: Backend) -> None:
    use(emulator, backend.url + "/cb")
    emulator.outcomes.set("+46000000001", Outcome.answered(dtmf=["2", "3", "9"]))
    answers = iter([_menu(), _menu(), {"action": {"name": "hangup"}}])
    backend.answer = lambda event: next(answers) if event["event"] in ("ace", "pie") else None
    call_id = await sinch.callouts.tts("+46000000001", text="Hi", enable_ace=True,
                                       enable_pie=True, enable_dice=True)
    await emulator.settle()
    results = [e.event["menuResult"] for e in emulator.events_named("pie")]
    assert [(r["menuId"], r["type"], r["value"]) for r in results] == [
        ("more", "return", "3"), ("main", "sequence", "9")]
    assert emulator.events[-1].name == "dice"
    assert emulator.progress(call_id).prompts == ["Hi", "Welcome", "Welcome"]


async def test_inline_svaml_needs_no_backend(sinch: SinchCalling, emulator: Emulator) -> None:
    fixture = fixture_json("callouts/CalloutRequestCustomDto.json")["customCallout"]
    call_id = await sinch.callouts.custom(
        destination="+46000000001",
        ice=converter.structure(json.loads(fixture["ice"]), svaml.Svaml),
        ace=converter.structure(json.loads(fixture["ace"]), svaml.Svaml))
    await emulator.settle()
    call = emulator.call(call_id)
    assert (call.status, call.result, call.reason.value) == (CallStatus.FINAL,
                                                             CallResult.ANSWERED,
                                                             "MANAGERHANGUP")
    assert emulator.progress(call_id).prompts == ["Hello, this is a call from Sinch!"]
    assert emulator.events == []


async def test_custom_callout_urls_override_the_application(
        sinch: SinchCalling, emulator: Emulator, backend: Backend) -> None:
    use(emulator, backend.url + "/app")
    call_id = await sinch.callouts.custom(destination="+46000000001",
                                          ace=backend.url + "/ace-only")
    await sinch.calls.manage(call_id, svaml.Svaml(action=svaml.Hangup()))
    await emulator.settle()
    assert [(p, json.loads(b)["event"]) for p, _, b in backend.received] == [
        ("/ace-only", "ace"), ("/app", "dice")]


async def test_conference_ace_connect_conf_and_kick_sends_dice(
        sinch: SinchCalling, emulator: Emulator, backend: Backend) -> None:
    use(emulator, backend.url + "/cb")
    backend.answer = lambda event: {"action": {"name": "connectConf",
                                               "conferenceId": "room-9"}} \
        if event["event"] == "ace" else None
    call_id = await sinch.callouts.custom(destination="+46000000001")
    await emulator.settle()
    assert call_id in emulator.traffic.conferences["room-9"].participants
    await sinch.conferences.kick("room-9", call_id)
    await emulator.settle()
    dice = emulator.events_named("dice", call_id)[0].event
    assert (dice["conferenceId"], dice["reason"]) == ("room-9", "MANAGERHANGUP")


async def test_web_backend_with_callback_router(sinch: SinchCalling,
                                                emulator: Emulator) -> None:
    router = CallbackRouter(emulator.application_key, emulator.application_secret)
    seen: list[str] = []

    @router.ace
    async def answered(event: events.AnsweredCallEvent) -> svaml.Svaml:
        seen.append("ace")
        return svaml.Svaml([svaml.Say("Goodbye")], svaml.Hangup())

    @router.dice
    async def disconnected(event: events.DisconnectedCallEvent) -> None:
        seen.append(f"dice {event.result}")

    app = web.Application()
    app.router.add_post("/sinch", router.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        use(emulator, f"http://127.0.0.1:{runner.addresses[0][1]}/sinch")
        call_id = await sinch.callouts.tts("+46000000001", text="Hi", enable_ace=True,
                                           enable_dice=True)
        await emulator.settle()
    finally:
        await runner.cleanup()
    assert seen == ["ace", "dice ANSWERED"]
    assert emulator.progress(call_id).prompts == ["Hi", "Goodbye"]


async def test_incoming_call_is_driven_by_ice(emulator: Emulator, backend: Backend) -> None:
    use(emulator, backend.url + "/cb")
    backend.answer = lambda event: {"instructions": [{"name": "setCookie", "key": "k",
                                                      "value": "v"}],
                                    "action": {"name": "connectConf",
                                               "conferenceId": "lobby"}} \
        if event["event"] == "ice" else None
    call = emulator.incoming_call("+46700000001", "+46000000000")
    await emulator.settle()
    assert call.call_id in emulator.traffic.conferences["lobby"].participants
    assert emulator.progress(call.call_id).cookies == {"k": "v"}
    ice = backend.events()[0]
    assert (ice["cli"], ice["to"]["endpoint"]) == ("+46700000001", "+46000000000")


async def test_park_waits_for_patch(emulator: Emulator, backend: Backend,
                                    sinch: SinchCalling) -> None:
    use(emulator, backend.url + "/cb")
    backend.answer = lambda event: {"action": {"name": "park", "maxDuration": 60}} \
        if event["event"] == "ice" else None
    call = emulator.incoming_call("+46700000001", "+46000000000")
    await emulator.settle()
    assert emulator.progress(call.call_id).parked
    assert call.answered_at is None
    await sinch.calls.manage(call.call_id, svaml.Svaml(action=svaml.ConnectConf("unparked")))
    await emulator.settle()
    assert call.call_id in emulator.traffic.conferences["unparked"].participants


async def test_notify_and_recording_finished(sinch: SinchCalling, emulator: Emulator,
                                             backend: Backend) -> None:
    use(emulator, backend.url + "/cb")
    backend.answer = lambda event: {"instructions": [{"name": "startRecording", "options": {
        "destinationUrl": "s3://bucket", "notificationEvents": True}}],
        "action": {"name": "continue"}} if event["event"] == "ace" else None
    call_id = await sinch.callouts.tts("+46000000001", text="Hi", enable_ace=True)
    await emulator.settle()
    sent = await emulator.notify(call_id, "recording_available", destination="s3://x")
    assert sent is not None
    assert sent.ok
    await sinch.calls.manage(call_id, svaml.Svaml(action=svaml.Hangup()))
    await emulator.settle()
    notes = [e.event for e in emulator.events_named("notify")]
    assert [(n["type"], n["destination"]) for n in notes] == [
        ("recording_available", "s3://x"), ("recording_finished", "s3://bucket")]
    for note in notes:
        assert isinstance(events.parse(note), events.NotificationEvent)


async def test_stop_with_a_callback_in_flight(backend: Backend) -> None:
    gate = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hang", hang)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        emu = Emulator()
        async with emu, SinchCalling(emu.application_key, emu.application_secret,
                                     base_url=emu.url) as sinch:
            use(emu, f"http://127.0.0.1:{runner.addresses[0][1]}/hang")
            await sinch.callouts.tts("+46000000001", text="Hi", enable_ace=True)
            await asyncio.sleep(0.01)
        assert emu.clock._tasks == set()
    finally:
        gate.set()
        await runner.cleanup()


async def test_call_fails_when_ice_gets_no_svaml(sinch: SinchCalling, emulator: Emulator,
                                                 backend: Backend) -> None:
    use(emulator, backend.url + "/cb")
    backend.answer = lambda event: None  # 200 with an empty body to ICE
    call_id = await sinch.callouts.custom(destination="+46000000001", ice=backend.url + "/ice")
    await emulator.settle()
    call = emulator.call(call_id)
    assert (call.status, call.result, call.reason.value) == (CallStatus.FINAL,
                                                             CallResult.FAILED, "GENERALERROR")
    assert [e.name for e in emulator.events] == ["ice", "dice"]
