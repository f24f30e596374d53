"""Conference participant commands (``PATCH /conferences/id/{conferenceId}/{callId}``)."""

from __future__ import annotations

import attrs

from ._enum import WireEnum
from .callouts import MusicOnHold

__all__ = ["ParticipantCommand", "ParticipantCommandName"]


class ParticipantCommandName(WireEnum):
    """What to do with a conference participant."""

    MUTE = "mute"
    UNMUTE = "unmute"
    ONHOLD = "onhold"
    RESUME = "resume"


@attrs.frozen(kw_only=True)
class ParticipantCommand:
    """``{"command": "onhold", "moh": "music1"}``; ``moh`` only matters for ``onhold``."""

    command: ParticipantCommandName | str
    moh: MusicOnHold | str | None = None
