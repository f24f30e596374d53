"""The argument parser: argparse with rich-argparse help, global options accepted
anywhere on the line, one-line usage errors naming the flag as typed (exit 2)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from rich_argparse import RawDescriptionRichHelpFormatter

from .._version import __version__
from ..regions import Region
from . import options
from .errors import _UsageError

if TYPE_CHECKING:
    from .context import Context

__all__ = ["GLOBAL_DEFAULTS", "PROG", "Parser", "Registry", "Run", "flags_of", "typed_flag"]

PROG = "sinch-calling"

Run = Callable[["Context", argparse.Namespace], Awaitable[int]]

GLOBAL_DEFAULTS: dict[str, Any] = {
    "json": False, "quiet": False, "verbose": False, "region": None, "base_url": None,
    "timeout": None, "no_progress": False,
}


class HelpFormatter(RawDescriptionRichHelpFormatter):
    """rich help, examples kept as written, and each option's default shown."""

    group_name_formatter = str.capitalize

    def add_usage(self, usage: str | None, actions: Any, groups: Any,
                  prefix: str | None = None) -> None:
        # The global options are listed in their own section: keep usage lines short.
        shown = [a for a in actions if a.dest not in GLOBAL_DEFAULTS and a.dest != "version"]
        super().add_usage(usage, shown, groups, prefix)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or not action.option_strings or default is None
                or default is False or default == argparse.SUPPRESS or action.nargs == 0):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are raised (as :class:`_UsageError`), not printed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:  # argparse's type says NoReturn
        if message.endswith("required: COMMAND"):
            commands = [name for action in self._actions
                        if isinstance(action, argparse._SubParsersAction)
                        for name in action.choices]
            message = f"a command is required: {', '.join(commands)}"
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def _global_options() -> Parser:
    parent = Parser(add_help=False)
    group = parent.add_argument_group("global options (anywhere on the line)")
    s = argparse.SUPPRESS
    group.add_argument("--json", action="store_true", default=s,
                       help="print exactly one JSON document on stdout (an array for lists)")
    group.add_argument("-q", "--quiet", action="store_true", default=s,
                       help="print only results: no confirmations, notes or progress")
    group.add_argument("-v", "--verbose", action="store_true", default=s,
                       help="trace HTTP requests on stderr (secrets never shown)")
    group.add_argument("--region", choices=[r.value for r in Region], default=s,
                       help="traffic region (default: $SINCH_REGION, else global)")
    group.add_argument("--base-url", type=options.url, default=s, metavar="URL",
                       help="one origin replacing the Sinch hosts, such as the emulator's "
                            "(default: $SINCH_BASE_URL)")
    group.add_argument("--timeout", type=options.positive_seconds, default=s, metavar="SECONDS",
                       help="per API call, retries included (default: 30)")
    group.add_argument("--no-progress", action="store_true", default=s,
                       help="no progress bars or progress lines")
    group.add_argument("--version", action="version", version=f"{PROG} {__version__}",
                       help="print the version and exit")
    return parent


GLOBALS = _global_options()


def _examples(lines: Sequence[str]) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


class Registry:
    """Adds commands (and groups of commands) under one parser."""

    def __init__(self, parser: argparse.ArgumentParser, *, title: str = "commands") -> None:
        self.parser = parser
        self._sub = parser.add_subparsers(title=title, dest=f"{parser.prog}:command",
                                          metavar="COMMAND", required=True,
                                          parser_class=Parser)

    def add(self, name: str, *, help: str, examples: Sequence[str],
            description: str | None = None, run: Run | None = None,
            fields: dict[str, str] | None = None) -> Parser:
        """A command ``name`` (``run`` given) or a group (add its commands with
        :meth:`group`). ``fields`` maps the library's argument names to this command's
        flags where they differ (``destination`` -> ``NUMBER``)."""
        parser: Parser = self._sub.add_parser(
            name, help=help, description=description or help[:1].upper() + help[1:] + ".",
            epilog=_examples(examples), parents=[GLOBALS], formatter_class=HelpFormatter,
            allow_abbrev=False)
        if run is not None:
            parser.set_defaults(run=run, parser=parser, fields=fields or {})
        return parser

    def group(self, parser: argparse.ArgumentParser) -> Registry:
        """A registry for the commands of the group ``parser``."""
        return Registry(parser)


def flags_of(parser: argparse.ArgumentParser, extra: dict[str, str]) -> dict[str, str]:
    """Library field name -> the flag or positional name of ``parser`` that gives it."""
    flags: dict[str, str] = {}
    for action in parser._actions:
        if action.option_strings:
            long = [o for o in action.option_strings if o.startswith("--")]
            flags[action.dest] = (long or action.option_strings)[0]
        elif action.dest != argparse.SUPPRESS:
            metavar = action.metavar if isinstance(action.metavar, str) else None
            flags[action.dest] = metavar or action.dest.upper()
    flags.update(extra)
    return flags


_ARGUMENT = re.compile(r"argument (?P<names>[^:]+):")


def typed_flag(message: str, argv: Sequence[str]) -> str:
    """Rewrite argparse's ``argument -o/--output:`` into the one spelling typed."""
    match = _ARGUMENT.search(message)
    if match is None:
        return message
    names = match["names"].split("/")
    typed = [n for n in names if any(a == n or a.startswith(n + "=") for a in argv)]
    chosen = typed[0] if typed else names[-1]
    return message[:match.start("names")] + chosen + message[match.end("names"):]
