"""Exact call pacing: at most ``count`` starts in any window of ``period`` seconds.

A leaky bucket (``aiolimiter``) is not enough: it starts full, so ``rate=50`` lets 50
calls go at once and 50 more as it drains within the same second (the issue measured 62
in the first 250 ms). This is a sliding window over reservation times: the k-th start is
at least ``period`` after the (k-count)-th, and starts never go backwards, so no window
of ``period`` seconds ever holds more than ``count``. The campaign runner uses it with
a window of one start per :func:`spacing_for_rate` seconds: evenly spaced starts, never
``count`` at once (a burst's requests leave the machine over longer than the margin on
a slow one). Pure: the caller supplies the clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from ..errors import ValidationError

__all__ = ["SlidingWindow", "most_in_window", "spacing_for_rate", "window_for_rate"]


def window_for_rate(rate: float, margin: float) -> tuple[int, float]:
    """``(count, period)`` for "at most ``rate`` calls in any one-second window".

    ``rate >= 1``: ``floor(rate)`` starts per second (a fraction of a call cannot start);
    below 1/s: one start per ``1/rate`` seconds. ``margin`` (seconds) widens the window
    to absorb the jitter between reserving a start and the request reaching Sinch.
    """
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0 \
            or not math.isfinite(rate):
        raise ValidationError("rate", "must be a positive number of calls per second")
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin < 1:
        raise ValidationError("pacing_margin", "must be seconds in [0, 1)")
    if rate >= 1:
        return int(rate), 1.0 + margin
    return 1, 1.0 / rate + margin


def spacing_for_rate(rate: float, margin: float) -> float:
    """Seconds between two evenly spaced starts for "at most ``rate`` calls in any
    one-second window" (a :class:`SlidingWindow` of one start per spacing): the
    ``period`` of :func:`window_for_rate` over its ``count``, plus a microsecond so that
    the float rounding of reservation times (about 1e-7 s on an epoch clock) never puts
    ``count + 1`` starts within ``period``. Raises ``ValidationError`` like
    :func:`window_for_rate`."""
    count, period = window_for_rate(rate, margin)
    return period / count + 1e-6


class SlidingWindow:
    """Reservations for one account: :meth:`reserve` returns when to start.

    ``count``/``period`` may change between calls (two campaigns on one account with
    different rates share one window: each call applies its own bound).
    """

    def __init__(self) -> None:
        self._starts: deque[float] = deque()
        self._paused_until = -math.inf
        self._keep = 1

    def reserve(self, now: float, count: int, period: float) -> float:
        """Reserve one start at the earliest allowed time ``>= now``; return that time."""
        at = max(now, self._paused_until, self._starts[-1] if self._starts else -math.inf)
        if len(self._starts) >= count:
            at = max(at, self._starts[-count] + period)
        self._starts.append(at)
        # Only the last ``count`` starts matter; keep as many as the largest count seen.
        self._keep = max(self._keep, count)
        while len(self._starts) > self._keep:
            self._starts.popleft()
        return at

    def pause(self, until: float) -> None:
        """No start before ``until`` (never shortens a pause)."""
        self._paused_until = max(self._paused_until, until)


def most_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most of ``times`` (seconds, any order) within any ``window`` seconds: any
    interval ``(t - window, t]``. What pacing promises to keep at or under ``rate`` for
    a one-second window, checkable from any record of start or arrival times (a server
    log, the emulator's journal)."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - window:
            first += 1
        best = max(best, last - first + 1)
    return best
