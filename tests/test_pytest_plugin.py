"""The pytest plugin (``pytest_sinch_calling``), run on generated projects with pytester.

The outer tests are synchronous: each runs pytest (in this process, or in a fresh one
where what is imported at start matters) on a project of its own.
"""

from __future__ import annotations

import textwrap

import pytest

from tests._pytester import REWRITE_WARNING

pytest_plugins = ["pytester"]

TEN_LINES = """
    import pytest
    from sinch_calling import CallStatus

    @pytest.mark.asyncio
    async def test_code_is_read(sinch_client, sinch_emulator):
        call_id = await sinch_client.callouts.tts("+46700000001", text="Code 1234")
        assert sinch_emulator.progress(call_id).prompts == ["Code 1234"]
        call = await sinch_client.calls.get(call_id)
        assert call.status is CallStatus.ONGOING
"""


def _ini(pytester: pytest.Pytester, mode: str = "strict", extra: str = "") -> None:
    pytester.makeini(f"""
        [pytest]
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = function
        filterwarnings =
            error
            {REWRITE_WARNING}
        {extra}
    """)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_a_ten_line_test_passes_in_a_fresh_project(pytester: pytest.Pytester,
                                                   mode: str) -> None:
    _ini(pytester, mode)
    pytester.makepyfile(test_readme=TEN_LINES)
    # One mode in a fresh interpreter, as a new project would run it; the other in process.
    run = pytester.runpytest_subprocess if mode == "strict" else pytester.runpytest
    run("--strict-markers").assert_outcomes(passed=1)


def test_auto_mode_needs_no_marker(pytester: pytest.Pytester) -> None:
    _ini(pytester, "auto")
    pytester.makepyfile("""
        async def test_numbers(sinch_client):
            assert [n.number for n in await sinch_client.numbers.list()]
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_marker_configures_outcomes_time_and_auth(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile("""
        import pytest
        from sinch_calling import CallResult

        @pytest.mark.asyncio
        @pytest.mark.sinch_emulator(realtime=False, outcomes="busy", auth_window=None)
        async def test_busy(sinch_client, sinch_emulator):
            assert sinch_emulator.auth_window is None
            assert not sinch_emulator.clock.realtime
            call_id = await sinch_client.callouts.tts("+46700000001", text="Hi")
            await sinch_emulator.advance()
            assert sinch_emulator.call(call_id).result is CallResult.BUSY
    """)
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


def test_overriding_the_options_fixture_and_the_marker_winning(
        pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makeconftest("""
        import pytest
        from sinch_calling.testing import Outcome

        @pytest.fixture
        def sinch_emulator_options():
            return {"outcomes": Outcome.no_answer(ring=30), "realtime": False}
    """)
    pytester.makepyfile("""
        import pytest
        from sinch_calling import CallResult

        pytestmark = pytest.mark.asyncio

        async def test_from_the_fixture(sinch_client, sinch_emulator):
            call_id = await sinch_client.callouts.tts("+46700000001", text="Hi")
            await sinch_emulator.advance()
            assert sinch_emulator.call(call_id).result is CallResult.NOANSWER

        @pytest.mark.sinch_emulator(outcomes="answered")
        async def test_marker_wins_key_by_key(sinch_client, sinch_emulator):
            assert not sinch_emulator.clock.realtime        # still the fixture's
            call_id = await sinch_client.callouts.tts("+46700000001", text="Hi")
            await sinch_emulator.advance()
            assert sinch_emulator.call(call_id).answered_at is not None
    """)
    pytester.runpytest().assert_outcomes(passed=2)


def test_each_test_gets_a_fresh_emulator(pytester: pytest.Pytester) -> None:
    _ini(pytester, "auto")
    pytester.makepyfile("""
        seen = []

        async def test_first(sinch_client, sinch_emulator):
            await sinch_client.callouts.tts("+46700000001", text="Hi")
            seen.append(sinch_emulator.url)
            assert len(sinch_emulator.traffic.calls) == 1

        async def test_second(sinch_emulator):
            assert sinch_emulator.traffic.calls == {}
            assert sinch_emulator.url not in seen or True  # a port may be reused
            assert len(sinch_emulator.requests) == 0
    """)
    pytester.runpytest().assert_outcomes(passed=2)


def test_client_options_reach_the_client(pytester: pytest.Pytester) -> None:
    _ini(pytester, "auto")
    pytester.makepyfile("""
        import pytest
        from sinch_calling import RetryPolicy
        from sinch_calling.errors import ServerError

        @pytest.fixture
        def sinch_client_options():
            return {"retry": RetryPolicy.never(), "auth": "basic"}

        async def test_no_retry_and_basic(sinch_client, sinch_emulator):
            sinch_emulator.faults.add("GET", "/v1/configuration/numbers", status=503)
            with pytest.raises(ServerError):
                await sinch_client.numbers.list()
            assert len(sinch_emulator.requests) == 1
            assert sinch_emulator.requests[0].headers["Authorization"].startswith("Basic ")
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_an_unknown_option_is_named(pytester: pytest.Pytester) -> None:
    _ini(pytester, "auto")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.sinch_emulator(realtme=False)
        async def test_typo(sinch_emulator):
            pass
    """)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown sinch_emulator option 'realtme'*realtime*"])


def test_without_pytest_asyncio_the_fixtures_say_so(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\nfilterwarnings =\n    error\n    {REWRITE_WARNING}\n")
    pytester.makepyfile("""
        def test_wants_emulator(sinch_emulator):
            pass
    """)
    result = pytester.runpytest("-p", "no:asyncio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*need pytest-asyncio*"])


def test_a_project_that_does_not_use_it_is_untouched(pytester: pytest.Pytester) -> None:
    # Strict markers, warnings as errors, no asyncio: the plugin loads, registers its
    # marker, and imports neither sinch_calling nor aiohttp.
    pytester.makeini(f"[pytest]\nfilterwarnings =\n    error\n    {REWRITE_WARNING}\n"
                     "addopts = --strict-markers\n")
    pytester.makepyfile(textwrap.dedent("""
        import sys

        def test_plain():
            assert "pytest_sinch_calling" in sys.modules
            assert not [m for m in sys.modules
                        if m.split(".")[0] in ("sinch_calling", "aiohttp")]
    """))
    result = pytester.runpytest_subprocess("-p", "no:asyncio")
    result.assert_outcomes(passed=1)
    markers = pytester.runpytest("-p", "no:asyncio", "--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.sinch_emulator(**options):*"])


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("""
        async def test_wants_emulator(sinch_emulator):
            pass
    """)
    result = pytester.runpytest("-p", "no:sinch_calling")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'sinch_emulator' not found*"])


def test_options_merge_closest_marker_last_and_refuse_mistakes() -> None:
    from sinch_calling.testing.pytest_support import EMULATOR_OPTIONS, emulator_options

    assert {"outcomes", "realtime", "auth_window", "max_live_calls"} <= set(EMULATOR_OPTIONS)
    merged = emulator_options({"realtime": False, "auth_window": 60},
                              [{"auth_window": None}, {"auth_window": 5, "outcomes": "busy"}])
    assert merged == {"realtime": False, "auth_window": None, "outcomes": "busy"}
    with pytest.raises(TypeError, match="keyword arguments only"):
        emulator_options({}, [{}], [("busy",)])
    with pytest.raises(TypeError, match="must return a dict"):
        emulator_options([("realtime", False)], [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown sinch_emulator option 'port_'"):
        emulator_options({"port_": 1}, [])


def test_an_observer_failure_fails_the_test_that_exposed_it(pytester: pytest.Pytester) -> None:
    _ini(pytester, "auto")
    pytester.makepyfile("""
        import pytest

        async def test_assert_in_observer(sinch_client, sinch_emulator):
            def check(exchange):
                assert exchange.status == 201, "expected 201"
            sinch_emulator.observers.add(check)
            await sinch_client.numbers.list()

        async def test_fail_in_observer(sinch_client, sinch_emulator):
            sinch_emulator.observers.add(lambda x: pytest.fail("no requests wanted"))
            await sinch_client.numbers.list()
            assert len(sinch_emulator.requests) == 1   # answered once, never retried

        async def test_exit_in_observer(sinch_client, sinch_emulator):
            def leave(exchange):
                raise SystemExit(3)
            sinch_emulator.observers.add(leave)
            assert await sinch_client.numbers.list()
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=3, errors=3)
    out = result.stdout.str()
    assert "expected 201" in out
    assert "no requests wanted" in out
    assert "SystemExit" in out
    assert "never retrieved" not in out
    assert "CancelledError" not in out


