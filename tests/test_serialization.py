"""The converter's rules, on arbitrary input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinch_calling import Call, CallResult, CallStatus, Destination, converter
from sinch_calling.models import DestinationType
from sinch_calling.serialization import dumps, loads, to_camel

from .conftest import fixture_json


@pytest.mark.parametrize(("snake", "camel"), [("call_id", "callId"), ("from_", "from"),
                                              ("call_resource_url", "callResourceUrl"),
                                              ("to", "to")])
def test_to_camel(snake: str, camel: str) -> None:
    assert to_camel(snake) == camel


def test_call_fixture_round_trips() -> None:
    data = fixture_json("calls/GetCallInformationResponseDto.json")
    call = converter.structure(data, Call)
    assert call.timestamp == datetime(2024, 1, 8, 9, 48, 12, tzinfo=UTC)
    assert call.from_ == Destination.username("user name endpoint validation")
    encoded = converter.unstructure(call)
    assert encoded.pop("timestamp") == "2024-01-08T09:48:12.000Z"
    expected = dict(data)
    del expected["timestamp"]
    assert encoded == expected  # "Username" and "Number" come back as they were sent


@pytest.mark.parametrize("name", ["DestinationDidDto", "DestinationMxpAliasDto",
                                  "DestinationMxpDto", "DestinationPstnAliasDto",
                                  "DestinationPstnDto", "DestinationSipDto",
                                  "DestinationWebSocketDto"])
def test_destination_fixtures_keep_the_type_spelling(name: str) -> None:
    data = fixture_json(f"destination/{name}.json")
    destination = converter.structure(data, Destination)
    assert isinstance(destination.type, DestinationType)
    assert destination.type == DestinationType[destination.type.name]
    assert converter.unstructure(destination) == data


def test_unknown_enum_values_are_kept_as_strings() -> None:
    call = converter.structure({"callId": "c", "status": "PAUSED", "result": "answered"}, Call)
    assert call.status == "PAUSED"
    assert call.result == CallResult.ANSWERED
    assert converter.unstructure(call) == {"callId": "c", "status": "PAUSED",
                                           "result": "answered"}


def test_none_fields_are_omitted_and_false_is_kept() -> None:
    from sinch_calling import Participant

    encoded = converter.unstructure(Participant(id="p", muted=False))
    assert encoded == {"id": "p", "muted": False}


def test_dumps_is_compact_utf8() -> None:
    assert dumps(Destination.number("+46")) == b'{"type":"number","endpoint":"+46"}'
    assert loads(b'{"type":"Number","endpoint":"+46"}', Destination) == Destination.number("+46")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=12).filter(lambda k: k not in {
    "callId", "callid", "from", "to", "domain", "duration", "status", "result", "reason",
    "timestamp", "custom", "userRate", "debit"}), json_values, max_size=5))
def test_unknown_fields_are_ignored(extra: dict[str, object]) -> None:
    call = converter.structure({"callId": "c", "status": "FINAL", **extra}, Call)
    assert call.call_id == "c"
    assert call.status is CallStatus.FINAL


@given(st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0)))
def test_datetimes_round_trip(moment: datetime) -> None:
    call = Call(call_id="c", timestamp=moment)
    assert converter.structure(json.loads(dumps(call)), Call).timestamp == moment
