"""DESIGN.md's public API contract, exercised as written there (names must not drift)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sinch_calling import (
    Capability,
    Destination,
    Region,
    SinchCalling,
    converter,
    events,
    svaml,
)
from sinch_calling.auth import CallbackVerifier, signed_headers
from sinch_calling.errors import (  # noqa: F401
    ApiError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    SignatureError,
    SinchError,
    TransportError,
)
from sinch_calling.models import (  # noqa: F401
    Call,
    CallbackUrls,
    CallReason,
    CallResult,
    CallStatus,
    Conference,
    Domain,
    Money,
    Number,
    NumberInfo,
    Participant,
    Recording,
)
from sinch_calling.testing import Emulator
from sinch_calling.webhooks import CallbackRouter


async def test_the_design_walkthrough(tmp_path: Path) -> None:
    async with Emulator(application_key="contract-key",
                        application_secret="Y29udHJhY3Qtc2VjcmV0") as emu:
        emu.configuration.add_number("+14151112223333")
        start = datetime.now(UTC) - timedelta(minutes=1)
        emu.recordings.add("rec-1.mp3", b"ID3" + bytes(1000), created_on=datetime.now(UTC))
        end = datetime.now(UTC) + timedelta(hours=1)
        async with SinchCalling("contract-key", "Y29udHJhY3Qtc2VjcmV0", region=Region.GLOBAL,
                                auth="signed", base_url=emu.url, timeout=10,
                                max_connections=10) as sinch:
            assert isinstance(await sinch.numbers.list(), list)
            await sinch.numbers.assign(["+14151112223333"], application_key=None,
                                       capability="voice")
            await sinch.numbers.unassign("+14151112223333", application_key=None,
                                         capability="voice")
            assert isinstance(await sinch.numbers.query("+46730170101"), NumberInfo)
            await sinch.callbacks.update("https://a.example", "https://b.example",
                                         application_key=None)
            urls = await sinch.callbacks.get(application_key=None)
            assert (urls.primary, urls.fallback) == ("https://a.example", "https://b.example")

            call_id = await sinch.callouts.tts("+46000000001", text="Hello", cli="+46000000000",
                                               locale="en-US")
            assert isinstance(call_id, str)
            await sinch.callouts.conference("+46000000001", "room-1", greeting="Welcome")
            await sinch.callouts.custom(destination="+46000000001",
                                        ice=svaml.Svaml(action=svaml.ConnectPstn(number="+4600")),
                                        ace="https://my.host/ace")
            assert isinstance(await sinch.calls.get(call_id), Call)
            await sinch.calls.manage(call_id, svaml.Svaml([svaml.Say("Bye")], svaml.Hangup()),
                                     resource_url=None)
            room = await sinch.conferences.get("room-1")
            participant = room.participants[0]
            assert isinstance(participant, Participant)
            await sinch.conferences.mute("room-1", participant.id)
            await sinch.conferences.unmute("room-1", participant.id)
            await sinch.conferences.kick("room-1", participant.id)
            await sinch.callouts.conference("+46000000002", "room-1")
            await sinch.conferences.kick_all("room-1")

            recordings = [rec async for rec in sinch.recordings.list(start=start, end=end,
                                                                      page_size=100)]
            assert [r.key for r in recordings] == ["rec-1.mp3"]
            rec = recordings[0]
            path = await sinch.recordings.download(rec.key, tmp_path / "out")
            assert path.read_bytes().startswith(b"ID3")
            async with sinch.recordings.stream(rec.key) as body:
                assert b"".join([chunk async for chunk in body]).startswith(b"ID3")
            report = await sinch.recordings.export(tmp_path / "export", start=start, end=end,
                                                   concurrency=8)
            assert report.downloaded == 1
            await sinch.recordings.delete(rec.key)


def test_pure_parts_of_the_contract() -> None:
    headers = signed_headers("k", "c2VjcmV0", method="GET", path="/x", content_type=None,
                             body=None, timestamp="2023-11-22T09:10:11.999Z")
    CallbackVerifier("k", "c2VjcmV0", max_age=300).verify(
        "GET", "/x", headers, b"", now=datetime(2023, 11, 22, 9, 10, 12, tzinfo=UTC))
    assert isinstance(events.parse(b'{"event": "dice", "callid": "c"}'),
                      events.DisconnectedCallEvent)
    assert isinstance(events.parse({"event": "brand-new"}), events.UnknownEvent)
    assert Destination.number("+46").endpoint == "+46"
    assert Destination.username("alice").endpoint == "alice"
    assert Capability("voice") is Capability.VOICE
    router = CallbackRouter("k", "c2VjcmV0")
    assert callable(router.handle)
    for name in ("PlayFiles", "Say", "SendDtmf", "SetCookie", "Answer", "StartRecording",
                 "StopRecording", "Hangup", "Continue", "ConnectPstn", "ConnectMxp",
                 "ConnectConf", "ConnectSip", "RunMenu", "Menu", "MenuOption", "Park"):
        assert hasattr(svaml, name), name
    doc = svaml.Svaml(instructions=(), action=None)
    assert converter.structure(converter.unstructure(doc), svaml.Svaml) == doc
