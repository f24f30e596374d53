"""``sinch-calling campaign FILE ...`` and ``campaign status | results | resolve``."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import stat
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client import SinchCalling
from . import options
from .context import Context
from .errors import EXIT_FAILURE, _UsageError
from .interrupts import Interrupts
from .output import quiet_stdout
from .parser import Registry
from .progress import Tracker

if TYPE_CHECKING:
    from ..campaign import CallOutcome, CampaignReport

DEFAULT_RATE = 5.0
"""Calls started per second by default: well under any account's limit."""

SUBCOMMANDS = ("run", "status", "results", "resolve")


async def _run(ctx: Context, args: argparse.Namespace) -> int:
    from ..campaign import Campaign

    ledger = _ledger_path(args)
    shown = _masked(ledger)  # a postgresql:// ledger may carry a password: never print it
    ctx.command_line = _masked(ctx.command_line)
    template = Campaign.tts(text=args.text, prompts=args.prompts, cli=args.cli,
                            locale=args.locale)
    await _check_out(ctx, args.out, {"FILE": args.file, "--ledger": ledger})
    # A dry run sends nothing, so it needs no credentials.
    # As many connections as workers: a worker waiting for one would hold a row
    # marked sending (see Campaign's concurrency).
    connections = max(100, args.concurrency)
    client = SinchCalling("dry-run", "ZHJ5LXJ1bg==", max_connections=connections) \
        if args.dry_run else ctx.client(max_connections=connections)
    stdin = None
    if args.file == "-":
        from .stdin import text_stdin

        source, stdin = text_stdin()
    ctx.interrupted = "interrupted before the campaign started: nobody was called"
    try:
        with Interrupts(ctx) as interrupts:
            return await _place(ctx, args, client, template,
                                source if stdin else args.file, ledger, shown, interrupts)
    finally:
        if stdin is not None:
            stdin.release()  # a read still waiting on stdin must not hold up the exit


async def _place(ctx: Context, args: argparse.Namespace, client: Any, template: Any,
                 source: Any, ledger: str, shown: str, interrupts: Interrupts) -> int:
    from ..campaign import Campaign, LedgerMismatchError, read_rows

    counts = {"placed": 0, "failed": 0, "uncertain": 0, "invalid": 0}
    bar: Tracker | None = None
    total = None if args.file == "-" or args.dry_run else \
        await asyncio.to_thread(_count_rows, args.file)
    done = lost = 0

    def on_outcome(outcome: CallOutcome) -> None:
        nonlocal done, lost
        done += 1
        if outcome.error is not None and outcome.error.kind == "interrupted":
            lost += 1  # in flight when the run was aborted
        status = counted_status(outcome)
        if status in counts:
            counts[status] += 1
        if bar is not None:
            bar.update(done, total, **counts)

    async with client as sinch:
        campaign = Campaign(sinch, template, rate=args.rate, concurrency=args.concurrency,
                            ledger=ledger, track=args.track,
                            number_column=args.number_column, retry_failed=args.retry_failed,
                            force=args.force, on_outcome=on_outcome)
        rows = read_rows(source)
        try:
            if args.dry_run:  # reads an existing ledger: refused as the run would be
                return _summary(ctx, args, await campaign.preflight(rows), shown)
            ctx.out.note(f"ledger: {shown} (a rerun of the same command resumes; nobody "
                         "is called twice)")
            bar = ctx.progress(f"campaign {Path(args.file).name}", "campaign")
            report = await _interruptible(ctx, interrupts, campaign.run(rows), shown,
                                          lambda: lost)
        except LedgerMismatchError as exc:
            changed = "; ".join(f"{name} was {before!r}, now {now!r}"
                                for name, (before, now) in sorted(exc.differences.items()))
            which = "" if args.ledger is not None else " (the default ledger of FILE)"
            raise _UsageError(f"--ledger: {_masked(exc.location)}{which} belongs to a "
                              f"different campaign ({changed or 'other options'}): rerun "
                              "with the original options, give another --ledger, or add "
                              "--force to reuse it") from None
        finally:
            if bar is not None:
                bar.close()
        if args.out:
            try:
                written = await campaign.export(_out_target(args.out),
                                                format=_format(args.out))
            except BrokenPipeError:
                if args.out != "-":
                    raise
                # The reader stopped reading (| head): the summary and the exit code
                # still tell how the campaign went.
                quiet_stdout()
                ctx.out.note(f"standard output was closed before every result was "
                             f"written; all of them: sinch-calling campaign results "
                             f"--ledger {shlex.quote(shown)}")
            else:
                if args.out != "-":
                    ctx.out.note(f"wrote {written} results to {args.out}")
    code = _summary(ctx, args, report, shown)
    return ctx.interrupted_code if report.stopped == "interrupted" else code


