"""Preflight: every input row checked before anything is dialled. Pure: no I/O.

An input item is a number (``str``), a mapping (a CSV row) or an
:class:`~sinch_calling.campaign.rows.InputRow`. :class:`RowChecker` turns it into a
:class:`~sinch_calling.campaign.records.NewRow`: ``pending`` with its normalised E.164
destination, or ``invalid`` with the reason (bad number, missing placeholder value, text
too long, bad per-row cli/dtmf, more fields than the header, a row over
:data:`~sinch_calling.campaign.rows.MAX_LINE` characters, repeated id, a NUL or a lone
surrogate in any column).

A row's identity (its ledger key, which reruns match it by) is its ``id`` column when
the input has one; otherwise its destination, the normalised E.164 number (the dedupe
key already: one call per destination), so a rerun on a list with rows inserted,
removed or reordered matches every number to its own earlier state. A row without a
usable number (invalid) is keyed ``#<row number>``. The input position only orders the
results.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError
from ..validation import e164, unstorable
from .records import CallError, NewRow, make_new_row
from .rows import MAX_LINE, InputRow, excerpt
from .templates import RowError, Template

__all__ = ["RowChecker", "check_number", "to_input_row"]

_MESSAGE = 300  # characters of a row's message at most

_NUMBER_HINTS = ("number", "phone", "phone_number", "mobile", "msisdn", "to", "destination",
                 "tel", "telephone", "cell")


def to_input_row(item: object, number_column: str) -> InputRow:
    """An input item as an :class:`InputRow` (a ``str``, or an object with a ``number``
    text attribute such as :class:`~sinch_calling.models.Number` from
    ``numbers.list()``, becomes the number column). Raises :class:`ValidationError` for
    an item of another type (bytes, int, tuple, ...)."""
    if isinstance(item, InputRow):
        return item
    if isinstance(item, str):
        return InputRow(data={number_column: item})
    number = getattr(item, "number", None)
    if isinstance(number, str) and not isinstance(item, Mapping):
        return InputRow(data={number_column: number})
    if isinstance(item, Mapping):
        return InputRow(data={str(k).strip(): "" if v is None else str(v)
                             for k, v in item.items()})
    raise ValidationError("rows", "each row must be a number (str), an object with a "
                                  "'number' attribute (Number) or a mapping of columns; "
                                  f"got {type(item).__name__}")


def check_number(value: object) -> str:
    """A destination as E.164 (surrounding spaces dropped), or :class:`RowError` saying
    exactly what is wrong with it."""
    if value is None or not str(value).strip():
        raise RowError("number: empty")
    text = str(value).strip()
    try:
        return e164("number", text)
    except ValidationError:
        pass  # say exactly what is wrong with it
    if not text.startswith("+"):
        raise RowError(f"number: {excerpt(text)} must start with '+' and the country code (E.164)")
    if re.search(r"[\s().-]", text):
        raise RowError(f"number: {excerpt(text)} must be '+' then digits only, without spaces, "
                       "dashes or brackets")
    if len(text) > 16 and text[1:].isdigit():
        raise RowError(f"number: {excerpt(text)} has more than 15 digits")
    raise RowError(f"number: {excerpt(text)} is not an E.164 number ('+' then 1 to 15 digits)")


def _unusable(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first column whose name or value cannot be a call's text, and why
    (``"column: ..."``, see :func:`~sinch_calling.validation.unstorable`), else
    ``None``."""
    for name, value in data.items():
        for text in (name, value):
            problem = unstorable(text) if isinstance(text, str) else None
            if problem is not None:
                return name, f"{_shown(name)}: {problem}"
    return None


def _shown(text: Any) -> Any:
    """``text`` with lone surrogates as ``\\udc80`` and NUL as ``\\x00`` escapes
    (storable in any ledger, printable)."""
    if not isinstance(text, str):
        return text
    text = text.replace("\x00", "\\x00")
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode()


