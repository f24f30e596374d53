"""``sinch-calling``, each command run as a subprocess against an emulator child process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli_helpers import ChildEmulator, child_emulator, sinch_calling


@pytest.fixture(scope="module")
def emu() -> Iterator[ChildEmulator]:
    with child_emulator("--recordings", "3") as child:
        yield child


def ok(emu: ChildEmulator, *argv: str, **kwargs: object) -> str:
    done = sinch_calling(argv, emulator=emu, **kwargs)  # type: ignore[arg-type]
    assert done.returncode == 0, done.stderr
    return done.stdout


def one_json(emu: ChildEmulator, *argv: str) -> object:
    """``--json`` prints exactly one JSON document and nothing else on stdout."""
    return json.loads(ok(emu, *argv, "--json"))


def test_numbers(emu: ChildEmulator) -> None:
    listed = one_json(emu, "numbers", "list")
    assert {"number": "+46000000000", "capability": "voice"} in listed  # type: ignore[operator]
    assert ok(emu, "numbers", "list").splitlines()[0].split("\t")[:2] == ["+46000000000",
                                                                           "voice"]
    [info] = one_json(emu, "--json", "numbers", "query", "+46730170101")  # type: ignore[misc]
    assert info["countryId"] == "SE"
    assert ok(emu, "numbers", "assign", "+46000000001") == \
        "Assigned +46000000001 to application emulator-application-key (voice)\n"
    assert one_json(emu, "numbers", "unassign", "+46000000001") == {
        "unassigned": "+46000000001", "applicationKey": "emulator-application-key",
        "capability": "voice"}


def test_callbacks(emu: ChildEmulator) -> None:
    assert ok(emu, "callbacks", "set", "https://a.example/cb", "https://b.example/cb") == (
        "Callbacks of application emulator-application-key now go to https://a.example/cb, "
        "fallback https://b.example/cb\n")
    assert one_json(emu, "callbacks", "get") == {"primary": "https://a.example/cb",
                                                 "fallback": "https://b.example/cb"}
    assert "primary\thttps://a.example/cb" in ok(emu, "callbacks", "get")
    assert one_json(emu, "callbacks", "set", "https://c.example/cb") == {
        "applicationKey": "emulator-application-key", "primary": "https://c.example/cb",
        "fallback": None}


def test_callout_calls_say_and_hangup(emu: ChildEmulator) -> None:
    placed = one_json(emu, "callout", "tts", "+46700000001", "--text", "Hello",
                      "--enable-ace", "--enable-dice")
    call_id = placed["callId"]  # type: ignore[index]
    assert one_json(emu, "calls", "get", call_id)["callId"] == call_id  # type: ignore[index]
    assert ok(emu, "calls", "say", call_id, "Hi there", "--leg", "callee") == \
        f"Said the text to the callee leg of call {call_id}\n"
    assert one_json(emu, "calls", "hangup", call_id, "--say", "Bye") == {
        "callId": call_id, "hungUp": True, "said": "Bye"}
    assert "status\tFINAL" in ok(emu, "calls", "get", call_id)
    quiet = ok(emu, "callout", "tts", "+46700000002", "--prompts", "#tts[Hi]", "--quiet")
    assert len(quiet.strip()) == 32
    assert "\n" not in quiet.strip()


def test_conference_commands(emu: ChildEmulator) -> None:
    call_id = ok(emu, "callout", "conference", "+46700000003", "room-cli", "--greeting",
                 "Welcome", "-q").strip()
    for verb, line in (("mute", "Muted"), ("hold", "Put on hold"), ("resume", "Resumed"),
                       ("unmute", "Unmuted")):
        assert ok(emu, "conferences", verb, "room-cli", call_id) == \
            f"{line} {call_id} in conference room-cli\n"
    [participant] = one_json(emu, "conferences", "get", "room-cli")["participants"]  # type: ignore[index]
    assert participant["id"] == call_id
    refused = sinch_calling(["conferences", "kick-all", "room-cli"], emulator=emu)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert "--yes" in refused.stderr
    assert ok(emu, "conferences", "kick-all", "room-cli", "--yes") == \
        "Removed every participant of conference room-cli\n"


def test_custom_callout_with_inline_svaml(emu: ChildEmulator, tmp_path: Path) -> None:
    ace = tmp_path / "ace.json"
    ace.write_text(json.dumps({"instructions": [{"name": "say", "text": "Hi"}],
                               "action": {"name": "hangup"}}))
    ice = json.dumps({"action": {"name": "connectPstn", "number": "+46700000004"}})
    out = ok(emu, "callout", "custom", "+46700000004", "--ice", ice, "--ace", f"@{ace}")
    assert out.startswith("Placed custom callout to +46700000004: call id ")
    bad = sinch_calling(["callout", "custom", "+46700000004", "--ice", "{nope"], emulator=emu)
    assert bad.returncode == 2
    assert bad.stderr.startswith("sinch-calling: error: --ice: not a URL and not SVAML JSON")


def test_recordings(emu: ChildEmulator, tmp_path: Path) -> None:
    listed = one_json(emu, "recordings", "list")
    assert [r["key"] for r in listed] == [  # type: ignore[union-attr, index]
        "recording-0001.mp3", "recording-0002.mp3", "recording-0003.mp3"]
    # Dated over the last minutes, served from the emulator itself.
    assert all(r["url"].startswith(emu.url) for r in listed)  # type: ignore[union-attr, index]
    newest = datetime.fromisoformat(listed[-1]["createdOn"])  # type: ignore[index]
    assert abs((datetime.now(UTC) - newest).total_seconds()) < 600
    assert one_json(emu, "recordings", "list", "--from", "2000-01-01", "--to",
                    "2000-01-02") == []
    out = ok(emu, "recordings", "download", "recording-0001.mp3", "--output", str(tmp_path))
    assert out.startswith("Downloaded recording-0001.mp3 to ")
    [again] = one_json(emu, "recordings", "download", "recording-0002.mp3", "-o",  # type: ignore[misc]
                       str(tmp_path))
    assert (again["key"], again["size"]) == ("recording-0002.mp3", 64 * 1024)
    assert (tmp_path / "recording-0001.mp3").stat().st_size == 64 * 1024
    done = sinch_calling(["recordings", "download", "recording-0001.mp3", "-o", "-"],
                         emulator=emu, text=False)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == (tmp_path / "recording-0001.mp3").read_bytes()

    export = tmp_path / "export"
    report = one_json(emu, "recordings", "export", str(export), "--no-progress")
    assert (report["downloaded"], report["failed"]) == (3, 0)  # type: ignore[index]
    again = ok(emu, "recordings", "export", str(export))
    assert "0 downloaded" in again
    assert "3 already there" in again
    assert (export / "manifest.jsonl").exists()


def test_recordings_delete_needs_yes(emu: ChildEmulator) -> None:
    refused = sinch_calling(["recordings", "delete", "recording-0003.mp3"], emulator=emu)
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert one_json(emu, "recordings", "delete", "recording-0003.mp3", "--yes") == {
        "deleted": ["recording-0003.mp3"]}
    refused = sinch_calling(["recordings", "export", "out", "--delete-after"], emulator=emu)
    assert refused.returncode == 2
    assert "--yes" in refused.stderr


def test_global_options_anywhere(emu: ChildEmulator) -> None:
    for argv in (["--json", "numbers", "list"], ["numbers", "--json", "list"]):
        assert isinstance(json.loads(ok(emu, *argv)), list)
    version = ok(emu, "numbers", "--version")
    assert version.startswith("sinch-calling ")


def test_verbose_traces_http_without_secrets(emu: ChildEmulator) -> None:
    done = sinch_calling(["numbers", "list", "--verbose"], emulator=emu)
    assert done.returncode == 0
    assert "GET " in done.stderr
    assert "/v1/configuration/numbers -> 200" in done.stderr
    assert emu.environ["SINCH_APPLICATION_SECRET"] not in done.stderr
    assert "Application " not in done.stderr


def test_emulator_logs_requests_and_callbacks(emu: ChildEmulator) -> None:
    ok(emu, "numbers", "list")
    log = emu.log_text()
    assert "GET /v1/configuration/numbers 200" in log
    assert " ms" in log


def test_emulator_ring_and_talk_without_mix() -> None:
    with child_emulator("--ring", "0", "--talk", "0.2", "--quiet") as emu:
        call_id = ok(emu, "callout", "tts", "+46700000005", "--text", "Hi", "-q").strip()
        assert one_json(emu, "calls", "get", call_id)["status"] in (  # type: ignore[index]
            "ONGOING", "FINAL")
        assert emu.log_text().count("\n") <= 1  # --quiet: no request lines


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["emulator", "--port", "99999"], "argument --port: must be a port number"),
        (["emulator", "--mix", "answered=x"], "argument --mix: weight of 'answered'"),
        (["emulator", "--auth-window", "abc"], "argument --auth-window: must be positive"),
        (["emulator", "--callback-url", "notaurl"], "argument --callback-url: must be an"),
        (["emulator", "--talk", "-1"], "argument --talk: must be positive seconds"),
        (["emulator", "--fallback-url", "http://a.example/"], "--fallback-url: needs"),
    ],
)
def test_emulator_validates_its_options(argv: list[str], message: str) -> None:
    done = sinch_calling(argv, emulator=None)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
