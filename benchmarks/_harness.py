"""The method every benchmark follows, and the files it leaves behind.

Contenders run in ONE process, alternating in short turns over many rounds after a
warm-up, with ``gc.collect()`` between turns and the order rotated every round, so
drift on a shared machine (other processes, thermal, the page cache) hits every
contender alike. Each turn records, raw:

* ``wall_s``: ``time.perf_counter()`` across the turn;
* ``cpu_s``: this process's CPU (user + system, ``time.process_time()``);
* ``server_cpu_s``: the CPU of the contender's server process when it runs in another
  one (psutil, else ``/proc/<pid>/stat``);
* ``units``: how many operations the turn did (requests, files, bytes, imports), plus
  any figure the turn itself reports (peak RSS growth, an import's own time...).

Ratios are taken turn by turn against the baseline's turn in the same round, and
reported as their median and range (``min``..``max``), never one run each.

:func:`write_result` stores ``benchmarks/results/<name>.json``: the machine (CPU model,
cores, load average before and after, Python, aiohttp and library versions, git
commit), the parameters, every raw turn, the summaries and the targets with their
verdict. ``python -m benchmarks.report`` builds README's table and the chart from
those files only.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent

Turn = dict[str, float]
Runs = dict[str, list[Turn]]
Outcome = int | Mapping[str, float]
"""What a turn returns: its unit count, or a mapping with ``units`` and extra figures."""

# -- CPU of other processes --------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (and of its finished children)."""
    try:
        import psutil
    except ImportError:  # /proc fallback (Linux)
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


# -- contenders and turns ----------------------------------------------------------------


@dataclass
class Contender:
    """One side of a comparison: ``turn()`` does one short batch of work and returns how
    many units it did; ``server_pid`` is the process whose CPU the turn is charged."""

    name: str
    turn: Callable[[], Awaitable[Outcome]] | Callable[[], Outcome]
    server_pid: int | None = None


def _record(outcome: Outcome, wall: float, cpu: float, server: float | None) -> Turn:
    turn: Turn = {"wall_s": wall, "cpu_s": cpu}
    if server is not None:
        turn["server_cpu_s"] = server
    if isinstance(outcome, Mapping):
        turn.update({k: float(v) for k, v in outcome.items()})
    else:
        turn["units"] = float(outcome)
    return turn


def _schedule(contenders: Sequence[Contender], rounds: int, warmup: int,
              progress: bool) -> Iterator[tuple[int, Contender]]:
    """(round, contender) pairs: ``warmup`` rounds numbered below 0, then ``rounds``,
    the order rotated every round."""
    for round_ in range(-warmup, rounds):
        shift = round_ % len(contenders)
        for contender in [*contenders[shift:], *contenders[:shift]]:
            yield round_, contender
        if progress:
            _tick(round_, rounds)


def _start(contender: Contender) -> tuple[float | None, float, float]:
    gc.collect()
    server = process_cpu(contender.server_pid) if contender.server_pid else None
    return server, time.process_time(), time.perf_counter()


def _stop(contender: Contender, started: tuple[float | None, float, float],
          outcome: Outcome) -> Turn:
    wall, cpu = time.perf_counter() - started[2], time.process_time() - started[1]
    server = started[0]
    if server is not None and contender.server_pid:
        server = process_cpu(contender.server_pid) - server
    return _record(outcome, wall, cpu, server)


async def alternate(contenders: Sequence[Contender], *, rounds: int, warmup: int = 1,
                    progress: bool = True) -> Runs:
    """Run each contender's async turn ``warmup`` times (discarded), then ``rounds``
    rounds of one turn each, rotating the order; return the raw turns by name."""
    runs: Runs = {c.name: [] for c in contenders}
    for round_, contender in _schedule(contenders, rounds, warmup, progress):
        started = _start(contender)
        turn = _stop(contender, started, await contender.turn())  # type: ignore[misc]
        if round_ >= 0:
            runs[contender.name].append(turn)
    return runs


def alternate_sync(contenders: Sequence[Contender], *, rounds: int, warmup: int = 1,
                   progress: bool = True) -> Runs:
    """:func:`alternate` for blocking turns (a child process per turn, for instance)."""
    runs: Runs = {c.name: [] for c in contenders}
    for round_, contender in _schedule(contenders, rounds, warmup, progress):
        started = _start(contender)
        turn = _stop(contender, started, contender.turn())  # type: ignore[arg-type]
        if round_ >= 0:
            runs[contender.name].append(turn)
    return runs


def _tick(round_: int, rounds: int) -> None:
    if round_ >= 0:
        print(f"\r  round {round_ + 1}/{rounds}", end="" if round_ + 1 < rounds else "\n",
              file=sys.stderr, flush=True)


# -- summaries -----------------------------------------------------------------------------


def per_unit(turn: Turn, metric: str) -> float:
    """``metric`` per unit of work in ``turn`` (``rate`` = units per wall second)."""
    if metric == "rate":
        return turn["units"] / turn["wall_s"]
    return turn[metric] / turn["units"]


def ratios(runs: Runs, contender: str, baseline: str, metric: str) -> list[float]:
    """Per-round ratios contender / baseline of ``metric`` per unit (rounds where the
    baseline's figure is zero, below the clock's resolution, are left out)."""
    pairs = [(per_unit(a, metric), per_unit(b, metric))
             for a, b in zip(runs[contender], runs[baseline], strict=True)]
    return [a / b for a, b in pairs if b > 0]


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median and range of ``values``."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


