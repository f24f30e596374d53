"""Calls against the emulator: get, manage (SVAML PATCH), and routing by the ICE's
``callResourceUrl`` only to hosts the user chose."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from sinch_calling import CallReason, CallResult, CallStatus, Destination, SinchCalling, svaml
from sinch_calling.errors import BadRequestError, NotFoundError, ServerError, ValidationError
from sinch_calling.regions import SINCH_TRAFFIC_HOSTS
from sinch_calling.testing import Emulator

from .conftest import fixture_json
from .traffic_checks import assert_sent, only_request

BYE = svaml.Svaml([svaml.Say("Bye")], svaml.Hangup())


async def _call(sinch: SinchCalling, emulator: Emulator) -> str:
    call_id = await sinch.callouts.tts("+46000000001", text="Hello", cli="+46000000000",
                                       custom="order-17")
    emulator.requests.clear()
    return call_id


def _path(call_id: str) -> str:
    return f"/calling/v1/calls/id/{call_id}"


async def test_get(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    call = await sinch.calls.get(call_id)
    assert_sent(emulator, "GET", _path(call_id))
    assert "Content-Type" not in only_request(emulator).headers
    assert call.call_id == call_id
    assert call.to == Destination.number("+46000000001")
    assert call.from_ == Destination.number("+46000000000")
    assert (call.status, call.result, call.custom) == (CallStatus.ONGOING, CallResult.NA,
                                                       "order-17")
    assert call.timestamp is not None
    assert call.timestamp.tzinfo is not None


async def test_get_answers_in_the_java_fixture_shape(sinch: SinchCalling,
                                                     emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    transport = sinch._transport
    body = await transport.request("GET", transport.traffic_url("calls", "id", call_id))
    reference = fixture_json("calls/GetCallInformationResponseDto.json")
    assert set(body) == set(reference)
    assert set(body["userRate"]) == set(reference["userRate"])


async def test_get_unknown_call(sinch: SinchCalling) -> None:
    with pytest.raises(NotFoundError) as info:
        await sinch.calls.get("no-such-call")
    assert info.value.error_code == 40400


async def test_get_encodes_the_id_as_one_segment(sinch: SinchCalling,
                                                 emulator: Emulator) -> None:
    with pytest.raises(NotFoundError):
        await sinch.calls.get("a/../b")
    assert only_request(emulator).path == "/calling/v1/calls/id/a%2F..%2Fb"


async def test_manage_sends_svaml_and_hangs_up(sinch: SinchCalling,
                                               emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    await sinch.calls.manage(call_id, BYE)
    assert_sent(emulator, "PATCH", _path(call_id), {
        "instructions": [{"name": "say", "text": "Bye"}], "action": {"name": "hangup"}})
    call = emulator.traffic.calls[call_id]
    assert call.svaml == [{"instructions": [{"name": "say", "text": "Bye"}],
                           "action": {"name": "hangup"}}]
    assert (call.status, call.reason) == (CallStatus.FINAL, CallReason.MANAGERHANGUP)


async def test_manage_matches_java_fixture(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    doc = svaml.Svaml([svaml.Say("Sorry, the conference has been cancelled. "
                                 "The call will end now.", locale="en-US")], svaml.Hangup())
    await sinch.calls.manage(call_id, doc)
    assert_sent(emulator, "PATCH", _path(call_id),
                fixture_json("calls/request/CallUpdateRequestDto.json"))


async def test_manage_without_hangup_keeps_the_call(sinch: SinchCalling,
                                                    emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    await sinch.calls.manage(call_id, svaml.Svaml([svaml.PlayFiles(["welcome"])],
                                                  svaml.Continue()))
    assert (await sinch.calls.get(call_id)).status == CallStatus.ONGOING


async def test_manage_needs_exactly_one_action(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    sent = len(emulator.requests)
    with pytest.raises(ValidationError) as info:
        await sinch.calls.manage(call_id, svaml.Svaml([svaml.Say("no action")]))
    assert info.value.field == "svaml.action"
    assert len(emulator.requests) == sent


async def test_manage_ended_call_is_not_found(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    await sinch.calls.manage(call_id, BYE)
    with pytest.raises(NotFoundError):
        await sinch.calls.manage(call_id, BYE)


async def test_manage_is_not_retried(sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    emulator.faults.add("PATCH", _path(call_id), status=503)
    with pytest.raises(ServerError):
        await sinch.calls.manage(call_id, BYE)
    assert len(emulator.requests) == 1


@pytest.mark.parametrize(("call_id", "document", "field"), [
    ("", BYE, "call_id"),
    ("   ", BYE, "call_id"),
    ("abc", {"action": {"name": "hangup"}}, "svaml"),
    ("abc", None, "svaml"),
])
async def test_manage_validation(sinch: SinchCalling, emulator: Emulator, call_id: str,
                                 document: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        await sinch.calls.manage(call_id, document)  # type: ignore[arg-type]
    assert info.value.field == field
    assert emulator.requests == []


@pytest.mark.parametrize(("body", "code"), [
    (b"not json", 40003),
    (b"{}", 40003),
    (b'{"action": "hangup"}', 40003),
    (b'{"action": {"name": "teleport"}}', 40001),
    (b'{"instructions": [{"name": "sendDtmf", "value": "abc"}]}', 40001),
])
async def test_emulator_rejects_bad_svaml(sinch: SinchCalling, emulator: Emulator,
                                          body: bytes, code: int) -> None:
    call_id = await _call(sinch, emulator)
    transport = sinch._transport
    with pytest.raises(BadRequestError) as info:
        await transport.request("PATCH", transport.traffic_url("calls", "id", call_id),
                                body=body)
    assert info.value.error_code == code
    assert emulator.traffic.calls[call_id].svaml == []


# -- resource_url -----------------------------------------------------------------


@pytest.fixture
async def regional() -> AsyncIterator[Emulator]:
    """A second server on the same host as ``emulator``, another port: a "region"."""
    async with Emulator() as emu:
        yield emu


async def test_resource_url_on_another_port_of_the_base_url_host_is_refused(
        sinch: SinchCalling, emulator: Emulator, regional: Emulator) -> None:
    # Same host, another port: another origin, so no credentials go there (issue 8, #1).
    resource_url = f"{regional.url}/calling/v1/calls/id/abc?ignored=1"
    with pytest.raises(ValidationError, match="resource_url"):
        await sinch.calls.manage("abc", BYE, resource_url=resource_url)
    assert emulator.requests == []
    assert regional.requests == []


async def test_resource_url_on_the_base_url_origin_goes_there(
        sinch: SinchCalling, emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    emulator.requests.clear()
    await sinch.calls.manage(call_id, BYE, resource_url=f"{emulator.url}{_path(call_id)}?x=1")
    assert_sent(emulator, "PATCH", _path(call_id), {
        "instructions": [{"name": "say", "text": "Bye"}], "action": {"name": "hangup"}})
    assert emulator.traffic.calls[call_id].status == CallStatus.FINAL


async def test_resource_url_with_trailing_slash(sinch: SinchCalling,
                                                emulator: Emulator) -> None:
    call_id = await _call(sinch, emulator)
    await sinch.calls.manage(call_id, BYE, resource_url=f"{emulator.url}{_path(call_id)}/")
    assert only_request(emulator).path == _path(call_id)


@pytest.mark.parametrize("resource_url", [
    "https://evil.example/calling/v1/calls/id/abc",
    "https://calling-euc1.api.sinch.com.evil.example/calling/v1/calls/id/abc",
    "http://calling-euc1.api.sinch.com/calling/v1/calls/id/abc",
    "https://calling-euc1.api.sinch.com:8443/calling/v1/calls/id/abc",
    "https://callingapi.sinch.com/calling/v1/calls/id/abc",
    "https://calling-euc1.api.sinch.com/calling/v1/calls/id/other",
    "https://calling-euc1.api.sinch.com/calling/v1/conferences/id/abc",
    "/calling/v1/calls/id/abc",
    "ftp://127.0.0.1/calling/v1/calls/id/abc",
    "",
])
async def test_resource_url_refused(sinch: SinchCalling, emulator: Emulator,
                                    resource_url: str) -> None:
    with pytest.raises(ValidationError) as info:
        await sinch.calls.manage("abc", BYE, resource_url=resource_url)
    assert info.value.field == "resource_url"
    assert emulator.requests == []


async def test_resource_url_other_path_on_own_host_refused(sinch: SinchCalling,
                                                           emulator: Emulator) -> None:
    with pytest.raises(ValidationError, match="resource_url"):
        await sinch.calls.manage("abc", BYE, resource_url=f"{emulator.url}/v1/configuration/x")
    assert emulator.requests == []


@pytest.mark.parametrize("host", ["calling-euc1.api.sinch.com", "calling-use1.api.sinch.com",
                                  "CALLING-APSE2.API.SINCH.COM", "calling.api.sinch.com"])
async def test_resource_url_sinch_regions_accepted(host: str) -> None:
    # No outside network in tests: check where the request would go, without sending it.
    async with SinchCalling("key", "c2VjcmV0", region="sae1") as client:
        expected = client.calls._url("abc")
        origin = client.calls._resource_origin(f"https://{host}/calling/v1/calls/id/abc",
                                               expected)
    assert str(origin) == f"https://{host.lower()}"


_HOSTS = (st.from_regex(r"[a-z0-9][a-z0-9.-]{0,40}", fullmatch=True)
          | st.sampled_from(sorted(SINCH_TRAFFIC_HOSTS)) | st.just("127.0.0.1"))


@given(host=_HOSTS, port=st.none() | st.sampled_from([80, 443, 8443, 9]),
       scheme=st.sampled_from(["http", "https"]))
def test_resource_url_only_ever_resolves_to_chosen_hosts(host: str, port: int | None,
                                                         scheme: str) -> None:
    client = SinchCalling("key", "c2VjcmV0", base_url="http://127.0.0.1:9")
    where = f"{scheme}://{host}" + ("" if port is None else f":{port}")
    resource_url = f"{where}/calling/v1/calls/id/abc"
    allowed = (host == "127.0.0.1" and scheme == "http" and port == 9) or (
        host in SINCH_TRAFFIC_HOSTS and scheme == "https" and port in (None, 443))
    if allowed:
        origin = client.calls._resource_origin(resource_url, client.calls._url("abc"))
        assert origin == URL(where).origin()
    else:
        with pytest.raises(ValidationError, match="resource_url"):
            client.calls._resource_origin(resource_url, client.calls._url("abc"))
