"""Parse, run, and turn every outcome into one exit code and at most one error line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shlex
import signal
import sys
from collections.abc import Sequence

from . import callbacks, callout, calls, campaign, conferences, demo, emulator, numbers, recordings
from .context import Context
from .errors import EXIT_OK, EXIT_USAGE, _UsageError, describe, is_bug
from .output import Output, quiet_stdout
from .parser import GLOBAL_DEFAULTS, GLOBALS, PROG, Parser, Registry, flags_of, typed_flag

__all__ = ["build_parser", "run"]

_GROUPS = (demo, emulator, numbers, callbacks, callout, calls, conferences, recordings, campaign)


def build_parser() -> Parser:
    """The parser of every command."""
    parser = Parser(
        prog=PROG, parents=[GLOBALS],
        description="The Sinch Calling API from the command line: numbers, callback URLs, "
                    "callouts, live calls, conferences, recordings, campaigns, and a local "
                    "emulator. Credentials come from SINCH_APPLICATION_KEY and "
                    "SINCH_APPLICATION_SECRET.",
        epilog="examples:\n  sinch-calling demo\n  sinch-calling numbers list --json\n"
               "  sinch-calling callout tts +46700000001 --text 'Your code is 1234'\n\n"
               "exit codes: 0 success; 1 an API or network failure (or a campaign or export "
               "with failed, uncertain or invalid rows, reruns included); 2 a usage or "
               "validation error, nothing sent; "
               "130 interrupted (Ctrl-C); 143 a campaign stopped by SIGTERM.")
    registry = Registry(parser)
    for group in _GROUPS:
        group.register(registry)
    return parser


def _warnings(out: Output) -> None:
    """The library's warnings, as one ``warning:`` line each on stderr."""
    handler = logging.StreamHandler(out.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logging.getLogger("sinch_calling").addHandler(handler)


def _valued_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string, at any level of ``parser``, that takes a value."""
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _valued_options(child)
        elif action.option_strings and action.nargs != 0:
            found.update(action.option_strings)
    return found


def _positionals(argv: Sequence[str], valued: set[str]) -> list[int]:
    """Indexes of the tokens that are neither options nor option values."""
    found: list[int] = []
    skip = False
    for index, token in enumerate(argv):
        if skip:
            skip = False
        elif token == "--":
            found.extend(range(index + 1, len(argv)))
            break
        elif token.startswith("-") and token != "-":
            skip = token in valued
        else:
            found.append(index)
    return found


def expand_shorthand(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``campaign FILE ...`` means ``campaign run FILE ...``."""
    argv = list(argv)
    places = _positionals(argv, _valued_options(parser))
    if len(places) >= 2 and argv[places[0]] == "campaign" \
            and argv[places[1]] not in campaign.SUBCOMMANDS:
        argv.insert(places[0] + 1, "run")
        return argv
    if len(places) >= 2 and places[1] > places[0] + 1 and "--" not in argv[:places[1]]:
        # ``campaign --ledger L status``: options typed between a group and its command
        # belong to the command (global options are accepted anywhere).
        between = argv[places[0] + 1:places[1]]
        del argv[places[0] + 1:places[1]]
        argv[places[0] + 2:places[0] + 2] = between  # after the command, now next
    return argv


def run(argv: Sequence[str] | None = None, *, exiting: bool = False) -> int:
    """Entry point of ``sinch-calling``; returns the exit code. ``exiting``: the process
    ends with the command (``main()`` run as the command), so from the moment the
    command's event loop is done a Ctrl-C is ignored: Python's own handler would raise
    wherever the interpreter is on its way out, or end it by SIGINT (exit -2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Output()
    parser = build_parser()
    if not argv:
        parser.print_help()
        return EXIT_OK
    try:
        args, extra = parser.parse_known_args(expand_shorthand(parser, argv))
        if extra:  # named with the help of the command they were typed for
            getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    except _UsageError as exc:
        out.error(typed_flag(str(exc), argv))
        return EXIT_USAGE
    for name, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    out = Output(json_mode=args.json, quiet=args.quiet)
    ctx = Context(args, out)
    ctx.exiting = exiting
    ctx.flags = flags_of(args.parser, args.fields)
    ctx.command_line = shlex.join([PROG, *argv])
    if not args.verbose:
        _warnings(out)
    try:
        try:
            code: int = asyncio.run(args.run(ctx, args))
        finally:
            if exiting:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(signum, signal.SIG_IGN)
    except (KeyboardInterrupt, asyncio.CancelledError):
        # A second Ctrl-C cancels the command's task: asyncio.run re-raises the
        # cancellation (a BaseException), which is still an interruption, not a bug.
        # From here on the command only says why it stopped and exits: a further Ctrl-C
        # must not turn exit 130 into death by SIGINT (or a traceback) on the way out.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        out.error(ctx.interrupted or "interrupted")
        return ctx.interrupted_code
    except BrokenPipeError:
        quiet_stdout()
        return EXIT_OK
    except Exception as exc:
        code, line = describe(exc, ctx.flags)
        if is_bug(exc):  # only an unexpected error earns a traceback (with --verbose)
            logging.getLogger("sinch_calling.cli").debug("the command failed", exc_info=exc)
        with contextlib.suppress(BrokenPipeError):
            out.error(line)
        return code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
    except KeyboardInterrupt:  # the command had finished: its own code stands
        pass
    return code
