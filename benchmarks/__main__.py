"""Run every benchmark module in turn: ``python -m benchmarks [name ...]``."""

from __future__ import annotations

import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(m.name for m in pkgutil.iter_modules([str(here)])
                           if m.name.startswith("bench_"))
    failed = 0
    for name in names:
        module = name if name.startswith("bench_") else f"bench_{name}"
        importlib.util.find_spec(f"benchmarks.{module}")  # fail early on a typo
        print(f"\n=== {module} ===", flush=True)
        failed |= subprocess.call([sys.executable, "-m", f"benchmarks.{module}"])
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
