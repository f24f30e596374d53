"""The generated SVAML encoder gives what ``serialization.dumps`` gives, byte for byte,
and fails as it fails; SVAML's quick validation cases decide as the full rules do."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinch_calling import Destination, svaml
from sinch_calling import _fast_unstructure as fast
from sinch_calling._fast_unstructure import dumps_svaml
from sinch_calling.errors import ValidationError
from sinch_calling.serialization import dumps
from sinch_calling.validation import text

from .test_svaml import _action, _instruction


@attrs.frozen(kw_only=True)
class LoudSay(svaml.Say):
    """A user's subclass: the converter encodes it as an attrs class, not as an element."""

    volume: int = 11


@attrs.frozen(kw_only=True)
class LoudHangup(svaml.Hangup):
    reason: str = "done"


class Spelling(str):
    """A str subclass: kept as it is by no quick case."""


_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
    | st.just("\ud800") | st.just(Spelling("x")),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=4) | st.integers(-3, 3), inner, max_size=3),
    max_leaves=8,
)
_unknown_data = st.dictionaries(st.text(max_size=6), _any_json, max_size=4).map(
    lambda d: d if "name" in d else {"name": "future", **d})
_free_text = st.text(max_size=12)
_odd_instruction = st.one_of(
    st.builds(svaml.UnknownInstruction, _unknown_data),
    st.builds(LoudSay, _free_text, locale=st.none() | _free_text, volume=st.integers()),
    st.builds(svaml.Say, _free_text.map(Spelling), locale=st.none() | _free_text),
    st.builds(svaml.PlayFiles, st.lists(_free_text | _free_text.map(Spelling), max_size=3)),
)
_odd_action = st.one_of(
    st.builds(svaml.UnknownAction, _unknown_data),
    st.builds(LoudHangup, reason=_free_text),
    st.builds(svaml.ConnectMxp, st.builds(Destination, type=_free_text, endpoint=_free_text)),
    st.builds(svaml.ConnectConf, _free_text, moh=st.none() | _free_text.map(Spelling)),
)
_documents = st.builds(
    svaml.Svaml,
    st.lists(_instruction | _odd_instruction, max_size=4),
    st.none() | _action | _odd_action,
)


def _outcome(encode: Any, document: svaml.Svaml) -> Any:
    try:
        return encode(document)
    except ValidationError as exc:
        return ("refused", exc.field, str(exc))


@given(_documents)
def test_the_fast_encoder_gives_dumps_bytes_and_errors(document: svaml.Svaml) -> None:
    assert _outcome(dumps_svaml, document) == _outcome(dumps, document)


def _declined(document: Any) -> bytes:
    raise AssertionError(f"the shortcut declined {document!r}")


@given(st.lists(_instruction, max_size=4), st.none() | _action)
def test_documents_of_the_library_classes_take_the_shortcut(instructions: list[Any],
                                                            action: Any) -> None:
    document = svaml.Svaml(instructions, action)
    expected = dumps(document)
    if b"null" in expected:  # text reading "null": encode_json's own second look
        return
    fast.dumps = _declined  # what the shortcut falls back on
    try:
        assert dumps_svaml(document) == expected
    finally:
        fast.dumps = dumps


@pytest.mark.parametrize("value", [math.nan, math.inf, 2**70, "\udcff", {1: "a"}])
def test_what_orjson_refuses_or_writes_as_null_is_dumps_own(value: Any) -> None:
    document = svaml.Svaml([svaml.UnknownInstruction({"name": "x", "v": value})], None)
    assert _outcome(dumps_svaml, document) == _outcome(dumps, document)


def test_not_a_document_is_dumps_own() -> None:
    assert dumps_svaml(svaml.Say("x")) == dumps(svaml.Say("x"))  # type: ignore[arg-type]


# -- quick validation cases ----------------------------------------------------------


_values = (st.text(max_size=8) | st.just("\ud800x") | st.none() | st.integers()
           | st.binary(max_size=3) | _free_text.map(Spelling))


def _refusal(build: Any) -> Any:
    try:
        build()
    except ValidationError as exc:
        return (exc.field, str(exc))
    return None


def _text_rule(field: str, value: object, optional: bool) -> Any:
    if optional and value is None:
        return None
    try:
        text(field, value, blank=True)
    except ValidationError as exc:
        return (exc.field, str(exc))
    return None


@given(_values, _values)
def test_say_checks_its_text_fields_as_the_text_rule(words: Any, locale: Any) -> None:
    expected = (_text_rule("Say.text", words, optional=False)
                or _text_rule("Say.locale", locale, optional=True))
    assert _refusal(lambda: svaml.Say(words, locale=locale)) == expected


@given(_values)
def test_optional_text_fields_check_as_the_text_rule(value: Any) -> None:
    for build, field in ((lambda: svaml.Park(value), "Park.intro_prompt"),
                         (lambda: svaml.ConnectPstn(cli=value), "ConnectPstn.cli"),
                         (lambda: svaml.RunMenu(locale=value), "RunMenu.locale")):
        assert _refusal(build) == _text_rule(field, value, optional=True)


@given(_values)
def test_required_text_fields_check_as_the_text_rule(value: Any) -> None:
    assert _refusal(lambda: svaml.ConnectConf(value)) == _text_rule(
        "ConnectConf.conference_id", value, optional=False)
    assert _refusal(lambda: svaml.CallHeader(value, "v")) == _text_rule(
        "CallHeader.key", value, optional=False)


def test_instructions_and_action_are_still_checked() -> None:
    with pytest.raises(ValidationError, match=r"Svaml\.instructions\[1\]"):
        svaml.Svaml([svaml.Say("a"), svaml.Hangup()])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match=r"Svaml\.action"):
        svaml.Svaml([], svaml.Say("a"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"Svaml\.instructions"):
        svaml.Svaml("say")  # type: ignore[arg-type]
    assert svaml.Svaml((i for i in [LoudSay("a")]), LoudHangup()).instructions == (
        LoudSay("a"),)


# -- placement rules ------------------------------------------------------------------

_RULES = {"connectPstn": {"ice", "pie"}, "connectMxp": {"ice"}, "connectSip": {"ice"},
          "connectStream": {"ice"}, "park": {"ice"}, "continue": {"ace", "pie"}}
_ACTIONS = [svaml.Hangup(), svaml.Continue(), svaml.ConnectPstn("+46"),
            svaml.ConnectMxp(), svaml.ConnectConf("r"), svaml.ConnectSip(),
            svaml.ConnectStream(), svaml.RunMenu(), svaml.Park(), LoudHangup(),
            svaml.UnknownAction({"name": "park"}), svaml.UnknownAction({"name": "later"})]


@pytest.mark.parametrize("action", _ACTIONS, ids=lambda a: type(a).__name__ + ":" + a.name)
@pytest.mark.parametrize("event", ["ice", "ace", "pie", "manage"])
def test_each_action_is_placed_by_its_name(action: Any, event: str) -> None:
    allowed = _RULES.get(action.name)
    refused = event != "manage" and allowed is not None and event not in allowed
    outcome = _refusal(lambda: svaml.check_answer(svaml.Svaml([], action), event))
    assert outcome == (("svaml.action", f"svaml.action: Sinch refuses {action.name!r} in "
                                        f"an {event} answer") if refused else None)
