"""Run every benchmark in turn, then regenerate README's table and the chart:
``python -m benchmarks [--quick] [--results DIR] [--no-report] [name ...]``.

Each benchmark runs in its own process (``python -m benchmarks.bench_<name>``) and
writes ``<results>/<name>.json``; ``--quick`` runs them with tiny sizes (a smoke test:
its figures mean nothing, so it never touches README).
"""

from __future__ import annotations

import argparse
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

from ._harness import RESULTS


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, no README update")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--no-report", action="store_true", help="do not regenerate README")
    args = p.parse_args(argv)
    here = Path(__file__).parent
    names = args.names or sorted(m.name for m in pkgutil.iter_modules([str(here)])
                                 if m.name.startswith("bench_"))
    modules = [n if n.startswith("bench_") else f"bench_{n}" for n in names]
    for module in modules:  # fail early on a typo
        if importlib.util.find_spec(f"benchmarks.{module}") is None:
            p.error(f"no benchmark named {module}")
    options = ["--results", str(args.results), *(["--quick"] if args.quick else [])]
    failed = 0
    for module in modules:
        print(f"\n=== {module} ===", flush=True)
        failed |= subprocess.call([sys.executable, "-m", f"benchmarks.{module}", *options])
    if failed or args.quick or args.no_report:
        return failed
    return subprocess.call([sys.executable, "-m", "benchmarks.report", "--results",
                            str(args.results)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
