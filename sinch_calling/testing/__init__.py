"""Test support: :class:`Emulator`, a local Sinch Calling API server."""

from .emulator import DEFAULT_KEY, DEFAULT_SECRET, Emulator
from .faults import Fault, Faults
from .journal import RecordedRequest

__all__ = ["DEFAULT_KEY", "DEFAULT_SECRET", "Emulator", "Fault", "Faults", "RecordedRequest"]
