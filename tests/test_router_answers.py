"""CallbackRouter keeps the encoding of an immutable SVAML answer it sends again (issue
10), and nothing else changes: every answer is still checked for its event, a document
that can change is encoded afresh each time, and what is kept stays bounded."""

from __future__ import annotations

from typing import Any

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


async def test_what_is_kept_stays_bounded() -> None:
    documents = [Svaml([svaml.Say(f"prompt {i}")], svaml.Hangup()) for i in range(100)]
    router = router_answering(*[d for d in documents for _ in range(2)])
    for document in documents:
        for _ in range(2):
            assert (await router.dispatch("POST", PATH, sign(ICE), ICE)).body == dumps(document)
    assert 0 < len(router._encoded) <= 32


async def test_an_answer_json_cannot_carry_is_a_handler_failure(caplog: Any) -> None:
    # NaN: the generated encoder leaves it to serialization.dumps, which refuses it.
    document = Svaml([svaml.UnknownInstruction({"name": "x", "v": float("nan")})],
                     svaml.Hangup())
    router = router_answering(document)
    for _ in range(2):
        assert (await router.dispatch("POST", PATH, sign(ICE), ICE)).status == 500
    assert "must not contain NaN or infinity" in caplog.text
