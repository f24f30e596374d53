"""``sinch-calling campaign``, run as a user types it, against an emulator child process."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import COMMAND, ChildEmulator, child_emulator, clean_environ, sinch_calling

CSV = ("\ufeffphone,first_name,time\r\n"
       "+46700000101,Anna,10:00\r\n"
       "0700000102,Bob,10:30\r\n"           # no +: invalid, line 3
       "\r\n"
       "+46700000103,Chen,11:00\r\n"
       "+46700000104,,11:30\r\n"            # no first_name for the placeholder: line 6
       "+46700000101,Anna,12:00\r\n")       # duplicate


@pytest.fixture(scope="module")
def emu() -> Iterator[ChildEmulator]:
    with child_emulator() as child:
        yield child


def test_csv_campaign_preflight_ledger_results_and_rerun(emu: ChildEmulator,
                                                         tmp_path: Path) -> None:
    source = tmp_path / "reminders.csv"
    source.write_bytes(CSV.encode())
    argv = ["campaign", str(source), "--number-column", "phone", "--text",
            "Hi {first_name}, see you at {time}", "--rate", "50"]

    dry = sinch_calling([*argv, "--dry-run"], emulator=emu)
    assert dry.returncode == 1  # invalid rows
    assert "line 3: invalid: number: '0700000102' must start with '+'" in dry.stderr
    assert "line 6 (+46700000104): invalid: text: placeholder {first_name}" in dry.stderr
    assert not (tmp_path / "reminders.csv.ledger").exists()

    first = sinch_calling([*argv, "--out", str(tmp_path / "results.jsonl")], emulator=emu)
    assert first.returncode == 1, first.stderr  # two invalid rows need attention
    assert f"ledger: {tmp_path / 'reminders.csv.ledger'}" in first.stderr
    assert "2 placed" in first.stdout
    results = [json.loads(line) for line in
               (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in results] == ["placed", "invalid", "placed", "invalid",
                                              "skipped"]
    assert all(r["call_id"] for r in results if r["status"] == "placed")

    again = sinch_calling([*argv, "--json"], emulator=emu)
    report = json.loads(again.stdout)
    assert (report["placed"], report["ledger"]) == (0, str(tmp_path / "reminders.csv.ledger"))

    ledger = str(tmp_path / "reminders.csv.ledger")
    status = json.loads(sinch_calling(["campaign", "status", "--ledger", ledger, "--json"],
                                      emulator=None).stdout)
    assert status["states"]["placed"] == 2
    listed = json.loads(sinch_calling(["campaign", "results", "--ledger", ledger, "--json"],
                                      emulator=None).stdout)
    assert len(listed) == 5
    out = tmp_path / "results.csv"
    wrote = sinch_calling(["campaign", "results", "--ledger", ledger, "--out", str(out)],
                          emulator=None)
    assert wrote.returncode == 0
    assert out.read_text().splitlines()[0].startswith("row,line,destination,status")

    # Rows without an id column are keyed by their number (issue 11 review).
    refused = sinch_calling(["campaign", "resolve", "--ledger", ledger, results[0]["row"],
                             "--not-placed"], emulator=None)
    assert refused.returncode == 2
    assert "not uncertain" in refused.stderr or "uncertain" in refused.stderr
    unknown = sinch_calling(["campaign", "resolve", "--ledger", ledger, "99", "--placed", "x"],
                            emulator=None)
    assert unknown.returncode == 2


def test_campaign_progress_on_a_terminal_and_off_one(emu: ChildEmulator,
                                                     tmp_path: Path) -> None:
    from tests.test_cli_behaviour import on_a_terminal

    source = tmp_path / "numbers.txt"
    source.write_text("".join(f"+467000006{i:02d}\n" for i in range(12)))
    code, screen, _ = on_a_terminal(["campaign", str(source), "--text", "Hi", "--rate", "50"],
                                    clean_environ(**emu.environ))
    assert code == 0
    assert "━" in screen
    assert "12/12" in screen
    assert "placed 12" in screen
    plain = sinch_calling(["campaign", str(source), "--text", "Hi", "--ledger",
                           str(tmp_path / "again.ledger")], emulator=emu)
    assert "campaign numbers.txt: 12/12 rows done" in plain.stderr
    assert "━" not in plain.stderr


def test_stdin_needs_a_ledger(emu: ChildEmulator, tmp_path: Path) -> None:
    numbers = "+46700000201\n+46700000202\n"
    refused = sinch_calling(["campaign", "-", "--text", "Hi"], emulator=emu, input=numbers)
    assert refused.returncode == 2
    assert "--ledger" in refused.stderr
    ledger = tmp_path / "stdin.ledger"
    done = sinch_calling(["campaign", "-", "--text", "Hi", "--ledger", str(ledger), "--out",
                          "-"], emulator=emu, input=numbers)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["status"] for line in done.stdout.splitlines()] == ["placed",
                                                                                  "placed"]


def test_campaign_options_are_checked_before_anything_is_written(emu: ChildEmulator,
                                                                  tmp_path: Path) -> None:
    source = tmp_path / "numbers.txt"
    source.write_text("+46700000301\n")
    done = sinch_calling(["campaign", str(source), "--text", "Hi", "--cli", "12345"],
                         emulator=emu)
    assert done.returncode == 2
    assert "--cli" in done.stderr
    assert not (tmp_path / "numbers.txt.ledger").exists()


def test_ctrl_c_prints_the_summary_and_the_resume_command(tmp_path: Path) -> None:
    source = tmp_path / "numbers.txt"
    source.write_text("".join(f"+467000004{i:02d}\n" for i in range(30)))
    with child_emulator() as emu:
        argv = [*COMMAND, "campaign", str(source), "--text", "Hi", "--rate", "4"]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=clean_environ(**emu.environ)) as child:
            assert child.stderr is not None
            first = child.stderr.readline()  # the ledger line, then progress
            assert "ledger:" in first
            child.stderr.readline()
            time.sleep(1.0)
            child.send_signal(signal.SIGINT)
            stdout, stderr = child.communicate(timeout=60)
        assert child.returncode == 130
        assert "placed" in stdout
        assert "stopped: interrupted" in stdout
        assert f"resume with: sinch-calling campaign {source}" in stderr
        assert "Traceback" not in stderr

        rerun = sinch_calling(["campaign", str(source), "--text", "Hi", "--rate", "50",
                               "--json"], emulator=emu)
        assert rerun.returncode == 0, rerun.stderr
        report = json.loads(rerun.stdout)
        assert report["pending"] == 0
        log = emu.log_text()
    # Counted on the server: every number dialled exactly once across both runs.
    assert log.count("POST /calling/v1/callouts 200") == 30


def test_a_ledger_password_is_never_printed() -> None:
    from sinch_calling.cli.campaign import _masked

    assert _masked("campaign f --ledger postgresql://app:s3cr%40t@db/calls?campaign=a") == \
        "campaign f --ledger postgresql://app:***@db/calls?campaign=a"
    assert _masked("reminders.csv.ledger") == "reminders.csv.ledger"
    # From the review: a password given as a query parameter was printed everywhere.
    assert _masked("--ledger postgresql://db/test?password=s3cr3t&schema=x&campaign=pw "
                   "--text hi") == ("--ledger postgresql://db/test?password=***&schema=x"
                                    "&campaign=pw --text hi")
    assert _masked("postgresql://db/t?sslmode=require&sslpassword=k3y") == \
        "postgresql://db/t?sslmode=require&sslpassword=***"
