"""The converter's shortcut for encoding SVAML: generated encoders of its attrs classes.

``dumps_svaml(document)`` returns what ``serialization.dumps(document)`` returns, byte
for byte, and raises what it raises. The usual document (the exact SVAML classes,
fields holding plain text, numbers, flags, enum members, nested option objects and
tuples of them) goes through code generated per class the first time the class is
encoded (never at import), from its attrs fields and the converter's own rules:

* an element (an instruction or an action) is ``{"name": ..., <fields>}``: its wire
  name first, then each field under its wire key, ``None`` left out;
* any other attrs class is its fields under their wire keys, a field left out when it
  is ``None`` and defaults to ``None``;
* a value is kept as it is where the converter's hook for the field gives it back
  unchanged (checked on a sample of each plain type when the code is generated), an
  enum member of a ``SomeEnum | str`` field becomes its value, a tuple a list, a nested
  model its own encoding; an unknown element is a copy of its raw object;
* the plain data is then encoded by :func:`~sinch_calling.serialization.encode_json`,
  the converter's encoder.

Anything else (a subclass, a value of another type, a field without a rule here) and
every error: ``serialization.dumps`` itself decides. Pure: no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Final, get_args, get_origin

import attrs
import orjson

from . import svaml
from .models._names import wire_key
from .serialization import _UNIONS, _is_enum_or_str, converter, dumps

__all__ = ["dumps_svaml"]

Encoder = Callable[[Any], Any]

# A value of each plain type kept as it is, when the converter's hook gives it back.
_SAMPLES: Final[dict[type[Any], Any]] = {str: "x", int: 7, float: 1.5, bool: True}
_ELEMENTS: Final = frozenset((*svaml.INSTRUCTIONS, *svaml.ACTIONS))
_UNKNOWN: Final = frozenset((svaml.UnknownInstruction, svaml.UnknownAction))
_built: dict[type[Any], Encoder | None] = {}


class _Decline(Exception):
    """A value the shortcut has no rule for: ``serialization.dumps`` encodes the document."""


def dumps_svaml(document: svaml.Svaml) -> bytes:
    """``serialization.dumps(document)``, through the generated encoders when the
    document allows (see the module's docstring)."""
    if type(document) is not svaml.Svaml:
        return dumps(document)
    try:
        plain: dict[str, Any] = {}
        if document.instructions:
            plain["instructions"] = [(_elements.get(type(item)) or _element(item))(item)
                                     for item in document.instructions]
        action = document.action
        if action is not None:
            plain["action"] = (_elements.get(type(action)) or _element(action))(action)
        out = orjson.dumps(plain)
    except Exception:  # _Decline, or what orjson refuses: dumps decides (and raises)
        return dumps(document)
    # encode_json's own test: output holding null (NaN or infinity included) goes
    # through the standard library, which dumps does.
    return out if b"null" not in out else dumps(document)


_elements: dict[type[Any], Encoder] = {}
"""The encoder of each of svaml's element classes encoded so far."""


def _element(value: Any) -> Encoder:
    """The encoder of an instruction or action of one of svaml's own classes (a
    subclass declines: the converter encodes it with the hook of an attrs class)."""
    kind = type(value)
    if kind in _UNKNOWN:
        encoder: Encoder | None = _raw
    elif kind in _ELEMENTS:
        encoder = _built.get(kind, _encode)
        if encoder is _encode:
            encoder = _built[kind] = _generate(kind)
    else:
        encoder = None
    if encoder is None:
        raise _Decline(kind)
    _elements[kind] = encoder
    return encoder


def _raw(element: Any) -> dict[str, Any]:
    """An unknown element: a copy of its raw object, as the converter's hook gives."""
    return dict(element.data)


def _encode(value: Any) -> Any:
    """The plain form of an instance of a class :func:`_generate` took."""
    kind = type(value)
    encoder = _built.get(kind, _encode)
    if encoder is _encode:
        encoder = _built[kind] = _generate(kind)
    if encoder is None:
        raise _Decline(kind)
    return encoder(value)


def _generate(cls: type[Any]) -> Encoder | None:
    """The encoder of ``cls``, or ``None`` for a class without one (the converter's)."""
    try:
        attrs.resolve_types(cls)
        fields = attrs.fields(cls)
        element = cls in _ELEMENTS
        if not element and not all(f.init for f in fields):
            return None  # the converter leaves such a field out; not a rule kept here
        env: dict[str, Any] = {"Decline": _Decline, "encode": _encode, "Enum": enum.Enum}
        lines = [f"def encode_{cls.__name__}(o):"]
        if element:
            lines += ["    n = o.name",
                      "    if type(n) is not str: raise Decline('name')",
                      "    d = {'name': n}"]
        else:
            lines.append("    d = {}")
        for i, field in enumerate(fields):
            if not (element and field.name == "name"):
                lines.extend("    " + line for line in _field_lines(i, field, env))
        lines.append("    return d")
        namespace: dict[str, Any] = {}
        exec(compile("\n".join(lines), f"<fast unstructure {cls.__qualname__}>", "exec"),
             env, namespace)
    except Exception:  # a type no rule here expected: the converter's
        return None
    encoder: Encoder = namespace[f"encode_{cls.__name__}"]
    return encoder


def _field_lines(i: int, field: attrs.Attribute[Any],
                 env: dict[str, Any]) -> list[str]:
    """Lines putting ``o``'s ``field`` into ``d`` under its wire key, as the converter
    does, or raising :class:`_Decline`."""
    v, kept, nested = f"v{i}", f"k{i}", f"n{i}"
    tp = field.type
    choices = [a for a in (get_args(tp) if get_origin(tp) in _UNIONS else (tp,))
               if a is not type(None)]
    env[kept] = _kept_types(tp)
    env[nested] = frozenset(a for a in choices if attrs.has(a))
    lines = [f"{v} = o.{field.name}"]
    # None is left out where the field admits it (or defaults to it); anywhere else (only
    # reachable through object.__setattr__) the converter decides, as its hook for the
    # field's type may refuse it.
    if type(None) in (get_args(tp) if get_origin(tp) in _UNIONS else ()) \
            or field.default is None:
        lines.append(f"if {v} is not None:")
    else:
        lines += [f"if {v} is None: raise Decline({field.name!r})", "if True:"]
    branches = []  # for a value not kept as it is
    if env[nested]:
        branches.append((f"type({v}) in {nested}", f"{v} = encode({v})"))
    item = next((get_args(a)[0] for a in choices if get_origin(a) is tuple
                 and len(get_args(a)) == 2 and get_args(a)[1] is Ellipsis), None)
    if item is not None:
        items_kept, items_nested = f"ki{i}", f"ni{i}"
        env[items_kept] = _kept_types(item)
        env[items_nested] = frozenset({item} if attrs.has(item) else ())
        env["decline"] = _decline
        branches.append((f"type({v}) is tuple",
                         f"{v} = [x if type(x) in {items_kept} else encode(x) "
                         f"if type(x) in {items_nested} else decline(x) for x in {v}]"))
    if _is_enum_or_str(tp):
        branches.append((f"isinstance({v}, Enum)", f"{v} = {v}.value"))
    lines.append(f"    if type({v}) not in {kept}:")
    for n, (condition, action) in enumerate(branches):
        lines.append(f"        {'el' if n else ''}if {condition}: {action}")
    lines.append(f"        {'else: ' if branches else ''}raise Decline({field.name!r})")
    lines.append(f"    d[{wire_key(field)!r}] = {v}")
    return lines


def _decline(value: Any) -> Any:
    raise _Decline(type(value))
def _kept_types(tp: Any) -> frozenset[type[Any]]:
    """The plain types the converter's hook for ``tp`` gives back unchanged."""
    kept = set()
    try:
        hook = converter.get_unstructure_hook(tp)
    except Exception:
        return frozenset()
    for kind, sample in _SAMPLES.items():
        try:
            if hook(sample) is sample:
                kept.add(kind)
        except Exception:
            pass
    return frozenset(kept)
