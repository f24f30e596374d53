"""Test support: :class:`Emulator`, a local Sinch Calling API server.

    async with Emulator() as emu, SinchCalling(emu.application_key,
                                               emu.application_secret,
                                               base_url=emu.url) as sinch:
        ...

See :mod:`.outcomes` (how callees respond), :mod:`.faults` (scripted failures),
:mod:`.clock` (driving emulated time from tests) and :mod:`.observe` (watching every
request and callback). In a pytest suite, the ``sinch_emulator`` and ``sinch_client``
fixtures (installed with the package) do the setting up.
"""

from .emulator import (
    DEFAULT_KEY,
    DEFAULT_MAX_JOURNAL,
    DEFAULT_MAX_LIVE_CALLS,
    DEFAULT_SECRET,
    Emulator,
)
from .faults import Fault, Faults
from .journal import RecordedRequest, SentEvent
from .lifecycle import CallProgress
from .observe import Exchange, Observers
from .outcomes import Mix, Outcome, Outcomes
from .state import EmulatorState
from .state.recordings import pattern_bytes, pattern_sha256

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_MAX_JOURNAL",
    "DEFAULT_MAX_LIVE_CALLS",
    "DEFAULT_SECRET",
    "CallProgress",
    "Emulator",
    "EmulatorState",
    "Exchange",
    "Fault",
    "Faults",
    "Mix",
    "Observers",
    "Outcome",
    "Outcomes",
    "RecordedRequest",
    "SentEvent",
    "pattern_bytes",
    "pattern_sha256",
]
