"""Counting instructions: a Python child under callgrind, its total as one number."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence


def instructions(module_args: Sequence[str]) -> int:
    """Run ``python -m MODULE_ARGS...`` under ``valgrind --tool=callgrind`` (hash seed
    fixed, every thread counted) and return the instructions it executed.
    RuntimeError when callgrind printed no total; CalledProcessError when the child
    failed."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         "-m", *module_args],
        env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True,
        check=True)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{out.stderr[-2000:]}")
    return int(found.group(1))
