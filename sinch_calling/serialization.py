"""The one cattrs converter: attrs models, SVAML and events <-> the wire's JSON values.

Configured here, in one place, when this module is imported (nothing else registers
hooks, so decoding never depends on which modules were imported). Rules:

* attribute ``snake_case`` <-> wire ``camelCase``; a field's ``metadata`` may name the
  wire spelling and spellings also accepted on input (``models._names.wire_name``);
* ``None`` attributes are left out when encoding; unknown keys are ignored when decoding;
  a model decodes only from a JSON object;
* an enum field typed ``SomeEnum | str`` decodes unknown values to the plain string and
  keeps the spelling that arrived (``"MXP"`` stays ``"MXP"``);
* plain values are never coerced into nonsense: text from a string (a JSON number keeps
  its spelling; null, booleans, arrays and objects are refused), whole numbers from
  integers (12.0 is 12, 12.7 and true are refused), booleans only from booleans;
* fields typed ``Str``/``Int`` are decoded without any coercion, ``Id`` fields only from
  a string that passes :func:`~sinch_calling.validation.identifier` (non-blank, valid
  Unicode, no control characters: the rule the same ids meet as arguments);
* datetimes decode from any ISO-8601 form (naive means UTC) and encode as UTC ``Z``;
* tuples encode as JSON arrays;
* SVAML elements are tagged by their ``name`` (unknown names decode to
  ``UnknownInstruction``/``UnknownAction`` and encode back unchanged); events carry
  their ``event`` name; a DiCE ``from`` is a string or a destination object.

Overrides that apply to particular fields are applied to those fields only (inside the
generated code of their class), never registered for a bare type.

The SVAML and event hooks are registered here too, but they match their types without
importing :mod:`sinch_calling.svaml` or :mod:`sinch_calling.models.events` (a type from
a module cannot exist before that module is imported), and build their code the first
time such a type is met: ``import sinch_calling`` does not pay for either.
"""

from __future__ import annotations

import enum
import json
import math
import re
import sys
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Final, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._time import format_timestamp, parse_timestamp
from .errors import ValidationError
from .models._names import ALIASES, ID, STRICT, to_camel, wire_key, wire_name
from .models.common import Destination
from .validation import identifier

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

_UNIONS = (Union, types.UnionType)
_PARTY = str | Destination | None


# -- predicates ------------------------------------------------------------------------


def _is_enum_or_str(tp: Any) -> bool:
    if get_origin(tp) not in _UNIONS:
        return False
    args = [a for a in get_args(tp) if a is not type(None)]
    return (
        len(args) == 2
        and str in args
        and any(isinstance(a, type) and issubclass(a, enum.Enum) for a in args)
    )


def _is_plain_optional(tp: Any) -> bool:
    if get_origin(tp) not in _UNIONS:
        return False
    args = get_args(tp)
    return len(args) == 2 and type(None) in args and not _is_enum_or_str(tp) \
        and _marked(tp) is None


def _marked(tp: Any) -> tuple[type[Any], Any] | None:
    """``(base, marker)`` for ``Annotated[base, STRICT|ID]``, also inside ``| None``."""
    if get_origin(tp) in _UNIONS:
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) != 1:
            return None
        tp = args[0]
    if get_origin(tp) is Annotated:
        for marker in tp.__metadata__:
            if marker is STRICT or marker is ID:
                base: type[Any] = get_args(tp)[0]
                return base, marker
    return None


# -- hooks -----------------------------------------------------------------------------

_JSON_NAMES = {str: "a string", int: "an integer"}


def _strict_hook(tp: Any) -> Callable[[Any, Any], Any]:
    found = _marked(tp)
    assert found is not None  # the factory's predicate
    base, marker = found
    optional = get_origin(tp) in _UNIONS
    expected = "a non-empty string" if marker is ID else _JSON_NAMES[base]

    def structure(value: Any, _: Any) -> Any:
        if marker is ID and type(value) is str:
            try:  # the argument rule, so an id handed out is one the library takes back
                return identifier("id", value)
            except ValidationError as exc:
                raise ValueError(f"an identifier {exc.rule}") from None
        if type(value) is base and marker is not ID:
            return value
        if value is None and optional:
            return None
        if base is int and isinstance(value, float) and value.is_integer():
            return int(value)
        # bool is an int subclass: rejected on purpose
        raise TypeError(f"expected {expected}, got {type(value).__name__}")

    return structure