@dataclass
class Target:
    """A goal on the ratio ``contender / baseline`` of ``metric`` per unit (or on the
    contender's own figure when ``baseline`` is None), met when the MEDIAN satisfies
    ``op goal``. ``scale`` multiplies the figure (1e6 for µs, 1e3 for ms...)."""

    id: str
    label: str
    contender: str
    metric: str
    op: Literal["<=", ">="]
    goal: float
    baseline: str | None = None
    unit: str = "x"
    scale: float = 1.0
    invert: bool = False
    """Report baseline / contender instead (e.g. "callouts per CPU second")."""


def evaluate(target: Target, runs: Runs) -> dict[str, Any]:
    """The target with the median and range of its per-turn figures and the verdict."""
    if target.baseline is None:
        values = [per_unit(t, target.metric) * target.scale for t in runs[target.contender]]
    else:
        values = ratios(runs, target.contender, target.baseline, target.metric)
        if target.invert:
            values = [1 / v for v in values]
    if not values:  # below the clock's resolution (a --quick run): no verdict
        return {**asdict(target), "median": None, "min": None, "max": None, "n": 0,
                "met": None, "values": []}
    summary = spread(values)
    median = summary["median"]
    met = median <= target.goal if target.op == "<=" else median >= target.goal
    return {**asdict(target), **summary, "met": met, "values": values}


def describe(runs: Runs, baseline: str | None, metrics: Sequence[str],
             scale: Mapping[str, float] | None = None) -> dict[str, dict[str, Any]]:
    """Per contender: median/range of each metric per unit and, with a baseline, of the
    ratio to it."""
    scale = scale or {}
    out: dict[str, dict[str, Any]] = {}
    for name, turns in runs.items():
        row: dict[str, Any] = {}
        for metric in metrics:
            if not all(metric in t or metric == "rate" for t in turns):
                continue
            row[metric] = spread([per_unit(t, metric) * scale.get(metric, 1.0) for t in turns])
            values = ratios(runs, name, baseline, metric) if baseline not in (None, name) else []
            if values:
                row[f"{metric}_ratio"] = spread(values)
        out[name] = row
    return out


# -- the result file -----------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*arguments: str) -> str:
    try:
        return subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(load_before: Sequence[float] | None = None) -> dict[str, Any]:
    """Where and with what the figures were taken."""
    packages = ("aiohttp", "sinch_calling", "attrs", "cattrs", "yarl", "orjson", "multidict",
                "sinch", "httpx", "psutil")
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "affinity": affinity,
        "load_average_before": list(load_before) if load_before is not None else None,
        "load_average_after": list(os.getloadavg()),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in packages},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


@dataclass
class Session:
    """One benchmark run: collects figures, then writes its result file."""

    name: str
    parameters: dict[str, Any]
    results_dir: Path = RESULTS
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    """Where the time goes (a profile taken in the same run), for the report."""

    def add(self, group: str, runs: Runs, *, baseline: str | None, metrics: Sequence[str],
            scale: Mapping[str, float] | None = None, targets: Sequence[Target] = (),
            **context: Any) -> dict[str, dict[str, Any]]:
        """Record one comparison (raw turns, summary, targets); return its summary."""
        summary = describe(runs, baseline, metrics, scale)
        evaluated = [{**evaluate(t, runs), "group": group} for t in targets]
        self.targets += evaluated
        self.groups[group] = {"baseline": baseline, "context": context, "summary": summary,
                              "targets": [t["id"] for t in evaluated], "turns": runs}
        return summary

    def write(self) -> Path:
        """Write ``<results_dir>/<name>.json``; return its path. A ``--quick`` run
        (``parameters["quick"]``) is marked so, and the report leaves it out."""
        self.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.results_dir / f"{self.name}.json"
        document = {
            "benchmark": self.name,
            "started": self.started,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(self.load_before),
            "parameters": self.parameters,
            "targets": self.targets,
            "profile": self.profile,
            "groups": self.groups,
        }
        path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
        print(f"wrote {path}", file=sys.stderr)
        return path


def new_session(name: str, args: argparse.Namespace, **parameters: Any) -> Session:
    """A :class:`Session` for a benchmark run with :func:`parser`'s options."""
    return Session(name, {**parameters, "rounds": args.rounds, "warmup": args.warmup,
                          "quick": args.quick}, results_dir=args.results)


def print_targets(session: Session) -> None:
    """One line per target: median, range, verdict."""
    for t in session.targets:
        if t["met"] is None:
            print(f"  {t['label']}: not measured (below the clock's resolution)")
            continue
        verdict = "met" if t["met"] else "MISSED"
        print(f"  {t['label']}: {t['median']:.3g}{t['unit']} "
              f"(range {t['min']:.3g}..{t['max']:.3g}, n={t['n']}), "
              f"target {t['op']} {t['goal']:g}{t['unit']}: {verdict}")


def parser(description: str | None) -> argparse.ArgumentParser:
    """The options every benchmark takes: rounds, warm-up, where results go, --quick."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=None, help="measured rounds (alternating)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up rounds, discarded")
    p.add_argument("--results", type=Path, default=RESULTS,
                   help="directory for <name>.json (default benchmarks/results)")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes: a smoke test of the benchmark, figures meaningless")
    return p
