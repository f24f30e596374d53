"""Base for the wire enums: values match case-insensitively (Sinch mixes cases)."""

from __future__ import annotations

import enum


class WireEnum(enum.StrEnum):
    """A string enum whose lookup ignores case: ``Domain("PSTN") is Domain.PSTN``.

    Fields typed ``SomeEnum | str`` keep values this version does not know as plain
    strings (see :mod:`sinch_calling.serialization`).
    """

    @classmethod
    def _missing_(cls, value: object) -> WireEnum | None:
        if isinstance(value, str):
            folded = value.casefold()
            for member in cls:
                if member.value.casefold() == folded:
                    return member
        return None
