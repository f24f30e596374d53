"""The ``sinch-calling`` command (also ``python -m sinch_calling``), in the ``cli`` extra.

One small module per command group (:mod:`.numbers`, :mod:`.callbacks`,
:mod:`.callout`, :mod:`.calls`, :mod:`.conferences`, :mod:`.recordings`,
:mod:`.campaign`, :mod:`.emulator`, :mod:`.demo`), plus the parser, the printer
(:mod:`.output`), errors and exit codes (:mod:`.errors`) and progress
(:mod:`.progress`). The library never imports this package.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sinch-calling`` with ``argv`` (default: the process's); return the exit code.

    Run as the command (``argv`` None), a Ctrl-C after the command finished is ignored:
    the interpreter's shutdown would otherwise die of it (exit status -2, no message)
    instead of exiting with the command's code."""
    try:
        try:
            from .app import run
        except ImportError as exc:  # the cli extra is not installed
            if (exc.name or "").split(".")[0] not in ("rich", "rich_argparse"):
                raise
            print("sinch-calling: error: the command needs the cli extra: "
                  "pip install 'sinch_calling[cli]'", file=sys.stderr)
            return 2
        code = run(argv, exiting=argv is None)
    except KeyboardInterrupt:  # before the command started: nothing was done
        print("sinch-calling: error: interrupted before anything was sent", file=sys.stderr)
        code = 130
    if argv is None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code
