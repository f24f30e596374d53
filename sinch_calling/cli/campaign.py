"""``sinch-calling campaign FILE ...`` and ``campaign status | results | resolve``."""

from __future__ import annotations

import argparse

from . import options
from .context import Context
from .errors import CommandFailed
from .parser import Registry

DEFAULT_RATE = 5.0
"""Calls started per second by default: well under any account's limit."""

SUBCOMMANDS = ("run", "status", "results", "resolve")


async def _run(ctx: Context, args: argparse.Namespace) -> int:
    raise CommandFailed("campaign: not wired yet")


async def _status(ctx: Context, args: argparse.Namespace) -> int:
    raise CommandFailed("campaign: not wired yet")


async def _results(ctx: Context, args: argparse.Namespace) -> int:
    raise CommandFailed("campaign: not wired yet")


async def _resolve(ctx: Context, args: argparse.Namespace) -> int:
    raise CommandFailed("campaign: not wired yet")


_FIELDS = {"text": "--text", "prompts": "--prompts", "cli": "--cli", "locale": "--locale",
           "rate": "--rate", "concurrency": "--concurrency", "ledger": "--ledger"}


def register(registry: Registry) -> None:
    """Add the ``campaign`` group (``campaign FILE`` is short for ``campaign run FILE``)."""
    group = registry.add(
        "campaign", help="call every row of a CSV or number list, never anyone twice",
        description="Run a callout campaign from FILE, or look at one by its ledger. "
                    "'sinch-calling campaign FILE ...' is short for "
                    "'sinch-calling campaign run FILE ...'.",
        examples=["sinch-calling campaign reminders.csv --text 'Hi {first_name}, see you at "
                  "{time}' --cli +46000000000",
                  "sinch-calling campaign status --ledger reminders.csv.ledger"])
    group.usage = ("sinch-calling campaign FILE --text TEXT [options]\n"
                   "       sinch-calling campaign status|results|resolve --ledger PATH ...")
    commands = registry.group(group)
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
