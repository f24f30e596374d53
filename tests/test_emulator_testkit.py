"""The emulator as a testing kit: its own number rules, bounded memory, the observer
hook, recordings the command generates, and the shape of the package."""

from __future__ import annotations

import ast
import asyncio
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import CallbackUrls, CallReason, CallResult, CallStatus, SinchCalling
from sinch_calling.errors import BadRequestError, ServerError
from sinch_calling.testing import Emulator, Exchange, Mix, Outcome
from sinch_calling.testing.checks import is_dtmf, is_e164
from sinch_calling.testing.journal import Recent

TESTING = Path(__file__).resolve().parent.parent / "sinch_calling" / "testing"


# -- the emulator's own rules -----------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="+0123456789 -()abc*#w", max_size=20))
def test_e164_is_plus_then_seven_to_fifteen_digits_not_starting_with_zero(text: str) -> None:
    digits = text[1:]
    expected = (text.startswith("+") and digits.isascii() and digits.isdigit()
                and 7 <= len(digits) <= 15 and not digits.startswith("0"))
    assert is_e164(text) is expected


@pytest.mark.parametrize("number", ["+46", "+4", "+", "+460", "+46700", "+0046700000000",
                                    "+1234567890123456"])
def test_short_long_and_zero_led_numbers_are_not_e164(number: str) -> None:
    assert not is_e164(number)


@pytest.mark.parametrize("number", ["+6834002", "+46700000001", "+123456789012345"])
def test_real_numbers_are_e164(number: str) -> None:
    assert is_e164(number)


def test_dtmf_alphabet() -> None:
    assert is_dtmf("0123456789*#wW")
    assert not is_dtmf("")
    assert not is_dtmf("1a")
    assert not is_dtmf("1 2")


async def _raw(sinch: SinchCalling, method: str, url: str, body: Any = None) -> Any:
    import json

    transport = sinch._transport
    return await transport.request(method, url, body=json.dumps(body).encode()
                                   if body is not None else None)


@pytest.mark.parametrize("field", ["destination", "cli"])
async def test_a_lone_country_code_is_refused_by_the_emulator(
        sinch: SinchCalling, field: str) -> None:
    # The client's own check accepts "+46" (its rule is looser); the server's does not.
    callout: dict[str, Any] = {"text": "hi",
                               "destination": {"type": "number", "endpoint": "+46700000001"}}
    if field == "cli":
        callout["cli"] = "+46"
    else:
        callout["destination"]["endpoint"] = "+46"
    with pytest.raises(BadRequestError) as info:
        await _raw(sinch, "POST", sinch._transport.traffic_url("callouts"),
                   {"method": "ttsCallout", "ttsCallout": callout})
    assert info.value.error_code == 40001
    assert "+46" in info.value.message


async def test_a_lone_country_code_is_not_a_number_to_look_up(sinch: SinchCalling) -> None:
    with pytest.raises(BadRequestError, match="Invalid number"):
        await sinch.numbers.query("+46")
    info = await sinch.numbers.query("+46730170101")
    assert info.normalized_number == "+46730170101"