LOOP_SCOPED = """
    import pytest

    @pytest.mark.asyncio(loop_scope="module")
    async def test_module_loop(sinch_client, sinch_emulator):
        assert [n.number for n in await sinch_client.numbers.list()]
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_a_test_in_another_loop_than_the_fixtures_is_told_what_to_set(
        pytester: pytest.Pytester, mode: str) -> None:
    _ini(pytester, mode)
    pytester.makepyfile(LOOP_SCOPED)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*test_module_loop runs in pytest-asyncio's 'module' event loop*"
        "loop_scope=\"module\"*'function' loop*"
        "Set asyncio_default_fixture_loop_scope = module*"])
    assert "Timeout context manager" not in result.stdout.str()


def test_with_the_fixture_loop_scope_set_to_match_it_passes(
        pytester: pytest.Pytester) -> None:
    pytester.makeini(f"""
        [pytest]
        asyncio_mode = strict
        asyncio_default_fixture_loop_scope = module
        filterwarnings =
            error
            {REWRITE_WARNING}
    """)
    pytester.makepyfile(LOOP_SCOPED + """
    @pytest.mark.asyncio
    async def test_function_loop_now_mismatched(sinch_emulator):
        pass
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*'function' event loop (asyncio_default_test_loop_scope"
                                 " = function)*Set asyncio_default_fixture_loop_scope = "
                                 "function*"])


def test_the_default_test_loop_scope_counts_too(pytester: pytest.Pytester) -> None:
    _ini(pytester, "auto", "asyncio_default_test_loop_scope = module")
    pytester.makepyfile("""
        async def test_in_module_loop(sinch_emulator):
            pass
    """)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*asyncio_default_test_loop_scope = module*"])
