"""Every fixture of ../shared/fixtures (a copy in tests/fixtures) decodes and encodes back
to equal JSON (issue 8, failure 10). Timestamps are compared as instants (the wire has
many spellings of one moment; the client writes ``...sssZ``); the one other exception:
the Java SDK's ``connectMxp`` ``callheaders``, which decodes and is sent as ``callHeaders``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sinch_calling import converter, events, svaml
from sinch_calling._time import parse_timestamp
from sinch_calling.models import (
    Call,
    CalloutRequest,
    CalloutResponse,
    Conference,
    Destination,
    Money,
    Participant,
)
from sinch_calling.models.commands import ParticipantCommand
from sinch_calling.models.wire import (
    AssignNumbersRequest,
    CallbackUrlsEnvelope,
    NumbersResponse,
    QueryNumberResponse,
    UnassignNumberRequest,
)

from .conftest import FIXTURES

MODELS: dict[str, Any] = {
    "PriceDto.json": Money,
    "applications/request/UnAssignNumberRequestDto.json": UnassignNumberRequest,
    "applications/request/UpdateEventDestinationsRequestDto.json": CallbackUrlsEnvelope,
    "applications/request/UpdateNumbersRequestDto.json": AssignNumbersRequest,
    "applications/response/GetEventDestinationsResponseDto.json": CallbackUrlsEnvelope,
    "applications/response/OwnedNumbersResponseDto.json": NumbersResponse,
    "applications/response/QueryNumberResponseDto.json": QueryNumberResponse,
    "callouts/CalloutRequestConferenceDto.json": CalloutRequest,
    "callouts/CalloutRequestCustomDto.json": CalloutRequest,
    "callouts/CalloutRequestTtsDto.json": CalloutRequest,
    "callouts/CalloutResponseDto.json": CalloutResponse,
    "calls/GetCallInformationResponseDto.json": Call,
    "calls/request/CallUpdateRequestDto.json": svaml.Svaml,
    "conferences/ConferenceParticipantDto.json": Participant,
    "conferences/request/ConferenceManageParticipantRequestDto.json": ParticipantCommand,
    "conferences/response/ConferenceGetResponseDto.json": Conference,
    "svaml/SvamlControlDto.json": svaml.Svaml,
    "svaml/action/AnsweringMachineDetectionQueryDto.json": svaml.AnsweringMachineDetection,
    "svaml/action/ConnectStreamStreamingOptionsDto.json": svaml.StreamingOptions,
}
ALL = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.json"))


def model_for(relative: str) -> Any:
    if relative in MODELS:
        return MODELS[relative]
    if relative.startswith("destination/"):
        return Destination
    if relative.startswith("svaml/instruction/"):
        return svaml.Instruction
    if relative.startswith("svaml/action/"):
        return svaml.Action
    if relative.startswith("sinchevents/"):
        return events.parse
    raise AssertionError(f"no model for fixture {relative}")


def instants(value: Any) -> Any:
    """``value`` with every timestamp string replaced by the moment it names."""
    if isinstance(value, dict):
        return {k: instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [instants(v) for v in value]
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and "T" in value:
        try:
            moment: datetime = parse_timestamp(value)
        except ValueError:
            return value
        return moment
    return value


def java_spellings(value: Any) -> Any:
    """The fixture as this client sends it: ``callheaders`` of connectMxp -> ``callHeaders``."""
    if isinstance(value, dict):
        out = {k: java_spellings(v) for k, v in value.items()}
        if out.get("name") == "connectMxp" and "callheaders" in out:
            out["callHeaders"] = out.pop("callheaders")
        return out
    if isinstance(value, list):
        return [java_spellings(v) for v in value]
    return value


def test_every_fixture_has_a_model() -> None:
    assert len(ALL) == 47
    for relative in ALL:
        model_for(relative)


@pytest.mark.parametrize("relative", ALL)
def test_every_fixture_round_trips_to_equal_json(relative: str) -> None:
    data = json.loads((FIXTURES / relative).read_text())
    model = model_for(relative)
    decoded = model(data) if model is events.parse else converter.structure(data, model)
    assert not isinstance(decoded, svaml.UnknownAction | svaml.UnknownInstruction
                          | events.UnknownEvent)
    encoded = json.loads(json.dumps(converter.unstructure(decoded)))
    assert instants(encoded) == instants(java_spellings(data))
    # and once more: what the client writes decodes to the same values
    again = model(encoded) if model is events.parse else converter.structure(encoded, model)
    assert again == decoded


def test_shared_fixtures_are_the_copy_tested(tmp_path: Path) -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    if not shared.exists():
        pytest.skip("../shared/fixtures is not beside this checkout")
    names = sorted(str(p.relative_to(shared / FIXTURES.name)) for p in
                   (shared / FIXTURES.name).rglob("*.json"))
    assert names == ALL
    for name in names:
        assert (shared / FIXTURES.name / name).read_bytes() == (FIXTURES / name).read_bytes()
