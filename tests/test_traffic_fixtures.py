"""The Java SDK's JSON fixtures for SVAML, callouts, calls and conferences: decode,
encode and compare as JSON values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sinch_calling import Call, Conference, Participant, converter, svaml
from sinch_calling.models import (
    CalloutRequest,
    CalloutResponse,
    ConferenceCallout,
    CustomCallout,
    TtsCallout,
)
from sinch_calling.models.commands import ParticipantCommand

from .conftest import FIXTURES, fixture_json

SVAML = FIXTURES / "svaml"
ELEMENTS = sorted([*SVAML.glob("instruction/*.json"), *SVAML.glob("action/SvamlAction*.json")])


def _round_trip(data: Any, cls: Any) -> Any:
    return json.loads(json.dumps(converter.unstructure(converter.structure(data, cls))))


@pytest.mark.parametrize("path", ELEMENTS, ids=lambda p: Path(p).stem)
def test_svaml_element_round_trips(path: Path) -> None:
    data = json.loads(path.read_text())
    kind = svaml.Instruction if path.parent.name == "instruction" else svaml.Action
    decoded = converter.structure(data, kind)
    assert not isinstance(decoded, svaml.UnknownInstruction | svaml.UnknownAction)
    expected = dict(data)
    if "callheaders" in expected:  # the Java SDK's spelling; sent as the notes spell it
        expected["callHeaders"] = expected.pop("callheaders")
    assert _round_trip(data, kind) == expected


def test_every_svaml_fixture_is_covered() -> None:
    names = {json.loads(p.read_text())["name"] for p in ELEMENTS}
    assert len(names) == len(ELEMENTS) == 16  # 7 instructions, 9 actions


@pytest.mark.parametrize("relative", ["svaml/SvamlControlDto.json",
                                      "calls/request/CallUpdateRequestDto.json"])
def test_svaml_documents_round_trip(relative: str) -> None:
    data = fixture_json(relative)
    assert _round_trip(data, svaml.Svaml) == data


def test_control_document_decodes_to_classes() -> None:
    doc = converter.structure(fixture_json("svaml/SvamlControlDto.json"), svaml.Svaml)
    assert doc.action == svaml.ConnectConf("My Conference Id")
    recording = doc.instructions[1]
    assert isinstance(recording, svaml.StartRecording)
    assert recording.options is not None
    assert recording.options.transcription_options == svaml.TranscriptionOptions(enabled=True)


@pytest.mark.parametrize(("relative", "cls"), [
    ("svaml/action/AnsweringMachineDetectionQueryDto.json", svaml.AnsweringMachineDetection),
    ("svaml/action/ConnectStreamStreamingOptionsDto.json", svaml.StreamingOptions),
])
def test_svaml_option_objects_round_trip(relative: str, cls: type[Any]) -> None:
    data = fixture_json(relative)
    assert _round_trip(data, cls) == data


@pytest.mark.parametrize("relative", ["callouts/CalloutRequestConferenceDto.json",
                                      "callouts/CalloutRequestTtsDto.json",
                                      "callouts/CalloutRequestCustomDto.json"])
def test_callout_requests_round_trip(relative: str) -> None:
    data = fixture_json(relative)
    assert _round_trip(data, CalloutRequest) == data


def test_callout_request_classes() -> None:
    assert isinstance(converter.structure(fixture_json(
        "callouts/CalloutRequestTtsDto.json"), CalloutRequest).tts_callout, TtsCallout)
    assert isinstance(converter.structure(fixture_json(
        "callouts/CalloutRequestConferenceDto.json"), CalloutRequest).conference_callout,
        ConferenceCallout)
    custom = converter.structure(fixture_json("callouts/CalloutRequestCustomDto.json"),
                                 CalloutRequest).custom_callout
    assert isinstance(custom, CustomCallout)
    assert custom.ice is not None
    ice = converter.structure(json.loads(custom.ice), svaml.Svaml)
    assert ice.action == svaml.ConnectPstn(
        "+12233445566", cli="+12234325234",
        amd=svaml.AnsweringMachineDetection(enabled=True))


def test_callout_response() -> None:
    response = converter.structure(fixture_json("callouts/CalloutResponseDto.json"),
                                   CalloutResponse)
    assert response.call_id == "adf92089-df2a-4f14-a377-1e975f588fe4"
    assert converter.unstructure(response) == fixture_json("callouts/CalloutResponseDto.json")


def test_call_information_decodes() -> None:
    call = converter.structure(fixture_json("calls/GetCallInformationResponseDto.json"), Call)
    assert call.call_id == "a call UUID"
    assert call.duration == 138
    assert call.to is not None
    assert call.to.endpoint == "+33123456789"


def test_conference_round_trips() -> None:
    data = fixture_json("conferences/response/ConferenceGetResponseDto.json")
    assert _round_trip(data, Conference) == data
    participant = fixture_json("conferences/ConferenceParticipantDto.json")
    assert _round_trip(participant, Participant) == participant


def test_participant_command_round_trips() -> None:
    data = fixture_json("conferences/request/ConferenceManageParticipantRequestDto.json")
    assert _round_trip(data, ParticipantCommand) == data
