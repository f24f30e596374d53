"""Callouts against the emulator: the request as Sinch receives it, validation before
sending, the emulator's own checks, and never placing a call twice."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sinch_calling import Destination, SinchCalling, svaml
from sinch_calling.errors import BadRequestError, ServerError, ValidationError
from sinch_calling.models import CallStatus, ConferenceDtmfMode, ConferenceDtmfOptions
from sinch_calling.testing import Emulator

from .conftest import fixture_json
from .traffic_checks import assert_sent, settle

CALLOUTS = "/calling/v1/callouts"


async def test_tts_minimal(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = await sinch.callouts.tts("+46000000001", text="Hello")
    assert_sent(emulator, "POST", CALLOUTS, {
        "method": "ttsCallout",
        "ttsCallout": {"destination": {"type": "number", "endpoint": "+46000000001"},
                       "text": "Hello"},
    })
    call = emulator.traffic.calls[call_id]
    assert (call.method, call.to, call.status) == (
        "ttsCallout", Destination.number("+46000000001"), CallStatus.ONGOING)


async def test_tts_every_option_matches_java_fixture(sinch: SinchCalling,
                                                     emulator: Emulator) -> None:
    expected = fixture_json("callouts/CalloutRequestTtsDto.json")
    del expected["ttsCallout"]["prompts"]  # the fixture sets both; a call takes one
    await sinch.callouts.tts(
        Destination.username("an user name"), text="text value", cli="+14045001000",
        locale="en-US", dtmf="w123#", domain="pstn", custom="my custom value",
        enable_ace=True, enable_dice=True, enable_pie=True,
    )
    assert_sent(emulator, "POST", CALLOUTS, expected)


async def test_tts_with_prompts(sinch: SinchCalling, emulator: Emulator) -> None:
    prompts = "#tts[Hello];myprerecordedfile"
    await sinch.callouts.tts("+46000000001", prompts=prompts)
    assert emulator.requests[0].json()["ttsCallout"]["prompts"] == prompts


async def test_tts_text_over_600_characters_is_sent(sinch: SinchCalling,
                                                    emulator: Emulator) -> None:
    # Sinch's 600-character cap is a per-application default support can change.
    await sinch.callouts.tts("+46000000001", text="x" * 1000)
    assert len(emulator.requests[0].json()["ttsCallout"]["text"]) == 1000


async def test_conference_matches_java_fixture(sinch: SinchCalling,
                                               emulator: Emulator) -> None:
    call_id = await sinch.callouts.conference(
        "+14045005000", "MyConfId", greeting="Welcome to my conference", cli="+14045001000",
        locale="en-US", dtmf="w123#", max_duration=32, enable_ace=True, enable_dice=True,
        enable_pie=True, moh_class="music2", custom="my custom value", domain="pstn",
        conference_dtmf_options=ConferenceDtmfOptions(
            mode=ConferenceDtmfMode.DETECT, max_digits=3, timeout_mills=456),
    )
    assert_sent(emulator, "POST", CALLOUTS,
                fixture_json("callouts/CalloutRequestConferenceDto.json"))
    await settle(emulator)
    room = emulator.traffic.conferences["MyConfId"]
    assert call_id in room.participants


async def test_conference_minimal(sinch: SinchCalling, emulator: Emulator) -> None:
    await sinch.callouts.conference("+46000000001", "room-1")
    assert_sent(emulator, "POST", CALLOUTS, {
        "method": "conferenceCallout",
        "conferenceCallout": {"destination": {"type": "number", "endpoint": "+46000000001"},
                              "conferenceId": "room-1"},
    })


async def test_custom_matches_java_fixture(sinch: SinchCalling, emulator: Emulator) -> None:
    ice = svaml.Svaml(action=svaml.ConnectPstn(
        "+12233445566", cli="+12234325234",
        amd=svaml.AnsweringMachineDetection(enabled=True)))
    ace = svaml.Svaml([svaml.Say("Hello, this is a call from Sinch!")], svaml.Hangup())
    await sinch.callouts.custom(
        destination="+14045005000", cli="+14045001000", dtmf="w123#",
        custom="my custom value", max_duration=32, ice=ice, ace=ace,
        pie="https://your-application-server-host/application",
    )
    expected = fixture_json("callouts/CalloutRequestCustomDto.json")
    sent = emulator.requests[0].json()
    for key in ("ice", "ace"):  # the embedded SVAML, as JSON values
        assert json.loads(sent["customCallout"][key]) == \
            json.loads(expected["customCallout"][key])
    assert sent == expected  # ... and even as text: byte for byte what the Java SDK sends


async def test_custom_embeds_compact_svaml_text(sinch: SinchCalling,
                                                emulator: Emulator) -> None:
    doc = svaml.Svaml(action=svaml.ConnectPstn(number="+4600"))
    await sinch.callouts.custom(destination="+46000000001", ice=doc, ace="https://my.host/ace")
    assert_sent(emulator, "POST", CALLOUTS, {
        "method": "customCallout",
        "customCallout": {
            "destination": {"type": "number", "endpoint": "+46000000001"},
            "ice": '{"action":{"name":"connectPstn","number":"+4600"}}',
            "ace": "https://my.host/ace",
        },
    })


async def test_custom_without_destination_uses_ice_number(sinch: SinchCalling,
                                                          emulator: Emulator) -> None:
    call_id = await sinch.callouts.custom(
        ice=svaml.Svaml(action=svaml.ConnectPstn("+46000000009")))
    assert emulator.traffic.calls[call_id].to == Destination.number("+46000000009")


async def test_call_ids_are_distinct(sinch: SinchCalling) -> None:
    ids = {await sinch.callouts.tts("+46000000001", text="hi") for _ in range(5)}
    assert len(ids) == 5


# -- validation before sending ------------------------------------------------------

TTS_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"destination": ""}, "destination"),
    ({"destination": "46700"}, "destination"),
    ({"destination": "+46 700"}, "destination"),
    ({"destination": 46700}, "destination"),
    ({"destination": Destination.number("0700")}, "destination.endpoint"),
    ({"destination": Destination.username(" ")}, "destination.endpoint"),
    ({"text": None}, "text"),
    ({"prompts": "#tts[both]"}, "text"),
    ({"text": ""}, "text"),
    ({"cli": "46000"}, "cli"),
    ({"dtmf": "12a"}, "dtmf"),
    ({"dtmf": ""}, "dtmf"),
    ({"domain": "isdn"}, "domain"),
    ({"enable_ace": "yes"}, "enable_ace"),
    ({"locale": ""}, "locale"),
    ({"custom": 5}, "custom"),
]


@pytest.mark.parametrize(("change", "field"), TTS_ERRORS)
async def test_tts_validation(sinch: SinchCalling, emulator: Emulator,
                              change: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {"destination": "+46000000001", "text": "Hello", **change}
    destination = arguments.pop("destination")
    with pytest.raises(ValidationError) as info:
        await sinch.callouts.tts(destination, **arguments)
    assert info.value.field == field
    assert emulator.requests == []


CONFERENCE_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"conference_id": ""}, "conference_id"),
    ({"conference_id": "  "}, "conference_id"),
    ({"destination": "+"}, "destination"),
    ({"max_duration": 0}, "max_duration"),
    ({"max_duration": -5}, "max_duration"),
    ({"max_duration": 1.5}, "max_duration"),
    ({"max_duration": True}, "max_duration"),
    ({"moh_class": "jazz"}, "moh_class"),
    ({"conference_dtmf_options": {"mode": "detect"}}, "conference_dtmf_options"),
    ({"greeting": ""}, "greeting"),
]


@pytest.mark.parametrize(("change", "field"), CONFERENCE_ERRORS)
async def test_conference_validation(sinch: SinchCalling, emulator: Emulator,
                                     change: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {"destination": "+46000000001", "conference_id": "room",
                                 **change}
    with pytest.raises(ValidationError) as info:
        await sinch.callouts.conference(arguments.pop("destination"),
                                        arguments.pop("conference_id"), **arguments)
    assert info.value.field == field
    assert emulator.requests == []


CUSTOM_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"ice": "connectPstn please"}, "ice"),
    ({"ace": "ftp://my.host/ace"}, "ace"),
    ({"pie": 42}, "pie"),
    ({"dice": ""}, "dice"),
    ({"ace": '{"action":{"name":"hangup"}}'}, "ace"),  # pass a Svaml, not JSON text
    ({"max_duration": 0}, "max_duration"),
    ({"destination": "+1 2"}, "destination"),
    ({"dtmf": "1-2"}, "dtmf"),
]


@pytest.mark.parametrize(("change", "field"), CUSTOM_ERRORS)
async def test_custom_validation(sinch: SinchCalling, emulator: Emulator,
                                 change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        await sinch.callouts.custom(**{"destination": "+46000000001", **change})
    assert info.value.field == field
    assert emulator.requests == []


# -- what the emulator checks, as Sinch does --------------------------------------


@pytest.mark.parametrize(("body", "code"), [
    (b"not json", 40003),
    (b"[]", 40003),
    (b"{}", 40002),
    (b'{"method": "smsCallout"}', 40001),
    (b'{"method": "ttsCallout"}', 40002),
    (b'{"method": "ttsCallout", "ttsCallout": {"text": "hi"}}', 40002),
    (b'{"method": "ttsCallout", "ttsCallout": {"destination": '
     b'{"type": "number", "endpoint": "+46700000001"}}}', 40002),
    (b'{"method": "ttsCallout", "ttsCallout": {"text": "hi", "destination": '
     b'{"type": "number", "endpoint": "46700"}}}', 40005),
    (b'{"method": "ttsCallout", "ttsCallout": {"text": "hi", "dtmf": "x", "destination": '
     b'{"type": "number", "endpoint": "+46700000001"}}}', 40001),
    (b'{"method": "conferenceCallout", "conferenceCallout": {"destination": '
     b'{"type": "number", "endpoint": "+46700000001"}}}', 40002),
    (b'{"method": "customCallout", "customCallout": {"ice": "{not svaml"}}', 40001),
    (b'{"method": "customCallout", "customCallout": {"ace": "https://x/ace"}}', 40002),
])
async def test_emulator_rejects_bad_callouts(sinch: SinchCalling, emulator: Emulator,
                                             body: bytes, code: int) -> None:
    transport = sinch._transport
    with pytest.raises(BadRequestError) as info:
        await transport.request("POST", transport.traffic_url("callouts"), body=body)
    assert (info.value.status, info.value.error_code) == (400, code)
    assert emulator.traffic.calls == {}


# -- a callout is never placed twice ---------------------------------------------


async def test_server_error_is_not_retried(sinch: SinchCalling, emulator: Emulator) -> None:
    emulator.faults.add("POST", CALLOUTS, status=503)
    with pytest.raises(ServerError):
        await sinch.callouts.tts("+46000000001", text="Hello")
    assert len(emulator.requests) == 1


async def test_rate_limited_callout_is_retried_once_placed_once(
        sinch: SinchCalling, emulator: Emulator) -> None:
    emulator.faults.add("POST", CALLOUTS, status=429)
    call_id = await sinch.callouts.tts("+46000000001", text="Hello")
    assert len(emulator.requests) == 2
    assert list(emulator.traffic.calls) == [call_id]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ice": svaml.Svaml(action=svaml.Park())}, "ice.action"),
        ({"ice": svaml.Svaml([svaml.Say("hi")])}, "ice.action"),
        ({"ace": svaml.Svaml(action=svaml.ConnectPstn(number="+46000000001"))}, "ace.action"),
        ({"ace": svaml.Svaml([svaml.SendDtmf("1")], svaml.Hangup())}, "ace.instructions"),
        ({"pie": svaml.Svaml(action=svaml.Park())}, "pie.action"),
        ({"dice": svaml.Svaml(action=svaml.Hangup())}, "dice"),
    ],
)
async def test_inline_svaml_sinch_would_refuse_is_refused_before_sending(
    sinch: SinchCalling, emulator: Emulator, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await sinch.callouts.custom(destination="+46000000001", **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert emulator.requests == []


@pytest.mark.parametrize("prompts", [";", ";;", "#tts[]", "#tts[ ];file", "#tts[hi];", "a;;b"])
async def test_prompts_that_speak_nothing_are_refused_before_sending(
        sinch: SinchCalling, emulator: Emulator, prompts: str) -> None:
    """From the review: ``--prompts ';'`` placed a call that said nothing. Sinch's
    callouts reference: ``;``-separated prompts, each a file name or ``#tts[text]``."""
    with pytest.raises(ValidationError, match=r"prompts: item \d+ of .* is empty"):
        await sinch.callouts.tts("+46000000001", prompts=prompts)
    assert emulator.requests == []
