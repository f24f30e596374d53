"""How the campaign command answers Ctrl-C (SIGINT) and SIGTERM, from its start to its end.

One handler for both signals, installed on the event loop for the command's whole life
(Python's own SIGINT handler would raise ``KeyboardInterrupt`` wherever the code is, and
SIGTERM's default would kill the process with calls in flight). What a signal does
depends on where the command is:

* while the campaign runs (:meth:`Interrupts.campaign`): the first signal stops it
  gracefully (no new call, calls in flight waited for and recorded), the second aborts;
* before and after it (setup, summary, ``--out``): the command is cancelled, and its
  last line says what was done;
* once the command was made to end and still has not, a second later (a write to a
  pipe nobody reads, say): a signal prints the last line and exits the process at once
  (signals in between, a flood, change nothing).

The exit code is 130 when Ctrl-C came first, 143 for SIGTERM (128 + the signal).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable
from types import TracebackType
from typing import TypeVar

from .context import Context

__all__ = ["Interrupts", "lost_line"]

_T = TypeVar("_T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STUCK = 1.0
"""Seconds after the command was made to end (cancelled, or its campaign aborted) from
which a further signal means it is stuck: the process then exits at once."""


class Interrupts:
    """The signal policy above, as a context manager around the command's coroutine
    (entered in the running loop, on the main thread). ``exiting``: the process ends
    with the command, so on leaving both signals are ignored (a late one must not turn
    the exit code into death by signal while the interpreter shuts down)."""

    def __init__(self, ctx: Context, *, exiting: bool) -> None:
        self._ctx = ctx
        self._exiting = exiting
        self._loop = asyncio.get_running_loop()
        self._command = asyncio.current_task()
        self._campaign: asyncio.Future[object] | None = None
        self._signals = 0
        self._ending: float | None = None  # loop time the command was made to end

    @property
    def signals(self) -> int:
        """Signals received so far."""
        return self._signals

    def __enter__(self) -> Interrupts:
        for signum in _SIGNALS:
            self._loop.add_signal_handler(signum, self._on_signal, signum)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        # Removed while the loop runs (a handler left for loop.close() would meet its
        # closed wake-up pipe), then ignored at once when the process is ending.
        for signum in _SIGNALS:
            self._loop.remove_signal_handler(signum)
            if self._exiting:
                signal.signal(signum, signal.SIG_IGN)

    async def campaign(self, run: Awaitable[_T]) -> _T:
        """Run the campaign under the graceful-stop policy; its result."""
        task = asyncio.ensure_future(run)
        self._campaign = task  # type: ignore[assignment]
        try:
            return await task
        finally:
            self._campaign = None

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        what = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        if self._signals == 1:
            self._ctx.interrupted_code = 128 + signum
        now = self._loop.time()
        campaign = self._campaign
        if campaign is not None and not campaign.done():
            if self._signals == 1:
                self._ctx.out.errors.print(
                    f"stopping ({what}): no new calls; waiting for the calls in flight "
                    f"({what} again to abort)", markup=False)
            elif self._ending is None:
                self._ending = now  # aborted: the command ends once it is recorded
            campaign.cancel()  # the runner bounds how long an abort still records
            return
        if self._ending is None:
            if self._command is not None and not self._command.done():
                self._ending = now
                self._command.cancel()
            return
        if now - self._ending >= _STUCK:  # a flood within _STUCK of it changes nothing
            self._exit_now()

    def _exit_now(self) -> None:
        """The command was cancelled and is still stuck: say why, and end."""
        line = self._ctx.interrupted or "interrupted"
        try:
            self._ctx.out.error(line)
            sys.stderr.flush()
        finally:
            os._exit(self._ctx.interrupted_code)


def lost_line(ledger: str, lost: int, command_line: str) -> str:
    """The last line of an aborted campaign: how many calls in flight are uncertain."""
    if not lost:
        return (f"aborted; no call was in flight: {ledger} holds every answer received; "
                f"resume with: {command_line}")
    return (f"aborted; {lost} {'call' if lost == 1 else 'calls'} in flight "
            f"{'is' if lost == 1 else 'are'} recorded as uncertain in {ledger} (settle "
            f"with: sinch-calling campaign resolve --ledger {ledger} ROW); resume with: "
            f"{command_line}")
