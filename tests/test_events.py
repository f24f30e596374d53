"""Callback events: decoding every fixture, round trips, forward compatibility, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinch_calling import converter, events
from sinch_calling.auth import parse_timestamp
from sinch_calling.errors import SinchError
from sinch_calling.events import (
    AmdReason,
    AmdResult,
    AmdStatus,
    AnsweredCallEvent,
    CallHeader,
    DisconnectedCallEvent,
    EventParseError,
    EventType,
    IncomingCallEvent,
    InputMethod,
    MenuResult,
    MenuResultType,
    NotificationEvent,
    PromptInputEvent,
    UnknownEvent,
)
from sinch_calling.models import CallReason, CallResult, Destination, Domain, Money
from sinch_calling.models.common import DestinationType
from tests.conftest import FIXTURES, fixture_json

EVENT_FIXTURES = {
    "IncomingCallEventDto.json": IncomingCallEvent,
    "AnsweredCallEventDto.json": AnsweredCallEvent,
    "PromptInputEventDto.json": PromptInputEvent,
    "DisconnectedCallEventDto.json": DisconnectedCallEvent,
    "NotificationEventDto.json": NotificationEvent,
}


def test_every_event_fixture_is_covered() -> None:
    on_disk = {p.name for p in (FIXTURES / "sinchevents").glob("*.json")}
    assert on_disk == set(EVENT_FIXTURES)


def comparable(value: Any, key: str = "") -> Any:
    """A JSON value with timestamps as instants and enum-ish strings case-folded."""
    if isinstance(value, dict):
        return {k: comparable(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if key == "timestamp" and isinstance(value, str):
        return parse_timestamp(value)
    if key in {"type", "originationType", "domain"} and isinstance(value, str):
        return value.casefold()
    return value


@pytest.mark.parametrize(("name", "cls"), EVENT_FIXTURES.items())
def test_fixture_round_trips_through_the_converter(name: str, cls: type[Any]) -> None:
    data = fixture_json(f"sinchevents/{name}")
    event = converter.structure(data, cls)
    assert type(event) is cls
    encoded = converter.unstructure(event)
    assert comparable(encoded) == comparable(data)
    assert json.loads(json.dumps(encoded)) == encoded  # plain JSON values only
    assert converter.structure(encoded, cls) == event


@pytest.mark.parametrize(("name", "cls"), EVENT_FIXTURES.items())
def test_parse_picks_the_class_from_the_event_field(name: str, cls: type[Any]) -> None:
    raw = (FIXTURES / "sinchevents" / name).read_bytes()
    event = events.parse(raw)
    assert type(event) is cls
    assert event == converter.structure(json.loads(raw), cls)
    assert events.parse(raw.decode()) == event
    assert events.parse(bytearray(raw)) == event
    assert events.parse(memoryview(raw)) == event
    assert events.parse(json.loads(raw)) == event


def test_ice_fields() -> None:
    event = events.parse(fixture_json("sinchevents/IncomingCallEventDto.json"))
    assert isinstance(event, IncomingCallEvent)
    assert event.event is EventType.ICE
    assert event.call_id == "a call id"
    assert event.call_resource_url == (
        "https://calling-euc1.api.sinch.com/calling/v1/calls/id/a call id")
    assert event.timestamp == datetime(2024, 1, 16, 16, 46, 36, tzinfo=UTC)
    assert event.version == 1
    assert event.custom == "my custom"
    assert event.user_rate == Money(currency_id="USD", amount=0.0)
    assert event.cli == "cli number"
    assert event.to == Destination(type=DestinationType.NUMBER, endpoint="+123456879")
    assert event.domain is Domain.MXP
    assert event.application_key == "an app key"
    assert event.origination_type == Domain.MXP  # "MXP" on the wire, kept as sent
    assert converter.unstructure(event)["originationType"] == "MXP"
    assert event.rdnis == "rdnis value"
    assert event.call_headers == (CallHeader(key="the key", value="the value"),)
    assert event.conference_id == "a conference id"
    assert event.duration is None


def test_ace_fields() -> None:
    event = events.parse(fixture_json("sinchevents/AnsweredCallEventDto.json"))
    assert isinstance(event, AnsweredCallEvent)
    assert event.amd == AmdResult(status=AmdStatus.HUMAN, reason=AmdReason.LONGGREETING,
                                  duration=15)
    assert event.application_key == "my application key"
    assert event.timestamp is not None
    assert event.timestamp.tzinfo is not None


def test_pie_fields() -> None:
    event = events.parse(fixture_json("sinchevents/PromptInputEventDto.json"))
    assert isinstance(event, PromptInputEvent)
    assert event.menu_result == MenuResult(menu_id="confirm", type=MenuResultType.SEQUENCE,
                                           value="1452", input_method=InputMethod.DTMF)


def test_dice_fields() -> None:
    event = events.parse(fixture_json("sinchevents/DisconnectedCallEventDto.json"))
    assert isinstance(event, DisconnectedCallEvent)
    assert event.reason is CallReason.MANAGERHANGUP
    assert event.result is CallResult.ANSWERED
    assert event.debit == Money(currency_id="EUR", amount=0.1758)
    assert event.user_rate == Money(currency_id="USD", amount=0.345)
    assert event.from_ == "private"
    assert event.duration == 1


def test_notify_fields() -> None:
    event = events.parse(fixture_json("sinchevents/NotificationEventDto.json"))
    assert isinstance(event, NotificationEvent)
    assert event.type == "recording_finished"
    assert event.destination == "a destination"
    assert event.amd is not None
    assert event.amd.status is AmdStatus.HANGUP
    assert event.amd.reason is AmdReason.INITIALSILENCE
    assert event.timestamp is None


def test_notify_error_fields() -> None:
    event = events.parse({"event": "notify", "callid": "c", "type": "callingerror",
                          "errorCode": 50000, "errorMsg": "boom", "user": "alice"})
    assert isinstance(event, NotificationEvent)
    assert (event.error_code, event.error_msg, event.user) == (50000, "boom", "alice")


def test_notify_without_call_id_is_accepted() -> None:
    event = events.parse({"event": "notify", "type": "recording_available"})
    assert isinstance(event, NotificationEvent)
    assert event.call_id is None


def test_dice_from_tolerates_a_destination_object() -> None:
    data = {"event": "dice", "callid": "c", "from": {"type": "Number", "endpoint": "+46"}}
    event = events.parse(data)
    assert isinstance(event, DisconnectedCallEvent)
    assert event.from_ == Destination.number("+46")
    assert converter.unstructure(event)["from"] == {"type": "Number", "endpoint": "+46"}


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2024-01-08T09:48:12", datetime(2024, 1, 8, 9, 48, 12, tzinfo=UTC)),
        ("2024-01-08T09:48:12Z", datetime(2024, 1, 8, 9, 48, 12, tzinfo=UTC)),
        ("2024-01-08T09:48:12.250Z", datetime(2024, 1, 8, 9, 48, 12, 250_000, tzinfo=UTC)),
        ("2024-01-08T11:48:12+02:00",
         datetime(2024, 1, 8, 11, 48, 12, tzinfo=timezone(timedelta(hours=2)))),
    ],
)
def test_timestamps_are_timezone_aware(stamp: str, expected: datetime) -> None:
    event = events.parse({"event": "ace", "callid": "c", "timestamp": stamp})
    assert isinstance(event, AnsweredCallEvent)
    assert event.timestamp == expected
    assert event.timestamp is not None
    assert event.timestamp.utcoffset() is not None


def test_unknown_fields_are_ignored_and_unknown_enum_values_kept() -> None:
    event = events.parse({
        "event": "pie", "callid": "c", "brandNewField": {"x": [1, 2]},
        "menuResult": {"type": "gesture", "inputMethod": "telepathy", "extra": 1},
    })
    assert isinstance(event, PromptInputEvent)
    assert event.menu_result == MenuResult(type="gesture", input_method="telepathy")
    ace = events.parse({"event": "ace", "callid": "c",
                        "amd": {"status": "dolphin", "reason": "squeaks"}})
    assert isinstance(ace, AnsweredCallEvent)
    assert ace.amd == AmdResult(status="dolphin", reason="squeaks")
    dice = events.parse({"event": "dice", "callid": "c", "reason": "NEWREASON",
                         "result": "WEIRD"})
    assert isinstance(dice, DisconnectedCallEvent)
    assert (dice.reason, dice.result) == ("NEWREASON", "WEIRD")


def test_alternative_spellings_are_accepted() -> None:
    event = events.parse({"event": "ICE", "callId": "c", "applicationkey": "k"})
    assert isinstance(event, IncomingCallEvent)
    assert (event.call_id, event.application_key) == ("c", "k")
    assert converter.unstructure(event) == {"event": "ice", "callid": "c",
                                            "applicationKey": "k"}


def test_unknown_event_type_is_kept_whole() -> None:
    data = {"event": "transfer", "callid": "c", "anything": [1, {"a": None}]}
    event = events.parse(json.dumps(data))
    assert event == UnknownEvent(event="transfer", call_id="c", data=data)
    assert converter.unstructure(event) == data
    assert converter.structure(data, UnknownEvent) == event
    assert hash(event) == hash(UnknownEvent(event="transfer", call_id="c", data={}))


def test_events_are_frozen() -> None:
    event = events.parse(fixture_json("sinchevents/AnsweredCallEventDto.json"))
    with pytest.raises(AttributeError):
        event.call_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "must be JSON"),
        (b"not json", "must be JSON"),
        (b"\xff\xfe\x00", "must be JSON"),
        (b"[]", "got an array"),
        (b'"ice"', "got a string"),
        (b"42", "got a number"),
        (b"null", "got null"),
        (b"{}", '"event"'),
        (b'{"event": 1}', '"event"'),
        (b'{"event": ""}', '"event"'),
        (b'{"event": "ice"}', "$.call_id: required field missing"),
        (b'{"event": "ice", "callid": 5}', "$.call_id: expected a non-empty string, got int"),
        (b'{"event": "ace", "callid": "c", "version": "1"}', "expected an integer"),
        (b'{"event": "ace", "callid": "c", "version": true}', "got bool"),
        (b'{"event": "ace", "callid": "c", "amd": [1]}', "expected a JSON object"),
        (b'{"event": "ace", "callid": "c", "amd": "human"}', "expected a JSON object"),
        (b'{"event": "ace", "callid": "c", "timestamp": "yesterday"}', "$.timestamp"),
        (b'{"event": "ace", "callid": "c", "timestamp": 17}', "$.timestamp"),
        (b'{"event": "ice", "callid": "c", "callHeaders": [{"key": 1}]}',
         "$.call_headers[0].key"),
        (b'{"event": "ice", "callid": "c", "userRate": {"amount": "lots"}}',
         "$.user_rate.amount"),
        (b'{"event": "dice", "callid": "c", "from": 5}', "$.from_"),
        (b"[" * 100_000, "must be JSON"),
    ],
)
def test_malformed_bodies_raise_event_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(EventParseError) as info:
        events.parse(body)
    assert message in str(info.value)
    assert isinstance(info.value, SinchError)
    assert isinstance(info.value, ValueError)


def test_parse_rejects_non_text_input() -> None:
    with pytest.raises(EventParseError):
        events.parse(42)  # type: ignore[arg-type]


def test_integral_floats_are_accepted_as_integers() -> None:
    event = events.parse(b'{"event": "dice", "callid": "c", "duration": 12.0}')
    assert isinstance(event, DisconnectedCallEvent)
    assert event.duration == 12
    assert type(event.duration) is int


# -- properties ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
wire_keys = st.sampled_from([
    "callid", "callId", "callResourceUrl", "timestamp", "version", "custom", "userRate",
    "cli", "to", "from", "domain", "applicationKey", "originationType", "duration", "rdnis",
    "callHeaders", "conferenceId", "amd", "menuResult", "reason", "result", "debit", "type",
    "destination", "errorCode", "errorMsg", "user",
])
event_names = st.sampled_from(["ice", "ace", "pie", "dice", "notify", "ICE", "other"])
event_like = st.builds(
    lambda name, fields: {"event": name, **fields},
    event_names,
    st.dictionaries(wire_keys, json_values, max_size=8),
)


def parses_or_rejects_cleanly(body: Any) -> None:
    try:
        event = events.parse(body)
    except EventParseError:
        return
    assert isinstance(event, (IncomingCallEvent, AnsweredCallEvent, PromptInputEvent,
                              DisconnectedCallEvent, NotificationEvent, UnknownEvent))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_raise_event_parse_error(body: bytes) -> None:
    parses_or_rejects_cleanly(body)


@given(json_values)
def test_arbitrary_json_parses_or_raises_event_parse_error(value: Any) -> None:
    parses_or_rejects_cleanly(json.dumps(value))


@given(event_like)
def test_event_shaped_objects_parse_or_raise_event_parse_error(data: dict[str, Any]) -> None:
    parses_or_rejects_cleanly(data)
    parses_or_rejects_cleanly(json.dumps(data).encode())


text = st.text(max_size=15)
money = st.fixed_dictionaries({}, optional={
    "currencyId": text, "amount": st.floats(allow_nan=False, allow_infinity=False)})
destination = st.fixed_dictionaries({
    "type": st.sampled_from(["number", "Username", "sip", "future-kind"]), "endpoint": text})
moments = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))
valid_dice = st.fixed_dictionaries(
    {"event": st.just("dice"), "callid": st.text(
        st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=15,
    ).filter(str.strip)},  # an id the library would take back as an argument
    optional={
        "timestamp": moments.map(lambda d: d.isoformat()),
        "version": st.integers(0, 10), "custom": text, "applicationKey": text,
        "reason": st.sampled_from(["CALLERHANGUP", "TIMEOUT", "UNHEARD_OF"]),
        "result": st.sampled_from(["ANSWERED", "BUSY", "SOMETHING"]),
        "debit": money, "userRate": money, "to": destination,
        "from": text | destination, "duration": st.integers(0, 10_000),
        "callHeaders": st.lists(st.fixed_dictionaries({"key": text, "value": text}),
                                max_size=3),
        "conferenceId": text,
    },
)


@given(valid_dice)
def test_valid_events_survive_encode_and_decode(data: dict[str, Any]) -> None:
    event = events.parse(data)
    assert isinstance(event, DisconnectedCallEvent)
    assert events.parse(json.dumps(converter.unstructure(event))) == event