def lost_line(ledger: str, lost: int, command_line: str) -> str:
    """The last line of an aborted campaign: how many calls in flight it recorded as
    uncertain, and how to settle and resume."""
    if not lost:
        return (f"aborted; no call was in flight: {ledger} holds every answer received; "
                f"resume with: {command_line}")
    return (f"aborted; {lost} {'call' if lost == 1 else 'calls'} in flight "
            f"{'is' if lost == 1 else 'are'} recorded as uncertain in {ledger} (settle "
            f"with: sinch-calling campaign resolve --ledger {shlex.quote(ledger)} ROW); "
            f"resume with: {command_line}")


def counted_status(outcome: CallOutcome) -> str | None:
    """The state a progress count gives a row's outcome: ``None`` for a row an earlier
    run settled (it comes back as its old state without this run's call id: done, not
    placed now; the summary says "skipped"), else its status."""
    earlier = outcome.status in ("skipped", "claimed", "sending") or (
        outcome.status == "placed" and not outcome.call_id)
    return None if earlier else str(outcome.status)


def problem_lines(report: CampaignReport, timeout: float | None = None,
                  ledger: str | None = None) -> list[str]:
    """The lines the command prints on stderr after its summary, for the rows that
    need attention (``ledger``: where the rest can be read, when some were left out)."""
    if not report.problems:
        return []
    count = len(report.problems) + report.problems_omitted
    lines = [f"warning: {count} {'row needs' if count == 1 else 'rows need'} attention:"]
    lines += [f"  {_problem(problem, timeout)}" for problem in report.problems]
    if report.problems_omitted:
        where = f": sinch-calling campaign results --ledger {shlex.quote(ledger)}" \
            if ledger else ""
        lines.append(f"  ... and {report.problems_omitted} more{where}")
    return lines


async def _interruptible(ctx: Context, interrupts: Interrupts, run: Any, ledger: str,
                         lost: Callable[[], int]) -> Any:
    """Run the campaign under :class:`Interrupts` (a first Ctrl-C or SIGTERM stops it
    gracefully, a second aborts) and leave in ``ctx.interrupted`` the last line an
    abort from here on prints: how many calls in flight it recorded as uncertain
    (``lost()``), or, once the campaign has ended, that the ledger is complete."""
    ctx.interrupted = lost_line(ledger, 0, ctx.command_line)
    ended = False
    try:
        result = await interrupts.campaign(run)
        ended = True
        return result
    finally:  # no await here (one stat below, on the loop): a signal would cut it short
        if ended:
            ctx.interrupted = (f"aborted after the campaign ended; {ledger} holds every "
                               f"answer; resume with: {ctx.command_line}")
        elif interrupts.signals and "://" not in ledger \
                and not os.path.exists(ledger):  # noqa: ASYNC240
            ctx.interrupted = (f"aborted before the ledger {ledger} was created: nobody was "
                               f"called; resume with: {ctx.command_line}")
        else:
            ctx.interrupted = lost_line(ledger, lost(), ctx.command_line)


