"""How ``sinch-calling`` behaves as a program: help, exit codes, errors in words,
progress on a terminal and off one, closed pipes."""

from __future__ import annotations

import argparse
import os
import pty
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sinch_calling.cli.app import build_parser, run
from tests.cli_helpers import COMMAND, ChildEmulator, child_emulator, clean_environ, sinch_calling

KEY, SECRET = "emulator-application-key", "ZW11bGF0b3Itc2VjcmV0LXNlY3JldA=="


@pytest.fixture(scope="module")
def emu() -> Iterator[ChildEmulator]:
    with child_emulator("--recordings", "4", "--quiet") as child:
        yield child


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
              ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*path, name))


def test_every_help_shows_an_example_and_the_defaults(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    commands = list(_commands(build_parser()))
    assert len(commands) > 30
    for path, parser in commands:
        with pytest.raises(SystemExit) as info:
            run([*path, "--help"])
        assert info.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert text.startswith(" ".join(("Usage: sinch-calling", *path))), text[:200]
        assert "examples: sinch-calling" in text, path
        for action in parser._actions:
            shown = action.default not in (None, False, argparse.SUPPRESS) and \
                action.option_strings and action.nargs != 0
            if shown:
                assert f"(default: {action.default})" in text, (path, action.dest)


def test_help_as_typed() -> None:
    done = sinch_calling(["campaign", "run", "--help"], emulator=None)
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "--rate R calls started per second, at most" in text
    assert "(default: 5.0)" in text
    assert "examples:" in text


@pytest.mark.parametrize(
    ("argv", "code", "error"),
    [
        (["nope"], 2, "argument COMMAND: invalid choice: 'nope'"),
        (["numbers", "assign", "+46000000000", "--capability", "fax"], 2,
         "argument --capability: invalid choice: 'fax'"),
        (["callout", "tts", "+46700000001"], 2, "one of the arguments --text --prompts is "
                                                 "required"),
        (["callout", "tts", "+46700000001", "--text", "Hi", "--cli", "12345"], 2,
         "--cli: must be an E.164 number"),
        (["callout", "tts", "46700000001", "--text", "Hi"], 2, "NUMBER: must be"),
        (["recordings", "list", "--from", "yesterday"], 2,
         "argument --from: must be an ISO-8601 timestamp"),
        (["recordings", "download", "k", "-o", "-", "--json"], 2, "--json: cannot be combined"),
        (["numbers", "list", "--timeout", "inf"], 2, "argument --timeout: must be a finite"),
        (["numbers", "list", "--base-url", "ftp://x"], 2, "argument --base-url: must be an"),
        (["calls", "get", "no-such-call"], 1,
         "Sinch refused the request: Call not found (HTTP 404, errorCode 40400"),
    ],
)
def test_exit_codes_and_one_line_errors(emu: ChildEmulator, argv: list[str], code: int,
                                        error: str) -> None:
    done = sinch_calling(argv, emulator=emu)
    assert done.returncode == code
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("sinch-calling: error: ")
    assert error in line
    assert "Traceback" not in done.stderr


def test_the_flag_is_named_as_typed(emu: ChildEmulator) -> None:
    done = sinch_calling(["recordings", "download", "k", "-o"], emulator=emu)
    assert "argument -o: expected one argument" in done.stderr
    done = sinch_calling(["recordings", "download", "k", "--output"], emulator=emu)
    assert "argument --output: expected one argument" in done.stderr


def test_missing_credentials_name_both_and_the_emulator() -> None:
    done = sinch_calling(["numbers", "list"], emulator=None)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "SINCH_APPLICATION_KEY" in line
    assert "SINCH_APPLICATION_SECRET" in line
    assert "sinch-calling emulator" in line


def test_network_errors_in_words() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    refused = sinch_calling(["callout", "tts", "+46700000001", "--text", "Hi"], emulator=None,
                            SINCH_APPLICATION_KEY=KEY, SINCH_APPLICATION_SECRET=SECRET,
                            SINCH_BASE_URL=base)
    assert refused.returncode == 1
    assert "connection refused; nothing was sent, safe to retry" in refused.stderr

    with socket.socket() as silent:  # accepts (in the kernel) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        timed_out = sinch_calling(["callout", "tts", "+46700000001", "--text", "Hi",
                                   "--timeout", "0.5"], emulator=None,
                                  SINCH_APPLICATION_KEY=KEY, SINCH_APPLICATION_SECRET=SECRET,
                                  SINCH_BASE_URL=base)
    assert timed_out.returncode == 1
    [line] = timed_out.stderr.splitlines()
    assert "POST" in line
    assert "timed out" in line
    assert "may have reached Sinch and taken effect" in line


