"""The ``sinch-calling`` command, against an emulator in a child process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sinch_calling.cli import main
from sinch_calling.testing import DEFAULT_KEY, DEFAULT_SECRET


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    child = subprocess.Popen([sys.executable, "-m", "sinch_calling", "emulator", "--port",
                              str(port), "--recordings", "3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or child.poll() is not None:
                pytest.fail("the emulator did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.communicate(timeout=10)


@pytest.fixture
def env(emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SINCH_APPLICATION_KEY", DEFAULT_KEY)
    monkeypatch.setenv("SINCH_APPLICATION_SECRET", DEFAULT_SECRET)
    monkeypatch.setenv("SINCH_BASE_URL", emulator_url)
    monkeypatch.delenv("SINCH_REGION", raising=False)
    return emulator_url


def test_demo_runs_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--quiet"]) == 0
    assert "demo finished" in capsys.readouterr().out


def test_numbers_list_and_query(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["numbers", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {"number": "+46000000000", "capability": "voice"} in listed
    assert main(["numbers", "query", "+46730170101"]) == 0
    assert json.loads(capsys.readouterr().out)["countryId"] == "SE"


def test_callout_then_calls_and_hangup(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["callout", "tts", "+46700000001", "--text", "Hello"]) == 0
    call_id = capsys.readouterr().out.strip()
    assert main(["calls", "get", call_id]) == 0
    assert json.loads(capsys.readouterr().out)["callId"] == call_id
    assert main(["calls", "hangup", call_id, "--say", "Bye"]) == 0
    assert main(["calls", "get", call_id]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "FINAL"


def test_conference_commands(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["callout", "conference", "+46700000002", "room-cli"]) == 0
    call_id = capsys.readouterr().out.strip()
    assert main(["conferences", "mute", "room-cli", call_id]) == 0
    assert main(["conferences", "get", "room-cli"]) == 0
    participants = json.loads(capsys.readouterr().out)["participants"]
    assert participants[0]["muted"] is True
    assert main(["conferences", "kick-all", "room-cli"]) == 0


def test_campaign_from_a_file(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("# campaign\n+46700000010\n+46700000011\n+46700000010\n")
    journal = tmp_path / "journal.jsonl"
    assert main(["campaign", str(numbers), "--text", "Hi", "--journal", str(journal)]) == 0
    assert "placed 2, skipped 1" in capsys.readouterr().out
    assert main(["campaign", str(numbers), "--text", "Hi", "--journal", str(journal)]) == 0
    assert "placed 0, skipped 3" in capsys.readouterr().out


def test_errors_are_reported_not_raised(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "get", "no-such-call"]) == 1
    assert "40400" in capsys.readouterr().err


def test_missing_credentials(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SINCH_APPLICATION_KEY", raising=False)
    assert main(["numbers", "list"]) == 1
    assert "SINCH_APPLICATION_KEY" in capsys.readouterr().err


def test_recordings_list_download_export(env: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recordings", "list"]) == 0
    out = capsys.readouterr().out
    assert "recording-0001.mp3" in out
    assert main(["recordings", "download", "recording-0001.mp3", "--output", str(tmp_path)]) == 0
    assert (tmp_path / "recording-0001.mp3").stat().st_size == 64 * 1024
    capsys.readouterr()
    export = tmp_path / "export"
    assert main(["recordings", "export", "--output", str(export)]) == 0
    assert "downloaded 3" in capsys.readouterr().out
    assert main(["recordings", "export", "--output", str(export)]) == 0
    assert "downloaded 0" in capsys.readouterr().out
    assert (export / "manifest.jsonl").exists()


def test_emulator_options_parse() -> None:
    from sinch_calling.cli import build_parser

    args = build_parser().parse_args(["emulator", "--mix", "answered=80,busy=20", "--seed", "7",
                                      "--auth-window", "none", "--callback-url",
                                      "http://127.0.0.1:9/cb", "--recordings", "2"])
    assert (args.mix, args.auth_window, args.recordings) == ("answered=80,busy=20", None, 2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["emulator", "--port", "99999"], "port number"),
        (["recordings", "list", "--from", "garbage"], "ISO-8601"),
        (["emulator", "--auth-window", "abc"], "positive seconds"),
        (["emulator", "--callback-url", "notaurl"], "http(s) URL"),
    ],
)
def test_bad_options_name_the_option(argv: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_recordings_download_needs_a_key(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recordings", "download"]) == 1
    assert "needs at least one key" in capsys.readouterr().err


def test_campaign_checks_options_before_starting(env: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("+46700000020\n")
    assert main(["campaign", str(numbers), "--text", "Hi", "--rate", "0"]) == 1
    assert capsys.readouterr().err.strip() == \
        "sinch-calling: rate: must be a positive number of calls per second"