def _summary(ctx: Context, args: argparse.Namespace, report: Any, ledger: str) -> int:
    from ..campaign.export import outcome_record

    to_people = ctx.out.note if args.out == "-" else (
        lambda line: ctx.out.done(line, None))
    if ctx.out.json_mode:
        totals = report.totals
        ctx.out.document({
            "rows": report.rows, "placed": report.placed, "failed": report.failed,
            "uncertain": report.uncertain, "skipped": report.skipped,
            "duplicates": report.duplicates,
            "invalid": report.invalid, "pending": report.pending,
            "earlierUncertain": report.earlier_uncertain, "stopped": report.stopped,
            "dryRun": report.dry_run, "ledger": None if args.dry_run else ledger,
            "elapsed": round(report.elapsed, 3),
            "results": dict(totals.results) if totals is not None else {},
            "cost": dict(totals.cost) if totals is not None else {},
            "problems": [outcome_record(p) for p in report.problems],
            "resume": ctx.command_line if report.stopped else None,
            **({"ledgerDecided": report.ledger_decided} if report.dry_run else {})})
    else:
        for line in report.lines():
            to_people(line)
        for line in problem_lines(report, args.timeout, ledger):
            ctx.out.errors.print(line, markup=False)
        if report.stopped and ctx.out.quiet:  # the summary above was dropped
            ctx.out.warn(f"stopped: {report.stopped}; {report.pending} rows still "
                         f"pending; resume with: {ctx.command_line}")
        elif report.stopped:
            ctx.out.note(f"resume with: {ctx.command_line}")
        if report.uncertain or report.earlier_uncertain:
            ctx.out.note(f"settle uncertain rows with: sinch-calling campaign resolve "
                         f"--ledger {shlex.quote(ledger)} ROW (--placed CALL_ID | "
                         "--not-placed)")
    if report.dry_run:
        return EXIT_FAILURE if report.invalid else 0
    return 0 if report.ok else EXIT_FAILURE


_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_PASSWORD_PARAMETER = re.compile(r"([?&](?:ssl)?password=)[^&#\s]*")


def _masked(text: str) -> str:
    """``postgresql://app:secret@db/calls`` -> ``postgresql://app:***@db/calls``; a
    ``password`` (or ``sslpassword``) query parameter likewise."""
    return _PASSWORD_PARAMETER.sub(r"\1***", _PASSWORD.sub(r"\1***@", text))


def _count_rows(path: str) -> int | None:
    """About how many rows FILE holds (non-blank lines, less a header): for the
    progress bar's ETA only; the campaign's own reader decides what a row is. ``None``
    for anything but a regular file: a pipe or FIFO (``<(cat list.csv)``) can be read
    once, and that read is the campaign's."""
    first, count = "", 0
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, encoding="utf-8-sig", errors="replace") as stream:
            for line in stream:  # streamed: a million rows never sit in memory
                if line.strip():
                    first = first or line
                    count += 1
    except OSError:
        return None
    header = first and not any(c.isdigit() for c in first.split(",")[0])
    return count - 1 if header else count


_EMPTY_TIMEOUT = re.compile(r"(?:\w+\.)*TimeoutError:?\s*$")


def _problem(outcome: CallOutcome, timeout: float | None = None) -> str:
    """``line 6 (+46700000104): invalid: text: placeholder {first_name} is empty``.

    A timeout, which Python words as a bare "TimeoutError: ", is said as "timed out
    after N s" (``timeout``: the --timeout given, else the client's default, 30 s)."""
    where = f"line {outcome.line}" if outcome.line else f"row {outcome.row}"
    if outcome.destination:
        where += f" ({outcome.destination})"
    error = outcome.error
    why = f"{error.message}" if error is not None else ""
    if _EMPTY_TIMEOUT.search(why):
        why = _EMPTY_TIMEOUT.sub(f"timed out after {timeout or 30:g} s", why)
    if error is not None and error.status is not None:
        why += f" (HTTP {error.status}" + (f", errorCode {error.code})" if error.code
                                           else ")")
    return f"{where}: {outcome.status}: {why}"


def _ledger_path(args: argparse.Namespace) -> str:
    """``--ledger``, or FILE.ledger next to FILE; stdin needs ``--ledger``."""
    if args.ledger is not None:
        if not str(args.ledger).strip():
            raise _UsageError("--ledger: must be a file path or a postgresql:// URL; got ''")
        return str(args.ledger)
    if args.file == "-":
        raise _UsageError("--ledger: required when FILE is - (stdin): without a ledger a "
                         "rerun would call everyone again")
    return str(Path(args.file).with_name(Path(args.file).name + ".ledger"))


