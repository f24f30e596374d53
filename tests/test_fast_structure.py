"""The converter's shortcut for callback events (issue 10) gives what the converter gives.

For any event object, well-formed or mutated (fields dropped, retyped, respelled,
nested objects broken; the Java SDK's fixtures are the seeds), the shortcut either
declines or returns an event equal, type for type, to the converter's; and parsing
gives the same event, or the same error type and message, as the converter alone.
"""

from __future__ import annotations

import copy
import enum
import json
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinch_calling import converter, events
from sinch_calling._fast_structure import _built, fast_structure_fn
from sinch_calling.errors import EventParseError
from sinch_calling.events import EVENT_CLASSES, EventType, parse

FIXTURES = Path(__file__).parent / "fixtures" / "sinch-sdk-java-voice-v1" / "sinchevents"
SEEDS = {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (an enum member is not its text,
    an alias keeps its spelling, a float is not an int)."""
    if type(a) is not type(b):
        return False
    if attrs.has(type(a)):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in attrs.fields(type(a)))
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, enum.Enum):
        return (a.name, a.value) == (b.name, b.value)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


def outcome(decode: Any, *args: Any) -> Any:
    try:
        return decode(*args)
    except EventParseError as exc:
        return (EventParseError, str(exc))


def event_class(data: Any) -> type[Any]:
    return EVENT_CLASSES[EventType(data["event"])]


# -- mutated event objects ---------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=6)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(2**62, 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0, 12.0, -2.5]),
    _TEXT, st.sampled_from(["", " ", "a call id", "x\x00y", "\u00e9t\u00e9", "\ud800",
                            "2024-01-16T16:46:36Z", "2024-01-16T16:46:36.123+02:00",
                            "2024-01-16", "not a time", "MXP", "mxp", "Pstn", "human",
                            "HUMAN", "notsure", "DTMF", "sequence", "private",
                            "Websocket", "number", "ANSWERED", "MANAGERHANGUP"]),
)
_NESTED = st.one_of(
    st.fixed_dictionaries({"currencyId": _SCALARS, "amount": _SCALARS}),
    st.fixed_dictionaries({"type": _SCALARS, "endpoint": _SCALARS}),
    st.fixed_dictionaries({"key": _SCALARS, "value": _SCALARS}),
    st.fixed_dictionaries({}, optional={"status": _SCALARS, "reason": _SCALARS,
                                        "duration": _SCALARS}),
    st.fixed_dictionaries({}, optional={"menuId": _SCALARS, "type": _SCALARS,
                                        "value": _SCALARS, "inputMethod": _SCALARS}),
)
_VALUES = st.recursive(
    st.one_of(_SCALARS, _NESTED),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=8,
)
_ALIASES = {"callid": "callId", "callId": "callid", "applicationKey": "applicationkey",
            "applicationkey": "applicationKey"}


def change_one(draw: st.DrawFn, target: dict[str, Any], keys: list[str]) -> None:
    """Drop, retype, respell (or doubly spell) one of ``keys`` of ``target``, or add a key."""
    op = draw(st.sampled_from(["drop", "set", "set", "respell", "add", "both"]))
    key = draw(st.sampled_from(keys)) if keys else None
    if op == "drop" and key is not None:
        del target[key]
    elif op == "set" and key is not None:
        target[key] = draw(_VALUES)
    elif op == "respell" and key is not None:
        spelling = _ALIASES.get(key) or draw(st.sampled_from([key.upper(), key.lower()]))
        target[spelling] = target.pop(key)
    elif op == "both" and key in _ALIASES:  # both spellings, different values
        target[_ALIASES[key]] = draw(_VALUES)
    else:
        target[draw(_TEXT)] = draw(_VALUES)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A fixture event with a few of its fields (or nested fields) changed."""
    data: dict[str, Any] = copy.deepcopy(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    name = data["event"]
    for _ in range(draw(st.integers(0, 5))):
        target = data
        nested = [k for k, v in data.items() if isinstance(v, dict)]
        lists = [k for k, v in data.items()
                 if isinstance(v, list) and v and isinstance(v[0], dict)]
        where = draw(st.sampled_from(["top", "nested", "list"]))
        if where == "nested" and nested:
            target = data[draw(st.sampled_from(nested))]
        elif where == "list" and lists:
            target = data[draw(st.sampled_from(lists))][0]
        change_one(draw, target, sorted(k for k in target if k != "event"))
    data["event"] = name  # which class decodes it stays fixed
    return data


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_shortcut_gives_the_converters_event_or_declines(data: dict[str, Any]) -> None:
    cls = event_class(data)
    fast = fast_structure_fn(cls)
    assert fast is not None
    got = fast(data)
    expected = outcome(events._converted, data, cls)
    if got is not None:
        assert not isinstance(expected, tuple), (got, expected)
        assert same(got, expected)
    result = outcome(events._structure, data, cls)
    if isinstance(expected, tuple):
        assert result == expected  # the converter's own error: same type, same message
    else:
        assert same(result, expected)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_parsing_the_wire_bytes_gives_the_converters_outcome(data: dict[str, Any]) -> None:
    try:
        body = json.dumps(data, allow_nan=False).encode()
    except (ValueError, UnicodeEncodeError):
        return
    try:
        decoded = json.loads(body)
    except ValueError:
        return
    cls = event_class(decoded)
    expected = outcome(events._converted, decoded, cls)
    got = outcome(parse, body)
    if isinstance(expected, tuple):
        assert got == expected
    else:
        assert same(got, expected)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_fixture_takes_the_shortcut(name: str) -> None:
    data = SEEDS[name]
    cls = event_class(data)
    fast = fast_structure_fn(cls)
    assert fast is not None
    got = fast(copy.deepcopy(data))
    assert got is not None
    assert same(got, converter.structure(data, cls))


def test_the_accepted_spellings_take_the_shortcut_and_the_canonical_one_wins() -> None:
    ice = dict(SEEDS["IncomingCallEventDto"])
    ice["callId"] = ice.pop("callid")
    ice["applicationkey"] = ice.pop("applicationKey")
    fast = fast_structure_fn(EVENT_CLASSES[EventType.ICE])
    assert fast is not None
    got = fast(ice)
    assert got is not None
    assert (got.call_id, got.application_key) == ("a call id", "an app key")
    both = {**SEEDS["IncomingCallEventDto"], "callId": "the alias"}
    assert fast(both).call_id == "a call id"  # type: ignore[union-attr]
    assert same(fast(both), converter.structure(both, EVENT_CLASSES[EventType.ICE]))


@pytest.mark.parametrize("data", [
    MappingProxyType(SEEDS["IncomingCallEventDto"]),  # a mapping, not a dict
    {**SEEDS["IncomingCallEventDto"], "callid": " "},  # a blank id
    {**SEEDS["IncomingCallEventDto"], "version": "1"},  # text for a number
    {**SEEDS["IncomingCallEventDto"], "to": {"type": "number"}},  # no endpoint
    {k: v for k, v in SEEDS["IncomingCallEventDto"].items() if k != "callid"},
], ids=["mapping", "blank-id", "text-version", "no-endpoint", "no-call-id"])
def test_what_the_converter_refuses_the_shortcut_declines(data: Any) -> None:
    cls = EVENT_CLASSES[EventType.ICE]
    fast = fast_structure_fn(cls)
    assert fast is not None
    assert fast(data) is None
    if isinstance(data, MappingProxyType):
        assert same(parse(data), converter.structure(data, cls))
    else:
        with pytest.raises(EventParseError):
            parse(data)


def test_a_dice_from_object_is_left_to_the_converters_override() -> None:
    dice = {**SEEDS["DisconnectedCallEventDto"],
            "from": {"type": "number", "endpoint": "+46700000000"}}
    cls = EVENT_CLASSES[EventType.DICE]
    assert fast_structure_fn(cls)(dice) is None  # type: ignore[misc]
    assert same(parse(dice), converter.structure(dice, cls))


def test_every_shortcut_stands_for_the_converters_plain_model_hook() -> None:
    # The shortcut copies the generic attrs rule; a class with a hook of its own
    # (UnknownEvent, SVAML's tagged elements) must never get one.
    for data in SEEDS.values():
        parse(data)
    assert _built
    for cls, fn in _built.items():
        if fn is None:  # declined (other tests may have asked for any model)
            continue
        hook = converter.get_structure_hook(cls)
        assert hook.__qualname__.endswith("structure_factory.<locals>.structure"), cls


def test_nothing_is_generated_at_import() -> None:
    code = ("import sinch_calling, sinch_calling.events, sinch_calling.webhooks\n"
            "from sinch_calling._fast_structure import _built\n"
            "print(len(_built))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "0"


def test_plain_frozen_models_are_built_slot_by_slot() -> None:
    from sinch_calling._fast_structure import _slot_setters
    from sinch_calling.models.common import Destination, Money

    for cls in (*EVENT_CLASSES.values(), Destination, Money, events.CallHeader):
        if cls is not events.UnknownEvent:
            assert _slot_setters(cls, attrs.fields(cls)) is not None, cls
    event = parse(SEEDS["IncomingCallEventDto"])
    again = converter.structure(SEEDS["IncomingCallEventDto"], events.IncomingCallEvent)
    assert same(event, again)
    assert hash(event) == hash(again)
    assert repr(event) == repr(again)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.call_id = "other"  # type: ignore[misc]


@attrs.frozen
class _Checked:
    value: str = attrs.field(validator=attrs.validators.instance_of(str))


@attrs.frozen
class _Hooked:
    value: str

    def __attrs_post_init__(self) -> None:
        pass


@attrs.frozen(cache_hash=True)
class _CachedHash:
    value: str


@attrs.define
class _Mutable:
    value: str


@attrs.frozen(slots=False)
class _Dict:
    value: str


@pytest.mark.parametrize("cls", [_Checked, _Hooked, _CachedHash, _Mutable, _Dict])
def test_a_model_whose_init_does_more_is_called(cls: type[Any]) -> None:
    from sinch_calling._fast_structure import _slot_setters

    assert _slot_setters(cls, attrs.fields(cls)) is None


_STAMPS = st.one_of(
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.datetimes().map(lambda d: d.isoformat(timespec="milliseconds") + "z"),
    st.datetimes().map(lambda d: " " + d.isoformat() + "Z "),
    st.text(alphabet="0123456789-T:.Z+ z\u0661\u00b2", max_size=26),
    st.text(max_size=8).map(lambda t: t + "Z"),
)


@given(_STAMPS)
def test_a_timestamp_decodes_as_the_converter_decodes_it(stamp: str) -> None:
    data = {**SEEDS["IncomingCallEventDto"], "timestamp": stamp}
    cls = events.IncomingCallEvent
    expected = outcome(events._converted, data, cls)
    got = fast_structure_fn(cls)(data)  # type: ignore[misc]
    if got is not None:
        assert same(got, expected)
        assert got.timestamp.tzinfo is expected.timestamp.tzinfo  # type: ignore[union-attr]
    result = outcome(parse, data)
    assert result == expected if isinstance(expected, tuple) else same(result, expected)
