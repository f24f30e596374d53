"""What each call of a campaign says: the tts and conference templates, and mail merge.

A template holds the campaign-wide options (checked when it is built: a
:class:`~sinch_calling.errors.ValidationError` naming the option, before anything is
written) and turns one row into the arguments of one callout (checked per row by
preflight: a :class:`RowError` naming the column and the rule). Text may hold
``{column}`` placeholders filled from the row (``{{`` and ``}}`` for literal braces).
Pure: no I/O.
"""

from __future__ import annotations

import re
import string
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from ..client import SinchCalling
from ..errors import RowError, ValidationError
from ..models import Domain
from ..models.callouts import MusicOnHold
from ..validation import dtmf as dtmf_rule
from ..validation import e164, flag, non_empty, one_of, optional_text, positive_int
from ..validation import prompts as check_prompts

__all__ = [
    "DEFAULT_MAX_TEXT_LENGTH",
    "CampaignRow",
    "ConferenceTemplate",
    "CustomTemplate",
    "MergeText",
    "PlaceCall",
    "RowError",
    "Template",
    "TtsTemplate",
]

DEFAULT_MAX_TEXT_LENGTH = 600
"""Sinch's default cap on a callout's ``text``/``prompts`` (characters; per application,
support can raise it: pass ``max_text_length``)."""


@attrs.frozen(kw_only=True)
class CampaignRow:
    """One row as a custom place callable receives it: ``key`` (stable identity),
    ``destination`` (E.164), ``data`` (the row's columns) and ``line`` (source line)."""

    key: str
    destination: str
    data: Mapping[str, Any]
    line: int | None = None


PlaceCall = Callable[[SinchCalling, CampaignRow], Awaitable[str]]
"""A custom callout: ``async (sinch, row) -> call_id``."""

_BAD_FIELD = re.compile(r"[.\[\]!:]")


@attrs.frozen
class MergeText:
    """A text with ``{column}`` placeholders, parsed once.

    Raises :class:`ValidationError` (``field``) for unbalanced braces or a placeholder
    with a format spec, conversion, index or attribute (only plain column names)."""

    parts: tuple[tuple[str, str | None], ...]

    @classmethod
    def parse(cls, field: str, text: str) -> MergeText:
        """Parse ``text``; errors name ``field``."""
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError:
            raise ValidationError(field, "has an unbalanced '{' or '}': write {{ and }} for "
                                         "literal braces") from None
        parts: list[tuple[str, str | None]] = []
        for literal, name, spec, conversion in parsed:
            if name is not None:
                if not name.strip() or _BAD_FIELD.search(name) or spec or conversion:
                    raise ValidationError(field, f"placeholder {{{name}}} must be a plain "
                                                 "column name, like {first_name}")
                name = name.strip()
            parts.append((literal, name))
        return cls(tuple(parts))

    @property
    def names(self) -> frozenset[str]:
        """The column names the text uses."""
        return frozenset(name for _, name in self.parts if name is not None)

    def render(self, field: str, row: Mapping[str, Any]) -> str:
        """The text with the row's values; :class:`RowError` names a missing or empty
        column."""
        out: list[str] = []
        for literal, name in self.parts:
            out.append(literal)
            if name is not None:
                value = row.get(name)
                if value is None or not str(value).strip():
                    state = "is empty" if name in row else "is missing"
                    raise RowError(f"{field}: placeholder {{{name}}} {state} on this row")
                out.append(str(value).strip())
        return "".join(out)


def _merge(field: str, value: object) -> MergeText | None:
    if value is None:
        return None
    return MergeText.parse(field, non_empty(field, value))


def _row_value(row: Mapping[str, Any], column: str) -> str | None:
    value = row.get(column)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_OVERRIDES = frozenset({"text", "prompts", "cli", "locale", "dtmf", "custom", "greeting"})


