"""orjson does the JSON work, the standard library what orjson refuses: every input
gets the same outcome as with ``json`` alone (property-based)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling.serialization import decode_json, encode_json

scalars = (st.none() | st.booleans() | st.text()
           | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def _outcome(decode: Any, data: Any) -> Any:
    try:
        return ("value", decode(data))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        return ("error", type(exc))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=150, deadline=None)
@given(values)
def test_encoding_round_trips_like_the_standard_library(value: Any) -> None:
    encoded = encode_json(value)
    assert _same(json.loads(encoded), value)
    assert _same(decode_json(encoded), value)


@settings(max_examples=150, deadline=None)
@given(values.filter(lambda v: "float" not in repr(type(v))))
def test_encoding_without_floats_is_byte_identical(value: Any) -> None:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if any(isinstance(x, float) for x in _walk(value)):
        return  # float spelling may differ (1e16 vs 1e+16); the value may not
    assert encode_json(value) == text.encode()


def _walk(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for item in value for x in _walk(item)]
    if isinstance(value, dict):
        return [x for item in value.values() for x in _walk(item)]
    return [value]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | st.text(max_size=40).map(str.encode)
       | values.map(lambda v: json.dumps(v).encode()))
def test_decoding_any_bytes_matches_the_standard_library(data: bytes) -> None:
    mine, theirs = _outcome(decode_json, data), _outcome(json.loads, data)
    assert mine[0] == theirs[0]
    assert _same(mine[1], theirs[1]) if mine[0] == "value" else mine[1] is theirs[1]


def test_nan_and_infinity_are_refused_not_written_as_null() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="JSON compliant"):
            encode_json({"repeats": [1, bad]})
    assert encode_json({"text": "null", "v": None}) == b'{"text":"null","v":null}'
    with pytest.raises(UnicodeEncodeError):
        encode_json({"text": "\ud800"})


def test_what_orjson_refuses_still_decodes_as_before() -> None:
    for text in ("NaN", "[Infinity]", str(2**80), "\ufeff{}", "[" * 1100 + "]" * 1100,
                 '"\\ud800"'):
        assert _same(_outcome(decode_json, text.encode()), _outcome(json.loads, text.encode()))
    assert decode_json(bytearray(b"[-9223372036854775809]")) == [-9223372036854775809]
    assert decode_json("[18446744073709551616]") == [18446744073709551616]
    assert encode_json(2**80) == str(2**80).encode()
    assert encode_json({1: "a"}) == b'{"1":"a"}'
