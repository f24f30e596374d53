"""Every public argument, driven with arbitrary values (issue 8, failure 11): the outcome
is success or a ValidationError naming the field, sent before anything; never another
exception, and never invalid JSON on the wire."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinch_calling import Destination, RetryPolicy, SinchCalling, svaml
from sinch_calling.auth import CallbackVerifier
from sinch_calling.errors import ValidationError
from sinch_calling.models import ConferenceDtmfOptions, Domain
from sinch_calling.serialization import dumps
from sinch_calling.webhooks import CallbackRouter

KEY = "my-key-id"
SECRET = "bXktc2VjcmV0LWtleQ=="

LONE_SURROGATES = st.sampled_from(["\ud800", "a\udfffb"])
junk = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
    st.sampled_from([10**400, -(10**400), 2**31, 10**100]),  # float(10**400) overflows
    st.sampled_from([math.nan, math.inf, -math.inf]), st.text(max_size=8), LONE_SURROGATES,
    st.binary(max_size=4), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.just(datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))),
    st.just(datetime.max.replace(tzinfo=timezone(timedelta(hours=-5)))),
    st.datetimes(timezones=st.none() | st.just(UTC)), st.just(object()),
    st.just(svaml.Svaml(action=svaml.Hangup())), st.just(Destination.number("+4611")),
    st.sampled_from(["http://[::1", "https://ok.example/cb", "\r\n", "+46000000001"]),
)


def arg(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, junk)


number = st.sampled_from(["+46000000001", "+14155550100"])
maybe_number = st.none() | number
text = st.text(max_size=12)
maybe_text = st.none() | text
flag = st.none() | st.booleans()
dtmf = st.none() | st.sampled_from(["1", "12#w", "*"])
count = st.none() | st.integers(1, 3600)
call_id = st.sampled_from(["c1", "a call id", "x/y"])
url = st.sampled_from(["https://backend.example/cb", "http://127.0.0.1:1/x"])
document = st.sampled_from([
    svaml.Svaml([svaml.Say("Bye")], svaml.Hangup()), svaml.Svaml(action=svaml.Continue()),
    svaml.Svaml([svaml.PlayFiles(["#tts[Hi]"])], svaml.Continue()),
])
destination = number | st.builds(Destination.username, text) | st.just(Destination.sip("s"))
moment = st.none() | st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC))
dtmf_options = st.none() | st.builds(ConferenceDtmfOptions, max_digits=st.none()
                                     | st.integers(0, 9))

CALLS: dict[str, tuple[Callable[..., Any], dict[str, st.SearchStrategy[Any]]]] = {
    "callouts.tts": (lambda s, **k: s.callouts.tts(**k), {
        "destination": destination, "text": maybe_text, "prompts": st.none(),
        "cli": maybe_number, "locale": maybe_text, "dtmf": dtmf,
        "domain": st.none() | st.sampled_from(list(Domain)), "custom": maybe_text,
        "enable_ace": flag, "enable_dice": flag, "enable_pie": flag}),
    "callouts.conference": (lambda s, **k: s.callouts.conference(**k), {
        "destination": destination, "conference_id": text, "greeting": maybe_text,
        "cli": maybe_number, "locale": maybe_text, "dtmf": dtmf, "max_duration": count,
        "enable_ace": flag, "enable_dice": flag, "enable_pie": flag,
        "moh_class": st.none() | st.just("music1"), "conference_dtmf_options": dtmf_options,
        "custom": maybe_text, "domain": st.none() | st.just("pstn")}),
    "callouts.custom": (lambda s, **k: s.callouts.custom(**k), {
        "destination": st.none() | destination, "cli": maybe_number, "dtmf": dtmf,
        "custom": maybe_text, "max_duration": count, "ice": st.none() | url,
        "ace": st.none() | url | document, "pie": st.none() | url, "dice": st.none() | url}),
    "calls.get": (lambda s, **k: s.calls.get(**k), {"call_id": call_id}),
    "calls.manage": (lambda s, **k: s.calls.manage(**k), {
        "call_id": call_id, "svaml": document, "resource_url": st.none()}),
    "calls.manage_leg": (lambda s, **k: s.calls.manage_leg(**k), {
        "call_id": call_id, "leg": st.sampled_from(["caller", "callee", "both"]),
        "svaml": document}),
    "conferences.get": (lambda s, **k: s.conferences.get(**k), {"conference_id": text}),
    "conferences.mute": (lambda s, **k: s.conferences.mute(**k),
                         {"conference_id": text, "call_id": call_id}),
    "conferences.hold": (lambda s, **k: s.conferences.hold(**k),
                         {"conference_id": text, "call_id": call_id,
                          "moh": st.none() | st.just("ring")}),
    "conferences.kick_all": (lambda s, **k: s.conferences.kick_all(**k),
                             {"conference_id": text}),
    "numbers.assign": (lambda s, **k: s.numbers.assign(**k), {
        "numbers": st.lists(number, min_size=1, max_size=2), "application_key": maybe_text,
        "capability": st.just("voice")}),
    "numbers.unassign": (lambda s, **k: s.numbers.unassign(**k), {
        "number": number, "application_key": maybe_text, "capability": st.just("sms")}),
    "numbers.query": (lambda s, **k: s.numbers.query(**k), {"number": number}),
    "callbacks.get": (lambda s, **k: s.callbacks.get(**k), {"application_key": maybe_text}),
    "callbacks.update": (lambda s, **k: s.callbacks.update(**k), {
        "primary": url, "fallback": st.none() | url, "application_key": maybe_text}),
    "recordings.list": (lambda s, **k: _drain(s.recordings.list(**k)), {
        "start": moment, "end": st.none(), "page_size": st.integers(1, 100)}),
    "recordings.delete": (lambda s, **k: s.recordings.delete(**k), {"key": text}),
}


async def _drain(items: Any) -> None:
    async for _ in items:
        pass


class Wire:
    """A server that accepts everything and keeps every body it was sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        # A middleware, not a route: it answers every path (a route's regex misses "\n").
        self.app = web.Application(middlewares=[self.answer])

    @web.middleware
    async def answer(self, request: web.Request, handler: Any) -> web.Response:
        self.bodies.append(await request.read())
        path = request.path
        if request.method == "GET" and path.startswith("/calling/v1/recording"):
            return web.json_response([])
        answers = {"/calling/v1/callouts": {"callId": "c1"}, "/calling/v1/calls/": {"callId": "c1"},
                   "/calling/v1/conferences/": {"participants": []},
                   "/v1/configuration/numbers": {"numbers": []},
                   "/v1/calling/query/": {"number": {}},
                   "/v1/configuration/callbacks/": {"url": {}}}
        for prefix, body in answers.items():
            if path.startswith(prefix) and request.method in ("GET", "POST"):
                return web.json_response(body)
        return web.Response()


