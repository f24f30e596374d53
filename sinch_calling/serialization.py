"""The one cattrs converter: attrs models <-> the wire's JSON values.

Rules it applies to every attrs class it meets:

* attribute ``snake_case`` <-> wire ``camelCase``; a field's ``metadata`` may name the
  wire spelling (``wire_name("callid")``) and extra spellings accepted on input
  (``wire_name("applicationkey", "applicationKey")``);
* ``None`` attributes are left out when encoding; unknown keys are ignored when decoding;
* an enum field typed ``SomeEnum | str`` decodes unknown values to the plain string;
* datetimes decode from any ISO-8601 form (naive means UTC) and encode as UTC ``Z``;
* tuples encode as JSON arrays.
"""

from __future__ import annotations

import enum
import json
import re
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .auth import format_timestamp, parse_timestamp

__all__ = [
    "converter",
    "decode_json",
    "dumps",
    "encode_json",
    "loads",
    "to_camel",
    "wire_key",
    "wire_name",
]

T = TypeVar("T")

_WIRE = "sinch_calling.wire"
_ALIASES = "sinch_calling.aliases"


def wire_name(name: str, *aliases: str) -> dict[str, Any]:
    """Field metadata: the wire spelling of an attribute and spellings also accepted."""
    return {_WIRE: name, _ALIASES: aliases}


def to_camel(name: str) -> str:
    """``call_resource_url`` -> ``callResourceUrl``; a trailing ``_`` is dropped."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_key(field: attrs.Attribute[Any]) -> str:
    """The wire spelling of an attrs field (its ``wire_name`` or its camelCase)."""
    return str(field.metadata.get(_WIRE) or to_camel(field.name))


def _is_enum_or_str(tp: Any) -> bool:
    if get_origin(tp) not in (Union, types.UnionType):
        return False
    args = [a for a in get_args(tp) if a is not type(None)]
    return (
        len(args) == 2
        and str in args
        and any(isinstance(a, type) and issubclass(a, enum.Enum) for a in args)
    )


def _is_plain_optional(tp: Any) -> bool:
    if get_origin(tp) not in (Union, types.UnionType):
        return False
    args = get_args(tp)
    return len(args) == 2 and type(None) in args and not _is_enum_or_str(tp)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, unstruct_collection_overrides={tuple: list})

    def optional(tp: Any) -> Callable[[Any, Any], Any]:
        # Resolve the inner hook once, instead of dispatching on every value.
        inner_type = next(a for a in get_args(tp) if a is not type(None))
        inner = conv.get_structure_hook(inner_type)

        def structure(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure

    conv.register_structure_hook_factory(_is_plain_optional, optional)

    conv.register_structure_hook(datetime, lambda value, _: _datetime(value))
    conv.register_unstructure_hook(datetime, format_timestamp)

    def enum_or_str(tp: Any) -> Callable[[Any, Any], Any]:
        enum_type = next(
            a for a in get_args(tp) if isinstance(a, type) and issubclass(a, enum.Enum)
        )
        optional = type(None) in get_args(tp)

        def structure(value: Any, _: Any) -> Any:
            if value is None and optional:
                return None
            try:
                return enum_type(value)
            except ValueError:
                return str(value)

        return structure

    conv.register_structure_hook_factory(_is_enum_or_str, enum_or_str)
    conv.register_unstructure_hook_factory(
        _is_enum_or_str, lambda _: lambda v: v.value if isinstance(v, enum.Enum) else v
    )

    def structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        fields = attrs.fields(cls)
        renames = {f.name: override(rename=wire_key(f)) for f in fields}
        inner = make_dict_structure_fn(cls, conv, **renames)  # type: ignore[arg-type]
        aliases = [
            (alias, wire_key(f)) for f in fields for alias in f.metadata.get(_ALIASES, ())
        ]

        def structure(data: Any, tp: Any) -> Any:
            if not isinstance(data, Mapping):
                raise TypeError(f"expected a JSON object for {cls.__name__}, "
                                f"got {type(data).__name__}")
            if aliases and any(a in data for a, _ in aliases):
                data = dict(data)
                for alias, canonical in aliases:
                    if alias in data and canonical not in data:
                        data[canonical] = data.pop(alias)
            return inner(data, tp)

        return structure

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        # Fields defaulting to None are left out when None: generated code, no second pass.
        overrides = {f.name: override(rename=wire_key(f), omit_if_default=f.default is None)
                     for f in attrs.fields(cls)}
        return make_dict_unstructure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    return parse_timestamp(value)


converter: cattrs.Converter = _make_converter()
"""The converter for every model, SVAML element and event (wire camelCase)."""


_LONG_DIGITS: Final = re.compile(rb"[0-9]{19}")
_LONG_DIGITS_TEXT: Final = re.compile(r"[0-9]{19}")


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes of plain data (what ``json.dumps`` with ``(",", ":")``
    separators and ``ensure_ascii=False`` gives, encoded).

    orjson does the work; what it refuses (integers beyond 64 bits, text that is not
    valid Unicode, non-string keys) goes through the standard library, so every input
    gets the same outcome as with ``json`` alone (the same value or the same error).
    Floats are written in their shortest round-trip form either way; NaN and infinities
    must be refused before this point (orjson would write them as ``null``).
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def decode_json(data: bytes | bytearray | str) -> Any:
    """Decode JSON; raises ``ValueError`` (``json.JSONDecodeError`` or
    ``UnicodeDecodeError``) or ``RecursionError`` for what is not JSON.

    orjson does the work; what it refuses goes through the standard library (``NaN``,
    a byte-order mark, nesting beyond 1,024 levels), and so does any text holding a run
    of 19 or more digits (orjson would turn an integer beyond 64 bits into a float), so
    every input decodes to the same value, or fails the same way, as with ``json`` alone.
    """
    long_digits = _LONG_DIGITS_TEXT if isinstance(data, str) else _LONG_DIGITS
    if long_digits.search(data) is None:  # type: ignore[arg-type]
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Encode a model (or plain data) to compact UTF-8 JSON bytes."""
    return encode_json(converter.unstructure(obj))


def loads(data: bytes | str, cls: type[T]) -> T:
    """Decode JSON text into ``cls``."""
    return converter.structure(decode_json(data), cls)
