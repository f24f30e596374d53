"""Every example of README's command-line section runs, as written, against an emulator
child process (and the demo runs offline)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.cli_helpers import COMMAND, child_emulator, clean_environ, sinch_calling

README = Path(__file__).resolve().parent.parent / "README.md"


def command_line_examples() -> list[str]:
    """The lines of the ``sh`` block of README's "Command line" section."""
    text = README.read_text()
    section = text[text.index("## Command line"):]
    section = section[:section.index("\n## ", 3)]
    [block] = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_command_line_examples_run(tmp_path: Path) -> None:
    lines = command_line_examples()
    assert any(line.startswith("sinch-calling emulator") for line in lines)
    assert any(line.startswith("sinch-calling demo") for line in lines)
    # The emulator is this test's child process; the demo has its own test below.
    script = [line for line in lines if not line.startswith(("sinch-calling emulator",
                                                             "sinch-calling demo"))]
    (tmp_path / "reminders.csv").write_text(
        "number,first_name,time\n+46700000501,Anna,10:00\n+46700000502,Bob,10:30\n")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "sinch-calling").write_text(f'#!/bin/sh\nexec {" ".join(COMMAND)} "$@"\n')
    (shim / "sinch-calling").chmod(0o755)
    with child_emulator("--recordings", "2", "--quiet") as emu:
        environ = clean_environ(**emu.environ)
        environ["PATH"] = f"{shim}:{environ['PATH']}"
        done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + "\n".join(script)],
                              cwd=tmp_path, env=environ, capture_output=True, text=True,
                              timeout=120, check=False)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert (tmp_path / "recordings" / "manifest.jsonl").exists()
    assert (tmp_path / "results.csv").exists()


def test_demo_runs_offline() -> None:
    done = sinch_calling(["demo", "--no-progress"], emulator=None, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for heading in ("1. A local Calling API", "4. A campaign from a CSV", "nobody called twice",
                    "5. Outcomes and costs", "7. Recordings export", "8. Summary",
                    "demo finished"):
        assert heading in out
    assert "$ sinch-calling campaign reminders.csv" in out
    assert "Traceback" not in done.stderr