def _text(value: Any, _: Any) -> str:
    # A JSON number keeps its JSON spelling; null, booleans, arrays and objects are no
    # text ("None", "True" and "{'x': 1}" were nonsense).
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return json.dumps(value)
    raise TypeError(f"expected a string, got {_json_kind(value)}")


def _whole(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {_json_kind(value)}")  # 12.7 is not 12


def _number(value: Any, _: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {_json_kind(value)}")


def _flag(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {_json_kind(value)}")  # "false" is truthy


def _datetime(value: Any, _: Any = None) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {_json_kind(value)}")
    return parse_timestamp(value)


def _is_identifier(value: object) -> bool:
    try:
        identifier("callId", value)
    except ValidationError:
        return False
    return True


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
             dict: "an object"}
    return kinds.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, unstruct_collection_overrides={tuple: list})

    def optional(tp: Any) -> Callable[[Any, Any], Any]:
        # Resolve the inner hook once, instead of dispatching on every value.
        inner_type = next(a for a in get_args(tp) if a is not type(None))
        inner = conv.get_structure_hook(inner_type)

        def structure(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure

    def enum_or_str(tp: Any) -> Callable[[Any, Any], Any]:
        enum_type = next(
            a for a in get_args(tp) if isinstance(a, type) and issubclass(a, enum.Enum)
        )
        optional = type(None) in get_args(tp)
        # What enum_type(value) finds first for a plain str, without the call's overhead
        # (a str subclass, such as another member or an alias, takes the full lookup).
        exact: Mapping[Any, Any] = enum_type._value2member_map_
        # Other spellings ("MXP" for mxp, unknown values) as enum_type(value) answered
        # them; bounded, since servers choose them.
        seen: dict[str, Any] = {}

        def structure(value: Any, _: Any) -> Any:
            if type(value) is str:
                found = exact.get(value)
                if found is None:
                    found = seen.get(value)
                if found is not None:
                    return found
            elif value is None and optional:
                return None
            elif not isinstance(value, str):
                raise TypeError(f"expected a string, got {_json_kind(value)}")
            try:
                found = enum_type(value)
            except ValueError:
                found = value
            if type(value) is str:
                if len(seen) >= 64:
                    seen.clear()
                seen[value] = found
            return found

        return structure

    def party(value: Any, _: Any) -> str | Destination | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, Mapping):
            found: Destination = conv.structure(value, Destination)
            return found
        raise TypeError(f"expected a string or a destination object, got {_json_kind(value)}")

    def structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        attrs.resolve_types(cls)
        fields = attrs.fields(cls)
        renames = {}
        for f in fields:
            if f.type == _PARTY:  # field-scoped: DiCE's "from" (a string or an object)
                renames[f.name] = override(rename=wire_key(f), struct_hook=party)
            else:
                renames[f.name] = override(rename=wire_key(f))
        inner = make_dict_structure_fn(cls, conv, **renames)  # type: ignore[arg-type]
        aliases = [(alias, wire_key(f)) for f in fields for alias in f.metadata.get(ALIASES, ())]
        spellings = tuple(alias for alias, _ in aliases)

        def structure(data: Any, tp: Any) -> Any:
            if type(data) is not dict and not isinstance(data, Mapping):
                raise TypeError(f"expected a JSON object for {cls.__name__}, "
                                f"got {_json_kind(data)}")
            for spelling in spellings:
                if spelling in data:
                    data = dict(data)
                    for alias, canonical in aliases:
                        if alias in data and canonical not in data:
                            data[canonical] = data.pop(alias)
                    break
            return inner(data, tp)

        return structure

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        # Fields defaulting to None are left out when None: generated code, no second pass.
        overrides = {f.name: override(rename=wire_key(f), omit_if_default=f.default is None)
                     for f in attrs.fields(cls)}
        return make_dict_unstructure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

    conv.register_structure_hook_factory(lambda tp: _marked(tp) is not None, _strict_hook)
    conv.register_structure_hook_factory(_is_plain_optional, optional)
    for base, hook in ((str, _text), (int, _whole), (float, _number), (bool, _flag)):
        conv.register_structure_hook(base, hook)
    conv.register_structure_hook(datetime, _datetime)
    conv.register_unstructure_hook(datetime, format_timestamp)
    conv.register_structure_hook_factory(_is_enum_or_str, enum_or_str)
    conv.register_unstructure_hook_factory(
        _is_enum_or_str, lambda _: lambda v: v.value if isinstance(v, enum.Enum) else v
    )
    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    _configure_svaml(conv)
    _configure_events(conv, unstructure_factory)
    return conv


# -- lazily matched types ----------------------------------------------------------------

_SVAML: Final = "sinch_calling.svaml"
_EVENTS: Final = "sinch_calling.models.events"


def _module(name: str) -> Any:
    """The module if it has been imported, else ``None``: none of its types exist yet, so
    a predicate asking about them answers no without importing anything."""
    return sys.modules.get(name)


def _subclass_of(module: str, *names: str) -> Callable[[Any], bool]:
    """A predicate: ``tp`` is a class deriving from ``module.<name>`` for one of ``names``
    (what a class hook matches)."""

    def matches(tp: Any) -> bool:
        found = _module(module)
        return found is not None and isinstance(tp, type) and issubclass(
            tp, tuple(getattr(found, name) for name in names))

    return matches


# -- SVAML: elements tagged by "name" ---------------------------------------------------


def _configure_svaml(conv: cattrs.Converter) -> None:
    def tagged(kinds_of: str, unknown_name: str) -> Callable[[Any], Callable[..., Any]]:
        def factory(_: Any) -> Callable[..., Any]:
            svaml = _module(_SVAML)
            kinds: tuple[type[Any], ...] = getattr(svaml, kinds_of)
            unknown: type[Any] = getattr(svaml, unknown_name)
            by_name = {cls.__attrs_attrs__.name.default.casefold(): cls for cls in kinds}

            def structure(data: Any, _: Any) -> Any:
                if data is None:
                    return None
                if isinstance(data, (*kinds, unknown)):
                    return data
                if not isinstance(data, Mapping):
                    raise TypeError(
                        f"a SVAML element must be a JSON object, got {_json_kind(data)}")
                name = data.get("name")
                cls = by_name.get(name.casefold() if isinstance(name, str) else "")
                if cls is None:
                    return unknown(data)
                return conv.structure(data, cls)

            return structure

        return factory

    def is_instruction(tp: Any) -> bool:
        svaml = _module(_SVAML)
        return svaml is not None and tp == svaml.Instruction

    def is_action(tp: Any) -> bool:
        svaml = _module(_SVAML)
        return svaml is not None and tp in (svaml.Action, Union[svaml.Action, None])  # noqa: UP007

    def is_element(tp: Any) -> bool:
        svaml = _module(_SVAML)
        return svaml is not None and (tp in svaml.INSTRUCTIONS or tp in svaml.ACTIONS)

    def unstructure_element(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
        # The generic attrs hook skips init=False fields; an element must carry its name.
        renames = {f.name: override(rename=wire_key(f), omit=False) for f in attrs.fields(cls)}
        inner = make_dict_unstructure_fn(cls, conv, **renames)  # type: ignore[arg-type]

        def unstructure(obj: Any) -> dict[str, Any]:
            encoded = {k: v for k, v in inner(obj).items() if v is not None}
            return {"name": encoded.pop("name"), **encoded}

        return unstructure

    def unstructure_document(doc: Any) -> dict[str, Any]:
        # No instructions are left out, like any unset field ({"action": {...}} alone).
        encoded: dict[str, Any] = {}
        if doc.instructions:
            encoded["instructions"] = [conv.unstructure(i) for i in doc.instructions]
        if doc.action is not None:
            encoded["action"] = conv.unstructure(doc.action)
        return encoded

    conv.register_structure_hook_factory(is_instruction,
                                         tagged("INSTRUCTIONS", "UnknownInstruction"))
    conv.register_structure_hook_factory(is_action, tagged("ACTIONS", "UnknownAction"))
    conv.register_unstructure_hook_factory(is_element, unstructure_element)
    conv.register_unstructure_hook_func(_subclass_of(_SVAML, "Svaml"), unstructure_document)
    conv.register_unstructure_hook_func(
        _subclass_of(_SVAML, "UnknownInstruction", "UnknownAction"), lambda obj: dict(obj.data))


# -- events: "event" names them ---------------------------------------------------------


def _configure_events(conv: cattrs.Converter,
                      fields_only: Callable[[type[Any]], Callable[[Any], Any]]) -> None:

    def structure_unknown(data: Any, _: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("event"), str):
            raise TypeError('expected a JSON object with an "event" string')
        call_id = data.get("callid", data.get("callId"))
        return _module(_EVENTS).UnknownEvent(
            event=data["event"],
            call_id=call_id if _is_identifier(call_id) else None,
            data=types.MappingProxyType(dict(data)),
        )

    def is_event(tp: Any) -> bool:
        events = _module(_EVENTS)
        return (events is not None and isinstance(tp, type)
                and issubclass(tp, tuple(events.EVENT_CLASSES.values())))

    def with_event_name(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
        # The class registered for ``cls``'s event (a subclass encodes as its base did).
        base = next(c for c in _module(_EVENTS).EVENT_CLASSES.values() if issubclass(cls, c))
        attrs.resolve_types(base)
        fields = fields_only(base)
        name = base.event.value

        def unstructure(event: Any) -> dict[str, Any]:
            return {"event": name, **fields(event)}

        return unstructure

    unknown = _subclass_of(_EVENTS, "UnknownEvent")
    conv.register_structure_hook_func(unknown, structure_unknown)
    conv.register_unstructure_hook_func(unknown, lambda event: dict(event.data))
    conv.register_unstructure_hook_factory(is_event, with_event_name)


converter: cattrs.Converter = _make_converter()
"""The converter for every model, SVAML element and event (wire camelCase)."""


_LONG_DIGITS_TEXT: Final = re.compile(r"[0-9]{19}")
# Bytes: digits -> "0", anything else -> " ", then a plain substring search (several
# times faster than a regular expression over the same bytes).
_DIGITS_AS_ZERO: Final = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_NINETEEN_DIGITS: Final = b"0" * 19


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes of plain data: what ``json.dumps`` with ``(",", ":")``
    separators, ``ensure_ascii=False`` and ``allow_nan=False`` gives, encoded; raises
    ``ValueError`` for NaN or infinity, ``UnicodeEncodeError`` for lone surrogates,
    ``TypeError`` for what is not JSON data.

    orjson does the work. What it refuses (integers beyond 64 bits, lone surrogates,
    non-string keys, deep nesting) and any output holding ``null`` (orjson writes NaN
    and infinities as ``null``; request bodies leave ``None`` out, so this is rare) go
    through the standard library: every input gets the same outcome as with ``json``
    alone. Floats are written in their shortest round-trip form either way.
    """
    try:
        out = orjson.dumps(value)
    except orjson.JSONEncodeError:
        pass
    else:
        if b"null" not in out:
            return out
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def decode_json(data: bytes | bytearray | str) -> Any:
    """Decode JSON; raises ``ValueError`` (``json.JSONDecodeError`` or
    ``UnicodeDecodeError``) or ``RecursionError`` for what is not JSON.

    orjson does the work; what it refuses goes through the standard library (``NaN``,
    a byte-order mark, nesting beyond 1,024 levels), and so does any text holding a run
    of 19 or more digits (orjson would turn an integer beyond 64 bits into a float), so
    every input decodes to the same value, or fails the same way, as with ``json`` alone.
    """
    if isinstance(data, str):
        long_digits = _LONG_DIGITS_TEXT.search(data) is not None
    else:
        long_digits = _NINETEEN_DIGITS in data.translate(_DIGITS_AS_ZERO)
    if not long_digits:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Encode a model (or plain data) to compact UTF-8 JSON bytes.

    Raises :class:`ValidationError` (field ``body``) rather than produce invalid JSON:
    NaN or infinity, or text with lone surrogates (the models' own checks name the
    field first; this is the last guard).
    """
    try:
        return encode_json(converter.unstructure(obj))
    except ValueError as exc:  # NaN/infinity, and UnicodeEncodeError (a ValueError)
        reason = ("must be valid Unicode text (no lone surrogates)"
                  if isinstance(exc, UnicodeError) else "must not contain NaN or infinity")
    except (TypeError, RecursionError, AttributeError) as exc:
        reason = f"must be JSON-encodable; {type(exc).__name__}: {str(exc)[:100]}"
    raise ValidationError("body", reason)


def loads(data: bytes | str, cls: type[T]) -> T:
    """Decode JSON text into ``cls``."""
    return converter.structure(decode_json(data), cls)
