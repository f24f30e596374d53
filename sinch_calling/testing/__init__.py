"""Test support: :class:`Emulator`, a local Sinch Calling API server.

    async with Emulator() as emu, SinchCalling(emu.application_key,
                                               emu.application_secret,
                                               base_url=emu.url) as sinch:
        ...

See :mod:`.outcomes` (how callees respond), :mod:`.faults` (scripted failures) and
:mod:`.clock` (driving emulated time from tests).
"""

from .emulator import DEFAULT_KEY, DEFAULT_SECRET, Emulator
from .faults import Fault, Faults
from .journal import RecordedRequest, SentEvent
from .lifecycle import CallProgress
from .outcomes import Mix, Outcome, Outcomes

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_SECRET",
    "CallProgress",
    "Emulator",
    "Fault",
    "Faults",
    "Mix",
    "Outcome",
    "Outcomes",
    "RecordedRequest",
    "SentEvent",
]