@pytest.fixture
async def wire() -> AsyncIterator[tuple[Wire, SinchCalling]]:
    server = Wire()
    async with TestServer(server.app, host="127.0.0.1") as test_server, \
            SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{test_server.port}",
                         retry=RetryPolicy.never()) as sinch:
        yield server, sinch


async def outcome(call: Callable[[], Any]) -> ValidationError | None:
    """``None`` when the call succeeds, the ValidationError when it refuses; any other
    exception propagates (and fails the test)."""
    try:
        await call()
    except ValidationError as exc:
        return exc
    return None


def checked(build: Callable[[], Any]) -> ValidationError | None:
    try:
        build()
    except ValidationError as exc:
        return exc
    return None


def strict_json(body: bytes) -> None:
    def refuse(constant: str) -> None:
        raise AssertionError(f"invalid JSON constant {constant} on the wire")

    json.loads(body.decode("utf-8"), parse_constant=refuse)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(CALLS)))
async def test_every_public_argument(wire: tuple[Wire, SinchCalling], data: st.DataObject,
                                     name: str) -> None:
    server, sinch = wire
    call, params = CALLS[name]
    fuzzed = data.draw(st.sets(st.sampled_from(sorted(params)), max_size=2), label="fuzzed")
    kwargs = {key: data.draw(arg(strategy) if key in fuzzed else strategy, label=key)
              for key, strategy in params.items()}
    before = len(server.bodies)
    refused = await outcome(lambda: call(sinch, **kwargs))
    if refused is not None:
        assert refused.field
        assert len(server.bodies) == before  # refused before anything was sent
    for body in server.bodies[before:]:
        if body:
            strict_json(body)


