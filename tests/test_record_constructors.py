"""The campaign's per-row records built by ``positional_constructor`` are the very
records their classes' constructors build (equal, hashed alike, as frozen), for any
values; a class whose ``__init__`` does more than set slots is called instead."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinch_calling._fast_structure import positional_constructor
from sinch_calling.campaign.records import (
    CallError,
    Claim,
    LoadedRow,
    NewRow,
    RowResult,
    make_claim,
    make_loaded_row,
    make_new_row,
    make_row_result,
)

text = st.text(max_size=20)
maybe_text = st.none() | text
maybe_int = st.none() | st.integers()
errors = st.none() | st.builds(CallError, kind=text, message=text, status=maybe_int,
                               code=maybe_int)
data = st.none() | st.dictionaries(text, text, max_size=3)


def _hash(record: Any) -> int | str:
    try:
        return hash(record)
    except TypeError as exc:  # a record holding a dict (its data) is unhashable alike
        return str(exc)


def _same(made: Any, built: Any) -> None:
    assert type(made) is type(built)
    assert made == built
    assert repr(made) == repr(built)
    assert _hash(made) == _hash(built)
    assert attrs.asdict(made, recurse=False) == attrs.asdict(built, recurse=False)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.key = "changed"


@given(text, st.integers(), maybe_text, data, maybe_int,
       st.sampled_from(["pending", "invalid"]), errors)
def test_new_row(key: str, position: int, destination: str | None, row: Any,
                 line: int | None, state: Any, error: CallError | None) -> None:
    _same(make_new_row(key, position, destination, row, line, state, error),
          NewRow(key=key, position=position, destination=destination, data=row, line=line,
                 state=state, error=error))


@given(text, st.integers(), st.sampled_from(["pending", "placed", "skipped"]),
       st.none() | st.sampled_from(["pending", "failed"]), errors)
def test_loaded_row(key: str, position: int, state: Any, previous: Any,
                    error: CallError | None) -> None:
    _same(make_loaded_row(key, position, state, previous, error),
          LoadedRow(key=key, position=position, state=state, previous=previous,
                    error=error))


@given(text, st.integers(), text, text, data, maybe_int, st.integers(), text)
def test_claim_and_row_result(key: str, position: int, destination: str, worker: str,
                              row: Any, line: int | None, attempts: int, token: str
                              ) -> None:
    claim = Claim(key=key, position=position, destination=destination, worker=worker,
                  data=row, line=line, attempts=attempts, token=token)
    made = make_claim(key, position, destination, worker, row, line, attempts, token)
    _same(made, claim)
    result = make_row_result(made, "placed", "call-1", None)
    assert result == RowResult(claim, "placed", "call-1", None)
    assert _hash(result) == _hash(RowResult(claim, "placed", "call-1", None))


def test_a_class_with_a_validator_is_called() -> None:
    @attrs.frozen
    class Checked:
        number: int = attrs.field(validator=attrs.validators.instance_of(int))
        name: str = "x"

    make = positional_constructor(Checked)
    assert make(3, "y") == Checked(3, "y")
    with pytest.raises(TypeError):
        make("three", "y")  # the validator still runs


def test_a_field_outside_init_is_refused() -> None:
    """(Review) ``init=False`` has no argument: the class cannot take its value."""
    @attrs.frozen
    class Derived:
        number: int
        twice: int = attrs.field(init=False, default=0)

    with pytest.raises(TypeError, match="outside __init__"):
        positional_constructor(Derived)


def test_a_custom_new_or_metaclass_is_called_not_skipped() -> None:
    """(Review) the slot shortcut would skip them: such classes are called."""
    calls: list[str] = []

    @attrs.frozen
    class Base:
        number: int

    class WithNew(Base):
        __slots__ = ()

        def __new__(cls, *args: Any, **kwargs: Any) -> WithNew:
            calls.append("new")
            return super().__new__(cls)

    class Meta(type):
        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            calls.append("meta")
            return super().__call__(*args, **kwargs)

    @attrs.frozen
    class WithMeta(metaclass=Meta):
        number: int

    assert positional_constructor(WithNew)(1) == WithNew(number=1)
    assert positional_constructor(WithMeta)(2) == WithMeta(number=2)
    assert calls == ["new", "new", "meta", "meta"]


def test_the_constructors_say_what_they_build() -> None:
    assert make_claim.__module__ == Claim.__module__
    assert "Claim" in make_claim.__qualname__