class RowChecker:
    """Checks rows for one campaign: the header once (:meth:`check_columns`), then each
    row (:meth:`check`)."""

    def __init__(self, template: Template, *, number_column: str = "number",
                 id_column: str | None = "id") -> None:
        self.template = template
        self.number_column = number_column
        self.id_column = id_column
        self._uses_ids = False

    @property
    def uses_ids(self) -> bool:
        """Whether rows are keyed by the id column (after :meth:`check_columns`)."""
        return self._uses_ids

    def check_columns(self, first: InputRow) -> None:
        """Campaign-wide checks on the input's columns (from its header, or its first
        row): the number column exists, every placeholder names a column. Raises
        :class:`ValidationError` (``number_column`` or the template field)."""
        columns = first.columns if first.columns is not None else tuple(first.data)
        if self.number_column not in columns:
            hints = [c for c in columns if c.casefold() in _NUMBER_HINTS]
            hint = f"; pass number_column={hints[0]!r}" if hints else ""
            raise ValidationError("number_column", f"the input has no column "
                                  f"{self.number_column!r} (columns: "
                                  f"{', '.join(columns) or 'none'}){hint}")
        missing = sorted(self.template.columns - set(columns))
        if missing:
            raise ValidationError("text", "placeholder " + ", ".join(
                f"{{{name}}}" for name in missing) + " names no column of the input "
                f"(columns: {', '.join(columns)})")
        self._uses_ids = self.id_column is not None and self.id_column in columns

    def check_item(self, item: object, position: int) -> NewRow:
        """:meth:`check` for an input item as :func:`to_input_row` takes it. A plain
        number (the common list) takes a shorter way to the same result."""
        if isinstance(item, str) and not self._uses_ids and len(item) <= MAX_LINE:
            try:
                destination = check_number(item)
                data = {self.number_column: item}
                self.template.arguments(data)
            except RowError:
                pass  # the full check says why
            else:
                return make_new_row(destination, position, destination, None, None, "pending",
                                    None)
        return self.check(to_input_row(item, self.number_column), position)

    def check(self, row: InputRow, position: int) -> NewRow:
        """One row -> a pending or invalid :class:`NewRow` (``position``: 0-based input
        order). The key is the ``id`` column when the input has one, else the
        destination (E.164), else (no usable number) ``#<position + 1>``."""
        key = f"#{position + 1}"
        data: Mapping[str, Any] = row.data
        destination = None
        try:
            size = sum(len(str(value)) for value in data.values())
            if size > MAX_LINE:
                data = {k: str(v)[:40] for k, v in data.items()}
                raise RowError(f"the row holds {size} characters, over the limit of "
                               f"{MAX_LINE}")
            unusable = _unusable(data)
            if unusable is not None:
                data = {_shown(k): _shown(v) for k, v in data.items()}
            if self._uses_ids:
                assert self.id_column is not None
                ident = str(data.get(self.id_column) or "").strip()
                if not ident:  # a line cut short by the reader says why first
                    raise RowError(row.problem or f"{self.id_column}: empty (every row "
                                   "needs an id when the input has an id column)")
                if unusable is not None and unusable[0] == self.id_column:
                    raise RowError(unusable[1])
                key = ident
            bad_number = None
            try:
                destination = check_number(data.get(self.number_column))
            except RowError as exc:
                bad_number = exc
            if destination is not None and not self._uses_ids:
                key = destination
            if unusable is not None:
                raise RowError(unusable[1])
            if row.problem is not None:  # the reader's reason comes first (line too long)
                raise RowError(row.problem)
            if bad_number is not None:
                raise bad_number
            self.template.arguments(data)
        except RowError as exc:
            message = str(exc)
            if len(message) > _MESSAGE:
                message = f"{message[:_MESSAGE]}... ({len(message)} characters)"
            return NewRow(key=key, position=position, line=row.line, destination=destination,
                          data=dict(data), state="invalid",
                          error=CallError(kind="invalid", message=message))
        stored = None if list(data) == [self.number_column] else dict(data)
        return NewRow(key=key, position=position, line=row.line, destination=destination,
                      data=stored)
