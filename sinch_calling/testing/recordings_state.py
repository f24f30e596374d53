"""The emulator's recording storage."""

from __future__ import annotations

__all__ = ["RecordingStore"]


class RecordingStore:
    """Recordings the emulator serves."""
