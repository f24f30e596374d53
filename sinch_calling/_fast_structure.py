"""The converter's shortcut for well-formed input: generated decoders of attrs models.

``fast_structure_fn(cls)`` gives ``fn(data)``, which returns what
``converter.structure(data, cls)`` returns, or ``None`` when ``data`` is not the common
well-formed shape; the caller then asks the converter, which decides (and names the
field of any error). The shortcut never raises and decides nothing the converter would
not: it is generated from the class's attrs fields and the converter's own rules the
first time a class is asked for (never at import), and

* reads each field from its wire key, else from the first accepted spelling present
  (``wire_name``), as the converter's renaming does;
* keeps inline only what the field's rule keeps unchanged (a ``str`` for text and
  ``Str``, an ``int`` for whole numbers and ``Int``, a ``float`` for numbers, a
  printable ASCII string for ``Id``, ``None`` for an optional field, an enum value's
  exact spelling for its member) and hands any other value to the converter's hook for
  that field's type, as the converter's generated code does;
* decodes nested models with their own shortcut, a list of them into a tuple;
* keeps DiCE's ``from`` (a field-scoped override) only as text or null.

A value a hook or the class's ``__init__`` refuses, a required field missing, anything
but a ``dict``: ``None``, and the converter decides. A class with a field this module
has no rule for (a factory default, an attrs converter, a field outside ``__init__``)
gets no shortcut at all. Pure: no I/O.

``positional_constructor(cls)`` gives ``make(v0, v1, ...)``, the same instance as
``cls(name0=v0, ...)`` from every field's value in field order, setting the slots of a
frozen slotted class directly (the campaign's per-row records, built when
:mod:`sinch_calling.campaign.records` is imported).
"""

from __future__ import annotations

import enum
import inspect
import types
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar, cast, get_args, get_origin

import attrs

from .models._names import ALIASES, ID, wire_key
from .serialization import (
    _PARTY,
    _UNIONS,
    _datetime,
    _is_enum_or_str,
    _is_plain_optional,
    _marked,
    converter,
)

__all__ = ["fast_structure_fn", "positional_constructor"]

T = TypeVar("T")

_MISSING: Final = object()
# A value of each plain type the inline checks keep: the converter's hook must give the
# very same object back, or the class gets no shortcut.
_SAMPLES: Final[dict[type[Any], Any]] = {str: "x", int: 7, float: 1.5, bool: True}
_built: dict[type[Any], Callable[[Any], Any] | None] = {}
_INIT_HOOKS: Final = ("__attrs_pre_init__", "__attrs_post_init__", "__attrs_init__")


@attrs.frozen
class _Frozen:
    """Its ``__setattr__`` is the one attrs gives every frozen class."""


_FROZEN_SETATTR: Final[Any] = _Frozen.__setattr__


class _Unsupported(Exception):
    """A class (or a field of it) this module has no rule for: the converter decodes it."""


class _LazyHook:
    """The converter's hook for ``tp``, looked up when first needed: a nested model's
    hook is generated code, which only a value the shortcut declines pays for."""

    __slots__ = ("_hook", "_tp")

    def __init__(self, tp: Any) -> None:
        self._tp = tp
        self._hook: Callable[[Any, Any], Any] | None = None

    def __call__(self, value: Any, tp: Any) -> Any:
        if self._hook is None:
            self._hook = converter.get_structure_hook(self._tp)
        return self._hook(value, tp)


def fast_structure_fn(cls: type[T]) -> Callable[[Any], T | None] | None:
    """The shortcut decoder of ``cls`` (see the module's docstring), built the first
    time it is asked for; ``None`` when ``cls`` has a field it has no rule for."""
    try:
        return _built[cls]
    except KeyError:
        pass
    # While it is built, a model containing itself finds None (the converter) inside.
    # Two threads building one class at once build equivalent functions.
    _built[cls] = None
    try:
        _built[cls] = _generate(cls)
    except Exception:  # _Unsupported, or a type no rule here expected: the converter's
        return None
    return _built[cls]


def _generate(cls: type[Any]) -> Callable[[Any], Any]:
    attrs.resolve_types(cls)
    fields = attrs.fields(cls)
    keys = [key for f in fields for key in _keys(f)]
    if len(keys) != len(set(keys)) or not all(f.init for f in fields):
        raise _Unsupported(cls)  # a key read for two fields, a field outside __init__
    env: dict[str, Any] = {"M": _MISSING, "cls": cls}
    lines = [f"def fast_{cls.__name__}(o):",
             "    if type(o) is not dict:",
             "        return None",
             "    try:"]
    for i, field in enumerate(fields):
        lines.extend("        " + line for line in _field_lines(i, field, env))
    lines.extend("        " + line for line in _building_lines(cls, fields, env))
    lines += ["    except Exception:",  # what a hook or __init__ refuses: the converter's
              "        return None"]
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<fast structure {cls.__qualname__}>", "exec"), env,
         namespace)
    fn: Callable[[Any], Any] = namespace[f"fast_{cls.__name__}"]
    return fn


