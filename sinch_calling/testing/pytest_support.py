"""What the pytest plugin (``pytest_sinch_calling``) needs once a test asks for the
emulator: its options, merged and checked, and the background errors after the test.

Kept apart from the plugin module so that pytest's start imports none of this.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .emulator import Emulator

__all__ = ["EMULATOR_OPTIONS", "emulator_options", "raise_background_errors"]

EMULATOR_OPTIONS = tuple(name for name, parameter in
                         inspect.signature(Emulator).parameters.items()
                         if parameter.kind is not inspect.Parameter.VAR_KEYWORD)
"""The keyword arguments ``Emulator`` takes, which the marker and fixture may set."""


def emulator_options(base: Mapping[str, Any], markers: Sequence[Mapping[str, Any]],
                     positional: Iterable[tuple[Any, ...]] = ()) -> dict[str, Any]:
    """``base`` (the ``sinch_emulator_options`` fixture) updated by the markers' keyword
    arguments, the marker closest to the test last (``markers`` comes closest first,
    as ``iter_markers`` yields them).

    Raises ``TypeError`` naming the option for anything ``Emulator`` does not take, and
    for positional marker arguments.
    """
    if not isinstance(base, Mapping):
        raise TypeError("the sinch_emulator_options fixture must return a dict of Emulator "
                        f"keyword arguments, not {type(base).__name__}")
    for args in positional:
        if args:
            raise TypeError("@pytest.mark.sinch_emulator takes keyword arguments only "
                            f"(Emulator's options), got {args!r}")
    merged = dict(base)
    for kwargs in reversed(markers):
        merged.update(kwargs)
    unknown = sorted(set(merged) - set(EMULATOR_OPTIONS))
    if unknown:
        raise TypeError(f"unknown sinch_emulator option {unknown[0]!r}: Emulator takes "
                        + ", ".join(EMULATOR_OPTIONS))
    return merged


def raise_background_errors(emulator: Emulator) -> None:
    """Raise the first error a background step of ``emulator`` hit and no
    ``settle``/``advance`` reported (so a test never passes over an emulator bug)."""
    errors = emulator.clock.errors
    if errors:
        first = errors[0]
        errors.clear()
        raise first
