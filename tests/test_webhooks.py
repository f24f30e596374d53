"""CallbackRouter served by a real aiohttp.web server on 127.0.0.1, called by a real client."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sinch_calling import converter, svaml
from sinch_calling.auth import signed_headers
from sinch_calling.errors import ValidationError
from sinch_calling.events import (
    AnsweredCallEvent,
    DisconnectedCallEvent,
    EventType,
    IncomingCallEvent,
    NotificationEvent,
    PromptInputEvent,
)
from sinch_calling.models import Destination
from sinch_calling.serialization import dumps
from sinch_calling.svaml import Svaml
from sinch_calling.webhooks import DEFAULT_ANSWERS, CallbackResponse, CallbackRouter
from tests.conftest import FIXTURES

KEY = "app-key"
SECRET = "c2VjcmV0LWZvci13ZWJob29rcw=="
OTHER_SECRET = "d3Jvbmctc2VjcmV0"
PATH = "/sinch/callbacks"
JSON = "application/json; charset=utf-8"

FIXTURE_BODIES = {
    name: (FIXTURES / "sinchevents" / f"{name}.json").read_bytes()
    for name in ("IncomingCallEventDto", "AnsweredCallEventDto", "PromptInputEventDto",
                 "DisconnectedCallEventDto", "NotificationEventDto")
}
ICE, ACE, PIE, DICE, NOTIFY = FIXTURE_BODIES.values()

ICE_ANSWER = Svaml([svaml.Say("Welcome", locale="en-US"), svaml.StartRecording()],
                   svaml.ConnectConf("room-1"))
ACE_ANSWER = Svaml([svaml.PlayFiles(("#tts[Hello]",))], svaml.Continue())
PIE_ANSWER = Svaml([svaml.Say("Connecting")], svaml.ConnectPstn("+46700000000"))


class Site:
    """A router on a real server, the handler calls it saw, and a client to call it."""

    def __init__(self, router: CallbackRouter, server: TestServer,
                 session: aiohttp.ClientSession) -> None:
        self.router = router
        self.server = server
        self.session = session
        self.seen: list[Any] = []

    async def post(
        self, body: bytes, *, path: str = PATH, sign_path: str | None = None,
        content_type: str = JSON, secret: str = SECRET, key: str = KEY,
        timestamp: datetime | str | None = None, headers: dict[str, str] | None = None,
        sign_body: bytes | None = None,
    ) -> tuple[int, str | None, bytes]:
        signature = signed_headers(
            key, secret, method="POST", path=sign_path or path.split("?")[0],
            content_type=content_type,
            body=body if sign_body is None else sign_body, timestamp=timestamp)
        sent = {"Content-Type": content_type, **signature, **(headers or {})}
        sent = {k: v for k, v in sent.items() if v}
        async with self.session.post(self.server.make_url(path), data=body,
                                     headers=sent) as response:
            return response.status, response.headers.get("Content-Type"), await response.read()


async def serve(router: CallbackRouter, route: str = PATH) -> TestServer:
    app = web.Application()
    app.router.add_post(route, router.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with aiohttp.ClientSession() as session:
        router = CallbackRouter(KEY, SECRET)
        server = await serve(router)
        try:
            yield Site(router, server, session)
        finally:
            await server.close()


def register_all(site: Site) -> None:
    router, seen = site.router, site.seen

    @router.ice
    async def on_ice(event: IncomingCallEvent) -> Svaml:
        seen.append(event)
        return ICE_ANSWER

    @router.ace
    async def on_ace(event: AnsweredCallEvent) -> Svaml:
        seen.append(event)
        return ACE_ANSWER

    @router.pie
    async def on_pie(event: PromptInputEvent) -> Svaml:
        seen.append(event)
        return PIE_ANSWER

    @router.dice
    async def on_dice(event: DisconnectedCallEvent) -> None:
        seen.append(event)

    @router.notify
    async def on_notify(event: NotificationEvent) -> None:
        seen.append(event)


@pytest.mark.parametrize(
    ("body", "cls", "answer"),
    [(ICE, IncomingCallEvent, ICE_ANSWER), (ACE, AnsweredCallEvent, ACE_ANSWER),
     (PIE, PromptInputEvent, PIE_ANSWER)],
    ids=["ice", "ace", "pie"],
)
async def test_svaml_events_reach_their_handler_and_get_its_svaml(
        site: Site, body: bytes, cls: type[Any], answer: Svaml) -> None:
    register_all(site)
    status, content_type, payload = await site.post(body)
    assert status == 200
    assert content_type == "application/json"
    assert payload == dumps(answer)
    assert converter.structure(json.loads(payload), Svaml) == answer
    assert site.seen == [converter.structure(json.loads(body), cls)]


@pytest.mark.parametrize(("body", "cls"),
                         [(DICE, DisconnectedCallEvent), (NOTIFY, NotificationEvent)],
                         ids=["dice", "notify"])
async def test_informational_events_reach_their_handler_and_get_an_empty_200(
        site: Site, body: bytes, cls: type[Any]) -> None:
    register_all(site)
    status, _, payload = await site.post(body)
    assert (status, payload) == (200, b"")
    assert site.seen == [converter.structure(json.loads(body), cls)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [(ICE, DEFAULT_ANSWERS[EventType.ICE]), (ACE, DEFAULT_ANSWERS[EventType.ACE]),
     (PIE, DEFAULT_ANSWERS[EventType.PIE]), (DICE, None), (NOTIFY, None)],
    ids=["ice", "ace", "pie", "dice", "notify"],
)
async def test_without_a_handler_the_defaults_answer(
        site: Site, body: bytes, expected: Svaml | None) -> None:
    status, _, payload = await site.post(body)
    assert status == 200
    assert payload == (b"" if expected is None else dumps(expected))


def test_the_defaults_are_safe() -> None:
    assert DEFAULT_ANSWERS[EventType.ICE] == Svaml(action=svaml.Hangup())
    assert DEFAULT_ANSWERS[EventType.ACE] == Svaml(action=svaml.Continue())
    assert DEFAULT_ANSWERS[EventType.PIE] == Svaml(action=svaml.Hangup())


async def test_an_unknown_event_type_gets_an_empty_200(site: Site) -> None:
    register_all(site)
    status, _, payload = await site.post(b'{"event":"teleport","callid":"c"}')
    assert (status, payload) == (200, b"")
    assert site.seen == []


@pytest.mark.parametrize(
    "tamper",
    [
        {"secret": OTHER_SECRET},
        {"key": "another-app"},
        {"sign_path": "/other/path"},
        {"sign_body": b'{"event":"ice","callid":"forged"}'},
        {"timestamp": datetime.now(UTC) - timedelta(hours=1)},
        {"timestamp": datetime.now(UTC) + timedelta(hours=1)},
        {"headers": {"Authorization": ""}},
        {"headers": {"x-timestamp": ""}},
        {"headers": {"Authorization": "Basic YXBwLWtleTpjMlZqY21WMA=="}},
        {"headers": {"Content-Type": "application/json"}},
    ],
    ids=["wrong-secret", "wrong-key", "path", "body", "stale", "future", "no-authorization",
         "no-timestamp", "basic", "content-type"],
)
async def test_bad_signatures_get_401_and_never_reach_a_handler(
        site: Site, tamper: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    register_all(site)
    with caplog.at_level(logging.WARNING, "sinch_calling.webhooks"):
        status, _, payload = await site.post(ICE, **tamper)
    assert status == 401
    assert b"signature" in payload
    assert site.seen == []
    assert "rejected a callback" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"callid":"c"}', b'{"event":"ice"}',
     b'{"event":"ace","callid":"c","version":"one"}', b"\xff\xfe"],
)
async def test_malformed_bodies_get_400_and_never_reach_a_handler(
        site: Site, body: bytes) -> None:
    register_all(site)
    status, _, payload = await site.post(body)
    assert status == 400
    assert payload == b"malformed callback body"
    assert site.seen == []


async def test_a_bad_signature_wins_over_a_malformed_body(site: Site) -> None:
    status, _, _ = await site.post(b"not json", secret=OTHER_SECRET)
    assert status == 401


async def test_the_raw_percent_encoded_path_is_verified() -> None:
    router = CallbackRouter(KEY, SECRET)
    server = await serve(router, route="/hooks/sinch calls/+46")
    try:
        async with aiohttp.ClientSession() as session:
            site = Site(router, server, session)
            raw = "/hooks/sinch%20calls/+46"
            assert (await site.post(DICE, path=raw))[0] == 200
            assert (await site.post(DICE, path=raw, sign_path="/hooks/sinch calls/+46"))[0] == 401
    finally:
        await server.close()


async def test_the_query_string_is_not_part_of_the_signed_path(site: Site) -> None:
    status, _, _ = await site.post(DICE, path=PATH + "?tenant=7&x=%20")
    assert status == 200


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=UTF-8",
                                          "text/plain", "APPLICATION/JSON ; Charset=utf-8"])
async def test_the_content_type_is_verified_exactly_as_sent(
        site: Site, content_type: str) -> None:
    status, _, _ = await site.post(DICE, content_type=content_type)
    assert status == 200


async def test_a_handler_that_raises_gets_500_without_details(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    @site.router.ice
    async def broken(event: IncomingCallEvent) -> Svaml:
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR, "sinch_calling.webhooks"):
        status, _, payload = await site.post(ICE)
    assert status == 500
    assert b"hunter2" not in payload
    assert "ice handler for call a call id failed" in caplog.text
    assert any(r.exc_info for r in caplog.records)


async def test_an_informational_handler_that_raises_gets_500(site: Site) -> None:
    @site.router.dice
    async def broken(event: DisconnectedCallEvent) -> None:
        raise KeyError("x")

    assert (await site.post(DICE))[0] == 500


async def test_a_slow_handler_is_cancelled_and_gets_503(
        caplog: pytest.LogCaptureFixture) -> None:
    router = CallbackRouter(KEY, SECRET, handler_timeout=0.01)
    cancelled = asyncio.Event()

    @router.ace
    async def slow(event: AnsweredCallEvent) -> Svaml:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    server = await serve(router)
    try:
        async with aiohttp.ClientSession() as session:
            with caplog.at_level(logging.ERROR, "sinch_calling.webhooks"):
                status, _, _ = await Site(router, server, session).post(ACE)
    finally:
        await server.close()
    assert status == 503
    assert cancelled.is_set()
    assert "did not answer within 0.01s" in caplog.text


@pytest.mark.parametrize("handler_timeout", [60, None])
async def test_a_handlers_own_timeout_is_a_failure_not_a_slow_answer(
        handler_timeout: float | None) -> None:
    router = CallbackRouter(KEY, SECRET, handler_timeout=handler_timeout)

    @router.ace
    async def gives_up(event: AnsweredCallEvent) -> Svaml:
        raise TimeoutError("upstream")

    response = await router.dispatch("POST", PATH, sign(ACE), ACE)
    assert response.status == 500


@pytest.mark.parametrize(
    ("kind", "answer"),
    [
        ("ace", {"not": "svaml"}),
        ("ace", None),
        ("ace", Svaml([svaml.Say("no action")])),
        ("ace", Svaml(action=svaml.ConnectPstn("+46700000000"))),
        ("ace", Svaml([svaml.SendDtmf("1")], svaml.Continue())),
        ("ice", Svaml(action=svaml.Continue())),
        ("pie", Svaml(action=svaml.Park())),
    ],
)
async def test_an_answer_sinch_would_refuse_gets_500(
        site: Site, kind: str, answer: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def handler(event: Any) -> Any:
        return answer

    getattr(site.router, kind)(handler)
    body = {"ace": ACE, "ice": ICE, "pie": PIE}[kind]
    with caplog.at_level(logging.ERROR, "sinch_calling.webhooks"):
        assert (await site.post(body))[0] == 500
    assert "returned" in caplog.text


@pytest.mark.parametrize(
    ("kind", "action"),
    [("ice", svaml.ConnectMxp(Destination.username("bob"))), ("ice", svaml.Park()),
     ("ice", svaml.ConnectPstn("+46700000000")), ("pie", svaml.Continue()),
     ("ace", svaml.Hangup()), ("ace", svaml.RunMenu()),
     ("ace", svaml.UnknownAction({"name": "teleport"}))],
)
async def test_answers_sinch_accepts_pass(kind: str, action: Any) -> None:
    router = CallbackRouter(KEY, SECRET)

    async def handler(event: Any) -> Svaml:
        return Svaml(action=action)

    getattr(router, kind)(handler)
    body = {"ace": ACE, "ice": ICE, "pie": PIE}[kind]
    response = await router.dispatch("POST", PATH, sign(body), body)
    assert response == CallbackResponse(200, {"Content-Type": "application/json"},
                                        dumps(Svaml(action=action)))


def test_decorators_return_the_function_unchanged() -> None:
    router = CallbackRouter(KEY, SECRET)

    async def on_ice(event: IncomingCallEvent) -> Svaml:
        return ICE_ANSWER

    assert router.ice(on_ice) is on_ice


def test_a_second_handler_for_the_same_event_is_refused() -> None:
    router = CallbackRouter(KEY, SECRET)

    @router.dice
    async def first(event: DisconnectedCallEvent) -> None: ...

    async def second(event: DisconnectedCallEvent) -> None: ...

    with pytest.raises(ValidationError, match="dice handler: is already registered"):
        router.dice(second)


def test_a_synchronous_handler_is_refused() -> None:
    router = CallbackRouter(KEY, SECRET)

    def sync(event: IncomingCallEvent) -> Svaml:
        return ICE_ANSWER

    with pytest.raises(ValidationError, match="ice handler: must be an async function"):
        router.ice(sync)  # type: ignore[type-var]


async def test_an_async_callable_object_is_accepted() -> None:
    class Handler:
        async def __call__(self, event: AnsweredCallEvent) -> Svaml:
            return ACE_ANSWER

    router = CallbackRouter(KEY, SECRET)
    router.ace(Handler())
    assert (await router.dispatch("POST", PATH, sign(ACE), ACE)).body == dumps(ACE_ANSWER)


@pytest.mark.parametrize("timeout", [0, -1, True, "5"])
def test_handler_timeout_must_be_positive(timeout: Any) -> None:
    with pytest.raises(ValidationError, match="handler_timeout"):
        CallbackRouter(KEY, SECRET, handler_timeout=timeout)


def test_max_age_is_passed_to_the_verifier() -> None:
    router = CallbackRouter(KEY, SECRET, max_age=timedelta(seconds=30))
    assert "seconds=30" in repr(router)
    assert SECRET not in repr(router)


async def test_max_age_limits_accepted_skew() -> None:
    router = CallbackRouter(KEY, SECRET, max_age=30)
    old = datetime.now(UTC) - timedelta(seconds=120)
    assert (await router.dispatch("POST", PATH, sign(DICE, timestamp=old), DICE)).status == 401
    default = CallbackRouter(KEY, SECRET)
    assert (await default.dispatch("POST", PATH, sign(DICE, timestamp=old), DICE)).status == 200


def sign(body: bytes, *, path: str = PATH, timestamp: datetime | None = None,
         content_type: str = JSON) -> dict[str, str]:
    return {"Content-Type": content_type,
            **signed_headers(KEY, SECRET, method="POST", path=path, content_type=content_type,
                             body=body, timestamp=timestamp)}


# -- dispatch and the ASGI adapter -------------------------------------------------------


async def test_dispatch_is_a_plain_coroutine_on_the_request_parts() -> None:
    router = CallbackRouter(KEY, SECRET)
    seen: list[Any] = []

    @router.pie
    async def on_pie(event: PromptInputEvent) -> Svaml:
        seen.append(event.menu_result)
        return PIE_ANSWER

    status, headers, body = await router.dispatch("POST", PATH, sign(PIE), PIE)
    assert (status, dict(headers), body) == (200, {"Content-Type": "application/json"},
                                             dumps(PIE_ANSWER))
    assert len(seen) == 1
    assert (await router.dispatch("POST", PATH, {}, PIE)).status == 401


async def asgi_call(router: CallbackRouter, *, method: str = "POST", body: bytes = b"",
                    headers: dict[str, str] | None = None, chunks: int = 1,
                    raw_path: bytes | None = PATH.encode(), path: str = PATH,
                    ) -> tuple[int, dict[str, str], bytes]:
    step = max(1, len(body) // chunks)
    pieces = [body[i:i + step] for i in range(0, len(body), step)] or [b""]
    messages = [{"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
                for i, piece in enumerate(pieces)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http", "method": method, "path": path, "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    if raw_path is not None:
        scope["raw_path"] = raw_path
    await router.asgi(scope, receive, send)
    start, end = sent
    assert start["type"] == "http.response.start"
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert response_headers["content-length"] == str(len(end["body"]))
    return start["status"], response_headers, end["body"]


async def test_asgi_answers_a_signed_callback() -> None:
    router = CallbackRouter(KEY, SECRET)

    @router.ice
    async def on_ice(event: IncomingCallEvent) -> Svaml:
        return ICE_ANSWER

    status, headers, body = await asgi_call(router, body=ICE, headers=sign(ICE), chunks=3)
    assert (status, headers["content-type"], body) == (200, "application/json",
                                                       dumps(ICE_ANSWER))
    assert (await asgi_call(router, body=ICE, headers=sign(ICE, path="/x")))[0] == 401


async def test_asgi_falls_back_to_the_decoded_path_and_drops_a_query() -> None:
    router = CallbackRouter(KEY, SECRET)
    path = "/hooks/a b"
    headers = sign(DICE, path="/hooks/a%20b")
    assert (await asgi_call(router, body=DICE, headers=headers, raw_path=None,
                            path=path))[0] == 200
    assert (await asgi_call(router, body=DICE, headers=headers,
                            raw_path=b"/hooks/a%20b?x=1"))[0] == 200


async def test_asgi_refuses_other_methods_and_huge_bodies() -> None:
    router = CallbackRouter(KEY, SECRET)
    status, headers, _ = await asgi_call(router, method="GET")
    assert (status, headers["allow"]) == (405, "POST")
    huge = b" " * (1024 * 1024 + 1)
    assert (await asgi_call(router, body=huge, headers=sign(huge), chunks=4))[0] == 413


async def test_asgi_refuses_non_http_scopes() -> None:
    router = CallbackRouter(KEY, SECRET)

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        raise AssertionError("nothing to send")

    with pytest.raises(ValueError, match="HTTP only"):
        await router.asgi({"type": "lifespan"}, receive, send)


# -- end to end: the emulator calls back into the router ---------------------------------


async def test_emulated_callout_is_steered_by_the_routers_svaml(emulator: Any, sinch: Any) -> None:
    from sinch_calling.testing.outcomes import Outcome

    router = CallbackRouter(emulator.application_key, emulator.application_secret)
    seen: list[Any] = []
    menu = svaml.RunMenu((svaml.Menu("main", max_digits=1, options=(
        svaml.MenuOption("1", "return(confirmed)"),)),), main_menu="main")

    @router.ace
    async def answered(event: AnsweredCallEvent) -> Svaml:
        seen.append(event)
        return Svaml([svaml.Say("Press 1 to confirm")], menu)

    @router.pie
    async def chose(event: PromptInputEvent) -> Svaml:
        seen.append(event)
        return Svaml([svaml.Say("Thank you")], svaml.Hangup())

    @router.dice
    async def ended(event: DisconnectedCallEvent) -> None:
        seen.append(event)

    server = await serve(router)
    try:
        emulator.outcomes.set("+46000000001", Outcome.answered(dtmf="1"))
        await sinch.callbacks.update(str(server.make_url(PATH)))
        call_id = await sinch.callouts.tts("+46000000001", text="Hello", enable_ace=True,
                                           enable_pie=True, enable_dice=True)
        await emulator.settle()
    finally:
        await server.close()

    assert [type(e) for e in seen] == [AnsweredCallEvent, PromptInputEvent,
                                       DisconnectedCallEvent]
    assert {e.call_id for e in seen} == {call_id}
    assert seen[1].menu_result.value == "confirmed"
    assert emulator.progress(call_id).prompts == ["Hello", "Press 1 to confirm", "Thank you"]
    assert [e.status for e in emulator.events] == [200, 200, 200]
    assert emulator.events_named("ace")[0].svaml == converter.unstructure(
        Svaml([svaml.Say("Press 1 to confirm")], menu))
    assert str(emulator.call(call_id).reason) == "MANAGERHANGUP"


async def test_emulated_incoming_call_is_answered_by_the_ice_handler(emulator: Any,
                                                                     sinch: Any) -> None:
    router = CallbackRouter(emulator.application_key, emulator.application_secret)

    @router.ice
    async def incoming(event: IncomingCallEvent) -> Svaml:
        assert event.cli == "+46111111111"
        assert event.to == Destination.number("+46000000000")
        return Svaml([svaml.Say("Welcome")], svaml.ConnectConf("room-1"))

    server = await serve(router)
    try:
        await sinch.callbacks.update(str(server.make_url(PATH)))
        call = emulator.incoming_call("+46111111111", "+46000000000")
        await emulator.settle()
        conference = await sinch.conferences.get("room-1")
    finally:
        await server.close()
    assert emulator.progress(call.call_id).prompts == ["Welcome"]
    assert [p.call_id for p in conference.participants] == [call.call_id]
