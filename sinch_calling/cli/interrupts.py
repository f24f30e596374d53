"""How the campaign command answers Ctrl-C (SIGINT) and SIGTERM, from its start to its end.

One handler for both signals, installed on the event loop for the command's coroutine
(Python's own SIGINT handler would raise ``KeyboardInterrupt`` wherever the code is, and
SIGTERM's default would kill the process with calls in flight). What a signal does
depends on where the command is:

* while the campaign runs (:meth:`Interrupts.campaign`): the first signal stops it
  gracefully (no new call, calls in flight waited for and recorded), the second aborts
  (what is still in flight is recorded as uncertain, for a few seconds at most);
* before and after it (setup, summary, ``--out``): the command is cancelled, and its
  last line says what was done;
* once the command was made to end (cancelled, or its campaign aborted) and has not
  ended after a while (:data:`PATIENCE`; a write to a pipe nobody reads, say): a signal
  prints the last line and exits the process at once. Signals in between (a flood)
  change nothing.

After the coroutine, while asyncio shuts down (its threads included), a signal of a
process that ends with the command (``ctx.exiting``) prints the last line and exits at
once too: nothing is left to record, and nothing must keep the process alive.

The exit code is 130 when Ctrl-C came first, 143 for SIGTERM (128 + the signal).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable
from types import FrameType, TracebackType
from typing import TypeVar

from .context import Context

__all__ = ["PATIENCE", "Interrupts"]

_T = TypeVar("_T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)

PATIENCE = {"abort": 10.0, "cancel": 1.0}
"""Seconds after the command was made to end before a further signal exits at once: an
aborted campaign still records what it can (its ledger writes and releases are bounded
at 5 s each); a cancelled command has nothing left that must finish."""


class Interrupts:
    """The signal policy above, as a context manager around the command's coroutine
    (entered in the running loop, on the main thread)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._loop = asyncio.get_running_loop()
        self._command = asyncio.current_task()
        self._campaign: asyncio.Future[object] | None = None
        self._signals = 0
        self._ending: float | None = None  # loop time the command was made to end
        self._patience = PATIENCE["cancel"]

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
        # closed wake-up pipe). A process that ends with the command exits at the next
        # signal: asyncio's shutdown may still wait for a thread (a blocked open or
        # write) that nothing else would end.
        for signum in _SIGNALS:
            self._loop.remove_signal_handler(signum)
            if self._ctx.exiting:
                signal.signal(signum, self._during_shutdown)

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
        if self._ending is not None:  # made to end already
            if now - self._ending >= self._patience:
                self._exit_now()
            return
        campaign = self._campaign
        if campaign is not None and not campaign.done():
            if self._signals == 1:
                self._ctx.out.errors.print(
                    f"stopping ({what}): no new calls; waiting for the calls in flight "
                    f"({what} again to abort)", markup=False)
            else:
                self._ending, self._patience = now, PATIENCE["abort"]
            campaign.cancel()
            return
        if self._command is not None and not self._command.done():
            self._ending, self._patience = now, PATIENCE["cancel"]
            self._command.cancel()

    def _during_shutdown(self, signum: int, frame: FrameType | None) -> None:
        if self._signals == 0:
            self._ctx.interrupted_code = 128 + signum
        self._exit_now()

    def _exit_now(self) -> None:
        """Say why the command ends, and end the process."""
        try:
            self._ctx.out.error(self._ctx.interrupted or "interrupted")
            sys.stderr.flush()
        finally:
            os._exit(self._ctx.interrupted_code)
