"""SinchCalling: construction, regions and base URLs, session ownership, secrets."""

from __future__ import annotations

import gc
import warnings

import aiohttp
import pytest

from sinch_calling import Region, SinchCalling
from sinch_calling.errors import ValidationError
from sinch_calling.testing import Emulator

KEY, SECRET = "app-key", "c2VjcmV0LXNlY3JldA=="


def test_repr_shows_key_and_region_never_the_secret() -> None:
    sinch = SinchCalling(KEY, SECRET, region="euc1")
    text = repr(sinch)
    assert KEY in text
    assert "euc1" in text
    assert SECRET not in text
    assert SECRET not in repr(vars(sinch))


@pytest.mark.parametrize(
    ("region", "traffic"),
    [(Region.GLOBAL, "https://calling.api.sinch.com"),
     ("euc1", "https://calling-euc1.api.sinch.com"),
     ("USE1", "https://calling-use1.api.sinch.com"),
     (Region.SAE1, "https://calling-sae1.api.sinch.com"),
     ("apse1", "https://calling-apse1.api.sinch.com"),
     ("apse2", "https://calling-apse2.api.sinch.com")],
)
def test_region_picks_traffic_host_and_configuration_stays_global(
    region: Region | str, traffic: str
) -> None:
    transport = SinchCalling(KEY, SECRET, region=region)._transport
    assert str(transport.traffic_url("callouts")) == f"{traffic}/calling/v1/callouts"
    assert str(transport.configuration_url("configuration", "numbers")) == \
        "https://callingapi.sinch.com/v1/configuration/numbers"


def test_base_url_replaces_both_hosts_and_keeps_prefixes() -> None:
    transport = SinchCalling(KEY, SECRET, base_url="http://127.0.0.1:8700")._transport
    assert str(transport.traffic_url("calls", "id", "x")) == \
        "http://127.0.0.1:8700/calling/v1/calls/id/x"
    assert str(transport.configuration_url("configuration", "numbers")) == \
        "http://127.0.0.1:8700/v1/configuration/numbers"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"region": "mars1"}, "region"),
        ({"region": 3}, "region"),
        ({"auth": "oauth"}, "auth"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"base_url": "http://host/with/path"}, "base_url"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1.5}, "timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"retry": 3}, "retry"),
    ],
)
def test_bad_options_fail_with_the_field_named(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        SinchCalling(KEY, SECRET, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("key", "secret", "field"),
                         [("", SECRET, "application_key"), (KEY, "", "application_secret"),
                          (KEY, "***not-base64***", "application_secret")])
def test_bad_credentials_fail_before_anything(key: str, secret: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        SinchCalling(key, secret)
    assert info.value.field == field
    assert secret not in str(info.value) or not secret


def test_from_env() -> None:
    env = {"SINCH_APPLICATION_KEY": KEY, "SINCH_APPLICATION_SECRET": SECRET,
           "SINCH_REGION": "use1", "SINCH_BASE_URL": ""}
    sinch = SinchCalling.from_env(env)
    assert sinch.application_key == KEY
    assert sinch.region is Region.USE1
    assert SinchCalling.from_env(env, region="euc1").region is Region.EUC1


def test_from_env_names_the_missing_variable() -> None:
    with pytest.raises(ValidationError, match="SINCH_APPLICATION_SECRET"):
        SinchCalling.from_env({"SINCH_APPLICATION_KEY": KEY})


async def test_async_with_opens_one_session_and_closes_it(emulator: Emulator) -> None:
    async with SinchCalling(emulator.application_key, emulator.application_secret,
                            base_url=emulator.url) as sinch:
        session = sinch._transport.session
        await sinch.numbers.list()
        await sinch.callbacks.get()
        assert sinch._transport.session is session
    assert session.closed
    assert sinch.closed


async def test_close_is_idempotent_and_a_closed_client_refuses_work(emulator: Emulator) -> None:
    sinch = SinchCalling(emulator.application_key, emulator.application_secret,
                         base_url=emulator.url)
    await sinch.numbers.list()  # opens lazily, inside the running loop
    await sinch.close()
    await sinch.close()
    with pytest.raises(RuntimeError, match="closed"):  # also a ClientClosedError
        await sinch.numbers.list()


async def test_connection_limit_is_applied() -> None:
    async with SinchCalling(KEY, SECRET, max_connections=7) as sinch:
        connector = sinch._transport.session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        # 7 for API calls plus a download budget of its own (max_downloads, also 7)
        assert connector.limit == 7 + sinch._transport.max_downloads == 14


async def test_unclosed_client_warns(emulator: Emulator) -> None:
    sinch = SinchCalling(emulator.application_key, emulator.application_secret,
                         base_url=emulator.url)
    await sinch.numbers.list()
    session = sinch._transport.session
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del sinch
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) and "SinchCalling" in str(w.message)
               for w in caught)
    await session.close()


async def test_redirect_to_another_host_is_not_signed() -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from sinch_calling.errors import TransportError

    seen: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        seen.append(request.host)
        raise web.HTTPTemporaryRedirect(f"http://localhost:{request.url.port}/elsewhere")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    async with TestServer(app, host="127.0.0.1") as server, \
            SinchCalling(KEY, SECRET, base_url=f"http://127.0.0.1:{server.port}") as sinch:
        with pytest.raises(TransportError, match="not configured with"):
            await sinch.numbers.list()
    assert len(seen) == 1


async def test_transport_errors_never_carry_the_basic_token() -> None:
    import base64

    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from sinch_calling.errors import RedirectError

    async def loop_forever(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.url))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", loop_forever)
    token = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    async with TestServer(app, host="127.0.0.1") as server, \
            SinchCalling(KEY, SECRET, auth="basic",
                         base_url=f"http://127.0.0.1:{server.port}") as sinch:
        with pytest.raises(RedirectError) as info:
            await sinch.numbers.list()
    import traceback

    text = "".join(traceback.format_exception(info.value))
    assert token not in text
    assert SECRET not in text
    assert token not in repr(info.value)


async def test_a_closed_client_raises_a_library_error(emulator: Emulator) -> None:
    from sinch_calling.errors import ClientClosedError, SinchError

    async with SinchCalling(emulator.application_key, emulator.application_secret,
                            base_url=emulator.url) as sinch:
        pass
    with pytest.raises(ClientClosedError) as info:
        await sinch.numbers.list()
    assert isinstance(info.value, SinchError)


async def test_ids_that_are_not_unicode_text_fail_as_validation(sinch: SinchCalling) -> None:
    with pytest.raises(ValidationError, match="call_id"):
        await sinch.calls.get("bad\udc80id")
