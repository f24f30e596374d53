"""``calls.manage_leg`` against the emulator: a prompt to the caller, the callee or both
(``PATCH /calling/v1/calls/id/{callId}/leg/{callLeg}``), refused before sending when
Sinch would refuse it, routed by ICE's ``callResourceUrl``, never played twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import CallLeg, CallReason, CallStatus, SinchCalling, svaml
from sinch_calling.api.calls import call_leg, check_leg_svaml
from sinch_calling.errors import (
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
)
from sinch_calling.testing import Emulator
from sinch_calling.transport import encode_segment

from .conftest import FAST_RETRY
from .traffic_checks import assert_sent, only_request

HI = svaml.Svaml([svaml.Say("Hi")])
SENT_HI = {"instructions": [{"name": "say", "text": "Hi"}], "action": {"name": "continue"}}


def _leg_path(call_id: str, leg: str) -> str:
    return f"/calling/v1/calls/id/{call_id}/leg/{leg}"


def _incoming(emulator: Emulator) -> str:
    """A connected incoming call (a caller and a callee: the leg matters)."""
    call = emulator.incoming_call("+46000000009", "+46000000001")
    emulator.requests.clear()
    return call.call_id


async def _callout(sinch: SinchCalling, emulator: Emulator) -> str:
    call_id = await sinch.callouts.tts("+46000000001", text="Hello", cli="+46000000000")
    emulator.requests.clear()
    return call_id


def _heard(emulator: Emulator, call_id: str) -> dict[str, list[str]]:
    return emulator.progress(call_id).heard


# -- each leg ----------------------------------------------------------------------


@pytest.mark.parametrize(("leg", "wire", "heard"), [
    (CallLeg.CALLER, "caller", {"caller": ["Hi"], "callee": []}),
    (CallLeg.CALLEE, "callee", {"caller": [], "callee": ["Hi"]}),
    (CallLeg.BOTH, "both", {"caller": ["Hi"], "callee": ["Hi"]}),
    ("caller", "caller", {"caller": ["Hi"], "callee": []}),
    ("callee", "callee", {"caller": [], "callee": ["Hi"]}),
    ("both", "both", {"caller": ["Hi"], "callee": ["Hi"]}),
    ("CALLEE", "callee", {"caller": [], "callee": ["Hi"]}),
])
async def test_each_leg_hears_the_prompt(sinch: SinchCalling, emulator: Emulator,
                                         leg: CallLeg | str, wire: str,
                                         heard: dict[str, list[str]]) -> None:
    call_id = _incoming(emulator)
    await sinch.calls.manage_leg(call_id, leg, HI)
    assert_sent(emulator, "PATCH", _leg_path(call_id, wire), SENT_HI)
    assert _heard(emulator, call_id) == heard
    assert emulator.progress(call_id).prompts == ["Hi"]
    assert emulator.call(call_id).status is CallStatus.ONGOING


async def test_play_files_and_say_in_order(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    doc = svaml.Svaml([svaml.PlayFiles(["welcome", "#tts[Hello]"], locale="en-US"),
                       svaml.Say("Tack", locale="sv-SE")], svaml.Continue())
    await sinch.calls.manage_leg(call_id, "callee", doc)
    assert_sent(emulator, "PATCH", _leg_path(call_id, "callee"), {
        "instructions": [{"name": "playFiles", "ids": ["welcome", "#tts[Hello]"],
                          "locale": "en-US"},
                         {"name": "say", "text": "Tack", "locale": "sv-SE"}],
        "action": {"name": "continue"}})
    assert _heard(emulator, call_id) == {"caller": [], "callee": ["welcome", "#tts[Hello]",
                                                                   "Tack"]}


async def test_prompts_add_up_per_leg(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    await sinch.calls.manage_leg(call_id, "caller", svaml.Svaml([svaml.Say("one")]))
    await sinch.calls.manage_leg(call_id, "both", svaml.Svaml([svaml.Say("two")]))
    await sinch.calls.manage_leg(call_id, "callee", svaml.Svaml([svaml.Say("three")]))
    assert _heard(emulator, call_id) == {"caller": ["one", "two"], "callee": ["two", "three"]}
    assert len(emulator.call(call_id).svaml) == 3


async def test_hangup_after_the_prompt_ends_the_call(sinch: SinchCalling,
                                                     emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    await sinch.calls.manage_leg(call_id, "caller",
                                 svaml.Svaml([svaml.Say("Goodbye")], svaml.Hangup()))
    assert only_request(emulator).json()["action"] == {"name": "hangup"}
    call = emulator.call(call_id)
    assert (call.status, call.reason) == (CallStatus.FINAL, CallReason.MANAGERHANGUP)
    assert _heard(emulator, call_id)["caller"] == ["Goodbye"]


async def test_unicode_text_is_heard_as_sent(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    text = "Hej då, Åsa! 你好 \U0001f4de \"quoted\" \\ back"
    await sinch.calls.manage_leg(call_id, "callee", svaml.Svaml([svaml.Say(text)]))
    assert _heard(emulator, call_id)["callee"] == [text]


# -- where Sinch ignores the leg -----------------------------------------------------


@pytest.mark.parametrize("leg", ["caller", "callee", "both"])
async def test_leg_is_ignored_for_a_callout(sinch: SinchCalling, emulator: Emulator,
                                            leg: str) -> None:
    call_id = await _callout(sinch, emulator)
    await sinch.calls.manage_leg(call_id, leg, HI)
    assert_sent(emulator, "PATCH", _leg_path(call_id, leg), SENT_HI)
    # The callout's one party (its callee) hears it, once, whatever the leg said.
    assert _heard(emulator, call_id) == {"caller": [], "callee": ["Hi"]}
    assert emulator.progress(call_id).prompts == ["Hello", "Hi"]


async def test_leg_is_ignored_for_a_conference_participant(sinch: SinchCalling,
                                                           emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    await sinch.calls.manage(call_id, svaml.Svaml(action=svaml.ConnectConf("room-1")))
    assert emulator.call(call_id).conference_id == "room-1"
    await sinch.calls.manage_leg(call_id, "callee", HI)
    # The participant is the incoming call's caller: the leg does not matter.
    assert _heard(emulator, call_id) == {"caller": ["Hi"], "callee": []}


async def test_conference_callout_participant(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = await sinch.callouts.conference("+46000000002", "room-2")
    await sinch.calls.manage_leg(call_id, CallLeg.BOTH, HI)
    assert _heard(emulator, call_id) == {"caller": [], "callee": ["Hi"]}


# -- refused before sending ---------------------------------------------------------


@pytest.mark.parametrize(("leg", "message"), [
    ("", "got ''"),
    (" caller", "got ' caller'"),
    ("callers", "'caller', 'callee', 'both'"),
    ("caller/../x", "callLeg"),
    (None, "got None"),
    (1, "got 1"),
    (b"caller", "got b'caller'"),
])
async def test_bad_leg_refused_before_sending(sinch: SinchCalling, emulator: Emulator,
                                              leg: object, message: str) -> None:
    with pytest.raises(ValidationError, match="leg") as info:
        await sinch.calls.manage_leg("abc", leg, HI)  # type: ignore[arg-type]
    assert info.value.field == "leg"
    assert message in str(info.value)
    assert emulator.requests == []


@pytest.mark.parametrize(("document", "field", "rule"), [
    (None, "svaml", "svaml.Svaml"),
    ({"instructions": [{"name": "say", "text": "Hi"}]}, "svaml", "svaml.Svaml"),
    (svaml.Svaml(), "svaml.instructions", "at least one"),
    (svaml.Svaml(action=svaml.Hangup()), "svaml.instructions", "at least one"),
    (svaml.Svaml([svaml.Say("Hi"), svaml.SendDtmf("1")]), "svaml.instructions[1]",
     "only playFiles and say"),
    (svaml.Svaml([svaml.SetCookie("k", "v")]), "svaml.instructions[0]",
     "only playFiles and say"),
    (svaml.Svaml([svaml.StartRecording()]), "svaml.instructions[0]", "only playFiles and say"),
    (svaml.Svaml([svaml.Say("   ")]), "svaml.instructions[0].text", "non-empty"),
    (svaml.Svaml([svaml.PlayFiles([])]), "svaml.instructions[0].ids", "at least one file"),
    (svaml.Svaml([svaml.PlayFiles(["ok", ""])]), "svaml.instructions[0].ids",
     "at least one file"),
    (svaml.Svaml([svaml.Say("Hi")], svaml.ConnectPstn(number="+46000000005")),
     "svaml.action", "hangup, continue or none"),
    (svaml.Svaml([svaml.Say("Hi")], svaml.ConnectConf("room-1")), "svaml.action",
     "use calls.manage"),
    (svaml.Svaml([svaml.Say("Hi")], svaml.Park()), "svaml.action", "hangup, continue"),
])
async def test_bad_svaml_refused_before_sending(sinch: SinchCalling, emulator: Emulator,
                                                document: object, field: str,
                                                rule: str) -> None:
    with pytest.raises(ValidationError, match=rule) as info:
        await sinch.calls.manage_leg("abc", "callee", document)  # type: ignore[arg-type]
    assert info.value.field == field
    assert emulator.requests == []


@pytest.mark.parametrize("call_id", ["", "   ", None])
async def test_bad_call_id_refused_before_sending(sinch: SinchCalling, emulator: Emulator,
                                                  call_id: Any) -> None:
    with pytest.raises(ValidationError) as info:
        await sinch.calls.manage_leg(call_id, "callee", HI)
    assert info.value.field == "call_id"
    assert emulator.requests == []


def test_no_action_becomes_continue_and_the_document_is_kept() -> None:
    doc = svaml.Svaml([svaml.Say("Hi")])
    assert check_leg_svaml(doc) == svaml.Svaml([svaml.Say("Hi")], svaml.Continue())
    assert doc.action is None  # the caller's document is not changed
    bye = svaml.Svaml([svaml.Say("Bye")], svaml.Hangup())
    assert check_leg_svaml(bye) is bye


# -- resource_url (ICE's callResourceUrl) --------------------------------------------


@pytest.fixture
async def regional() -> AsyncIterator[Emulator]:
    """A second server on the same host as ``emulator``, another port: a "region"."""
    async with Emulator() as emu:
        yield emu


async def test_resource_url_on_another_origin_is_refused(sinch: SinchCalling,
                                                         emulator: Emulator,
                                                         regional: Emulator) -> None:
    # Another port of the client's own host is another origin: no credentials go there
    # (issue 8, failure 1); Sinch's own https hosts are the other allowed origins.
    call_id = _incoming(regional)
    resource_url = f"{regional.url}/calling/v1/calls/id/{call_id}"
    with pytest.raises(ValidationError, match="resource_url"):
        await sinch.calls.manage_leg(call_id, "callee", HI, resource_url=resource_url)
    assert emulator.requests == []
    assert regional.requests == []


async def test_resource_url_trailing_slash_and_query(sinch: SinchCalling,
                                                     emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    resource_url = f"{emulator.url}/calling/v1/calls/id/{call_id}/?x=1"
    await sinch.calls.manage_leg(call_id, "caller", HI, resource_url=resource_url)
    assert only_request(emulator).path == _leg_path(call_id, "caller")


async def test_resource_url_checks_are_the_ones_of_manage(sinch: SinchCalling,
                                                          emulator: Emulator) -> None:
    # The full set of refusals is in test_calls.py (the same check); the leg's own case:
    # callResourceUrl names the call, never one of its legs.
    for resource_url in ("https://calling-euc1.api.sinch.com/calling/v1/calls/id/abc/leg/callee",
                         "https://evil.example/calling/v1/calls/id/abc"):
        with pytest.raises(ValidationError) as info:
            await sinch.calls.manage_leg("abc", "caller", HI, resource_url=resource_url)
        assert info.value.field == "resource_url"
    assert emulator.requests == []


@pytest.mark.parametrize("host", ["calling-euc1.api.sinch.com", "CALLING-USE1.API.SINCH.COM"])
async def test_resource_url_on_a_sinch_region_keeps_the_leg_path(host: str) -> None:
    # No outside network in tests: check where the request would go, without sending it.
    async with SinchCalling("key", "c2VjcmV0", region="sae1") as client:
        url = client.calls._leg_url("a b", CallLeg.BOTH,
                                    f"https://{host}/calling/v1/calls/id/a%20b")
    assert str(url) == f"https://{host.lower()}/calling/v1/calls/id/a%20b/leg/both"


# -- the emulator's errors -----------------------------------------------------------


async def test_unknown_call_is_40400(sinch: SinchCalling, emulator: Emulator) -> None:
    with pytest.raises(NotFoundError) as info:
        await sinch.calls.manage_leg("no-such-call", "callee", HI)
    assert info.value.error_code == 40400
    assert only_request(emulator).path == _leg_path("no-such-call", "callee")


async def test_ended_call_is_40400(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    await sinch.calls.manage_leg(call_id, "both", svaml.Svaml([svaml.Say("Bye")],
                                                              svaml.Hangup()))
    with pytest.raises(NotFoundError) as info:
        await sinch.calls.manage_leg(call_id, "both", HI)
    assert info.value.error_code == 40400
    assert _heard(emulator, call_id) == {"caller": ["Bye"], "callee": ["Bye"]}


async def test_another_applications_call_is_40400(emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    emulator.configuration.add_application("other-app", "c2VjcmV0")
    async with SinchCalling("other-app", "c2VjcmV0", base_url=emulator.url) as stranger:
        with pytest.raises(NotFoundError) as info:
            await stranger.calls.manage_leg(call_id, "callee", HI)
    assert info.value.error_code == 40400
    assert _heard(emulator, call_id) == {"caller": [], "callee": []}


async def _raw_patch(sinch: SinchCalling, path_tail: str, body: bytes) -> Any:
    transport = sinch._transport
    url = transport.traffic_url(*path_tail.split("/"))
    return await transport.request("PATCH", url, body=body)


@pytest.mark.parametrize("leg", ["Caller", "nobody", "both2", "%20caller"])
async def test_bad_leg_is_40001(sinch: SinchCalling, emulator: Emulator, leg: str) -> None:
    call_id = _incoming(emulator)
    with pytest.raises(BadRequestError) as info:
        await _raw_patch(sinch, f"calls/id/{call_id}/leg/{leg}", b'{"instructions": '
                         b'[{"name": "say", "text": "Hi"}]}')
    assert info.value.error_code == 40001
    assert _heard(emulator, call_id) == {"caller": [], "callee": []}


async def test_bad_leg_is_refused_before_the_call_is_looked_up(sinch: SinchCalling) -> None:
    with pytest.raises(BadRequestError) as info:
        await _raw_patch(sinch, "calls/id/no-such-call/leg/middle", b"{}")
    assert info.value.error_code == 40001


@pytest.mark.parametrize(("body", "code"), [
    (b"not json", 40003),
    (b"[]", 40003),
    (b"{}", 40003),
    (b'{"instructions": []}', 40002),
    (b'{"action": {"name": "hangup"}}', 40002),
    (b'{"instructions": [{"name": "sendDtmf", "value": "1"}]}', 40001),
    (b'{"instructions": [{"name": "say", "text": "Hi"}], '
     b'"action": {"name": "connectConf", "conferenceId": "r"}}', 40001),
    (b'{"instructions": [{"name": "teleport"}]}', 40001),
])
async def test_emulator_refuses_what_sinch_refuses(sinch: SinchCalling, emulator: Emulator,
                                                    body: bytes, code: int) -> None:
    call_id = _incoming(emulator)
    with pytest.raises(BadRequestError) as info:
        await _raw_patch(sinch, f"calls/id/{call_id}/leg/callee", body)
    assert info.value.error_code == code
    assert emulator.call(call_id).svaml == []
    assert emulator.call(call_id).status is CallStatus.ONGOING


async def test_emulator_accepts_a_document_without_action(sinch: SinchCalling,
                                                          emulator: Emulator) -> None:
    # Other clients may leave the action out; the emulator plays the prompt all the same.
    call_id = _incoming(emulator)
    await _raw_patch(sinch, f"calls/id/{call_id}/leg/caller",
                     b'{"instructions": [{"name": "playFiles", "ids": ["beep"]}]}')
    assert _heard(emulator, call_id) == {"caller": ["beep"], "callee": []}


# -- retries: a prompt is never played twice ------------------------------------------


async def test_429_is_retried_and_played_once(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    emulator.faults.add("PATCH", _leg_path(call_id, "callee"), status=429, retry_after=0)
    await sinch.calls.manage_leg(call_id, "callee", HI)
    assert len(emulator.requests_to(_leg_path(call_id, "callee"), "PATCH")) == 2
    assert _heard(emulator, call_id)["callee"] == ["Hi"]


async def test_429_every_time_gives_up(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    emulator.faults.add("PATCH", _leg_path(call_id, "callee"), status=429, retry_after=0,
                        times=None)
    with pytest.raises(RateLimitedError):
        await sinch.calls.manage_leg(call_id, "callee", HI)
    assert len(emulator.requests) == FAST_RETRY.attempts
    assert _heard(emulator, call_id)["callee"] == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_not_retried(sinch: SinchCalling, emulator: Emulator,
                                             status: int) -> None:
    call_id = _incoming(emulator)
    emulator.faults.add("PATCH", _leg_path(call_id, "both"), status=status)
    with pytest.raises(ServerError):
        await sinch.calls.manage_leg(call_id, "both", HI)
    assert len(emulator.requests) == 1


async def test_acted_but_unanswered_is_not_retried(sinch: SinchCalling,
                                                   emulator: Emulator) -> None:
    call_id = _incoming(emulator)
    emulator.faults.add("PATCH", _leg_path(call_id, "caller"), disconnect="after")
    with pytest.raises(TransportError) as info:
        await sinch.calls.manage_leg(call_id, "caller", HI)
    assert info.value.maybe_sent
    assert len(emulator.requests) == 1
    assert _heard(emulator, call_id)["caller"] == ["Hi"]  # played once, not twice


async def test_dropped_before_acting_is_not_retried(sinch: SinchCalling,
                                                    emulator: Emulator) -> None:
    # The client cannot tell "before" from "after": not provably unsent, so not re-sent.
    call_id = _incoming(emulator)
    emulator.faults.add("PATCH", _leg_path(call_id, "caller"), disconnect="before")
    with pytest.raises(TransportError):
        await sinch.calls.manage_leg(call_id, "caller", HI)
    assert len(emulator.requests) == 1
    assert _heard(emulator, call_id)["caller"] == []


async def test_refused_connection_says_nothing_was_sent() -> None:
    # Nothing listens any more: provably unsent (retried by the policy, then reported).
    async with Emulator() as emu:
        call_id = _incoming(emu)
        url = emu.url
    async with SinchCalling("key", "c2VjcmV0", base_url=url, retry=FAST_RETRY) as client:
        with pytest.raises(TransportError) as info:
            await client.calls.manage_leg(call_id, "callee", HI)
    assert not info.value.maybe_sent


# -- the leg argument, any input ------------------------------------------------------

_LEGS = {"caller", "callee", "both"}


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=12), st.sampled_from(sorted(_LEGS)),
                 st.sampled_from(["CALLER", "Callee", "BoTh", "caller ", "\tboth", "callée"]),
                 st.none(), st.integers(), st.binary(max_size=6)))
def test_any_leg_argument_is_a_leg_or_a_named_refusal(value: object) -> None:
    if isinstance(value, str) and value.casefold() in _LEGS:
        leg = call_leg(value)
        assert leg.value == value.casefold()
        assert isinstance(leg, CallLeg)
        return
    with pytest.raises(ValidationError) as info:
        call_leg(value)
    assert info.value.field == "leg"


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=12).filter(lambda s: s.casefold() not in _LEGS))
def test_manage_leg_refuses_a_bad_leg_without_any_request(value: str) -> None:
    # Port 9 (discard) on loopback: if anything were sent, a TransportError would say so.
    async def attempt() -> None:
        async with SinchCalling("key", "c2VjcmV0", base_url="http://127.0.0.1:9",
                                retry=FAST_RETRY) as client:
            await client.calls.manage_leg("abc", value, HI)

    with pytest.raises(ValidationError) as info:
        asyncio.run(attempt())
    assert info.value.field == "leg"


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(["caller", "callee", "both", "Both", "caller/x", ".."])
                | st.text(min_size=1, max_size=10,
                          alphabet=st.characters(blacklist_categories=("Cs",))),
                min_size=1, max_size=8))
def test_emulator_plays_only_to_a_named_leg(segments: list[str]) -> None:
    # Whatever a client puts in the leg segment, the emulator plays to that leg or
    # answers 40001 and plays nothing.
    async def attempt() -> None:
        async with Emulator() as emu, SinchCalling(
                emu.application_key, emu.application_secret, base_url=emu.url,
                retry=FAST_RETRY) as sinch:
            call_id = _incoming(emu)
            expected: dict[str, list[str]] = {"caller": [], "callee": []}
            for i, segment in enumerate(segments):
                tail = f"calls/id/{call_id}/leg/{encode_segment(segment, 'leg')}"
                body = f'{{"instructions": [{{"name": "say", "text": "p{i}"}}]}}'.encode()
                if segment in _LEGS:
                    await _raw_patch(sinch, tail, body)
                    for leg in ("caller", "callee"):
                        if segment in (leg, "both"):
                            expected[leg].append(f"p{i}")
                else:
                    with pytest.raises(BadRequestError) as info:
                        await _raw_patch(sinch, tail, body)
                    assert info.value.error_code == 40001
            assert _heard(emu, call_id) == expected

    asyncio.run(attempt())
