"""The emulator's state, in one object: what the API reads and writes (account, traffic,
recordings), what the tests script (outcomes, faults) and what it saw (journals).

Pure data and bookkeeping, no I/O: the server (``server.py``), the routes (``routes/``)
and the call life cycle (``lifecycle.py``) are each handed the parts they work on.
"""

from __future__ import annotations

import attrs

from ..faults import Faults
from ..journal import Journal, RecordedRequest, SentEvent
from ..outcomes import Outcomes
from .configuration import Application, ConfigurationState, OwnedNumber
from .recordings import RecordingStore, StoredRecording
from .traffic import ConferenceState, EmulatedCall, ParticipantState, TrafficState

__all__ = [
    "Application",
    "ConferenceState",
    "ConfigurationState",
    "EmulatedCall",
    "EmulatorState",
    "OwnedNumber",
    "ParticipantState",
    "RecordingStore",
    "StoredRecording",
    "TrafficState",
]


@attrs.define(kw_only=True, eq=False)
class EmulatorState:
    """Everything one emulator holds.

    ``configuration``: applications, numbers, callback URLs, the accepted clock skew;
    ``traffic``: calls and conferences (with the live and finished bounds);
    ``recordings``: stored recordings; ``outcomes``: what callees do; ``faults``:
    scripted failures; ``requests`` / ``events``: the journals of requests received
    and callbacks sent (the newest ``maxlen`` of each).
    """

    configuration: ConfigurationState
    traffic: TrafficState
    recordings: RecordingStore
    outcomes: Outcomes
    faults: Faults
    requests: Journal[RecordedRequest]
    events: Journal[SentEvent]