async def _check_out(ctx: Context, out: str | None, inputs: dict[str, str]) -> None:
    """``--out``, checked before anything is sent or written: its format, that stdout
    is not also --json's, that its directory exists, that it is not a directory, and
    that it is none of ``inputs`` (FILE, the ledger), which it would overwrite."""
    if out is None:
        return
    if not out.strip():
        raise _UsageError("--out: must be a .jsonl or .csv file path, or - for stdout; "
                          "got ''")
    if out == "-":
        if ctx.out.json_mode:
            raise _UsageError("--out -: cannot be combined with --json (both use stdout)")
        return
    _format(out)
    target = Path(out)
    if await asyncio.to_thread(target.is_dir):
        raise _UsageError(f"--out: {out} is a directory; give a file name ending in "
                         ".jsonl or .csv")
    if not await asyncio.to_thread(target.parent.is_dir):
        raise _UsageError(f"--out: no directory {target.parent}")
    resolved = await asyncio.to_thread(target.resolve)
    for flag, path in inputs.items():
        if path == "-" or "://" in path:
            continue
        if await asyncio.to_thread(_same_file, resolved, Path(path)):
            raise _UsageError(f"--out: {out} is the same file as {flag} ({path}); writing "
                             "the results there would destroy it: give another --out")


def _same_file(a: Path, b: Path) -> bool:
    if a == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _format(target: str) -> str:
    if target == "-" or target.lower().endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if target.lower().endswith(".csv"):
        return "csv"
    raise _UsageError(f"--out: {target!r} must end in .jsonl or .csv (or be - for stdout)")


def _out_target(target: str) -> Any:
    if target != "-":
        return target
    try:
        return _RawStdout()
    except (AttributeError, OSError, ValueError):  # a stdout without a descriptor
        return sys.stdout