def positional_constructor(cls: type[T]) -> Callable[..., T]:
    """``make(v0, v1, ...)``: an instance of the attrs class ``cls`` from the values of
    all its fields, in field order, equal to ``cls(name0=v0, name1=v1, ...)``. For a
    frozen slotted class whose ``__init__`` only sets its slots (see
    :func:`_slot_setters`) each slot is set directly, at about half the cost of that
    ``__init__`` (the campaign runner builds several records per row); any other class
    is called. Built when asked for (once per call of this function); pure.

    Raises ``TypeError`` for a class with a field outside ``__init__`` (``init=False``:
    no value of it can be given)."""
    fields = attrs.fields(cast(Any, cls))
    if not all(f.init for f in fields):
        raise TypeError(f"{cls.__qualname__} has a field outside __init__; "
                        "positional_constructor needs every field as an argument")
    env: dict[str, Any] = {"cls": cls}
    lines = [f"def make_{cls.__name__}({', '.join(f'v{i}' for i in range(len(fields)))}):"]
    lines.extend("    " + line for line in _building_lines(cls, fields, env))
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<constructor {cls.__qualname__}>", "exec"), env,
         namespace)
    make: Callable[..., T] = namespace[f"make_{cls.__name__}"]
    make.__module__ = cls.__module__
    make.__qualname__ = f"positional_constructor({cls.__qualname__})"
    return make


def _building_lines(cls: type[Any], fields: tuple[attrs.Attribute[Any], ...],
                    env: dict[str, Any]) -> list[str]:
    """The lines that return ``cls`` built from ``v0``, ``v1``, ... (one per field):
    what ``__init__`` would do without its call (each slot set in turn) when
    :func:`_slot_setters` allows it, else a call of ``cls``. Adds their names to
    ``env``."""
    setters = _slot_setters(cls, fields)
    if setters is None:
        arguments = ", ".join(f"{f.alias}=v{i}" for i, f in enumerate(fields))
        return [f"return cls({arguments})"]
    env["new"] = object.__new__
    lines = ["r = new(cls)"]
    for i, setter in enumerate(setters):
        env[f"s{i}"] = setter
        lines.append(f"s{i}(r, v{i})")
    return [*lines, "return r"]


def _slot_setters(cls: type[Any], fields: tuple[attrs.Attribute[Any], ...]
                  ) -> list[Callable[[Any, Any], None]] | None:
    """The slot setters of ``cls``'s fields, in order, when its ``__init__`` does
    nothing but set each slot to its argument (a frozen slotted attrs class: no
    validator, converter, pre- or post-init hook, cached hash or other slot); else
    ``None``, and the shortcut calls ``cls``."""
    init = getattr(cls.__init__, "__code__", None)
    slots = {name for c in cls.__mro__ for name in c.__dict__.get("__slots__", ())}
    new: Any = cls.__new__  # a custom __new__ (or metaclass) is called, not skipped
    if (init is None or not init.co_filename.startswith("<attrs generated")
            or new is not object.__new__ or type(cls) is not type
            or cls.__setattr__ is not _FROZEN_SETATTR
            or any(hasattr(cls, hook) for hook in _INIT_HOOKS)
            or slots - {"__weakref__"} != {f.name for f in fields}
            or any(f.validator is not None or f.converter is not None for f in fields)):
        return None
    setters = []
    for field in fields:
        slot = inspect.getattr_static(cls, field.name)
        if type(slot) is not types.MemberDescriptorType:
            return None
        setters.append(slot.__set__)
    return setters


def _keys(field: attrs.Attribute[Any]) -> list[str]:
    return [wire_key(field), *field.metadata.get(ALIASES, ())]


def _field_lines(i: int, field: attrs.Attribute[Any], env: dict[str, Any]) -> list[str]:
    """Lines setting local ``v{i}`` to the field's value (or returning None)."""
    tp = field.type
    if field.converter is not None or isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
        raise _Unsupported(field.name)
    v = f"v{i}"
    required = field.default is attrs.NOTHING
    # A missing key and a null both give None when the default is None and the field's
    # rule decodes null as None: one lookup, no hook.
    none_is_none = not required and field.default is None and _keeps_none(tp)
    keys = _keys(field)
    lines = []
    for n, key in enumerate(keys):
        get = (f"o.get({key!r})" if none_is_none and n == len(keys) - 1
               else f"o.get({key!r}, M)")
        lines.append(f"{v} = {get}" if n == 0 else f"if {v} is M: {v} = {get}")
    if required:
        return [*lines, f"if {v} is M: return None", *_convert(i, tp, env)]
    if none_is_none:
        # The converter's optional rule is "None, else the inner type's hook".
        inner = _optional_inner(tp) if _is_plain_optional(tp) else tp
        return [*lines, f"if {v} is not None:", *_indent(_convert(i, inner, env))]
    env[f"d{i}"] = field.default
    return [*lines, f"if {v} is M: {v} = d{i}", "else:", *_indent(_convert(i, tp, env))]


