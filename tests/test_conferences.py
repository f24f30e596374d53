"""Conferences against the emulator: inspect, mute, hold, kick."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sinch_calling import CallReason, CallStatus, Conference, SinchCalling
from sinch_calling.errors import BadRequestError, NotFoundError, ValidationError
from sinch_calling.models import MusicOnHold
from sinch_calling.testing import Emulator

from .traffic_checks import assert_sent, settle

ROOM = "/calling/v1/conferences/id/room-1"


async def _room(sinch: SinchCalling, emulator: Emulator) -> tuple[str, str]:
    first = await sinch.callouts.conference("+46000000001", "room-1", cli="+46000000000")
    second = await sinch.callouts.conference("+46000000002", "room-1", cli="+46000000000")
    await settle(emulator)
    emulator.requests.clear()
    return first, second


async def test_get(sinch: SinchCalling, emulator: Emulator) -> None:
    first, second = await _room(sinch, emulator)
    conference = await sinch.conferences.get("room-1")
    assert_sent(emulator, "GET", ROOM)
    assert isinstance(conference, Conference)
    assert {p.call_id for p in conference.participants} == {first, second}
    for participant in conference.participants:
        assert (participant.muted, participant.onhold) == (False, False)
        assert participant.duration is not None
        assert participant.duration >= 0


async def test_get_unknown_conference(sinch: SinchCalling) -> None:
    with pytest.raises(NotFoundError) as info:
        await sinch.conferences.get("nobody-here")
    assert (info.value.status, info.value.error_code) == (404, 40400)


async def test_mute_and_unmute(sinch: SinchCalling, emulator: Emulator) -> None:
    first, _ = await _room(sinch, emulator)
    await sinch.conferences.mute("room-1", first)
    assert_sent(emulator, "PATCH", f"{ROOM}/{first}", {"command": "mute"})
    assert emulator.traffic.conferences["room-1"].participants[first].muted
    emulator.requests.clear()
    await sinch.conferences.unmute("room-1", first)
    assert_sent(emulator, "PATCH", f"{ROOM}/{first}", {"command": "unmute"})
    assert not emulator.traffic.conferences["room-1"].participants[first].muted


async def test_hold_with_music_and_resume(sinch: SinchCalling, emulator: Emulator) -> None:
    first, _ = await _room(sinch, emulator)
    await sinch.conferences.hold("room-1", first, moh=MusicOnHold.MUSIC1)
    assert_sent(emulator, "PATCH", f"{ROOM}/{first}", {"command": "onhold", "moh": "music1"})
    participant = emulator.traffic.conferences["room-1"].participants[first]
    assert (participant.onhold, participant.moh) == (True, "music1")
    conference = await sinch.conferences.get("room-1")
    assert next(p for p in conference.participants if p.call_id == first).onhold
    emulator.requests.clear()
    await sinch.conferences.resume("room-1", first)
    assert_sent(emulator, "PATCH", f"{ROOM}/{first}", {"command": "resume"})
    assert not participant.onhold


async def test_hold_without_music(sinch: SinchCalling, emulator: Emulator) -> None:
    first, _ = await _room(sinch, emulator)
    await sinch.conferences.hold("room-1", first)
    assert_sent(emulator, "PATCH", f"{ROOM}/{first}", {"command": "onhold"})


async def test_hold_music_by_name_any_case(sinch: SinchCalling, emulator: Emulator) -> None:
    first, _ = await _room(sinch, emulator)
    await sinch.conferences.hold("room-1", first, moh="RING")
    assert emulator.requests[0].json() == {"command": "onhold", "moh": "ring"}


async def test_participant_commands_are_retried(sinch: SinchCalling,
                                                emulator: Emulator) -> None:
    first, _ = await _room(sinch, emulator)
    emulator.faults.add("PATCH", f"{ROOM}/{first}", status=503)
    await sinch.conferences.mute("room-1", first)
    assert len(emulator.requests) == 2
    assert emulator.traffic.conferences["room-1"].participants[first].muted


async def test_kick(sinch: SinchCalling, emulator: Emulator) -> None:
    first, second = await _room(sinch, emulator)
    await sinch.conferences.kick("room-1", first)
    assert_sent(emulator, "DELETE", f"{ROOM}/{first}")
    assert list(emulator.traffic.conferences["room-1"].participants) == [second]
    call = emulator.traffic.calls[first]
    assert (call.status, call.reason) == (CallStatus.FINAL, CallReason.MANAGERHANGUP)
    with pytest.raises(NotFoundError):
        await sinch.conferences.kick("room-1", first)


async def test_kick_all(sinch: SinchCalling, emulator: Emulator) -> None:
    first, second = await _room(sinch, emulator)
    await sinch.conferences.kick_all("room-1")
    assert_sent(emulator, "DELETE", ROOM)
    for call_id in (first, second):
        assert emulator.traffic.calls[call_id].status == CallStatus.FINAL
    with pytest.raises(NotFoundError):
        await sinch.conferences.get("room-1")


Operation = Callable[[SinchCalling], Awaitable[Any]]

UNKNOWN_ROOM: list[Operation] = [
    lambda s: s.conferences.mute("nowhere", "abc"),
    lambda s: s.conferences.hold("nowhere", "abc"),
    lambda s: s.conferences.kick("nowhere", "abc"),
    lambda s: s.conferences.kick_all("nowhere"),
]


@pytest.mark.parametrize("operation", UNKNOWN_ROOM)
async def test_unknown_conference_is_not_found(sinch: SinchCalling,
                                               operation: Operation) -> None:
    with pytest.raises(NotFoundError) as info:
        await operation(sinch)
    assert info.value.error_code == 40400


async def test_unknown_participant_is_not_found(sinch: SinchCalling,
                                                emulator: Emulator) -> None:
    await _room(sinch, emulator)
    with pytest.raises(NotFoundError):
        await sinch.conferences.unmute("room-1", "not-in-the-room")


async def test_ids_are_encoded_as_one_segment(sinch: SinchCalling, emulator: Emulator) -> None:
    with pytest.raises(NotFoundError):
        await sinch.conferences.mute("room 1/a", "call?x")
    assert emulator.requests[0].path == "/calling/v1/conferences/id/room%201%2Fa/call%3Fx"


VALIDATION: list[tuple[Operation, str]] = [
    (lambda s: s.conferences.get(""), "conference_id"),
    (lambda s: s.conferences.get(" "), "conference_id"),
    (lambda s: s.conferences.mute("room-1", ""), "call_id"),
    (lambda s: s.conferences.unmute("", "abc"), "conference_id"),
    (lambda s: s.conferences.hold("room-1", "abc", moh="jazz"), "moh"),
    (lambda s: s.conferences.resume("room-1", None), "call_id"),
    (lambda s: s.conferences.kick("room-1", ""), "call_id"),
    (lambda s: s.conferences.kick_all(""), "conference_id"),
]


@pytest.mark.parametrize(("operation", "field"), VALIDATION)
async def test_validation(sinch: SinchCalling, emulator: Emulator, operation: Operation,
                          field: str) -> None:
    with pytest.raises(ValidationError) as info:
        await operation(sinch)
    assert info.value.field == field
    assert emulator.requests == []


@pytest.mark.parametrize(("body", "code"), [
    (b"{}", 40002),
    (b'{"command": "deafen"}', 40001),
    (b'{"command": "onhold", "moh": "jazz"}', 40001),
    (b"[]", 40003),
])
async def test_emulator_rejects_bad_commands(sinch: SinchCalling, emulator: Emulator,
                                             body: bytes, code: int) -> None:
    first, _ = await _room(sinch, emulator)
    transport = sinch._transport
    url = transport.traffic_url("conferences", "id", "room-1", first)
    with pytest.raises(BadRequestError) as info:
        await transport.request("PATCH", url, body=body)
    assert info.value.error_code == code
