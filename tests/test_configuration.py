"""Configuration API: each operation as the server saw it, and its decoding."""

from __future__ import annotations

import pytest

from sinch_calling import (
    CallbackUrls,
    Capability,
    Money,
    Number,
    NumberInfo,
    SinchCalling,
    converter,
)
from sinch_calling.errors import AuthenticationError, BadRequestError, ValidationError
from sinch_calling.models.wire import (
    AssignNumbersRequest,
    CallbackUrlsEnvelope,
    NumbersResponse,
    QueryNumberResponse,
    UnassignNumberRequest,
)
from sinch_calling.testing import Emulator

from .conftest import fixture_json


def _only_request(emulator: Emulator):  # type: ignore[no-untyped-def]
    assert len(emulator.requests) == 1
    return emulator.requests[0]


def _assert_signed_json(request) -> None:  # type: ignore[no-untyped-def]
    assert request.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert request.headers["Authorization"].startswith("Application ")
    assert request.headers["x-timestamp"].endswith("Z")


async def test_list_numbers(sinch: SinchCalling, emulator: Emulator) -> None:
    emulator.configuration.numbers["+46000000001"].application_key = "other-app"
    numbers = await sinch.numbers.list()
    assert Number(number="+46000000001", application_key="other-app",
                  capability=Capability.VOICE) in numbers
    request = _only_request(emulator)
    assert (request.method, request.path, request.body) == ("GET", "/v1/configuration/numbers",
                                                             b"")
    assert "Content-Type" not in request.headers


async def test_assign_numbers_defaults_to_own_key(sinch: SinchCalling,
                                                  emulator: Emulator) -> None:
    await sinch.numbers.assign(["+46000000000", "+46000000001"])
    request = _only_request(emulator)
    assert (request.method, request.path) == ("POST", "/v1/configuration/numbers")
    _assert_signed_json(request)
    assert request.json() == {"numbers": ["+46000000000", "+46000000001"],
                              "applicationkey": emulator.application_key,
                              "capability": "voice"}
    assert emulator.configuration.numbers["+46000000000"].application_key == \
        emulator.application_key


async def test_assign_a_single_number_string(sinch: SinchCalling, emulator: Emulator) -> None:
    await sinch.numbers.assign("+46000000000", capability="sms")
    assert _only_request(emulator).json()["numbers"] == ["+46000000000"]
    assert emulator.configuration.numbers["+46000000000"].capability is Capability.SMS


async def test_assign_to_another_application(sinch: SinchCalling, emulator: Emulator) -> None:
    emulator.configuration.add_application("second-app", "c2Vjb25k")
    await sinch.numbers.assign(["+46000000000"], application_key="second-app")
    assert _only_request(emulator).json()["applicationkey"] == "second-app"


async def test_assign_unknown_number_is_a_bad_request(sinch: SinchCalling) -> None:
    with pytest.raises(BadRequestError) as info:
        await sinch.numbers.assign(["+46999999999"])
    assert info.value.error_code == 40001


async def test_unassign_number(sinch: SinchCalling, emulator: Emulator) -> None:
    emulator.configuration.numbers["+46000000000"].application_key = emulator.application_key
    await sinch.numbers.unassign("+46000000000")
    request = _only_request(emulator)
    assert (request.method, request.path) == ("DELETE", "/v1/configuration/numbers")
    _assert_signed_json(request)
    assert request.json() == {"number": "+46000000000",
                              "applicationkey": emulator.application_key, "capability": "voice"}
    assert emulator.configuration.numbers["+46000000000"].application_key is None


async def test_query_number_keeps_plus_and_encodes_the_rest(
    sinch: SinchCalling, emulator: Emulator
) -> None:
    info = await sinch.numbers.query("+46(0)73-017-0101")
    assert info.normalized_number == "+46730170101"
    assert info.country_id == "SE"
    assert _only_request(emulator).path == "/v1/calling/query/number/+46%280%2973-017-0101"


async def test_query_plain_number(sinch: SinchCalling, emulator: Emulator) -> None:
    info = await sinch.numbers.query("+46730170101")
    assert info.rate == Money(currency_id="USD", amount=0.0368)
    assert _only_request(emulator).path == "/v1/calling/query/number/+46730170101"


async def test_query_invalid_number_is_a_bad_request(sinch: SinchCalling) -> None:
    with pytest.raises(BadRequestError, match="Invalid number"):
        await sinch.numbers.query("46730170101")