def _convert(i: int, tp: Any, env: dict[str, Any]) -> list[str]:
    """Lines turning ``v{i}`` into what the converter's hook for ``tp`` gives, calling
    that hook only for a value not kept as it is."""
    v, hook, t = f"v{i}", f"h{i}", f"t{i}"
    env[t] = tp
    call = f"{v} = {hook}({v}, {t})"
    if tp == _PARTY:  # the converter's field-scoped override keeps text (and null) as is
        return [f"if type({v}) is not str: return None"]
    if _generated(tp):
        env[hook] = _LazyHook(tp)
        inner = _optional_inner(tp) if _is_plain_optional(tp) else tp
        item = _tuple_item(inner)
        if attrs.has(inner):
            env[f"f{i}"] = _nested(inner)
            return [f"r = f{i}({v})", f"{v} = {hook}({v}, {t}) if r is None else r"]
        if item is not None and attrs.has(item):
            env[f"f{i}"] = _nested(item)
            return [f"if type({v}) is list and {v}:",
                    f"    r = tuple(map(f{i}, {v}))",
                    f"    {v} = {hook}({v}, {t}) if None in r else r",
                    "else:",
                    f"    {call}"]
        return [call]
    env[hook] = converter.get_structure_hook(tp)
    if _is_enum_or_str(tp):  # the hook's own first step: the member of this exact spelling
        env[f"e{i}"] = _enum_in(tp)._value2member_map_
        return [f"m = e{i}.get({v}) if type({v}) is str else None",
                f"{v} = {hook}({v}, {t}) if m is None else m"]
    marked = _marked(tp)
    base = marked[0] if marked else (_optional_inner(tp) if _is_plain_optional(tp) else tp)
    if base is datetime and env[hook] is _datetime:
        # parse_timestamp's usual case, its own steps: no space to strip (a first
        # character that is a digit, a last one that is "Z"), "Z" read as +00:00.
        env["fromisoformat"] = datetime.fromisoformat
        return [f"if type({v}) is str and {v}[-1:] == 'Z' and {v}[:1].isdigit():",
                f"    {v} = fromisoformat({v}[:-1] + '+00:00')",
                "else:",
                f"    {call}"]
    if base not in _SAMPLES:
        return [call]
    _check_kept(tp, base)
    if marked and marked[1] is ID:  # validation.identifier's quick case: printable ASCII
        return [f"if not (type({v}) is str and {v} and {v}.isascii() and {v}.isprintable()"
                f" and not {v}.isspace()): {call}"]
    return [f"if type({v}) is not {base.__name__}: {call}"]


def _keeps_none(tp: Any) -> bool:
    """Whether the converter's rule for ``tp`` decodes null as None."""
    if tp == _PARTY or _is_plain_optional(tp):
        return True
    if get_origin(tp) not in _UNIONS or type(None) not in get_args(tp) or _generated(tp):
        return False
    try:
        return converter.get_structure_hook(tp)(None, tp) is None
    except Exception:
        return False


def _check_kept(tp: Any, base: type[Any]) -> None:
    """Refuse the class unless the converter's hook for ``tp`` gives a plain ``base``
    value back unchanged (what the inline check assumes)."""
    sample = _SAMPLES[base]
    try:
        kept = converter.get_structure_hook(tp)(sample, tp) is sample
    except Exception:
        kept = False
    if not kept:
        raise _Unsupported(tp)


def _nested(tp: type[Any]) -> Callable[[Any], Any]:
    found = fast_structure_fn(tp)
    if found is None:
        raise _Unsupported(tp)
    return found


def _generated(tp: Any) -> bool:
    """Whether the converter's hook for ``tp`` is generated code (a model inside)."""
    return attrs.has(tp) or any(_generated(a) for a in get_args(tp) if a is not Ellipsis)


def _optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None``, else ``None``."""
    args = get_args(tp) if get_origin(tp) in _UNIONS else ()
    rest = [a for a in args if a is not type(None)]
    return rest[0] if len(args) == 2 and len(rest) == 1 else None


def _tuple_item(tp: Any) -> Any:
    """``X`` for ``tuple[X, ...]``, else ``None``."""
    args = get_args(tp) if get_origin(tp) is tuple else ()
    return args[0] if len(args) == 2 and args[1] is Ellipsis else None


def _enum_in(tp: Any) -> type[enum.Enum]:
    found: type[enum.Enum] = next(a for a in get_args(tp)
                                  if isinstance(a, type) and issubclass(a, enum.Enum))
    return found


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]
