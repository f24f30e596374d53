"""Running ``sinch-calling`` as a user types it: a subprocess, against an emulator that
runs in another subprocess (started by the ``sinch-calling emulator`` command itself)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

COMMAND = [sys.executable, "-m", "sinch_calling"]


@attrs.frozen
class ChildEmulator:
    """An ``sinch-calling emulator`` child process: its URL, exported variables, log."""

    url: str
    environ: dict[str, str]
    log: Path
    process: subprocess.Popen[str]

    def log_text(self) -> str:
        """What it logged to stderr so far."""
        return self.log.read_text()


@contextmanager
def child_emulator(*options: str) -> Iterator[ChildEmulator]:
    """Start ``sinch-calling emulator --port 0 OPTIONS`` and read the export lines."""
    with tempfile.TemporaryDirectory(prefix="sinch-cli-") as directory:
        log = Path(directory) / "emulator.log"
        with log.open("w") as stderr:
            process = subprocess.Popen([*COMMAND, "emulator", "--port", "0", *options],
                                       stdout=subprocess.PIPE, stderr=stderr, text=True,
                                       env=clean_environ())
        try:
            exported: dict[str, str] = {}
            assert process.stdout is not None
            while "SINCH_BASE_URL" not in exported:
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError(f"the emulator did not start: {log.read_text()}")
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exported[name] = value
            yield ChildEmulator(exported["SINCH_BASE_URL"], exported, log, process)
        finally:
            process.terminate()
            process.communicate(timeout=10)


def clean_environ(**extra: str) -> dict[str, str]:
    """The process environment without any SINCH_ variable, plus ``extra``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
    environ.update(extra)
    environ.setdefault("COLUMNS", "200")
    return environ


def sinch_calling(argv: Sequence[str], *, emulator: ChildEmulator | None,
                  input: str | bytes | None = None, cwd: Path | None = None,
                  timeout: float = 60, text: bool = True,
                  **extra_env: str) -> subprocess.CompletedProcess[Any]:
    """Run ``sinch-calling ARGV`` to completion, with the emulator's variables."""
    environ = clean_environ(**(emulator.environ if emulator else {}), **extra_env)
    return subprocess.run([*COMMAND, *argv], input=input, capture_output=True, text=text,
                          env=environ, cwd=cwd, timeout=timeout, check=False)
