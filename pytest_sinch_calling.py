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
``asyncio_default_fixture_loop_scope`` (set it, to ``function`` usually, in strict mode
as in auto: unset, pytest-asyncio warns). A test must run in that same loop: one marked
``@pytest.mark.asyncio(loop_scope="module")`` needs
``asyncio_default_fixture_loop_scope = module``; the fixture says so (a plain failure
before the test runs) rather than leave the client in another loop.

An error the emulator records in the background (a step of a call, or an exception one
of ``emulator.observers`` raised: an ``assert`` in an observer) fails the test after it
ran, as an error in the fixture's teardown.

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


def _ini(config: pytest.Config, name: str) -> Any:
    try:
        return config.getini(name)
    except ValueError:  # an older pytest-asyncio without that option
        return None


def _loop_scopes(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """The loop scope the fixtures run in, the one the test runs in, and where the
    test's comes from (pytest-asyncio's rules: the closest ``asyncio`` marker's
    ``loop_scope``, else ``asyncio_default_test_loop_scope``; fixtures follow
    ``asyncio_default_fixture_loop_scope``, else their own scope)."""
    fixtures = _ini(request.config, "asyncio_default_fixture_loop_scope")
    if not fixtures or fixtures == "*":
        fixtures = "function"  # the fixtures' own scope
    marker = request.node.get_closest_marker("asyncio")
    marked = (marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")) if marker \
        else None
    if marked:
        return fixtures, str(marked), f'@pytest.mark.asyncio(loop_scope="{marked}")'
    test = _ini(request.config, "asyncio_default_test_loop_scope") or "function"
    return fixtures, str(test), f"asyncio_default_test_loop_scope = {test}"


@pytest.fixture
def _sinch_calling_asyncio(request: pytest.FixtureRequest) -> None:
    """Fail plainly, before any coroutine is left unawaited, without pytest-asyncio, or
    when the test runs in another event loop than the fixtures (an aiohttp session
    works in the loop it was made in: "Timeout context manager should be used inside a
    task" otherwise)."""
    if not request.config.pluginmanager.has_plugin("asyncio"):
        pytest.fail("the sinch_emulator and sinch_client fixtures need pytest-asyncio: "
                    "pip install pytest-asyncio (and mark async tests with "
                    "@pytest.mark.asyncio, or set asyncio_mode = \"auto\")", pytrace=False)
    fixtures, test, why = _loop_scopes(request)
    if fixtures != test:
        pytest.fail(f"{request.node.name} runs in pytest-asyncio's {test!r} event loop "
                    f"({why}) but the sinch_emulator and sinch_client fixtures run in the "
                    f"{fixtures!r} loop (asyncio_default_fixture_loop_scope), and a client "
                    "works only in the loop it was made in. Set "
                    f"asyncio_default_fixture_loop_scope = {test} in your pytest "
                    f"configuration (for every test run in the {test!r} loop), or run this "
                    f"test in the {fixtures!r} loop.", pytrace=False)


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
