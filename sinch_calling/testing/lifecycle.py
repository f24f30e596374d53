"""How emulated calls progress: answer, SVAML, hang-up (and, later, callbacks).

Route handlers call exactly these three methods; everything about timing and
callbacks lives here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..models import CallReason, CallResult
from .traffic_state import EmulatedCall, ParticipantState

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["CallLifecycle"]


class CallLifecycle:
    """Default behaviour: a callout is answered at once (synchronously, inside
    :meth:`started`), a conference callout joins its conference at once, and the call
    stays ONGOING until it is hung up."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def started(self, call: EmulatedCall) -> None:
        """A callout created ``call`` (already stored in ``emulator.traffic.calls``)."""
        from datetime import UTC, datetime

        call.answered_at = datetime.now(UTC)
        if call.conference_id is not None:
            conferences = self._emulator.traffic.conferences
            from .traffic_state import ConferenceState

            room = conferences.setdefault(call.conference_id,
                                          ConferenceState(conference_id=call.conference_id))
            room.participants[call.call_id] = ParticipantState(
                call_id=call.call_id, cli=call.cli or ""
            )

    def apply(self, call: EmulatedCall, document: dict[str, Any]) -> None:
        """A SVAML document arrived for ``call`` (``PATCH /calls/id/{callId}``)."""
        call.svaml.append(document)
        action = document.get("action") or {}
        if isinstance(action, dict) and action.get("name") == "hangup":
            self.hangup(call, CallReason.MANAGERHANGUP)

    def hangup(self, call: EmulatedCall, reason: CallReason) -> None:
        """End ``call`` now (manage hang-up, conference kick)."""
        for room in self._emulator.traffic.conferences.values():
            room.participants.pop(call.call_id, None)
        result = CallResult.ANSWERED if call.answered_at else CallResult.NA
        call.finish(result, reason)
