"""Emulated time, and the background tasks that follow it.

Calls ring, talk and hang up on a schedule; callbacks go out as tasks. Tests drive all
of it without sleeping:

* ``await emu.settle()`` returns once every task has done all it can without time
  passing (callbacks delivered, SVAML applied, zero-length steps taken);
* ``await emu.advance(seconds)`` moves emulated time forward, running every step that
  falls due on the way, in order, settling after each; ``await emu.advance()`` runs
  until nothing is scheduled any more.

With ``realtime=True`` (the default) scheduled steps also fire on their own as wall
time passes; with ``realtime=False`` time is frozen (at the moment the clock was made)
and moves only through :meth:`Clock.advance`.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import ValidationError

__all__ = ["MAX_ERRORS", "Clock", "Timer"]

_log = logging.getLogger("sinch_calling.testing")


class Timer:
    """A scheduled step; :meth:`cancel` it to skip it."""

    __slots__ = ("_callback", "_clock", "_handle", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[[], None],
                 clock: Clock | None = None) -> None:
        self.due = due
        self._callback = callback
        self._clock = clock
        self._handle: asyncio.TimerHandle | None = None
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run this step."""
        if self.cancelled:
            return
        self.cancelled = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._clock is not None:
            self._clock._retired()

    def _fire(self) -> None:
        if self.cancelled:
            return
        self.cancel()
        self._callback()


_COMPACT_AFTER = 64  # dead heap entries tolerated before the heap is rebuilt
MAX_ERRORS = 100
"""Errors a clock keeps until they are raised (the first ones; later ones are only
logged), so a step failing on every call cannot grow memory without bound."""


