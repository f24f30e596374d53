"""The emulator's traffic state: calls and conferences (pure data, no I/O).

Route handlers (``routes/traffic.py``) read these; the life cycle (``lifecycle.py``)
admits calls, moves them from ONGOING to FINAL and sends callbacks.

Memory stays bounded in long runs: a call keeps only what its REST view and its life
cycle need (never the callout request itself; the request journal has that), at most
``max_live`` calls are ONGOING at once and at most ``max_finished`` FINAL calls are
remembered (see :class:`TrafficState`).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from ...models import CallReason, CallResult, CallStatus, Destination
from ..journal import Recent

__all__ = ["MAX_SVAML_PER_CALL", "ConferenceState", "EmulatedCall", "ParticipantState",
           "TrafficState"]

MAX_SVAML_PER_CALL = 100
"""SVAML documents a call remembers (the newest; a backend or client may send a live call
any number of them)."""


def _svaml_journal() -> Recent[dict[str, Any]]:
    return Recent(MAX_SVAML_PER_CALL)


def _now() -> datetime:
    return datetime.now(UTC)


def _clock_now(call: EmulatedCall) -> datetime:
    return call.clock()


@attrs.define(kw_only=True)
class EmulatedCall:
    """One call leg as the emulator tracks it.

    ``clock`` tells the time (the emulator gives its emulated clock, so durations follow
    :meth:`~sinch_calling.testing.Emulator.advance`); ``started_at`` defaults to its now.
    """

    call_id: str
    application_key: str
    method: str  # ttsCallout, conferenceCallout, customCallout, or "incoming"
    to: Destination
    cli: str | None = None
    domain: str = "pstn"
    custom: str | None = None
    conference_id: str | None = None
    status: CallStatus = CallStatus.ONGOING
    result: CallResult = CallResult.NA
    reason: CallReason = CallReason.NA
    clock: Callable[[], datetime] = attrs.field(default=_now, repr=False, eq=False)
    started_at: datetime = attrs.Factory(_clock_now, takes_self=True)
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    svaml: Recent[dict[str, Any]] = attrs.Factory(_svaml_journal)
    """The SVAML documents applied, in order (the newest :data:`MAX_SVAML_PER_CALL`)."""

    @property
    def duration(self) -> int:
        """Whole seconds between answer and end (or now, by :attr:`clock`)."""
        return self.duration_at(self.clock())

    def duration_at(self, now: datetime) -> int:
        """Whole seconds between answer and end (or ``now``, while the call lasts)."""
        if self.answered_at is None:
            return 0
        end = self.ended_at or now
        return max(0, int((end - self.answered_at).total_seconds()))

    def finish(self, result: CallResult, reason: CallReason) -> None:
        """Mark the call FINAL, ended now by :attr:`clock` (no-op if it already is)."""
        if self.status is CallStatus.FINAL:
            return
        self.status = CallStatus.FINAL
        self.result = result
        self.reason = reason
        self.ended_at = self.clock()


@attrs.define(kw_only=True)
class ParticipantState:
    """A call leg inside a conference."""

    call_id: str
    cli: str
    joined_at: datetime = attrs.Factory(_now)
    muted: bool = False
    onhold: bool = False
    moh: str | None = None

    def duration_at(self, now: datetime) -> int:
        """Whole seconds in the conference as of ``now``."""
        return max(0, int((now - self.joined_at).total_seconds()))


@attrs.define(kw_only=True)
class ConferenceState:
    """A conference room and who is in it."""

    conference_id: str
    participants: dict[str, ParticipantState] = attrs.Factory(dict)


@attrs.define(kw_only=True)
class TrafficState:
    """All calls and conferences the emulator knows, and the bounds that keep them finite.

    ``max_live``: how many calls may be ONGOING at once (``None``: no bound). Sinch ends
    every call at its ``maxDuration`` at the latest; the emulator, whose default callee
    never hangs up, instead ends the oldest ongoing call when a new one would pass the
    bound (see :meth:`CallLifecycle.admit
    <sinch_calling.testing.lifecycle.CallLifecycle.admit>`).
    ``max_finished``: how many FINAL calls to remember (``None``: all); older ones are
    forgotten, oldest first, by :meth:`retire`.
    """

    calls: dict[str, EmulatedCall] = attrs.Factory(dict)
    conferences: dict[str, ConferenceState] = attrs.Factory(dict)
    max_live: int | None = None
    max_finished: int | None = None
    # Oldest first; an OrderedDict so that finding the oldest stays O(1) however many
    # calls ended before it (a dict would scan the holes they leave).
    _live: OrderedDict[str, None] = attrs.field(factory=OrderedDict, init=False, repr=False)
    _finished: deque[str] = attrs.field(factory=deque, init=False, repr=False)

    def add(self, call: EmulatedCall) -> None:
        """Store a new ``call`` (ONGOING: it counts towards ``max_live``)."""
        self.calls[call.call_id] = call
        if call.status is CallStatus.ONGOING:
            self._live[call.call_id] = None

    @property
    def live(self) -> int:
        """How many calls are ONGOING."""
        return len(self._live)

    def over_live_bound(self) -> EmulatedCall | None:
        """The oldest ongoing call when one more would pass ``max_live``; else ``None``."""
        if self.max_live is None or len(self._live) < self.max_live:
            return None
        return self.calls.get(next(iter(self._live)))

    def leave(self, call: EmulatedCall, *, keep: str | None = None) -> None:
        """Take ``call`` out of its conference unless that is ``keep``; an empty room goes."""
        room_id = call.conference_id
        room = self.conferences.get(room_id) if room_id is not None else None
        if room is None or room_id == keep:
            return
        if room.participants.pop(call.call_id, None) is not None and not room.participants:
            del self.conferences[room.conference_id]

    def retire(self, call_id: str) -> list[str]:
        """``call_id`` has ended: the ids of the calls forgotten to stay within
        ``max_finished`` (oldest first)."""
        self._live.pop(call_id, None)
        if self.max_finished is None:
            return []
        self._finished.append(call_id)
        forgotten = []
        while len(self._finished) > self.max_finished:
            old = self._finished.popleft()
            self.calls.pop(old, None)
            forgotten.append(old)
        return forgotten
