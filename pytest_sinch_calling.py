"""pytest plugin of sinch_calling: the ``sinch_emulator`` and ``sinch_client`` fixtures.

Installed with the package (entry point ``pytest11``, name ``sinch_calling``), so any
project that installs sinch_calling and pytest-asyncio can write::

    import pytest

    @pytest.mark.asyncio
    async def test_code_is_read(sinch_client, sinch_emulator):
        call_id = await sinch_client.callouts.tts("+46700000001", text="Code 1234")
        assert sinch_emulator.progress(call_id).prompts == ["Code 1234"]

``sinch_emulator`` is a started :class:`~sinch_calling.testing.Emulator`, fresh for
each test; ``sinch_client`` is a :class:`~sinch_calling.SinchCalling` signed with the
emulator's application and pointed at it. Configure the emulator per test with the
marker, or for a module, class or directory by overriding a fixture (the marker
wins, key by key)::

    @pytest.mark.sinch_emulator(realtime=False, outcomes="busy", auth_window=None)
    async def test_busy(sinch_client, sinch_emulator): ...

    @pytest.fixture
    def sinch_emulator_options():
        return {"outcomes": Mix({"answered": 80, "busy": 20}, seed=1)}

Options are :class:`~sinch_calling.testing.Emulator`'s keyword arguments (``outcomes``,
``realtime``, ``auth_window``, ``callback_timeout``, ``max_journal``,
``max_live_calls``, ``application_key``, ...). ``sinch_client_options`` likewise
passes keyword arguments to ``SinchCalling`` (``retry``, ``auth``, ``timeout``, ...).

The fixtures are function-scoped and run in the event loop of pytest-asyncio's
``asyncio_default_fixture_loop_scope`` (``function`` suits them); a test that runs in a
wider loop (``@pytest.mark.asyncio(loop_scope="module")``) needs that option to match.

This module imports only pytest (and pytest-asyncio, when installed) at pytest's
start: sinch_calling itself, aiohttp and the emulator load when a test first asks for
a fixture, so a project that has sinch_calling installed but does not use the fixtures
pays nothing. ``-p no:sinch_calling`` turns the plugin off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from sinch_calling import SinchCalling
    from sinch_calling.testing import Emulator

__all__ = ["MARKER", "sinch_client", "sinch_client_options", "sinch_emulator",
           "sinch_emulator_options"]

MARKER = "sinch_emulator"

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(function: _F) -> _F:
    """pytest-asyncio's fixture decorator (strict and auto mode alike), when installed;
    without it the fixtures say what is missing when a test asks for them."""
    try:
        from pytest_asyncio import fixture
    except ImportError:
        return cast(_F, pytest.fixture(function))
    return cast(_F, fixture(function))


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): keyword arguments for the Emulator of the sinch_emulator "
        "fixture (outcomes=, realtime=, auth_window=, ...); they win over "
        "sinch_emulator_options.")


@pytest.fixture
def sinch_emulator_options() -> dict[str, Any]:
    """Keyword arguments for ``Emulator(...)`` of ``sinch_emulator`` (default: none);
    override it to configure every test of a module, class or directory."""
    return {}


@pytest.fixture
def sinch_client_options() -> dict[str, Any]:
    """Keyword arguments for ``SinchCalling(...)`` of ``sinch_client`` beyond the
    emulator's key, secret and URL (default: none)."""
    return {}


@pytest.fixture
def _sinch_calling_asyncio(request: pytest.FixtureRequest) -> None:
    """Fail plainly, before any coroutine is left unawaited, without pytest-asyncio."""
    if not request.config.pluginmanager.has_plugin("asyncio"):
        pytest.fail("the sinch_emulator and sinch_client fixtures need pytest-asyncio: "
                    "pip install pytest-asyncio (and mark async tests with "
                    "@pytest.mark.asyncio, or set asyncio_mode = \"auto\")", pytrace=False)


@_async_fixture
async def sinch_emulator(request: pytest.FixtureRequest,
                         sinch_emulator_options: dict[str, Any],
                         _sinch_calling_asyncio: None) -> AsyncIterator[Emulator]:
    """A started ``Emulator`` on a free loopback port, stopped after the test; an error
    one of its background steps hit (a callback, a scheduled hang-up) fails the test."""
    from sinch_calling.testing import Emulator
    from sinch_calling.testing.pytest_support import emulator_options, raise_background_errors

    options = emulator_options(sinch_emulator_options,
                               [m.kwargs for m in request.node.iter_markers(MARKER)],
                               [m.args for m in request.node.iter_markers(MARKER)])
    async with Emulator(**options) as emulator:
        yield emulator
        raise_background_errors(emulator)


@_async_fixture
async def sinch_client(sinch_emulator: Emulator,
                       sinch_client_options: dict[str, Any]) -> AsyncIterator[SinchCalling]:
    """A ``SinchCalling`` signed with the emulator's application, pointed at it."""
    from sinch_calling import SinchCalling

    async with SinchCalling(sinch_emulator.application_key,
                            sinch_emulator.application_secret,
                            base_url=sinch_emulator.url, **sinch_client_options) as client:
        yield client
