"""The client decodes answers through the converter's shortcut (issue 10): same values.

For every answer model the client decodes (``Call``, ``Conference``, number lookups and
lists, callback URLs, callouts), any answer object, well-formed or mutated (the Java
SDK's fixtures are the seeds), gives through :func:`sinch_calling.transport.decode`
the value the converter alone gives, type for type, or the same
:class:`~sinch_calling.errors.InvalidResponseError` message.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinch_calling import converter
from sinch_calling.errors import InvalidResponseError
from sinch_calling.models import Call, Conference
from sinch_calling.models.callouts import CalloutResponse
from sinch_calling.models.wire import (
    CallbackUrlsEnvelope,
    NumbersResponse,
    QueryNumberResponse,
)
from sinch_calling.transport import decode

from .test_fast_structure import _VALUES, change_one, same

JAVA = Path(__file__).parent / "fixtures" / "sinch-sdk-java-voice-v1"
SEEDS: dict[str, tuple[type[Any], Any]] = {
    "call": (Call, "calls/GetCallInformationResponseDto.json"),
    "conference": (Conference, "conferences/response/ConferenceGetResponseDto.json"),
    "query": (QueryNumberResponse, "applications/response/QueryNumberResponseDto.json"),
    "numbers": (NumbersResponse, "applications/response/OwnedNumbersResponseDto.json"),
    "callbacks": (CallbackUrlsEnvelope,
                  "applications/response/GetEventDestinationsResponseDto.json"),
    "callout": (CalloutResponse, "callouts/CalloutResponseDto.json"),
}
LOADED = {name: (cls, json.loads((JAVA / path).read_text()))
          for name, (cls, path) in SEEDS.items()}


def outcome(data: Any, cls: type[Any], *, shortcut: bool = True) -> Any:
    try:
        if shortcut:
            return decode(data, cls)
        from sinch_calling import transport

        saved = dict(transport._shortcuts)
        transport._shortcuts.clear()
        transport._shortcuts[cls] = None  # no shortcut for this call
        try:
            return decode(data, cls)
        finally:
            transport._shortcuts.clear()
            transport._shortcuts.update(saved)
    except InvalidResponseError as exc:
        return (InvalidResponseError, str(exc))


def _containers(value: Any) -> list[Any]:
    found = [value]
    for child in (value.values() if isinstance(value, dict) else
                  value if isinstance(value, list) else ()):
        if isinstance(child, dict | list):
            found += _containers(child)
    return found


@st.composite
def mutated(draw: st.DrawFn) -> tuple[type[Any], Any]:
    """A fixture answer with a few values (at any depth) dropped, changed or added."""
    cls, seed = LOADED[draw(st.sampled_from(sorted(LOADED)))]
    data = copy.deepcopy(seed)
    for _ in range(draw(st.integers(0, 4))):
        target = draw(st.sampled_from(_containers(data)))
        if isinstance(target, list):
            if target and draw(st.booleans()):
                target[draw(st.integers(0, len(target) - 1))] = draw(_VALUES)
            else:
                target.append(draw(_VALUES))
            continue
        change_one(draw, target, sorted(target))
    if draw(st.integers(0, 20)) == 0:
        data = draw(_VALUES)  # not even an object
    return cls, data


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_decode_gives_the_converters_value_or_error(case: tuple[type[Any], Any]) -> None:
    cls, data = case
    got, expected = outcome(data, cls), outcome(data, cls, shortcut=False)
    if isinstance(expected, tuple) or isinstance(got, tuple):
        assert got == expected
    else:
        assert same(got, expected)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_fixture_decodes_the_same(name: str) -> None:
    cls, data = LOADED[name]
    assert same(decode(copy.deepcopy(data), cls), converter.structure(data, cls))


@pytest.mark.parametrize("name", sorted(set(SEEDS) - {"callbacks"}))
def test_every_fixture_takes_the_shortcut(name: str) -> None:
    from sinch_calling._fast_structure import fast_structure_fn

    cls, data = LOADED[name]
    fast = fast_structure_fn(cls)
    assert fast is not None
    assert fast(copy.deepcopy(data)) is not None