# -- the emulator's own options --------------------------------------------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("options", "field"), [
    ({"realtime": "no"}, "realtime"), ({"realtime": 0}, "realtime"),
    ({"realtime": None}, "realtime"),
    ({"auth_window": NAN}, "auth_window"), ({"auth_window": INF}, "auth_window"),
    ({"auth_window": 0}, "auth_window"), ({"auth_window": -1}, "auth_window"),
    ({"auth_window": "300"}, "auth_window"), ({"auth_window": True}, "auth_window"),
    ({"callback_timeout": NAN}, "callback_timeout"),
    ({"callback_timeout": INF}, "callback_timeout"),
    ({"callback_timeout": None}, "callback_timeout"),
    ({"callback_timeout": 0}, "callback_timeout"),
    ({"port": -1}, "port"), ({"port": 70000}, "port"), ({"port": "80"}, "port"),
    ({"port": True}, "port"), ({"host": ""}, "host"), ({"host": None}, "host"),
    ({"outcomes": 3}, "outcomes"), ({"outcomes": "maybe"}, "outcomes"),
    ({"max_journal": 1.5}, "max_journal"), ({"max_live_calls": True}, "max_live_calls"),
    ({"application_key": ""}, "application_key"),
    ({"application_secret": "not base64!"}, "application_secret"),
])
def test_every_emulator_option_is_checked(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: ") as info:
        Emulator(**options)
    assert getattr(info.value, "field", field) == field


def test_auth_window_setter_is_checked_too() -> None:
    emu = Emulator()
    for bad in (NAN, INF, 0, "60"):
        with pytest.raises(ValueError, match=r"^auth_window: "):
            emu.auth_window = bad  # type: ignore[assignment]
    emu.auth_window = None
    emu.auth_window = 60
    assert emu.auth_window == 60


@pytest.mark.parametrize(("call", "field"), [
    (lambda emu: emu.incoming_call("+46", "+46000000000"), "cli"),
    (lambda emu: emu.incoming_call("+46700000001", "+46"), "to"),
    (lambda emu: emu.incoming_call("46700000001", "+46000000000"), "cli"),
    (lambda emu: emu.incoming_call("+46700000001", "+46000000000", custom=5), "custom"),
    (lambda emu: emu.incoming_call("+46700000001", "+46000000000", application_key=""),
     "application_key"),
    (lambda emu: emu.configuration.add_number("+46"), "number"),
    (lambda emu: emu.configuration.add_number("46700000001"), "number"),
    (lambda emu: emu.configuration.add_number("+46700000009", capability="fax"),
     "capability"),
    (lambda emu: emu.configuration.add_number("+46700000009", application_key="nobody"),
     "application_key"),
    (lambda emu: Outcome.answered(ring=NAN), "ring"),
    (lambda emu: Outcome.answered(talk=INF), "talk"),
    (lambda emu: Outcome.busy(ring=-1), "ring"),
    (lambda emu: Mix({"answered": NAN, "busy": 1}), "weights"),
    (lambda emu: Mix({"answered": INF}), "weights"),
    (lambda emu: emu.faults.add("GET", "*", delay=NAN), "delay"),
    (lambda emu: emu.faults.add("GET", "*", status=429, retry_after=INF), "retry_after"),
    (lambda emu: emu.faults.add("GET", "*", status=429, retry_after=NAN), "retry_after"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_helpers_refuse_what_the_routes_refuse(call: Any, field: str) -> None:
    emu = Emulator()
    with pytest.raises(ValueError, match=f"^{field}: "):
        call(emu)


@pytest.mark.parametrize("seconds", [NAN, INF, -1, True, "1"])
async def test_advance_takes_finite_seconds(seconds: Any) -> None:
    async with Emulator(realtime=False) as emu:
        with pytest.raises(ValueError, match=r"^seconds: "):
            await emu.advance(seconds)
        await emu.advance(0)


# -- bounded memory ---------------------------------------------------------------------


def test_recent_keeps_the_newest() -> None:
    recent: Recent[int] = Recent(3, range(5))
    assert recent == [2, 3, 4]
    recent.append(5)
    recent.extend([6, 7])
    assert recent == [5, 6, 7]


async def test_the_defaults_bound_journals_and_calls() -> None:
    emu = Emulator()
    assert (emu.max_journal, emu.max_live_calls) == (10_000, 10_000)
    assert emu.requests.maxlen == emu.events.maxlen == 10_000
    with pytest.raises(ValueError, match="max_live_calls"):
        Emulator(max_live_calls=0)
    unbounded = Emulator(max_journal=None, max_live_calls=None)
    assert unbounded.requests.maxlen is None


async def test_a_call_does_not_keep_its_request() -> None:
    from sinch_calling.testing.state import EmulatedCall

    assert "request" not in {a.name for a in EmulatedCall.__attrs_attrs__}


@pytest.fixture
async def dice_backend() -> Any:
    received: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/sinch", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/sinch")), received


async def test_past_max_live_calls_the_oldest_live_call_ends(dice_backend: Any) -> None:
    url, received = dice_backend
    async with Emulator(max_live_calls=3, realtime=False) as emu, \
            SinchCalling(emu.application_key, emu.application_secret,
                         base_url=emu.url) as sinch:
        emu.configuration.applications[emu.application_key].callbacks = CallbackUrls(primary=url)
        ids = [await sinch.callouts.tts(f"+4670000000{i}", text="Hi", enable_dice=True)
               for i in range(5)]
        await emu.settle()
        assert emu.traffic.live == 3
        for call_id in ids[:2]:
            call = emu.call(call_id)
            assert (call.status, call.result, call.reason) == (
                CallStatus.FINAL, CallResult.ANSWERED, CallReason.TIMEOUT)
        assert all(emu.call(i).status is CallStatus.ONGOING for i in ids[2:])
        assert [e["callid"] for e in received if e["event"] == "dice"] == ids[:2]
        # Hanging a live call up makes room: nothing more is evicted.
        await sinch.calls.manage(ids[2], _hangup())
        await sinch.callouts.tts("+46700000009", text="Hi")
        assert emu.traffic.live == 3
        assert emu.call(ids[3]).status is CallStatus.ONGOING


async def test_a_ringing_call_pushed_out_ends_unanswered_by_timeout() -> None:
    async with Emulator(max_live_calls=2, realtime=False,
                        outcomes=Outcome.answered(ring=30)) as emu, \
            SinchCalling(emu.application_key, emu.application_secret,
                         base_url=emu.url) as sinch:
        ringing = await sinch.callouts.tts("+46700000001", text="Hi")
        emu.outcomes.default = Outcome()  # the next ones answer at once
        answered = await sinch.callouts.tts("+46700000002", text="Hi")
        await sinch.callouts.tts("+46700000003", text="Hi")
        await sinch.callouts.tts("+46700000004", text="Hi")
        for call_id, result in ((ringing, CallResult.NOANSWER),
                                (answered, CallResult.ANSWERED)):
            call = await sinch.calls.get(call_id)
            assert (call.status, call.result, call.reason) == (
                CallStatus.FINAL, result, CallReason.TIMEOUT)
        await emu.advance()
        assert emu.call(ringing).answered_at is None


def _hangup() -> Any:
    from sinch_calling import svaml

    return svaml.Svaml(action=svaml.Hangup())


async def test_finished_calls_beyond_max_journal_are_forgotten() -> None:
    async with Emulator(max_journal=2, max_live_calls=1) as emu, \
            SinchCalling(emu.application_key, emu.application_secret,
                         base_url=emu.url) as sinch:
        ids = [await sinch.callouts.tts(f"+4670000000{i}", text="Hi") for i in range(5)]
        assert len(emu.traffic.calls) == 3  # one live, two finished
        assert set(emu.traffic.calls) == set(ids[2:])
        assert len(emu.requests) == 2


# -- observers --------------------------------------------------------------------------


async def test_observers_see_every_request_with_status_and_time(
        emulator: Emulator, sinch: SinchCalling) -> None:
    seen: list[Exchange] = []
    emulator.observers.add(seen.append)
    await sinch.numbers.list()
    emulator.faults.add("GET", "/calling/v1/calls/id/*", status=503, times=None)
    with pytest.raises(ServerError):
        await sinch.calls.get("nope")
    emulator.observers.remove(seen.append)
    await sinch.numbers.list()
    kinds = [(x.kind, x.method, x.target, x.status, x.error) for x in seen]
    assert kinds[0] == ("request", "GET", "/v1/configuration/numbers", 200, None)
    assert ("request", "GET", "/calling/v1/calls/id/nope", 503, None) in kinds
    assert all(x.elapsed >= 0 for x in seen)
    assert len(seen) == len(kinds)
    assert len(seen) >= 2


async def test_observers_see_dropped_requests_and_callbacks(
        emulator: Emulator, dice_backend: Any) -> None:
    url, _ = dice_backend
    seen: list[Exchange] = []
    emulator.observers.add(seen.append)
    emulator.faults.add("GET", "/v1/configuration/numbers", disconnect="before")
    # aiohttp retries a dropped GET once; unsigned, that one is answered 401
    async with aiohttp.ClientSession() as http, \
            http.get(emulator.url + "/v1/configuration/numbers") as response:
        assert response.status == 401
    assert seen[0].status is None
    assert seen[0].error == "dropped by fault"
    assert seen[1].status == 401
    emulator.configuration.applications[emulator.application_key].callbacks = CallbackUrls(
        primary=url, fallback="http://127.0.0.1:9/unreachable")
    emulator.incoming_call("+46700000001", "+46000000000")
    await emulator.settle()
    callbacks = [x for x in seen if x.kind == "callback"]
    assert callbacks
    assert callbacks[0].target == url
    assert callbacks[0].event == "ice"
    assert callbacks[0].method == "POST"
    assert callbacks[0].status == 200


async def test_a_failing_observer_is_logged_recorded_and_skipped(
        emulator: Emulator, sinch: SinchCalling, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Exchange] = []

    def broken(exchange: Exchange) -> None:
        raise RuntimeError("observer bug")

    emulator.observers.add(broken)
    emulator.observers.add(seen.append)
    with caplog.at_level(logging.ERROR, "sinch_calling.testing"):
        assert await sinch.numbers.list()
    assert len(seen) == 1
    assert "observer" in caplog.text
    assert "observer bug" in caplog.text
    with pytest.raises(RuntimeError, match="observer bug"):
        await emulator.settle()
    await emulator.settle()  # raised once


def _raise(exc: BaseException) -> Any:
    def observer(exchange: Exchange) -> None:
        raise exc
    return observer


# Whatever an observer raises, even what is no Exception: the server never sees it.
OBSERVER_FAILURES = [AssertionError("expected 201"), SystemExit(3), KeyboardInterrupt(),
                     asyncio.CancelledError(), GeneratorExit(),
                     pytest.fail.Exception("failed in an observer", pytrace=False)]


@pytest.mark.parametrize("failure", OBSERVER_FAILURES, ids=lambda e: type(e).__name__)
async def test_an_observer_failure_never_reaches_the_request(
        emulator: Emulator, failure: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Exchange] = []
    emulator.observers.add(_raise(failure))
    emulator.observers.add(seen.append)
    async with SinchCalling(emulator.application_key, emulator.application_secret,
                            base_url=emulator.url) as sinch:  # default retries: six
        with caplog.at_level(logging.ERROR, "sinch_calling.testing"):
            assert await sinch.numbers.list()
            assert await sinch.numbers.list()
    assert len(emulator.requests) == 2  # answered at once, never retried
    assert [x.status for x in seen] == [200, 200]
    assert "Task exception was never retrieved" not in caplog.text
    with pytest.raises(type(failure)) as info:
        await emulator.settle()
    assert info.value is failure


async def test_an_observer_failure_on_a_callback_leaves_the_call_going(
        emulator: Emulator, dice_backend: Any) -> None:
    url, received = dice_backend
    emulator.configuration.applications[emulator.application_key].callbacks = CallbackUrls(
        primary=url)
    emulator.observers.add(_raise(SystemExit(1)))
    call = emulator.incoming_call("+46700000001", "+46000000000")
    with pytest.raises(SystemExit):
        await emulator.settle()
    assert [e["event"] for e in received] == ["ice", "dice"]  # the call went on to its end
    assert emulator.events_named("ice", call.call_id)
    await emulator.settle()


async def test_observer_failures_kept_are_bounded(emulator: Emulator,
                                                  sinch: SinchCalling) -> None:
    from sinch_calling.testing.clock import MAX_ERRORS

    emulator.observers.add(_raise(AssertionError("every time")))
    for _ in range(MAX_ERRORS + 5):
        emulator.observers.notify(Exchange(kind="request", method="GET", target="/",
                                           status=200, elapsed=0.0))
    assert len(emulator.clock.errors) == MAX_ERRORS
    with pytest.raises(AssertionError):
        await emulator.settle()


class _AsyncCallable:
    async def __call__(self, exchange: Exchange) -> None:
        pass


async def _async_observer(exchange: Exchange) -> None:
    pass


@pytest.mark.parametrize("observer", [_async_observer, _AsyncCallable(),
                                      __import__("functools").partial(_async_observer)],
                         ids=["async-def", "async-call", "partial"])
def test_an_async_observer_is_refused(observer: Any) -> None:
    emu = Emulator()
    with pytest.raises(TypeError, match=r"async function.*nothing would await it"):
        emu.observers.add(observer)
    assert len(emu.observers) == 0
    with pytest.raises(TypeError, match="function taking an Exchange"):
        emu.observers.add("print")  # type: ignore[arg-type]


async def test_an_observer_returning_a_coroutine_is_a_recorded_error(
        emulator: Emulator, sinch: SinchCalling) -> None:
    emulator.observers.add(lambda exchange: _async_observer(exchange))  # type: ignore[arg-type,return-value]
    assert await sinch.numbers.list()
    with pytest.raises(TypeError, match="returned an awaitable"):
        await emulator.settle()  # and no "coroutine was never awaited" warning (an error)


async def test_a_client_hanging_up_mid_download_is_not_a_route_failure(
        emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    emulator.recordings.add_generated("big.mp3", 256 * 1024 * 1024)
    seen: list[Exchange] = []
    emulator.observers.add(seen.append)
    async with SinchCalling(emulator.application_key, emulator.application_secret,
                            base_url=emulator.url) as sinch:
        with caplog.at_level(logging.DEBUG, "sinch_calling.testing"):
            async with sinch.recordings.stream("big.mp3") as body:
                async for _ in body:
                    break  # hang up after the first chunk
            for _ in range(500):  # until the route notices (a generous bound, not a timing)
                if seen:
                    break
                await asyncio.sleep(0.01)
    assert seen
    assert seen[0].error == "client disconnected"
    assert "route failed" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- recordings the command generates ---------------------------------------------------


async def test_generated_recordings_are_dated_now_and_served_from_the_emulator(
        emulator: Emulator, sinch: SinchCalling) -> None:
    now = emulator.clock.utcnow()
    emulator.recordings.add_generated("recording-0001.mp3", 1024, seed=1)
    stored = emulator.recordings.get("recording-0001.mp3")
    assert stored is not None
    assert abs(stored.created_on - now) < timedelta(minutes=1)
    found = [r async for r in sinch.recordings.list(start=now - timedelta(hours=1),
                                                    end=now + timedelta(hours=1))]
    assert [r.key for r in found] == ["recording-0001.mp3"]
    assert found[0].url == f"{emulator.url}/calling/v1/recording/recording-0001.mp3"


async def test_generated_recordings_follow_a_frozen_clock() -> None:
    async with Emulator(realtime=False) as emu:
        emu.recordings.add_generated("a.mp3", 10)
        recording = emu.recordings.get("a.mp3")
        assert recording is not None
        assert recording.created_on == emu.clock.utcnow()
        with pytest.raises(ValueError, match="size"):
            emu.recordings.add_generated("b.mp3", -1)


# -- structure --------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize("path", [*sorted((TESTING / "routes").glob("*.py")),
                                  TESTING / "lifecycle.py", TESTING / "app.py",
                                  *sorted((TESTING / "state").glob("*.py"))],
                         ids=lambda p: str(p.relative_to(TESTING)))
def test_routes_life_cycle_and_state_never_reach_for_the_emulator(path: Path) -> None:
    text = path.read_text()
    assert not any(i.endswith("emulator") for i in _imports(path))
    assert not re.search(r"getattr\(", text)
    assert "request.app[" not in text