ELEMENTS = [svaml.Say, svaml.PlayFiles, svaml.SendDtmf, svaml.SetCookie, svaml.ConnectPstn,
            svaml.ConnectMxp, svaml.ConnectConf, svaml.ConnectSip, svaml.ConnectStream,
            svaml.Park, svaml.Menu, svaml.MenuOption, svaml.RunMenu, svaml.StartRecording,
            svaml.RecordingOptions, svaml.CallHeader, ConferenceDtmfOptions, svaml.Svaml]
FIELDS = {"max_digits", "repeats", "timeout_mills", "max_timeout_mills", "max_duration",
          "dial_timeout", "cli", "locale", "call_headers", "moh", "main_menu", "barge",
          "hold_prompt", "destination", "options", "mode", "format", "action"}


@settings(max_examples=300, deadline=None)
@given(data=st.data(), element=st.sampled_from(ELEMENTS))
def test_every_svaml_argument_is_checked_on_construction(data: st.DataObject,
                                                         element: type) -> None:
    positional = [data.draw(junk | st.text(max_size=5))
                  for _ in range(data.draw(st.integers(0, 2)))]
    names = data.draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=3))
    kwargs = {n: data.draw(junk) for n in names}
    problem: Exception | None = None
    try:
        value = element(*positional, **kwargs)
    except (ValidationError, TypeError) as exc:
        problem = exc
    if isinstance(problem, TypeError):  # a keyword the class lacks, or too many arguments
        assert "argument" in str(problem)
    elif problem is not None:
        assert isinstance(problem, ValidationError)
        assert problem.field
    else:
        refused = checked(lambda: strict_json(dumps(value)))
        assert refused is None or refused.field


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_constructor_argument(data: st.DataObject) -> None:
    options = {name: data.draw(arg(valid)) for name, valid in {
        "region": st.sampled_from(["global", "euc1"]), "auth": st.sampled_from(["signed"]),
        "base_url": st.none() | url, "timeout": st.none() | st.floats(0.1, 60),
        "retry": st.none() | st.just(RetryPolicy()), "max_connections": st.integers(1, 50),
    }.items() if data.draw(st.booleans())}
    key = data.draw(arg(st.just(KEY)))
    secret = data.draw(arg(st.just(SECRET)))
    for build in (lambda: SinchCalling(key, secret, **options),
                  lambda: CallbackVerifier(key, secret, options.get("timeout", 300)),
                  lambda: CallbackRouter(key, secret, handler_timeout=options.get("timeout")),
                  lambda: RetryPolicy(backoff=options.get("timeout", 0.1))):
        refused = checked(build)
        assert refused is None or refused.field


@pytest.mark.parametrize(("build", "field"), [
    (lambda: ConferenceDtmfOptions(max_digits=math.nan), "max_digits"),
    (lambda: svaml.Menu("m", repeats=math.inf), "repeats"),
    (lambda: svaml.Say("\ud800"), "Say.text"),
    (lambda: SinchCalling(KEY, SECRET, base_url="http://[::1"), "base_url"),
    (lambda: SinchCalling(KEY, SECRET, base_url=123), "base_url"),
    (lambda: SinchCalling(KEY, SECRET, base_url="http://user:pw@127.0.0.1:1"), "base_url"),
    (lambda: SinchCalling(KEY, SECRET, base_url="http://127.0.0.1:99999"), "base_url"),
    (lambda: SinchCalling(KEY, SECRET, timeout=math.inf), "timeout"),
    (lambda: SinchCalling("key\r\nX-Injected: 1", SECRET), "application_key"),
])
def test_the_issues_minimal_inputs(build: Callable[[], Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        build()


@pytest.mark.parametrize(("name", "kwargs", "field"), [
    ("callouts.tts", {"destination": "+46000000001", "text": "\ud800"}, "text"),
    ("callouts.tts", {"destination": "+46000000001", "text": "Hi", "custom": "\ud800"},
     "custom"),
    ("callouts.conference", {"destination": "+46000000001", "conference_id": "r\udc00"},
     "conference_id"),
    ("recordings.list", {"start": datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))},
     "start"),
])
async def test_the_issues_minimal_calls(wire: tuple[Wire, SinchCalling], name: str,
                                        kwargs: dict[str, Any], field: str) -> None:
    server, sinch = wire
    with pytest.raises(ValidationError, match=field):
        await CALLS[name][0](sinch, **kwargs)
    assert server.bodies == []
