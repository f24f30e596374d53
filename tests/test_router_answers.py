"""CallbackRouter's answers through the generated SVAML encoder (issue 10): every answer
is exactly ``dumps(document)`` however often it is sent, is checked for its event by the
name it is sent under, and what ``dumps`` refuses is refused (500), even for documents
changed through ``object.__setattr__``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import svaml
from sinch_calling.auth import signed_headers
from sinch_calling.events import AnsweredCallEvent, IncomingCallEvent
from sinch_calling.serialization import dumps
from sinch_calling.svaml import Svaml
from sinch_calling.webhooks import CallbackRouter
from tests.conftest import FIXTURES

KEY = "app-key"
SECRET = "c2VjcmV0LWZvci13ZWJob29rcw=="
PATH = "/sinch/callbacks"
ICE = (FIXTURES / "sinchevents" / "IncomingCallEventDto.json").read_bytes()
ACE = (FIXTURES / "sinchevents" / "AnsweredCallEventDto.json").read_bytes()


def sign(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json",
            **signed_headers(KEY, SECRET, method="POST", path=PATH,
                             content_type="application/json", body=body)}


def router_answering(*answers: Any) -> CallbackRouter:
    """A router whose ICE handler returns ``answers`` in turn, then starts again."""
    router = CallbackRouter(KEY, SECRET)
    turn = iter(range(10**9))

    @router.ice
    async def on_ice(event: IncomingCallEvent) -> Any:
        return answers[next(turn) % len(answers)]

    return router


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                max_size=8).filter(str.strip)
_INSTRUCTIONS = st.one_of(
    st.builds(svaml.Say, _TEXT, locale=st.none() | st.just("en-US")),
    st.builds(svaml.PlayFiles, st.lists(_TEXT, max_size=2).map(tuple)),
    st.builds(svaml.SendDtmf, st.sampled_from(["1", "ww12#", "*9"])),
    st.builds(svaml.SetCookie, _TEXT, _TEXT),
    st.builds(svaml.StartRecording),
    st.builds(svaml.Answer),
    st.builds(svaml.UnknownInstruction, st.fixed_dictionaries({"name": _TEXT, "x": _TEXT})),
)
_ACTIONS = st.one_of(
    st.builds(svaml.Hangup),
    st.builds(svaml.ConnectConf, _TEXT),
    st.builds(svaml.ConnectPstn, st.sampled_from(["+46700000000", "+14155550100"])),
    st.builds(svaml.RunMenu, st.lists(st.builds(
        svaml.Menu, _TEXT, options=st.lists(st.builds(svaml.MenuOption, st.just("1"),
                                                      st.just("return")), max_size=2)),
        min_size=1, max_size=2)),
    st.builds(svaml.UnknownAction, st.fixed_dictionaries({"name": _TEXT})),
)
DOCUMENTS = st.builds(Svaml, st.lists(_INSTRUCTIONS, max_size=3), _ACTIONS)


@settings(max_examples=150, deadline=None)
@given(st.lists(DOCUMENTS, min_size=1, max_size=3), st.integers(1, 4))
async def test_every_answer_is_the_documents_encoding_however_often_it_is_sent(
        documents: list[Svaml], repeats: int) -> None:
    router = router_answering(*documents)
    for _ in range(repeats):
        for document in documents:
            status, headers, body = await router.dispatch("POST", PATH, sign(ICE), ICE)
            assert (status, dict(headers)) == (200, {"Content-Type": "application/json"})
            assert body == dumps(document)


async def test_a_document_that_can_change_is_encoded_afresh() -> None:
    data: dict[str, Any] = {"name": "futureThing", "level": 1}
    unknown = svaml.UnknownInstruction(data)
    document = Svaml([unknown], svaml.Hangup())
    router = router_answering(document)
    for level in range(1, 5):
        unknown.data["level"] = level  # type: ignore[index]
        status, _, body = await router.dispatch("POST", PATH, sign(ICE), ICE)
        assert status == 200
        assert body == dumps(document)
        assert f'"level":{level}'.encode() in body


async def test_a_kept_answer_is_still_checked_for_each_event() -> None:
    # connectPstn is allowed in an ICE answer, not in an ACE one.
    document = Svaml(action=svaml.ConnectPstn("+46700000000"))
    router = CallbackRouter(KEY, SECRET)

    @router.ice
    async def on_ice(event: IncomingCallEvent) -> Svaml:
        return document

    @router.ace
    async def on_ace(event: AnsweredCallEvent) -> Svaml:
        return document

    for _ in range(3):
        assert await router.dispatch("POST", PATH, sign(ICE), ICE) == (
            200, {"Content-Type": "application/json"}, dumps(document))
        assert (await router.dispatch("POST", PATH, sign(ACE), ACE)).status == 500


async def test_a_document_changed_behind_its_frozen_back_is_sent_as_it_is_now() -> None:
    document = Svaml([svaml.Say("hello")], svaml.Hangup())
    router = router_answering(document)
    for _ in range(2):
        assert (await router.dispatch("POST", PATH, sign(ICE), ICE)).body == dumps(document)
    object.__setattr__(document.instructions[0], "text", "changed")
    body = (await router.dispatch("POST", PATH, sign(ICE), ICE)).body
    assert body == dumps(document)
    assert b'"changed"' in body


async def test_an_action_is_checked_under_the_name_it_is_sent_with() -> None:
    action = svaml.Hangup()
    object.__setattr__(action, "name", "continue")  # Sinch refuses continue in an ICE answer
    router = router_answering(Svaml(action=action))
    assert (await router.dispatch("POST", PATH, sign(ICE), ICE)).status == 500


async def test_a_list_field_set_to_none_is_refused_as_dumps_refuses_it() -> None:
    from sinch_calling._fast_unstructure import dumps_svaml
    from sinch_calling.errors import ValidationError

    menu = svaml.RunMenu([svaml.Menu("main", options=[svaml.MenuOption("1", "return")])])
    object.__setattr__(menu, "menus", None)
    document = Svaml(action=menu)
    with pytest.raises(ValidationError) as expected:
        dumps(document)
    with pytest.raises(ValidationError) as got:
        dumps_svaml(document)
    assert str(got.value) == str(expected.value)
    router = router_answering(document)
    assert (await router.dispatch("POST", PATH, sign(ICE), ICE)).status == 500


async def test_an_answer_json_cannot_carry_is_a_handler_failure(caplog: Any) -> None:
    # NaN: the generated encoder leaves it to serialization.dumps, which refuses it.
    document = Svaml([svaml.UnknownInstruction({"name": "x", "v": float("nan")})],
                     svaml.Hangup())
    router = router_answering(document)
    for _ in range(2):
        assert (await router.dispatch("POST", PATH, sign(ICE), ICE)).status == 500
    assert "must not contain NaN or infinity" in caplog.text
