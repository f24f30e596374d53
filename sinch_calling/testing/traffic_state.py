"""The emulator's traffic state: calls and conferences (pure data, no I/O).

Route handlers (``routes/traffic.py``) create and read these; the life cycle
(``lifecycle.py``) moves calls from ONGOING to FINAL and sends callbacks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from ..models import CallReason, CallResult, CallStatus, Destination

__all__ = ["ConferenceState", "EmulatedCall", "ParticipantState", "TrafficState"]


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
    request: dict[str, Any] = attrs.Factory(dict)  # the callout body, as received
    conference_id: str | None = None
    status: CallStatus = CallStatus.ONGOING
    result: CallResult = CallResult.NA
    reason: CallReason = CallReason.NA
    clock: Callable[[], datetime] = attrs.field(default=_now, repr=False, eq=False)
    started_at: datetime = attrs.Factory(_clock_now, takes_self=True)
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    svaml: list[dict[str, Any]] = attrs.Factory(list)  # every SVAML document applied, in order

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
    """All calls and conferences the emulator knows.

    ``max_finished``: how many FINAL calls to remember (``None``: all); older ones are
    forgotten, oldest first, by :meth:`retire`.
    """

    calls: dict[str, EmulatedCall] = attrs.Factory(dict)
    conferences: dict[str, ConferenceState] = attrs.Factory(dict)
    max_finished: int | None = None
    _finished: deque[str] = attrs.field(factory=deque, init=False, repr=False)

    def leave(self, call_id: str, *, keep: str | None = None) -> None:
        """Take ``call_id`` out of every conference but ``keep``; empty rooms go."""
        for room_id, room in list(self.conferences.items()):
            if room_id != keep and room.participants.pop(call_id, None) is not None \
                    and not room.participants:
                del self.conferences[room_id]

    def retire(self, call_id: str) -> list[str]:
        """``call_id`` has ended: the ids of the calls forgotten to stay within
        ``max_finished`` (oldest first)."""
        if self.max_finished is None:
            return []
        self._finished.append(call_id)
        forgotten = []
        while len(self._finished) > self.max_finished:
            old = self._finished.popleft()
            self.calls.pop(old, None)
            forgotten.append(old)
        return forgotten
