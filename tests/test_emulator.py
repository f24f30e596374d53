"""The emulator as a server: authentication, configuration errors, faults, inspection.

Requests here are built by hand (sinch_calling.auth.signed_headers + aiohttp), as any
well-behaved client would send them, not only ours.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import SinchCalling
from sinch_calling.auth import signed_headers
from sinch_calling.errors import ValidationError
from sinch_calling.testing import Emulator, Fault
from sinch_calling.testing.authn import authenticate
from sinch_calling.testing.journal import path_matches
from sinch_calling.testing.responses import SinchHTTPError
from sinch_calling.testing.state import ConfigurationState

NUMBERS = "/v1/configuration/numbers"
JSON = "application/json; charset=UTF-8"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(http: aiohttp.ClientSession, emu: Emulator, method: str, path: str, *,
               body: Any = None, content_type: str | None = None,
               timestamp: str | datetime | None = None, key: str | None = None,
               secret: str | None = None, headers: dict[str, str] | None = None,
               sign: bool = True) -> tuple[int, Any]:
    """Send one request; (status, decoded JSON body or None)."""
    raw = json.dumps(body).encode() if body is not None else b""
    if body is not None and content_type is None:
        content_type = JSON
    all_headers: dict[str, str] = {}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    if sign:
        all_headers.update(signed_headers(key or emu.application_key,
                                          secret or emu.application_secret, method=method,
                                          path=path, content_type=content_type, body=raw,
                                          timestamp=timestamp))
    all_headers.update(headers or {})
    async with http.request(method, emu.url + path, data=raw or None,
                            headers=all_headers) as response:
        data = await response.read()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data


def _error(status_body: tuple[int, Any]) -> tuple[int, int]:
    status, body = status_body
    return status, int(body["errorCode"])


# -- authentication --------------------------------------------------------------------


def _now_forms() -> list[str]:
    now = datetime.now(UTC)
    return [
        now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        now.isoformat(),                                    # +00:00 with microseconds
        now.replace(microsecond=0).isoformat(),             # +00:00, no fractions
        now.strftime("%Y-%m-%dT%H:%M:%S.%fz"),              # lower-case z
        now.astimezone(UTC).replace(tzinfo=None).isoformat(),  # naive: UTC
        now.astimezone(timezone_plus_two()).isoformat(),    # another offset, same instant
    ]


def timezone_plus_two():  # type: ignore[no-untyped-def]
    from datetime import timezone

    return timezone(timedelta(hours=2))


@pytest.mark.parametrize("index", range(7))
async def test_every_iso_timestamp_form_is_accepted(emulator: Emulator,
                                                    http: aiohttp.ClientSession,
                                                    index: int) -> None:
    stamp = _now_forms()[index]
    status, body = await send(http, emulator, "GET", NUMBERS, timestamp=stamp)
    assert status == 200, body
    assert emulator.requests[0].headers["x-timestamp"] == stamp


async def test_content_type_on_a_get_is_signed_as_sent(emulator: Emulator,
                                                       http: aiohttp.ClientSession) -> None:
    assert (await send(http, emulator, "GET", NUMBERS, content_type="application/json"))[0] \
        == 200


async def test_signature_over_another_content_type_is_refused(
        emulator: Emulator, http: aiohttp.ClientSession) -> None:
    headers = signed_headers(emulator.application_key, emulator.application_secret,
                             method="GET", path=NUMBERS, content_type=None, body=b"")
    result = await send(http, emulator, "GET", NUMBERS, sign=False,
                        headers={**headers, "Content-Type": "application/json"})
    assert _error(result) == (401, 40108)


async def test_lowercase_scheme_word(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    headers = signed_headers(emulator.application_key, emulator.application_secret,
                             method="GET", path=NUMBERS, content_type=None, body=b"")
    headers["Authorization"] = headers["Authorization"].replace("Application", "application")
    assert (await send(http, emulator, "GET", NUMBERS, sign=False, headers=headers))[0] == 200


@pytest.mark.parametrize("age", [timedelta(minutes=-6), timedelta(minutes=6)])
async def test_stale_or_future_timestamp(emulator: Emulator, http: aiohttp.ClientSession,
                                         age: timedelta) -> None:
    result = await send(http, emulator, "GET", NUMBERS, timestamp=datetime.now(UTC) + age)
    assert _error(result) == (401, 40108)
    assert "window" in result[1]["message"]


async def test_freshness_window_is_configurable(http: aiohttp.ClientSession) -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    async with Emulator(auth_window=3 * 3600) as emu:
        assert (await send(http, emu, "GET", NUMBERS, timestamp=old))[0] == 200
        emu.auth_window = 60
        assert _error(await send(http, emu, "GET", NUMBERS, timestamp=old)) == (401, 40108)
        emu.auth_window = None
        assert (await send(http, emu, "GET", NUMBERS, timestamp="2001-01-01T00:00:00Z"))[0] \
            == 200


def test_auth_window_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="auth_window"):
        Emulator(auth_window=0)


async def test_wrong_key(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    result = await send(http, emulator, "GET", NUMBERS, key="someone-else")
    assert _error(result) == (401, 40108)


async def test_wrong_signature(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    result = await send(http, emulator, "GET", NUMBERS, secret="d3Jvbmctc2VjcmV0")
    assert _error(result) == (401, 40108)


async def test_signature_over_another_body_is_refused(emulator: Emulator,
                                                      http: aiohttp.ClientSession) -> None:
    headers = signed_headers(emulator.application_key, emulator.application_secret,
                             method="POST", path=NUMBERS, content_type=JSON, body=b"{}")
    async with http.post(emulator.url + NUMBERS, data=b'{"numbers":["+46000000000"]}',
                         headers={**headers, "Content-Type": JSON}) as response:
        assert response.status == 401


@pytest.mark.parametrize("timestamp", [None, "yesterday"])
async def test_missing_or_malformed_timestamp(emulator: Emulator, http: aiohttp.ClientSession,
                                              timestamp: str | None) -> None:
    headers = signed_headers(emulator.application_key, emulator.application_secret,
                             method="GET", path=NUMBERS, content_type=None, body=b"")
    if timestamp is None:
        del headers["x-timestamp"]
    else:
        headers["x-timestamp"] = timestamp
    assert _error(await send(http, emulator, "GET", NUMBERS, sign=False, headers=headers)) == \
        (401, 40108)


async def test_basic(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    token = base64.b64encode(
        f"{emulator.application_key}:{emulator.application_secret}".encode()).decode()
    for scheme in ("Basic", "basic"):
        result = await send(http, emulator, "GET", NUMBERS, sign=False,
                            headers={"Authorization": f"{scheme} {token}"})
        assert result[0] == 200


@pytest.mark.parametrize("credentials", ["emulator-application-key:wrong", "not base64!"])
async def test_basic_with_wrong_credentials(emulator: Emulator, http: aiohttp.ClientSession,
                                            credentials: str) -> None:
    token = base64.b64encode(credentials.encode()).decode() if ":" in credentials \
        else credentials
    result = await send(http, emulator, "GET", NUMBERS, sign=False,
                        headers={"Authorization": f"Basic {token}"})
    assert _error(result) == (401, 40108)


async def test_missing_authorization(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    result = await send(http, emulator, "GET", NUMBERS, sign=False)
    assert _error(result) == (401, 40108)
    assert result[1]["status"] == "401 Unauthorized"


async def test_unknown_scheme(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    result = await send(http, emulator, "GET", NUMBERS, sign=False,
                        headers={"Authorization": "Bearer abc"})
    assert _error(result) == (401, 40301)


async def test_application_without_signature(emulator: Emulator,
                                             http: aiohttp.ClientSession) -> None:
    result = await send(http, emulator, "GET", NUMBERS, sign=False,
                        headers={"Authorization": "Application justakey"})
    assert _error(result) == (401, 40108)


async def test_second_application_signs_too(emulator: Emulator,
                                            http: aiohttp.ClientSession) -> None:
    emulator.configuration.add_application("second", "c2Vjb25kLXNlY3JldA==")
    result = await send(http, emulator, "GET", NUMBERS, key="second",
                        secret="c2Vjb25kLXNlY3JldA==")
    assert result[0] == 200


_APPS = ConfigurationState()
_APPS.add_application("key", "c2VjcmV0")


@settings(max_examples=200, deadline=None)
@given(authorization=st.text(max_size=80), stamp=st.text(max_size=40),
       content_type=st.text(max_size=20), body=st.binary(max_size=40))
def test_authenticate_never_fails_other_than_401(authorization: str, stamp: str,
                                                 content_type: str, body: bytes) -> None:
    headers = {"Authorization": authorization, "x-timestamp": stamp,
               "Content-Type": content_type}
    with pytest.raises(SinchHTTPError) as info:  # no valid signature can be guessed
        authenticate(_APPS.applications, "POST", "/p", headers, body, window=300)
    assert info.value.status == 401
    assert info.value.error_code in (40108, 40301)


@settings(max_examples=100, deadline=None)
@given(offset=st.floats(min_value=-299, max_value=299),
       fractions=st.sampled_from(["", ".%f"]), suffix=st.sampled_from(["Z", "z", "+00:00", ""]))
def test_authenticate_accepts_any_fresh_iso_form(offset: float, fractions: str,
                                                 suffix: str) -> None:
    moment = datetime.now(UTC) + timedelta(seconds=offset)
    stamp = moment.strftime(f"%Y-%m-%dT%H:%M:%S{fractions}") + suffix
    headers = signed_headers("key", "c2VjcmV0", method="GET", path="/p", content_type=None,
                             body=b"", timestamp=stamp)
    assert authenticate(_APPS.applications, "GET", "/p", headers, b"", window=300) == "key"


# -- configuration routes: errors as Sinch sends them ------------------------------------


async def test_unknown_route_and_method(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    assert _error(await send(http, emulator, "GET", "/v1/nothing/here")) == (404, 40400)
    assert _error(await send(http, emulator, "PUT", NUMBERS, body={})) == (405, 40003)


@pytest.mark.parametrize(("body", "expected"), [
    ({}, (400, 40002)),
    ({"numbers": []}, (400, 40002)),
    ({"numbers": ["46000000000"]}, (400, 40005)),
    ({"numbers": ["+46999999999"]}, (400, 40001)),
    ({"numbers": ["+46000000000"], "capability": "fax"}, (400, 40001)),
    ({"numbers": ["+46000000000"], "applicationkey": "unknown"}, (400, 40003)),
    ({"numbers": ["+46000000000"], "applicationkey": ["x"]}, (400, 40001)),
    ({"numbers": ["+46000000000"], "applicationkey": 5}, (400, 40001)),
    ([1, 2], (400, 40003)),
])
async def test_assign_numbers_errors(emulator: Emulator, http: aiohttp.ClientSession,
                                     body: Any, expected: tuple[int, int]) -> None:
    assert _error(await send(http, emulator, "POST", NUMBERS, body=body)) == expected


async def test_assign_numbers_body_not_json(emulator: Emulator,
                                            http: aiohttp.ClientSession) -> None:
    headers = signed_headers(emulator.application_key, emulator.application_secret,
                             method="POST", path=NUMBERS, content_type=JSON, body=b"{oops")
    async with http.post(emulator.url + NUMBERS, data=b"{oops",
                         headers={**headers, "Content-Type": JSON}) as response:
        assert response.status == 400
        assert (await response.json())["errorCode"] == 40003


@pytest.mark.parametrize(("body", "expected"), [
    ({}, (400, 40002)),
    ({"number": "+46000000000"}, (400, 40001)),  # not assigned to us
    ({"number": "+46000000000", "applicationKey": "unknown"}, (400, 40003)),
])
async def test_unassign_number_errors(emulator: Emulator, http: aiohttp.ClientSession,
                                      body: Any, expected: tuple[int, int]) -> None:
    assert _error(await send(http, emulator, "DELETE", NUMBERS, body=body)) == expected


async def test_callbacks_errors(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    unknown = "/v1/configuration/callbacks/applications/unknown"
    assert _error(await send(http, emulator, "GET", unknown)) == (400, 40003)
    assert _error(await send(http, emulator, "POST", unknown, body={"url": {}})) == (400, 40003)
    own = f"/v1/configuration/callbacks/applications/{emulator.application_key}"
    assert _error(await send(http, emulator, "POST", own, body={"url": "x"})) == (400, 40002)
    for url in ({"primary": 5}, {"primary": "http://a", "fallback": ["http://b"]}):
        result = await send(http, emulator, "POST", own, body={"url": url})
        assert _error(result) == (400, 40001)
    assert (await send(http, emulator, "GET", own))[1] == {"url": {}}


SECOND = ("second", "c2Vjb25kLXNlY3JldA==")


async def test_callbacks_of_another_application_are_off_limits(
        emulator: Emulator, http: aiohttp.ClientSession) -> None:
    emulator.configuration.add_application(*SECOND)
    theirs = f"/v1/configuration/callbacks/applications/{emulator.application_key}"
    ours = "/v1/configuration/callbacks/applications/second"
    body = {"url": {"primary": "http://127.0.0.1:9/mine"}}
    as_second = {"key": SECOND[0], "secret": SECOND[1]}
    assert _error(await send(http, emulator, "GET", theirs, **as_second)) == (400, 40003)
    assert _error(await send(http, emulator, "POST", theirs, body=body,
                             **as_second)) == (400, 40003)
    assert emulator.configuration.applications[emulator.application_key].callbacks.primary \
        is None
    assert (await send(http, emulator, "POST", ours, body=body, **as_second))[0] == 200
    assert (await send(http, emulator, "GET", ours, **as_second))[1] == {
        "url": {"primary": "http://127.0.0.1:9/mine"}}


async def test_calls_and_conferences_of_another_application_are_not_found(
        emulator: Emulator, sinch: SinchCalling, http: aiohttp.ClientSession) -> None:
    emulator.configuration.add_application(*SECOND)
    as_second = {"key": SECOND[0], "secret": SECOND[1]}
    call_id = await sinch.callouts.conference("+46700000001", "room-1")
    call = f"/calling/v1/calls/id/{call_id}"
    room = "/calling/v1/conferences/id/room-1"
    hangup = {"action": {"name": "hangup"}}
    assert _error(await send(http, emulator, "GET", call, **as_second)) == (404, 40400)
    assert _error(await send(http, emulator, "PATCH", call, body=hangup,
                             **as_second)) == (404, 40400)
    assert _error(await send(http, emulator, "GET", room, **as_second)) == (404, 40400)
    assert _error(await send(http, emulator, "PATCH", f"{room}/{call_id}",
                             body={"command": "mute"}, **as_second)) == (404, 40400)
    assert _error(await send(http, emulator, "DELETE", f"{room}/{call_id}",
                             **as_second)) == (404, 40400)
    assert _error(await send(http, emulator, "DELETE", room, **as_second)) == (404, 40400)
    assert (await sinch.calls.get(call_id)).status.value == "ONGOING"
    assert [p.call_id for p in (await sinch.conferences.get("room-1")).participants] == [
        call_id]


async def test_a_body_over_the_size_limit_gets_a_sinch_error(
        emulator: Emulator, http: aiohttp.ClientSession) -> None:
    path = "/calling/v1/callouts"
    raw = json.dumps({"method": "ttsCallout", "padding": "x" * (9 * 1024 * 1024)}).encode()
    headers = signed_headers(emulator.application_key, emulator.application_secret,
                             method="POST", path=path, content_type=JSON, body=raw)
    async with http.post(emulator.url + path, data=io.BytesIO(raw),
                         headers={**headers, "Content-Type": JSON}) as response:
        assert (response.status, response.content_type) == (413, "application/json")
        assert (await response.json())["errorCode"] == 40003
    assert emulator.requests_to("/calling/v1/callouts")[0].body == b""
    assert emulator.traffic.calls == {}


async def test_query_number_errors(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    result = await send(http, emulator, "GET", "/v1/calling/query/number/hello")
    assert _error(result) == (400, 40001)
    ok = await send(http, emulator, "GET", "/v1/calling/query/number/+46(0)73-017-0101")
    assert ok[1]["number"]["normalizedNumber"] == "+46730170101"


# -- faults ----------------------------------------------------------------------------


async def test_fault_json_body_retry_after_and_times(emulator: Emulator,
                                                     http: aiohttp.ClientSession) -> None:
    fault = emulator.faults.add("GET", NUMBERS, status=429, retry_after=3, times=2)
    for _ in range(2):
        async with http.get(emulator.url + NUMBERS) as response:  # faults come before auth
            assert response.status == 429
            assert response.headers["Retry-After"] == "3"
            assert (await response.json())["errorCode"] == 42900
    assert fault.fired == 2
    assert fault.exhausted
    assert (await send(http, emulator, "GET", NUMBERS))[0] == 200


@pytest.mark.parametrize(("retry_after", "sent"), [
    (2.0, "2"), (2.1, "3"), (0, "0"), (0.2, "1"), ("Wed, 21 Oct 2015 07:28:00 GMT",
                                                   "Wed, 21 Oct 2015 07:28:00 GMT"),
    ("1.5", "1.5"),
])
async def test_fault_retry_after_is_whole_seconds_or_text_as_given(
        emulator: Emulator, http: aiohttp.ClientSession, retry_after: float | str,
        sent: str) -> None:
    emulator.faults.add("GET", NUMBERS, status=429, retry_after=retry_after)
    async with http.get(emulator.url + NUMBERS) as response:
        assert response.headers["Retry-After"] == sent


async def test_fault_html_and_empty_bodies(emulator: Emulator,
                                           http: aiohttp.ClientSession) -> None:
    emulator.faults.add("GET", NUMBERS, status=502, body="html")
    emulator.faults.add("GET", NUMBERS, status=503, body="empty")
    emulator.faults.add("GET", NUMBERS, status=500, error_code=50000)
    async with http.get(emulator.url + NUMBERS) as response:
        assert response.status == 502
        assert response.content_type == "text/html"
        assert b"502" in await response.read()
    async with http.get(emulator.url + NUMBERS) as response:
        assert (response.status, await response.read()) == (503, b"")
    async with http.get(emulator.url + NUMBERS) as response:
        assert response.status == 500
        assert await response.json() == {"status": "500 InternalServerError",
                                         "errorCode": 50000,
                                         "message": "500 InternalServerError",
                                         "reference": "emulator"}


async def test_faults_fire_in_order_and_match_globs(emulator: Emulator,
                                                    http: aiohttp.ClientSession) -> None:
    first = emulator.faults.add("*", "/v1/configuration/*", status=503)
    forever = emulator.faults.add("GET", "/v1/calling/query/number/*", status=500, times=None)
    second = emulator.faults.add("GET", NUMBERS, status=429)
    statuses = [(await send(http, emulator, "GET", NUMBERS))[0] for _ in range(3)]
    assert statuses == [503, 429, 200]
    lookup = "/v1/calling/query/number/+46730170101"
    for _ in range(3):
        assert (await send(http, emulator, "GET", lookup))[0] == 500
    assert (first.fired, second.fired, forever.fired) == (1, 1, 3)
    emulator.faults.remove(forever)
    assert (await send(http, emulator, "GET", lookup))[0] == 200
    assert len(emulator.faults) == 2
    emulator.faults.clear()
    assert list(emulator.faults) == []


async def test_fault_delay_then_normal_answer(emulator: Emulator,
                                              http: aiohttp.ClientSession) -> None:
    fault = emulator.faults.add("GET", NUMBERS, delay=0.01)
    assert (await send(http, emulator, "GET", NUMBERS))[0] == 200
    assert fault.fired == 1


async def test_fault_cut_json_body(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    emulator.faults.add("GET", NUMBERS, cut_after=10)
    with pytest.raises(aiohttp.ClientPayloadError):
        await send(http, emulator, "GET", NUMBERS)
    assert (await send(http, emulator, "GET", NUMBERS))[0] == 200


async def test_fault_disconnect_before_the_route_runs(emulator: Emulator,
                                                      http: aiohttp.ClientSession) -> None:
    emulator.faults.add("POST", NUMBERS, disconnect="before")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await send(http, emulator, "POST", NUMBERS, body={"numbers": ["+46000000000"]})
    assert emulator.configuration.numbers["+46000000000"].application_key is None


async def test_fault_disconnect_after_the_route_acted(emulator: Emulator,
                                                      http: aiohttp.ClientSession) -> None:
    emulator.faults.add("POST", NUMBERS, disconnect=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await send(http, emulator, "POST", NUMBERS, body={"numbers": ["+46000000000"]})
    assert emulator.configuration.numbers["+46000000000"].application_key == \
        emulator.application_key


async def test_fault_disconnect_after_stops_a_streamed_download(
        emulator: Emulator, http: aiohttp.ClientSession) -> None:
    emulator.recordings.add("k.mp3", b"x" * 100_000)
    path = "/calling/v1/recording/k.mp3"
    # aiohttp retries a GET once on a disconnect: drop every attempt
    fault = emulator.faults.add("GET", path, disconnect="after", times=None)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await send(http, emulator, "GET", path)
    emulator.faults.remove(fault)
    status, body = await send(http, emulator, "GET", path)
    assert (status, len(body)) == (200, 100_000)


@pytest.mark.parametrize("written", ["/calling/v1/recording/a b/c.mp3",
                                     "/calling/v1/recording/a%20b%2Fc.mp3",
                                     "/calling/v1/recording/a b*",
                                     "/calling/v1/recording/a%20b*"])
async def test_paths_match_as_sent_or_decoded(emulator: Emulator, http: aiohttp.ClientSession,
                                              written: str) -> None:
    emulator.recordings.add("a b/c.mp3", b"abc")
    fault = emulator.faults.add("GET", written, status=503)
    raw = "/calling/v1/recording/a%20b%2Fc.mp3"
    assert (await send(http, emulator, "GET", raw))[0] == 503
    assert fault.fired == 1
    assert [r.path for r in emulator.requests_to(written)] == [raw]


@given(key=st.text(st.characters(blacklist_categories=("Cs",),
                                 blacklist_characters="*?[]%"), min_size=1))
def test_a_key_matches_in_both_spellings(key: str) -> None:
    raw = "/calling/v1/recording/" + quote(key, safe="")
    decoded = "/calling/v1/recording/" + key
    for pattern in (raw, decoded):
        assert path_matches(pattern, raw)
        assert Fault(method="GET", path=pattern).matches("GET", raw)


async def test_client_does_not_retry_a_post_the_server_may_have_acted_on(
        emulator: Emulator, sinch: SinchCalling) -> None:
    from sinch_calling.errors import TransportError

    emulator.faults.add("POST", "/calling/v1/callouts", disconnect="after")
    with pytest.raises(TransportError):
        await sinch.callouts.tts("+46000000001", text="Once")
    assert len(emulator.requests_to("/calling/v1/callouts", "POST")) == 1
    assert len(emulator.traffic.calls) == 1  # placed, never answered


@pytest.mark.parametrize(("kwargs", "field"), [
    ({}, "status"),
    ({"status": 99}, "status"),
    ({"status": 500, "disconnect": "after"}, "status"),
    ({"status": 500, "body": "xml"}, "body"),
    ({"delay": -1}, "delay"),
    ({"cut_after": -1}, "cut_after"),
    ({"status": 500, "times": 0}, "times"),
    ({"disconnect": "sometimes"}, "disconnect"),
    ({"status": 429, "retry_after": -1}, "retry_after"),
])
def test_fault_validation(emulator: Emulator, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        emulator.faults.add("GET", NUMBERS, **kwargs)
    assert info.value.field == field


# -- inspection --------------------------------------------------------------------------


async def test_requests_to_and_clear(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    await send(http, emulator, "GET", NUMBERS)
    await send(http, emulator, "GET", "/v1/calling/query/number/+46730170101")
    await send(http, emulator, "POST", NUMBERS, body={"numbers": ["+46000000000"]})
    assert [r.method for r in emulator.requests_to(NUMBERS)] == ["GET", "POST"]
    assert len(emulator.requests_to("/v1/calling/query/number/*")) == 1
    assert emulator.requests_to(NUMBERS, "post")[0].json() == {"numbers": ["+46000000000"]}
    query = emulator.requests_to("/v1/calling/*")[0]
    assert query.path == "/v1/calling/query/number/+46730170101"
    emulator.clear()
    assert emulator.requests == []
    assert emulator.events == []


async def test_journal_keeps_raw_path_and_query(emulator: Emulator,
                                                http: aiohttp.ClientSession) -> None:
    path = "/v1/calling/query/number/%2B46730170101"
    await send(http, emulator, "GET", path + "?x=1", headers={})
    request = emulator.requests[0]
    assert request.path == path
    assert request.query == {"x": "1"}


def test_repr_hides_the_secret() -> None:
    emu = Emulator()
    assert emu.application_secret not in repr(emu)
    assert emu.application_secret not in repr(emu.configuration)