class Clock:
    """Emulated time and tracked tasks.

    Realtime, emulated time is wall time plus whatever :meth:`advance` added; otherwise
    it is the moment the clock was made plus whatever :meth:`advance` added. After
    :meth:`close`, :meth:`spawn` and :meth:`schedule` do nothing (until :meth:`open`).
    """

    def __init__(self, *, realtime: bool = True) -> None:
        self.realtime = realtime
        self.offset = 0.0
        self.closed = False
        self._base_monotonic = time.monotonic()
        self._base_wall = datetime.now(UTC)
        self._timers: list[tuple[float, int, Timer]] = []
        self._dead = 0  # cancelled or fired timers still in the heap
        self._sequence = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._active = 0
        self._quiet: asyncio.Event | None = None
        self.errors: list[BaseException] = []

    # -- time -------------------------------------------------------------------------

    def monotonic(self) -> float:
        """Emulated monotonic seconds."""
        base = time.monotonic() if self.realtime else self._base_monotonic
        return base + self.offset

    def utcnow(self) -> datetime:
        """Emulated wall-clock time (aware, UTC)."""
        if self.realtime:
            return datetime.now(UTC) + timedelta(seconds=self.offset)
        return self._base_wall + timedelta(seconds=self.offset)

    def schedule(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` (synchronous) after ``delay`` emulated seconds (never, once
        the clock is closed: the timer comes back cancelled)."""
        timer = Timer(self.monotonic() + max(delay, 0.0), callback, self)
        if self.closed:
            timer.cancelled = True
            return timer
        self._sequence += 1
        heapq.heappush(self._timers, (timer.due, self._sequence, timer))
        if self.realtime:
            timer._handle = asyncio.get_running_loop().call_later(max(delay, 0.0), self._ring,
                                                                  timer)
        return timer

    def _ring(self, timer: Timer) -> None:
        try:
            timer._fire()
        except Exception as exc:  # a bug in a step must not kill the loop's timer
            self._record(exc)

    def _retired(self) -> None:
        """A timer in the heap was cancelled or fired: rebuild the heap once dead entries
        outnumber live ones (realtime timers fire without leaving it otherwise)."""
        self._dead += 1
        if self._dead > _COMPACT_AFTER and self._dead * 2 > len(self._timers):
            self._timers = [entry for entry in self._timers if not entry[2].cancelled]
            heapq.heapify(self._timers)
            self._dead = 0

    def _pop(self) -> Timer:
        timer = heapq.heappop(self._timers)[2]
        if timer.cancelled:
            self._dead -= 1
        else:
            timer._clock = None  # out of the heap: firing it retires nothing
        return timer

    @property
    def next_due(self) -> float | None:
        """When the next scheduled step falls due (emulated monotonic), if any."""
        while self._timers and self._timers[0][2].cancelled:
            self._pop()
        return self._timers[0][0] if self._timers else None

    async def advance(self, seconds: float | None = None) -> None:
        """Move time forward by ``seconds`` (``None``: until nothing is scheduled)."""
        if seconds is not None and (isinstance(seconds, bool)
                                    or not isinstance(seconds, int | float)
                                    or not math.isfinite(seconds) or seconds < 0):
            raise ValidationError("seconds", "must be finite seconds, zero or more, or None "
                                             f"(until nothing is scheduled); got {seconds!r}")
        await self.settle()
        start = self.monotonic()
        target = None if seconds is None else start + seconds
        while True:
            due = self.next_due
            if due is None or (target is not None and due > target):
                break
            if due > self.monotonic():
                self.offset += due - self.monotonic()
            while self._timers and self._timers[0][0] <= due:
                self._ring(self._pop())
            await self.settle()
        if target is not None and target > self.monotonic():
            self.offset += target - self.monotonic()

    # -- tasks --------------------------------------------------------------------------

    def spawn(self, coroutine: Coroutine[Any, Any, None],
              name: str) -> asyncio.Task[None] | None:
        """Run ``coroutine`` as a tracked task (awaited by :meth:`settle`, cancelled by
        :meth:`close`); ``None``, without running it, once the clock is closed."""
        if self.closed:
            coroutine.close()
            return None
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        self._set_active(+1)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._set_active(-1)
        if not task.cancelled() and task.exception() is not None:
            self._record(task.exception())  # type: ignore[arg-type]

    def _record(self, exc: BaseException) -> None:
        _log.error("emulator background step failed", exc_info=exc)
        self.add_error(exc)

    def add_error(self, exc: BaseException) -> None:
        """Keep ``exc`` (already logged by whoever caught it) for the next :meth:`settle`
        to raise; beyond :data:`MAX_ERRORS` unraised ones it is dropped."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(exc)

    def future(self) -> asyncio.Future[None]:
        """A future for a tracked task to :meth:`park` on until someone :meth:`wake` s it."""
        return asyncio.get_running_loop().create_future()

    async def park(self, future: asyncio.Future[None]) -> None:
        """Wait for ``future`` without counting as busy (so :meth:`settle` can return)."""
        if future.done():
            return
        self._set_active(-1)
        try:
            await future
        finally:
            if future.cancelled():  # not woken: count ourselves busy again
                self._set_active(+1)

    def wake(self, future: asyncio.Future[None] | None) -> None:
        """Resolve a parked ``future``; its task counts as busy from now on."""
        if future is not None and not future.done():
            self._set_active(+1)
            future.set_result(None)

    def _set_active(self, delta: int) -> None:
        self._active += delta
        if self._quiet is not None:
            if self._active <= 0:
                self._quiet.set()
            else:
                self._quiet.clear()

    async def settle(self) -> None:
        """Wait until no tracked task can make progress without time passing.

        Raises the first error a background step hit since the last call, so a bug in the
        emulator fails the test that exposed it.
        """
        if self._quiet is None:
            self._quiet = asyncio.Event()
        while self._active > 0:
            self._quiet.clear()
            await self._quiet.wait()
        # let tasks that just finished run their done callbacks
        await asyncio.sleep(0)
        if self.errors:
            first, self.errors = self.errors[0], []
            raise first

    def open(self) -> None:
        """Accept tasks and timers again after :meth:`close`."""
        self.closed = False

    async def close(self) -> None:
        """Cancel every tracked task and timer, wait for the tasks to end, and refuse new
        ones (:meth:`spawn` and :meth:`schedule` become no-ops)."""
        self.closed = True
        timers, self._timers, self._dead = self._timers, [], 0
        for _, _, timer in timers:
            timer._clock = None
            timer.cancel()
        while self._tasks:  # a cancelled task's cleanup cannot spawn more: the clock is closed
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._active = 0
