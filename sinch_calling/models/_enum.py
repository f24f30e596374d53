"""Base for the wire enums: values match case-insensitively (Sinch mixes cases), and the
spelling that arrived is what goes back out."""

from __future__ import annotations

import enum
from typing import Any


class WireEnum(enum.StrEnum):
    """A string enum whose lookup ignores case: ``Domain("PSTN") == Domain.PSTN``.

    A value that matches a member only up to case (``"MXP"`` for ``mxp``) gives an
    alias of that member keeping the spelling that arrived: it compares equal to the
    member (and to any casing of its value), has the member's ``name``, and encodes
    back as it came (``"MXP"``), so decoding then encoding gives back the same JSON.
    Fields typed ``SomeEnum | str`` keep values this version does not know as plain
    strings (see :mod:`sinch_calling.serialization`).
    """

    @classmethod
    def _missing_(cls, value: object) -> WireEnum | None:
        if not isinstance(value, str):
            return None
        folded = value.casefold()
        for member in cls:
            if member.value.casefold() == folded:
                return _alias(cls, member, value)
        return None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.casefold() == other.casefold()
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self.casefold())

    @property
    def canonical(self) -> WireEnum:
        """The member itself (for an alias keeping another spelling, the member it is)."""
        return type(self)[self.name]


_ALIASES: dict[tuple[type[Any], str], WireEnum] = {}


def _alias(cls: type[WireEnum], member: WireEnum, spelling: str) -> WireEnum:
    key = (cls, spelling)
    alias = _ALIASES.get(key)
    if alias is None:
        if len(_ALIASES) >= 1024:  # spellings come from servers: keep the cache bounded
            _ALIASES.clear()
        alias = str.__new__(cls, spelling)
        alias._name_ = member.name
        alias._value_ = spelling
        alias._sort_order_ = getattr(member, "_sort_order_", 0)  # type: ignore[attr-defined]
        _ALIASES[key] = alias
    return alias
