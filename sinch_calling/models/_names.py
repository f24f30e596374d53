"""What a model declares about its wire form, read by the converter (which models never
import): wire spellings, accepted aliases, and fields decoded strictly.

* ``wire_name("callid", "callId")``: field metadata naming the spelling sent and the
  spellings also accepted on input; without it a field travels as its camelCase;
* ``Str``/``Int``: a field whose JSON type is checked, never coerced (``"12"`` is not 12);
* ``Id``: an identifier (call id, recording key): a JSON string passing
  ``validation.identifier`` (non-blank, valid Unicode, no control characters).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeAlias

import attrs

__all__ = ["ALIASES", "ID", "STRICT", "WIRE", "Id", "Int", "Str", "to_camel", "wire_key",
           "wire_name"]

WIRE: Final = "sinch_calling.wire"
ALIASES: Final = "sinch_calling.aliases"


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


STRICT: Final = _Marker("strict")
"""``Annotated`` marker: decode this ``str``/``int`` field without coercion."""
ID: Final = _Marker("id")
"""``Annotated`` marker: decode this field as a non-empty string, without coercion."""

Str: TypeAlias = Annotated[str, STRICT]
Int: TypeAlias = Annotated[int, STRICT]
Id: TypeAlias = Annotated[str, ID]


def wire_name(name: str, *aliases: str) -> dict[str, Any]:
    """Field metadata: the wire spelling of an attribute and spellings also accepted."""
    return {WIRE: name, ALIASES: aliases}


def to_camel(name: str) -> str:
    """``call_resource_url`` -> ``callResourceUrl``; a trailing ``_`` is dropped."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_key(field: attrs.Attribute[Any]) -> str:
    """The wire spelling of an attrs field (its ``wire_name`` or its camelCase)."""
    return str(field.metadata.get(WIRE) or to_camel(field.name))