class _RawStdout:
    """Standard output as the text stream ``--out -`` writes to, straight to its file
    descriptor: a write blocked on a pipe nobody reads holds no lock of ``sys.stdout``,
    so an aborted command can leave it behind and exit (the interpreter's last flush
    of ``sys.stdout`` would otherwise wait for that lock, or abort the process)."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._fd = sys.stdout.fileno()
        self._encoding = sys.stdout.encoding or "utf-8"
        self._errors = sys.stdout.errors or "strict"

    def write(self, text: str) -> int:
        data = memoryview(text.encode(self._encoding, self._errors))
        while data:
            data = data[os.write(self._fd, data):]
        return len(text)

    def flush(self) -> None:
        pass


_SQLITE_HEADER = b"SQLite format 3\x00"


def _check_ledger_file(path: str) -> None:
    """A local ``--ledger`` must already be an SQLite file: opening anything else (an
    empty file, a CSV) would turn it into a database, which a look must never do."""
    target = Path(path)
    if not target.is_file():
        raise _UsageError(f"--ledger: no ledger at {path}")
    try:
        with target.open("rb") as stream:
            header = stream.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise _UsageError(f"--ledger: cannot read {path}: {exc.strerror or exc}") from None
    if header != _SQLITE_HEADER:
        raise _UsageError(f"--ledger: {path} is not a campaign ledger (not an SQLite file)")


async def _open_ledger(path: str) -> Any:
    """An existing ledger file, opened for reading and settling."""
    from ..campaign import open_ledger

    if "://" not in path:
        await asyncio.to_thread(_check_ledger_file, path)
    ledger = open_ledger(path)
    await ledger.open(None)
    return ledger


async def _status(ctx: Context, args: argparse.Namespace) -> int:
    ledger = await _open_ledger(args.ledger)
    try:
        counts = await ledger.counts()
    finally:
        await ledger.close()
    if ctx.out.json_mode:
        ctx.out.document({"ledger": _masked(args.ledger), "total": counts.total,
                          "states": dict(counts.states), "results": dict(counts.results),
                          "cost": dict(counts.cost), "untracked": counts.untracked,
                          "answerRate": counts.answer_rate})
        return 0
    ctx.out.table(("state", "rows"), [*counts.states.items(), ("total", counts.total)],
                  title=f"campaign ledger {_masked(args.ledger)}")
    if counts.results:
        ctx.out.table(("result", "calls"), sorted(counts.results.items()), title="outcomes")
    if counts.cost:
        ctx.out.note("cost: " + ", ".join(f"{amount:.4f} {currency}" for currency, amount
                                          in sorted(counts.cost.items())))
    held = counts.states.get("claimed", 0) + counts.states.get("sending", 0)
    if held:
        ctx.out.note(f"{held} rows are held by a run (claimed or sending): if none is "
                     "running any more, the next run makes its claimed rows pending and "
                     "its sending rows uncertain (then settle those)")
    if counts.states.get("uncertain"):
        ctx.out.note(f"settle uncertain rows with: sinch-calling campaign resolve --ledger "
                     f"{shlex.quote(_masked(args.ledger))} ROW (--placed CALL_ID | "
                     "--not-placed)")
    return 0


async def _results(ctx: Context, args: argparse.Namespace) -> int:
    from ..campaign import export_results
    from ..campaign.export import outcome_record

    await _check_out(ctx, args.out, {"--ledger": args.ledger})
    ledger = await _open_ledger(args.ledger)
    try:
        if args.out:
            written = await export_results(ledger.results(), _out_target(args.out),
                                           format=_format(args.out))
            if args.out != "-":
                ctx.out.done(f"wrote {written} results to {args.out}",
                             {"written": written, "out": args.out})
            return 0

        async def records() -> AsyncIterator[dict[str, Any]]:
            async for outcome in ledger.results():
                yield outcome_record(outcome)

        def render(batch: list[dict[str, Any]]) -> None:
            ctx.out.table(("row", "line", "number", "status", "call id", "error", "result"),
                          ((r["row"], r["line"], r["destination"], r["status"], r["call_id"],
                            r["error_message"], r["result"]) for r in batch),
                          empty="the ledger holds no rows")

        await ctx.out.stream(records(), render)
    finally:
        await ledger.close()
    return 0


async def _resolve(ctx: Context, args: argparse.Namespace) -> int:
    from ..campaign import RowStateError, UnknownRowError

    ledger = await _open_ledger(args.ledger)
    try:
        outcome = await ledger.settle(args.row, call_id=args.placed)
    except UnknownRowError:
        raise _UsageError(f"ROW: no row {args.row!r} in {_masked(args.ledger)}") from None
    except RowStateError as exc:
        raise _UsageError(f"ROW: {exc}") from None
    finally:
        await ledger.close()
    if args.placed:
        message = f"Row {args.row} settled as placed (call id {args.placed})"
    else:
        message = f"Row {args.row} settled as not placed: the next run dials it"
    ctx.out.done(message, {"row": args.row, "status": outcome.status,
                           "callId": outcome.call_id})
    return 0


_FIELDS = {"text": "--text", "prompts": "--prompts", "cli": "--cli", "locale": "--locale",
           "rate": "--rate", "concurrency": "--concurrency", "ledger": "--ledger",
           "file": "FILE", "rows": "FILE", "number_column": "--number-column", "row": "ROW",
           "call_id": "--placed"}


def register(registry: Registry) -> None:
    """Add the ``campaign`` group (``campaign FILE`` is short for ``campaign run FILE``)."""
    group = registry.add(
        "campaign", help="call every row of a CSV or number list, never anyone twice",
        description="Run a callout campaign from FILE, or look at one by its ledger. "
                    "'sinch-calling campaign FILE ...' is short for "
                    "'sinch-calling campaign run FILE ...': its options (--text, --cli, "
                    "--rate, --dry-run, --ledger, --out, ...) are in "
                    "'sinch-calling campaign run --help'.",
        examples=["sinch-calling campaign reminders.csv --text 'Hi {first_name}, see you at "
                  "{time}' --cli +46000000000",
                  "sinch-calling campaign status --ledger reminders.csv.ledger"])
    commands = registry.group(group)  # before the usage below: its prog is the commands'
    group.usage = ("sinch-calling campaign FILE --text TEXT [options]\n"
                   "       sinch-calling campaign status|results|resolve --ledger PATH ...")
    run = commands.add(
        "run", help="place one callout per row of FILE (the default)", run=_run,
        fields=_FIELDS,
        description="Place one text-to-speech callout per row of FILE: a CSV with a header "
                    "(a 'number' column, or --number-column) or a plain list of numbers; - "
                    "reads stdin. A preflight checks every row first and lists the invalid "
                    "ones with their line numbers. A ledger (by default FILE.ledger next to "
                    "FILE) records every call, so a rerun never calls anyone twice.",
        examples=["sinch-calling campaign numbers.txt --text 'Your code is 1234' --rate 20",
                  "sinch-calling campaign reminders.csv --text 'Hi {first_name}' --dry-run",
                  "cat numbers.txt | sinch-calling campaign - --text 'Hi' --ledger c.ledger "
                  "--out results.jsonl"])
    run.add_argument("file", metavar="FILE", help="CSV with a header, or one number per line; "
                                                  "- for stdin")
    what = run.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", type=options.text, metavar="TEXT",
                      help="what to say; {column} placeholders are filled from each row")
    what.add_argument("--prompts", type=options.text, metavar="P",
                      help="';'-separated prompt files or #tts[...] strings")
    run.add_argument("--cli", metavar="NUMBER", help="the caller number shown (E.164)")
    run.add_argument("--locale", metavar="L", help="text-to-speech voice, e.g. en-US")
    run.add_argument("--number-column", default="number", metavar="NAME",
                     help="the CSV column holding the numbers")
    run.add_argument("--rate", type=options.positive_rate, default=DEFAULT_RATE, metavar="R",
                     help="calls started per second, at most (raise it to your account's "
                          "limit)")
    run.add_argument("--concurrency", type=options.positive_int, default=16, metavar="N",
                     help="callouts in flight at once")
    run.add_argument("--ledger", metavar="PATH",
                     help="the SQLite ledger that makes reruns safe (default: FILE.ledger; "
                          "required with - )")
    run.add_argument("--out", metavar="FILE",
                     help="write one result per row: .jsonl or .csv (- for stdout)")
    run.add_argument("--track", action="store_true",
                     help="follow placed calls until they end: outcomes and cost")
    run.add_argument("--dry-run", action="store_true",
                     help="only check the rows and options; call nobody")
    run.add_argument("--retry-failed", action="store_true",
                     help="dial again the rows Sinch refused in an earlier run")
    run.add_argument("--force", action="store_true",
                     help="reuse a ledger made for different options (text, columns)")

    status = commands.add("status", help="counts of a campaign's ledger", run=_status,
                          fields=_FIELDS,
                          examples=["sinch-calling campaign status --ledger c.ledger --json"])
    status.add_argument("--ledger", required=True, metavar="PATH", help="the campaign's ledger")
    results = commands.add("results", help="one result per row, from the ledger", run=_results,
                           fields=_FIELDS,
                           examples=["sinch-calling campaign results --ledger c.ledger "
                                     "--out results.csv"])
    results.add_argument("--ledger", required=True, metavar="PATH",
                         help="the campaign's ledger")
    results.add_argument("--out", metavar="FILE", help=".jsonl or .csv (default: a table)")
    resolve = commands.add("resolve", help="settle an uncertain row: placed or not placed",
                           run=_resolve, fields=_FIELDS,
                           examples=["sinch-calling campaign resolve --ledger c.ledger 17 "
                                     "--placed CALL_ID",
                                     "sinch-calling campaign resolve --ledger c.ledger 17 "
                                     "--not-placed"])
    resolve.add_argument("--ledger", required=True, metavar="PATH", help="the campaign's ledger")
    resolve.add_argument("row", metavar="ROW", help="the row (its number or id column)")
    settle = resolve.add_mutually_exclusive_group(required=True)
    settle.add_argument("--placed", metavar="CALL_ID", help="Sinch did place it, as this call")
    settle.add_argument("--not-placed", action="store_true",
                        help="Sinch placed nothing: dial it again on the next run")
