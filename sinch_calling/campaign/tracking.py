"""Following placed calls until Sinch reports them FINAL, into the ledger.

:class:`Tracker` polls ``sinch.calls.get`` for each placed call: first after
``first_poll`` seconds, then at intervals growing by half up to ``max_interval``, with at
most ``concurrency`` polls in flight and at most ``rate`` polls started per second, so a
campaign of thousands of calls never turns into a poll storm. A call still not FINAL
``timeout`` seconds after it was placed is left untracked (a later run with
``track=True`` resumes it). Alternatively :func:`outcome_from_event` turns the DiCE
callback, which Sinch sends when a call ends, into the same record.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import AsyncIterator

from ..client import SinchCalling
from ..errors import NotFoundError, RateLimitedError, SinchError
from ..events import DisconnectedCallEvent
from ..models import Call, CallStatus
from .ledger import Ledger
from .pacing import SlidingWindow
from .records import FinalOutcome

__all__ = ["Tracker", "outcome_from_call", "outcome_from_event"]

logger = logging.getLogger(__name__)


def _text(value: object) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def outcome_from_call(call: Call) -> FinalOutcome | None:
    """The outcome of a ``calls.get`` answer, or ``None`` while the call is not FINAL."""
    if _text(call.status) != CallStatus.FINAL.value:
        return None
    debit = call.debit
    return FinalOutcome(result=_text(call.result), reason=_text(call.reason),
                        duration=None if call.duration is None else float(call.duration),
                        debit=None if debit is None else debit.amount,
                        currency=None if debit is None else debit.currency_id)


def outcome_from_event(event: DisconnectedCallEvent) -> FinalOutcome:
    """The outcome a DiCE callback reports."""
    debit = event.debit
    return FinalOutcome(result=_text(event.result), reason=_text(event.reason),
                        duration=None if event.duration is None else float(event.duration),
                        debit=None if debit is None else debit.amount,
                        currency=None if debit is None else debit.currency_id)


class Tracker:
    """Polls placed calls until FINAL and records their outcomes in ``ledger``.

    :meth:`add` a call as it is placed; :meth:`resume` feeds calls an earlier run placed
    without tracking them; :meth:`run` polls until :meth:`close` was called and nothing
    is left (or :meth:`stop`). Counts: ``tracked`` (outcomes recorded), ``gave_up``.
    """

    def __init__(self, sinch: SinchCalling, ledger: Ledger, *, concurrency: int = 4,
                 rate: float = 10.0, first_poll: float = 5.0, max_interval: float = 60.0,
                 timeout: float = 3600.0) -> None:
        self._sinch = sinch
        self._ledger = ledger
        self._concurrency = concurrency
        self._count = max(1, int(rate))
        self._period = 1.0 if rate >= 1 else 1.0 / rate
        self._window = SlidingWindow()
        self._first_poll = first_poll
        self._max_interval = max_interval
        self._timeout = timeout
        self._due: list[tuple[float, float, float, str]] = []  # (due, interval, deadline, id)
        self._changed = asyncio.Event()
        self._closed = False
        self._stopped = False
        self._busy = 0
        self.tracked = 0
        self.gave_up = 0

    def __len__(self) -> int:
        return len(self._due) + self._busy

    def add(self, call_id: str, *, first_poll: float | None = None) -> None:
        """Follow ``call_id`` from now on."""
        now = time.monotonic()
        wait = self._first_poll if first_poll is None else first_poll
        heapq.heappush(self._due, (now + wait, max(wait, 0.2), now + self._timeout, call_id))
        self._changed.set()

    async def resume(self, calls: AsyncIterator[tuple[str, str]], *, backlog: int = 1000
                     ) -> None:
        """Feed ``(row key, call id)`` pairs from an earlier run, keeping at most
        ``backlog`` waiting at once (memory stays flat)."""
        async for _, call_id in calls:
            while len(self._due) >= backlog and not self._stopped:
                self._changed.clear()
                await self._changed.wait()
            if self._stopped:
                return
            self.add(call_id, first_poll=0.0)

    def close(self) -> None:
        """No more calls will be added: :meth:`run` returns once the last is FINAL."""
        self._closed = True
        self._changed.set()

    def stop(self) -> None:
        """Stop polling now (what is not FINAL stays untracked in the ledger)."""
        self._stopped = True
        self._changed.set()

    async def run(self) -> None:
        """Poll until closed and done, or stopped."""
        async with asyncio.TaskGroup() as pollers:
            for _ in range(self._concurrency):
                pollers.create_task(self._poller())

    async def _poller(self) -> None:
        while not self._stopped:
            if not self._due:
                if self._closed and not self._busy:
                    self._changed.set()  # wake the other pollers to finish too
                    return
                self._changed.clear()
                await self._changed.wait()
                continue
            due, interval, deadline, call_id = self._due[0]
            now = time.monotonic()
            if due > now:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), due - now)
                continue
            heapq.heappop(self._due)
            self._busy += 1
            try:
                start = self._window.reserve(time.monotonic(), self._count, self._period)
                if start > time.monotonic():
                    await asyncio.sleep(start - time.monotonic())
                again = await self._poll(call_id)
            finally:
                self._busy -= 1
                self._changed.set()
            if again is not None and not self._stopped:
                wait = max(again, interval)
                if time.monotonic() + wait > deadline:
                    self.gave_up += 1
                    logger.warning("call %s not FINAL after %.0f s; left untracked",
                                   call_id, self._timeout)
                else:
                    heapq.heappush(self._due, (time.monotonic() + wait,
                                               min(interval * 1.5, self._max_interval),
                                               deadline, call_id))

    async def _poll(self, call_id: str) -> float | None:
        """Poll once: ``None`` when done, else the least wait before the next poll."""
        try:
            call = await self._sinch.calls.get(call_id)
        except NotFoundError:
            self.gave_up += 1
            logger.warning("call %s is unknown to Sinch (404); left untracked", call_id)
            return None
        except RateLimitedError as exc:
            return min(max(exc.retry_after or 0.0, 1.0), self._max_interval)
        except SinchError as exc:
            logger.info("polling call %s failed (%s); trying again later", call_id, exc)
            return 1.0
        outcome = outcome_from_call(call)
        if outcome is None:
            return 0.0
        await self._ledger.record_outcome(call_id, outcome)
        self.tracked += 1
        return None