async def test_update_and_get_callbacks(sinch: SinchCalling, emulator: Emulator) -> None:
    await sinch.callbacks.update("https://primary.example/cb", "https://fallback.example/cb")
    urls = await sinch.callbacks.get()
    assert urls == CallbackUrls(primary="https://primary.example/cb",
                                fallback="https://fallback.example/cb")
    update, get = emulator.requests
    path = f"/v1/configuration/callbacks/applications/{emulator.application_key}"
    assert (update.method, update.path, get.method, get.path) == ("POST", path, "GET", path)
    assert update.json() == {"url": {"primary": "https://primary.example/cb",
                                     "fallback": "https://fallback.example/cb"}}


async def test_update_primary_only(sinch: SinchCalling, emulator: Emulator) -> None:
    await sinch.callbacks.update("https://primary.example/cb")
    assert emulator.requests[0].json() == {"url": {"primary": "https://primary.example/cb"}}


async def test_callbacks_of_unknown_application(sinch: SinchCalling) -> None:
    with pytest.raises(BadRequestError) as info:
        await sinch.callbacks.get(application_key="nobody")
    assert info.value.error_code == 40003


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.numbers.assign([]), "numbers"),
        (lambda s: s.numbers.assign(["46000000000"]), "numbers[0]"),
        (lambda s: s.numbers.assign(["+46 000"]), "numbers[0]"),
        (lambda s: s.numbers.assign(["+46000000000"], capability="fax"), "capability"),
        (lambda s: s.numbers.assign(["+46000000000"], application_key=""), "application_key"),
        (lambda s: s.numbers.unassign(""), "number"),
        (lambda s: s.numbers.query(""), "number"),
        (lambda s: s.callbacks.update("ftp://x"), "primary"),
        (lambda s: s.callbacks.update("https://ok.example", "not a url"), "fallback"),
        (lambda s: s.callbacks.get(application_key=""), "application_key"),
    ],
)
async def test_bad_input_fails_before_any_request(
    sinch: SinchCalling, emulator: Emulator, call, field: str  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(ValidationError) as info:
        await call(sinch)
    assert info.value.field == field
    assert emulator.requests == []


async def test_basic_auth(emulator: Emulator) -> None:
    async with SinchCalling(emulator.application_key, emulator.application_secret,
                            base_url=emulator.url, auth="basic") as sinch:
        assert await sinch.numbers.list()
    authorization = emulator.requests[0].headers["Authorization"]
    assert authorization.startswith("Basic ")
    assert "x-timestamp" not in emulator.requests[0].headers


async def test_wrong_secret_is_an_authentication_error(emulator: Emulator) -> None:
    async with SinchCalling(emulator.application_key, "d3Jvbmc=", base_url=emulator.url) as sinch:
        with pytest.raises(AuthenticationError) as info:
            await sinch.numbers.list()
    assert info.value.error_code == 40108


# -- the Java SDK's fixtures ------------------------------------------------------------


def test_owned_numbers_fixture_round_trips() -> None:
    data = fixture_json("applications/response/OwnedNumbersResponseDto.json")
    decoded = converter.structure(data, NumbersResponse)
    assert decoded.numbers[0].application_key == "an application key"
    assert decoded.numbers[1].capability is Capability.SMS
    assert converter.unstructure(decoded) == data


def test_query_number_fixture_round_trips() -> None:
    data = fixture_json("applications/response/QueryNumberResponseDto.json")
    decoded = converter.structure(data, QueryNumberResponse)
    assert decoded.number == NumberInfo(country_id="FR", number_type="Mobile",
                                        normalized_number="+331234567489", restricted=True,
                                        rate=Money(currency_id="USD", amount=0.185))
    assert converter.unstructure(decoded) == data


def test_query_number_accepts_the_documented_number_item_wrapper() -> None:
    decoded = converter.structure({"numberItem": {"countryId": "SE"}}, QueryNumberResponse)
    assert decoded.number == NumberInfo(country_id="SE")


@pytest.mark.parametrize(
    ("fixture", "cls"),
    [
        ("applications/request/UpdateNumbersRequestDto.json", AssignNumbersRequest),
        ("applications/request/UnAssignNumberRequestDto.json", UnassignNumberRequest),
        ("applications/request/UpdateEventDestinationsRequestDto.json", CallbackUrlsEnvelope),
        ("applications/response/GetEventDestinationsResponseDto.json", CallbackUrlsEnvelope),
    ],
)
def test_request_fixtures_round_trip(fixture: str, cls: type) -> None:
    data = fixture_json(fixture)
    assert converter.unstructure(converter.structure(data, cls)) == data


def test_application_key_is_accepted_in_camel_case_too() -> None:
    decoded = converter.structure({"number": "+1", "applicationKey": "k"}, Number)
    assert decoded.application_key == "k"
