"""The emulator refuses what Sinch refuses: SVAML prompts with nothing to play, prompts
to a call not yet connected, and request bodies that are not strict JSON declared as
JSON (400 with Sinch's ``errorCode``: 40001 illegal, 40002 missing, 40003 invalid)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import CallStatus, SinchCalling, svaml
from sinch_calling.auth import basic_authorization
from sinch_calling.errors import BadRequestError
from sinch_calling.serialization import dumps
from sinch_calling.testing import Emulator, Outcome
from sinch_calling.testing.routes.body import strict_json
from sinch_calling.transport import JSON_CONTENT_TYPE


async def _signed(sinch: SinchCalling, method: str, tail: str, body: bytes) -> Any:
    transport = sinch._transport
    return await transport.request(method, transport.traffic_url(*tail.split("/")), body=body)


def _connected(emulator: Emulator) -> str:
    call = emulator.incoming_call("+46000000009", "+46000000001")
    emulator.requests.clear()
    return call.call_id


# -- prompts with nothing to play ------------------------------------------------------

PROMPTS = [
    ({"name": "say", "text": ""}, 40002),
    ({"name": "say"}, 40002),
    ({"name": "say", "text": None}, 40002),
    ({"name": "say", "text": "  "}, 40001),
    ({"name": "say", "text": 5}, 40001),
    ({"name": "say", "text": ["Hi"]}, 40001),
    ({"name": "Say", "text": "\t"}, 40001),
    ({"name": "playFiles", "ids": []}, 40002),
    ({"name": "playFiles"}, 40002),
    ({"name": "playFiles", "ids": "beep"}, 40001),
    ({"name": "playFiles", "ids": [5]}, 40001),
    ({"name": "playFiles", "ids": ["beep", " "]}, 40001),
]


@pytest.mark.parametrize(("instruction", "code"), PROMPTS)
@pytest.mark.parametrize("route", ["leg", "manage"])
async def test_a_prompt_with_nothing_to_play_is_refused(
        sinch: SinchCalling, emulator: Emulator, instruction: dict[str, Any], code: int,
        route: str) -> None:
    call_id = _connected(emulator)
    tail = f"calls/id/{call_id}/leg/caller" if route == "leg" else f"calls/id/{call_id}"
    body = json.dumps({"instructions": [instruction], "action": {"name": "continue"}})
    with pytest.raises(BadRequestError) as info:
        await _signed(sinch, "PATCH", tail, body.encode())
    assert info.value.error_code == code
    assert "instructions[0]" in info.value.message
    assert emulator.call(call_id).svaml == []
    assert emulator.progress(call_id).heard == {"caller": [], "callee": []}


async def test_an_inline_callout_svaml_prompt_with_no_text_is_refused(
        sinch: SinchCalling) -> None:
    ice = json.dumps({"instructions": [{"name": "say", "text": ""}],
                      "action": {"name": "connectPstn", "number": "+46700000001"}})
    body = {"method": "customCallout", "customCallout": {"ice": ice}}
    with pytest.raises(BadRequestError) as info:
        await _signed(sinch, "POST", "callouts", json.dumps(body).encode())
    assert info.value.error_code == 40002


# -- prompts to a call that is not connected -------------------------------------------


async def test_a_prompt_to_a_ringing_call_is_refused_and_heard_by_nobody() -> None:
    async with Emulator(realtime=False, outcomes=Outcome.answered(ring=30)) as emu, \
            SinchCalling(emu.application_key, emu.application_secret,
                         base_url=emu.url) as sinch:
        call_id = await sinch.callouts.tts("+46700000001", text="Hello")
        with pytest.raises(BadRequestError) as info:
            await sinch.calls.manage_leg(call_id, "callee", svaml.Svaml([svaml.Say("Hi")]))
        assert info.value.error_code == 40003
        assert "not connected" in info.value.message
        progress = emu.progress(call_id)
        assert progress.heard == {"caller": [], "callee": []}
        assert list(progress.prompts) == []
        await emu.advance(30)  # answered now: the prompt plays
        await sinch.calls.manage_leg(call_id, "callee", svaml.Svaml([svaml.Say("Hi")]))
        assert emu.progress(call_id).heard == {"caller": [], "callee": ["Hi"]}
        assert emu.call(call_id).status is CallStatus.ONGOING


# -- bodies that are not strict JSON ----------------------------------------------------


@pytest.mark.parametrize("body", [
    b'{"instructions": [{"name": "say", "text": "Hi"}], "x": NaN}',
    b'{"instructions": [{"name": "say", "text": "Hi"}], "x": Infinity}',
    b'{"instructions": [{"name": "say", "text": "Hi"}], "x": -Infinity}',
    b'\xef\xbb\xbf{"instructions": [{"name": "say", "text": "Hi"}]}',  # a BOM
    b'{"instructions": [{"name": "say", "text": "\xff"}]}',  # not UTF-8
    b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # nested past any parser's limit
])
async def test_a_body_that_is_not_strict_json_is_40003(sinch: SinchCalling,
                                                       emulator: Emulator,
                                                       body: bytes) -> None:
    call_id = _connected(emulator)
    for tail in (f"calls/id/{call_id}/leg/caller", f"calls/id/{call_id}"):
        with pytest.raises(BadRequestError) as info:
            await _signed(sinch, "PATCH", tail, body)
        assert info.value.error_code == 40003
    assert emulator.progress(call_id).heard == {"caller": [], "callee": []}


ROUTES = [
    ("POST", "/calling/v1/callouts",
     {"method": "ttsCallout", "ttsCallout": {
         "destination": {"type": "number", "endpoint": "+46700000001"}, "text": "Hi"}}),
    ("PATCH", "/calling/v1/calls/id/{call_id}",
     {"instructions": [{"name": "say", "text": "Hi"}], "action": {"name": "continue"}}),
    ("PATCH", "/calling/v1/calls/id/{call_id}/leg/caller",
     {"instructions": [{"name": "say", "text": "Hi"}], "action": {"name": "continue"}}),
    ("POST", "/v1/configuration/numbers", {"numbers": ["+46000000000"]}),
    ("DELETE", "/v1/configuration/numbers", {"number": "+46000000000"}),
    ("POST", "/v1/configuration/callbacks/applications/{key}",
     {"url": {"primary": "https://example.com/sinch"}}),
]


@pytest.mark.parametrize(("method", "path", "document"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1"])
async def test_a_body_not_declared_as_json_is_40003(
        emulator: Emulator, method: str, path: str, document: dict[str, Any],
        content_type: str | None) -> None:
    call_id = _connected(emulator)
    url = emulator.url + path.format(call_id=call_id, key=emulator.application_key)
    auth = {"Authorization": basic_authorization(emulator.application_key,
                                                 emulator.application_secret)}
    headers = {"Content-Type": content_type} if content_type else {}
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.request(method, url, data=json.dumps(document).encode(),
                                headers=headers) as response:
            assert response.status == 400
            assert (await response.json())["errorCode"] == 40003
        for declared in ("application/json", "application/json; charset=utf-8",
                         JSON_CONTENT_TYPE, "application/merge-patch+json"):
            # The same body declared as JSON is read (the second DELETE of a number may
            # then be refused for what it asks, never as unreadable).
            async with http.request(method, url, data=json.dumps(document).encode(),
                                    headers={"Content-Type": declared}) as response:
                if response.status >= 300:
                    assert method == "DELETE", await response.text()
                    assert (await response.json())["errorCode"] != 40003


# -- the client never sends what the emulator refuses -----------------------------------


def test_the_client_sends_json_declared_as_json() -> None:
    assert JSON_CONTENT_TYPE.lower() == "application/json; charset=utf-8"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(_JSON)
def test_what_the_client_encodes_the_emulator_reads(value: Any) -> None:
    try:
        body = dumps(value)
    except ValueError:
        return  # refused before sending (NaN, infinity, lone surrogates)
    assert strict_json(body) == value