class Template:
    """Base of the templates: ``options`` (the campaign identity's part), ``columns``
    (placeholders used campaign-wide), ``prepare`` (one row -> callout arguments,
    :class:`RowError` if the row cannot be dialled) and ``place``."""

    kind = "template"
    options: Mapping[str, object]
    _constant: dict[str, Any] | None = None
    _used: frozenset[str] | None = None

    def arguments(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`prepare`, computed once for rows that only carry their number (the
        arguments are then the same for every such row)."""
        used = self._used
        if used is None:
            used = self._used = _OVERRIDES | self.columns
        if len(row) > 1 or not row.keys().isdisjoint(used):
            return self.prepare(row)
        if self._constant is None:
            self._constant = self.prepare(row)
        return dict(self._constant)

    @property
    def columns(self) -> frozenset[str]:
        """Columns every row must supply (placeholders of the campaign-wide texts)."""
        return frozenset()

    def prepare(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The callout's keyword arguments for one row (pure; cheap)."""
        raise NotImplementedError

    async def place(self, sinch: SinchCalling, row: CampaignRow, *,
                    dice: bool = False) -> str:
        """Place the call for ``row``; return its call id. ``dice`` asks Sinch for the
        DiCE callback (tracking through a CallbackRouter)."""
        raise NotImplementedError

    def place_data(self, sinch: SinchCalling, *, key: str, destination: str,
                   data: Mapping[str, Any], line: int | None,
                   dice: bool = False) -> Awaitable[str]:
        """:meth:`place` for a row given by its parts (what the runner holds); the
        built-in templates skip building a :class:`CampaignRow`. May raise at once
        (a row the template cannot place) instead of from the awaitable."""
        return self.place(sinch, CampaignRow(key=key, destination=destination, data=data,
                                             line=line), dice=dice)


def _text_limit(field: str, text: str, limit: int | None) -> str:
    if limit is not None and len(text) > limit:
        raise RowError(f"{field}: {len(text)} characters, over the limit of {limit} "
                       "(Sinch's default; pass max_text_length if support raised it)")
    return text


def _check_row_option(field: str, value: str | None, rule: Callable[[str, object], object]
                      ) -> str | None:
    if value is None:
        return None
    try:
        rule(field, value)
    except ValidationError as exc:
        raise RowError(str(exc)) from None
    return value


class _CalloutTemplate(Template):
    """What tts and conference callouts share: ``cli``, ``locale``, ``dtmf``,
    ``domain``, ``custom`` and the callback flags, campaign-wide and per row."""

    def __init__(self, *, cli: str | None, locale: str | None, dtmf: str | None,
                 domain: Domain | str | None, custom: str | None,
                 flags: dict[str, bool | None], max_text_length: int | None) -> None:
        self.custom = None if custom is None else MergeText.parse(
            "custom", optional_text("custom", custom, blank=True) or "")
        self.cli = None if cli is None else e164("cli", cli)
        self.locale = optional_text("locale", locale)
        self.dtmf = dtmf_rule("dtmf", dtmf)
        self.domain = None if domain is None else one_of("domain", domain, Domain)
        self.flags = {name: flag(name, value) for name, value in flags.items()
                      if value is not None}
        if max_text_length is not None:
            positive_int("max_text_length", max_text_length)
        self.max_text_length = max_text_length
        self._texts: tuple[MergeText | None, ...] = (self.custom,)
        self.options = {"kind": self.kind, "cli": cli, "locale": locale, "dtmf": dtmf,
                        "domain": None if self.domain is None else self.domain.value,
                        "custom": custom, **self.flags, "max_text_length": max_text_length}

    @property
    def columns(self) -> frozenset[str]:
        names: frozenset[str] = frozenset()
        for merge in self._texts:
            if merge is not None:
                names |= merge.names
        return names

    def _text(self, field: str, merge: MergeText | None) -> MergeText | None:
        """Check a campaign-wide text without placeholders against the length limit."""
        if merge is not None and not merge.names:
            _limit_option(field, "".join(p for p, _ in merge.parts), self.max_text_length)
        return merge

    async def place(self, sinch: SinchCalling, row: CampaignRow, *,
                    dice: bool = False) -> str:
        return await self.place_data(sinch, key=row.key, destination=row.destination,
                                     data=row.data, line=row.line, dice=dice)

    def place_data(self, sinch: SinchCalling, *, key: str, destination: str,
                   data: Mapping[str, Any], line: int | None,
                   dice: bool = False) -> Awaitable[str]:
        args = self.arguments(data)
        if dice:
            args["enable_dice"] = True
        return self._callout(sinch, destination, args)

    def _callout(self, sinch: SinchCalling, destination: str,
                 args: dict[str, Any]) -> Awaitable[str]:
        """The client call of this kind of callout."""
        raise NotImplementedError

    def _common(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The per-row arguments both callouts share (row columns override)."""
        custom_text = row.get("custom")
        if custom_text is not None and str(custom_text) != "":
            try:
                custom: str | None = MergeText.parse("custom", str(custom_text)).render(
                    "custom", row)
            except ValidationError as exc:
                raise RowError(str(exc)) from None
        else:
            custom = None if self.custom is None else self.custom.render("custom", row)
        args: dict[str, Any] = {}
        for name, value in (
                ("cli", _check_row_option("cli", _row_value(row, "cli"), e164) or self.cli),
                ("locale", _row_value(row, "locale") or self.locale),
                ("dtmf", _check_row_option("dtmf", _row_value(row, "dtmf"), dtmf_rule)
                 or self.dtmf),
                ("domain", self.domain), ("custom", custom)):
            if value is not None:
                args[name] = value
        args.update(self.flags)
        return args


class TtsTemplate(_CalloutTemplate):
    """A text-to-speech callout (options of ``sinch.callouts.tts``). Per-row columns
    ``text``, ``prompts``, ``cli``, ``locale``, ``dtmf`` and ``custom`` override the
    campaign's; ``text``, ``prompts`` and ``custom`` may hold ``{column}`` placeholders."""

    kind = "tts"

    def __init__(self, *, text: str | None = None, prompts: str | None = None,
                 cli: str | None = None, locale: str | None = None, dtmf: str | None = None,
                 domain: Domain | str | None = None, custom: str | None = None,
                 enable_ace: bool | None = None, enable_dice: bool | None = None,
                 enable_pie: bool | None = None,
                 max_text_length: int | None = DEFAULT_MAX_TEXT_LENGTH) -> None:
        if text is not None and prompts is not None:
            raise ValidationError("text", "give at most one of text and prompts")
        super().__init__(cli=cli, locale=locale, dtmf=dtmf, domain=domain, custom=custom,
                         flags={"enable_ace": enable_ace, "enable_dice": enable_dice,
                                "enable_pie": enable_pie},
                         max_text_length=max_text_length)
        self.text = self._text("text", _merge("text", text))
        self.prompts = self._text("prompts", _merge("prompts", prompts))
        if prompts is not None and self.prompts is not None and not self.prompts.names:
            check_prompts("prompts", prompts)  # the same for every row: say so now
        self._texts = (self.text, self.prompts, self.custom)
        self.options = {**self.options, "text": text, "prompts": prompts}

    def prepare(self, row: Mapping[str, Any]) -> dict[str, Any]:
        row_text, row_prompts = _row_value(row, "text"), _row_value(row, "prompts")
        if row_text is not None and row_prompts is not None:
            raise RowError("text: the row gives both text and prompts; give one")
        if row_text is not None or row_prompts is not None:
            field = "text" if row_text is not None else "prompts"
            try:
                merge = MergeText.parse(field, row_text or row_prompts or "")
            except ValidationError as exc:
                raise RowError(str(exc)) from None
        elif self.text is not None:
            field, merge = "text", self.text
        elif self.prompts is not None:
            field, merge = "prompts", self.prompts
        else:
            raise RowError("text: no text for this row (give the campaign a text or the "
                           "row a text column)")
        rendered = _text_limit(field, merge.render(field, row), self.max_text_length)
        if field == "prompts":
            try:
                check_prompts(field, rendered)
            except ValidationError as exc:
                raise RowError(str(exc)) from None
        return {field: rendered, **self._common(row)}

    def _callout(self, sinch: SinchCalling, destination: str,
                 args: dict[str, Any]) -> Awaitable[str]:
        return sinch.callouts.tts(destination, **args)


def _limit_option(field: str, text: str, limit: int | None) -> None:
    if limit is not None and len(text) > limit:
        raise ValidationError(field, f"is {len(text)} characters, over the limit of {limit} "
                                     "(Sinch's default; pass max_text_length if support "
                                     "raised it)")


class ConferenceTemplate(_CalloutTemplate):
    """A conference callout into ``conference_id`` (options of
    ``sinch.callouts.conference``). Per-row columns ``greeting``, ``cli``, ``locale``,
    ``dtmf`` and ``custom`` override the campaign's; ``greeting`` and ``custom`` may hold
    ``{column}`` placeholders."""

    kind = "conference"

    def __init__(self, conference_id: str, *, greeting: str | None = None,
                 cli: str | None = None, locale: str | None = None, dtmf: str | None = None,
                 max_duration: int | None = None, enable_ace: bool | None = None,
                 enable_dice: bool | None = None, enable_pie: bool | None = None,
                 moh_class: MusicOnHold | str | None = None, custom: str | None = None,
                 domain: Domain | str | None = None,
                 max_text_length: int | None = DEFAULT_MAX_TEXT_LENGTH) -> None:
        self.conference_id = non_empty("conference_id", conference_id)
        super().__init__(cli=cli, locale=locale, dtmf=dtmf, domain=domain, custom=custom,
                         flags={"enable_ace": enable_ace, "enable_dice": enable_dice,
                                "enable_pie": enable_pie},
                         max_text_length=max_text_length)
        self.greeting = self._text("greeting", _merge("greeting", greeting))
        self.max_duration = positive_int("max_duration", max_duration)
        self.moh_class = None if moh_class is None else one_of("moh_class", moh_class,
                                                               MusicOnHold)
        self._texts = (self.greeting, self.custom)
        self.options = {**self.options, "conference_id": conference_id,
                        "greeting": greeting, "max_duration": max_duration,
                        "moh_class": None if self.moh_class is None else self.moh_class.value}

    def prepare(self, row: Mapping[str, Any]) -> dict[str, Any]:
        args = self._common(row)
        row_greeting = _row_value(row, "greeting")
        try:
            greeting = MergeText.parse("greeting", row_greeting) if row_greeting \
                else self.greeting
        except ValidationError as exc:
            raise RowError(str(exc)) from None
        if greeting is not None:
            args["greeting"] = _text_limit("greeting", greeting.render("greeting", row),
                                           self.max_text_length)
        for name, value in (("max_duration", self.max_duration),
                            ("moh_class", self.moh_class)):
            if value is not None:
                args[name] = value
        return args

    def _callout(self, sinch: SinchCalling, destination: str,
                 args: dict[str, Any]) -> Awaitable[str]:
        return sinch.callouts.conference(destination, self.conference_id, **args)


class CustomTemplate(Template):
    """Any ``async (sinch, row) -> call_id``: rows are checked for their number only."""

    kind = "custom"

    def __init__(self, place: PlaceCall) -> None:
        if not callable(place):
            raise ValidationError("place", "must be a template (Campaign.tts, "
                                           "Campaign.conference) or an async callable "
                                           "(sinch, row) -> call_id")
        self._place = place
        name = getattr(place, "__qualname__", type(place).__qualname__)
        self.options = {"kind": self.kind,
                        "place": f"{getattr(place, '__module__', '?')}.{name}"}

    def prepare(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    async def place(self, sinch: SinchCalling, row: CampaignRow, *,
                    dice: bool = False) -> str:
        call_id = await self._place(sinch, row)
        if not isinstance(call_id, str) or not call_id:
            raise TypeError(f"the place callable returned {call_id!r}, not a call id")
        return call_id