def on_a_terminal(argv: list[str], environ: dict[str, str]) -> tuple[int, str, bytes]:
    """Run ``sinch-calling ARGV`` with stderr on a pseudo-terminal: (exit code, what was
    drawn there, stdout)."""
    primary, secondary = pty.openpty()
    environ = {**environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    environ.pop("NO_COLOR", None)
    with subprocess.Popen([*COMMAND, *argv], stdout=subprocess.PIPE, stderr=secondary,
                          env=environ) as child:
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            drawn += chunk
        stdout, _ = child.communicate(timeout=60)
    os.close(primary)
    return child.returncode, drawn.decode("utf-8", "replace"), stdout


def test_export_progress_draws_a_bar_on_a_terminal(emu: ChildEmulator, tmp_path: Path) -> None:
    code, screen, stdout = on_a_terminal(["recordings", "export", str(tmp_path / "out")],
                                         clean_environ(**emu.environ))
    assert code == 0
    assert "━" in screen
    assert "4/4" in screen
    assert "files 256.0 KiB" in screen
    assert b"Exported 4 recordings" in stdout


def test_export_progress_is_plain_lines_without_a_terminal(emu: ChildEmulator,
                                                            tmp_path: Path) -> None:
    done = sinch_calling(["recordings", "export", str(tmp_path / "out")], emulator=emu)
    assert done.returncode == 0
    assert f"export to {tmp_path / 'out'}: 4 files of 4 listed, 256.0 KiB" in done.stderr
    assert "━" not in done.stderr
    quiet = sinch_calling(["recordings", "export", str(tmp_path / "out2"), "--no-progress"],
                          emulator=emu)
    assert quiet.stderr == ""


def test_a_closed_pipe_is_quiet() -> None:
    with child_emulator("--recordings", "3000", "--quiet") as many:
        for listing in ("recordings list", "recordings list --json"):
            done = subprocess.run(
                ["bash", "-c", f"set -o pipefail; {' '.join(COMMAND)} {listing} | head -1"],
                capture_output=True, text=True, env=clean_environ(**many.environ), timeout=60,
                check=False)
            assert done.stderr == ""
            assert done.returncode == 0
            assert len(done.stdout.splitlines()) == 1


def test_the_trace_filter_blanks_secrets() -> None:
    import logging

    from sinch_calling.cli.context import RedactingFilter

    record = logging.LogRecord("sinch_calling.http", logging.DEBUG, __file__, 1,
                               "headers %s", ({"Authorization": "Application key:c2ln"},),
                               None)
    RedactingFilter([SECRET]).filter(record)
    assert record.getMessage() == "headers {'Authorization': 'Application ***'}"
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, f"secret={SECRET} Basic",
                               None, None)
    RedactingFilter([SECRET]).filter(record)
    assert SECRET not in record.getMessage()


def test_server_text_cannot_drive_the_terminal() -> None:
    from sinch_calling.cli.errors import describe
    from sinch_calling.cli.output import cell
    from sinch_calling.errors import BadRequestError

    code, line = describe(BadRequestError(400, "bad\x1b[2J\nthing\x07", error_code=40001), {})
    assert code == 1
    assert line == ("Sinch refused the request: bad\ufffd[2J thing\ufffd "
                    "(HTTP 400, errorCode 40001)")
    assert cell("key\x1b]0;title\x07\tx") == "key\ufffd]0;title\ufffd\ufffdx"


def test_unexpected_errors_stay_one_line() -> None:
    from sinch_calling.cli.errors import describe
    from sinch_calling.errors import ValidationError

    code, line = describe(KeyError("boom"), {})
    assert code == 1
    assert line.startswith("unexpected KeyError: 'boom' (a bug")
    assert describe(ValidationError("enable_ace", "must be True or False"),
                    {"enable_ace": "--enable-ace"}) == (2, "--enable-ace: must be True or False")
