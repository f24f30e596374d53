"""The callback decode's shortcuts give what the full lookups give, for every input
(issue 10): an enum field's value looked up by its exact spelling or remembered from
before, an event name found by its exact spelling, bytes decoded without the type checks,
wire-name aliases found by a plain loop. Each is compared with the lookup it skips."""

from __future__ import annotations

import enum
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import converter
from sinch_calling.errors import EventParseError
from sinch_calling.events import EVENT_CLASSES, EventType, UnknownEvent, parse
from sinch_calling.models import Domain
from sinch_calling.models.common import DestinationType
from sinch_calling.models.events import AmdStatus, MenuResultType

ENUMS = (Domain, DestinationType, AmdStatus, MenuResultType, EventType)


def _cases(values: list[str]) -> st.SearchStrategy[str]:
    """Member values, their other casings and spacings, and other text."""
    known = st.sampled_from(values)
    return st.one_of(known, known.map(str.upper), known.map(str.title),
                     known.map(lambda v: f" {v}"), st.text(max_size=8))


@st.composite
def enum_values(draw: st.DrawFn) -> tuple[type[enum.Enum], Any]:
    kind = draw(st.sampled_from(ENUMS))
    values = [m.value for m in kind]
    value: Any = draw(st.one_of(_cases(values), st.sampled_from(list(kind)),
                                st.sampled_from(values).map(kind),  # members
                                st.sampled_from(values).map(str.upper).map(kind),  # aliases
                                st.none(), st.integers(), st.booleans()))
    return kind, value


def _expected(kind: type[enum.Enum], value: Any, optional: bool) -> Any:
    """The full lookup: enum_type(value), unknown text kept, anything else refused."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        return TypeError
    try:
        return kind(value)
    except ValueError:
        return value


def _outcome(hook: Any, value: Any) -> Any:
    try:
        return hook(value, None)
    except TypeError:
        return TypeError


@settings(max_examples=300)
@given(enum_values(), st.booleans())
def test_an_enum_or_text_field_decodes_as_the_enum_lookup_does(
        case: tuple[type[enum.Enum], Any], optional: bool) -> None:
    kind, value = case
    hook = converter.get_structure_hook(kind | str | None if optional else kind | str)
    expected = _expected(kind, value, optional)
    for _ in range(2):  # the second time, a remembered answer
        got = _outcome(hook, value)
        assert type(got) is type(expected)
        assert got == expected
        if isinstance(expected, enum.Enum):
            assert (got.name, got.value) == (expected.name, expected.value)


def test_remembered_spellings_stay_bounded() -> None:
    hook = converter.get_structure_hook(Domain | str)
    for i in range(1000):
        assert hook(f"future-{i}", None) == f"future-{i}"
    assert hook("MXP", None).value == "MXP"
    assert hook("MXP", None) == Domain.MXP
    remembered = [c.cell_contents for c in hook.__closure__ or ()
                  if isinstance(c.cell_contents, dict) and c.cell_contents is not
                  Domain._value2member_map_]
    assert remembered
    assert all(len(seen) <= 64 for seen in remembered)


CALL_ID_SPELLINGS = ("callid", "callId")
KEY_SPELLINGS = ("applicationKey", "applicationkey")


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    names = [k.value for k in EventType]
    body: dict[str, Any] = {"event": draw(st.one_of(_cases(names), st.integers(), st.none()))}
    for spellings in (CALL_ID_SPELLINGS, KEY_SPELLINGS):
        for key in draw(st.lists(st.sampled_from(spellings), unique=True)):
            body[key] = draw(st.one_of(st.text(max_size=4), st.integers()))
    if draw(st.booleans()):
        body["domain"] = draw(_cases(["pstn", "mxp", "sip"]))
    if draw(st.booleans()):
        body["to"] = draw(st.one_of(st.text(max_size=3), st.fixed_dictionaries(
            {"type": _cases(["number", "did"]), "endpoint": st.text(max_size=4)})))
    return body


def _reference(body: dict[str, Any]) -> Any:
    """parse() spelled with the full lookups: EventType(name.strip()), aliases renamed
    by hand, the converter on the class."""
    name = body.get("event")
    if not isinstance(name, str) or not name.strip():
        return EventParseError
    try:
        cls = EVENT_CLASSES[EventType(name.strip())]
    except ValueError:
        cls = UnknownEvent
    data = dict(body)
    if cls is not UnknownEvent:
        for alias, canonical in (("callId", "callid"), ("applicationkey", "applicationKey")):
            if alias in data and canonical not in data:
                data[canonical] = data.pop(alias)
    try:
        return converter.structure(data, cls)
    except Exception:
        return EventParseError


def _parsed(body: Any) -> Any:
    try:
        return parse(body)
    except EventParseError:
        return EventParseError


@settings(max_examples=300)
@given(bodies())
def test_parse_gives_what_the_full_lookups_give(body: dict[str, Any]) -> None:
    expected = _reference(body)
    raw = json.dumps(body)
    for given_as in (raw.encode(), bytearray(raw.encode()), memoryview(raw.encode()), raw,
                     body):
        got = _parsed(given_as)
        assert type(got) is type(expected) if expected is not EventParseError else got is expected
        assert got == expected
        if expected is not EventParseError:
            assert converter.unstructure(got) == converter.unstructure(expected)


@given(st.binary(max_size=40))
def test_any_bytes_fail_or_decode_as_text_and_bytearray_do(body: bytes) -> None:
    outcomes = {repr(_parsed(given_as)) for given_as in (body, bytearray(body))}
    assert len(outcomes) == 1
