"""What every command is handed: the parsed options, the printer, a client built from
the environment and the global options, progress and confirmation helpers."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

from ..client import SinchCalling
from ..errors import ValidationError
from .errors import EXIT_INTERRUPTED, _CommandFailed, _UsageError
from .output import Output
from .progress import Tracker, tracker

__all__ = ["CREDENTIALS_HELP", "Context", "RedactingFilter"]

CREDENTIALS_HELP = (
    "set them to the application key and secret from the Sinch dashboard, or point at the "
    "local emulator: run 'sinch-calling emulator' and paste the export lines it prints"
)

_ENV_FIELDS = {"application_key": "SINCH_APPLICATION_KEY",
               "application_secret": "SINCH_APPLICATION_SECRET"}


class RedactingFilter(logging.Filter):
    """Blanks the application secret and any Authorization value in log lines."""

    _AUTH = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(\w+\s+)?[^'\",}\s]+")

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = self._AUTH.sub(r"\1\2***", text)
        record.msg, record.args = text, None
        return True


class Context:
    """The command's view of the world."""

    def __init__(self, args: argparse.Namespace, out: Output, *,
                 environ: Mapping[str, str] | None = None,
                 stdin: IO[str] | None = None) -> None:
        self.args = args
        self.out = out
        self.environ = os.environ if environ is None else environ
        self.stdin = stdin or sys.stdin
        self.interrupted: str | None = None
        """What to print if Ctrl-C stops the command: what was done, how to resume."""
        self.exiting = False
        """The process ends with the command (``main()`` run as the command)."""
        self.interrupted_code = EXIT_INTERRUPTED
        """The exit code of an interrupted command: 130 (Ctrl-C); 143 when a campaign
        was stopped by SIGTERM (128 + the signal's number, as a shell reports it)."""
        self.flags: dict[str, str] = {}
        self.command_line = "sinch-calling"
        """The command line as typed, for "resume with: ..." hints."""

    # -- the client ---------------------------------------------------------------------

    def client(self, **options: Any) -> SinchCalling:
        """A client from ``SINCH_APPLICATION_KEY``/``SINCH_APPLICATION_SECRET`` and the
        global options (``--region``, ``--base-url``, ``--timeout``, or their variables)."""
        key = self.environ.get("SINCH_APPLICATION_KEY", "")
        secret = self.environ.get("SINCH_APPLICATION_SECRET", "")
        if not key or not secret:
            which = "neither is set" if not (key or secret) else \
                f"{'SINCH_APPLICATION_KEY' if not key else 'SINCH_APPLICATION_SECRET'} is not set"
            raise _UsageError(f"SINCH_APPLICATION_KEY and SINCH_APPLICATION_SECRET are needed "
                             f"({which}): {CREDENTIALS_HELP}")
        args = self.args
        region = args.region or self.environ.get("SINCH_REGION") or "global"
        base_url = args.base_url or self.environ.get("SINCH_BASE_URL") or None
        self.flags.update(_ENV_FIELDS)
        self.flags["region"] = "--region" if args.region else "SINCH_REGION"
        self.flags["base_url"] = "--base-url" if args.base_url else "SINCH_BASE_URL"
        if args.verbose:
            self._trace(secret)
        try:
            return SinchCalling(key, secret, region=region, base_url=base_url,
                                timeout=args.timeout, **options)
        except ValidationError as exc:
            raise _UsageError(f"{self.flags.get(exc.field, exc.field)}: {exc.rule}") from None

    def _trace(self, secret: str) -> None:
        logger = logging.getLogger("sinch_calling")
        handler = logging.StreamHandler(self.out.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(message)s",
                                               datefmt="%H:%M:%S"))
        handler.addFilter(RedactingFilter([secret]))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)

    # -- long commands ------------------------------------------------------------------

    def progress(self, label: str, kind: str) -> Tracker:
        """A progress tracker on stderr, unless ``--no-progress`` or ``--quiet``."""
        enabled = not (self.args.no_progress or self.args.quiet)
        return tracker(label, kind, stderr=self.out.stderr, enabled=enabled)

    # -- confirmation -------------------------------------------------------------------

    def confirm(self, question: str, *, yes: bool) -> None:
        """Ask ``question`` on a terminal; without one, ``--yes`` is required.

        Raises :class:`_UsageError` without a terminal and without ``--yes``, and
        :class:`_CommandFailed` when the answer is not yes."""
        if yes:
            return
        if not (self.stdin.isatty() and self.out.errors.is_terminal):
            raise _UsageError(f"{question.rstrip('?')}: not on a terminal, so confirm with --yes")
        self.out.errors.print(f"{question} [y/N] ", end="", markup=False)
        answer = self.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise _CommandFailed("cancelled; nothing was changed")
