"""``sinch.conferences``: inspect conferences and control participants."""

from __future__ import annotations

from yarl import URL

from ..models import Conference
from ..models.callouts import MusicOnHold
from ..models.commands import ParticipantCommand, ParticipantCommandName
from ..regions import encode_segment
from ..serialization import dumps
from ..transport import Transport, decode
from ..validation import identifier, one_of

__all__ = ["ConferencesApi"]


class ConferencesApi:
    """Conferences (traffic host): ``get``, ``mute``, ``unmute``, ``hold``, ``resume``,
    ``kick``, ``kick_all``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _url(self, conference_id: str) -> URL:
        return self._transport.traffic_url(
            "conferences", "id", _segment("conference_id", conference_id))

    def _participant_url(self, conference_id: str, call_id: str) -> URL:
        return self._transport.traffic_url(
            "conferences", "id", _segment("conference_id", conference_id),
            _segment("call_id", call_id))

    async def _command(self, conference_id: str, call_id: str,
                       command: ParticipantCommand) -> None:
        url = self._participant_url(conference_id, call_id)
        # Each command sets a state (muted, held), so repeating it is harmless.
        await self._transport.request("PATCH", url, body=dumps(command), idempotent=True)

    async def get(self, conference_id: str) -> Conference:
        """Who is in a conference: each participant's call id, cli, duration, mute and hold
        state."""
        return decode(await self._transport.request("GET", self._url(conference_id)), Conference)

    async def mute(self, conference_id: str, call_id: str) -> None:
        """Mute a participant (``call_id``: the participant's call)."""
        await self._command(conference_id, call_id,
                            ParticipantCommand(command=ParticipantCommandName.MUTE))

    async def unmute(self, conference_id: str, call_id: str) -> None:
        """Unmute a participant."""
        await self._command(conference_id, call_id,
                            ParticipantCommand(command=ParticipantCommandName.UNMUTE))

    async def hold(self, conference_id: str, call_id: str, *,
                   moh: MusicOnHold | str | None = None) -> None:
        """Put a participant on hold; ``moh`` (ring, music1, music2, music3) is what they
        hear meanwhile."""
        music = None if moh is None else one_of("moh", moh, MusicOnHold)
        await self._command(conference_id, call_id,
                            ParticipantCommand(command=ParticipantCommandName.ONHOLD, moh=music))

    async def resume(self, conference_id: str, call_id: str) -> None:
        """Take a participant off hold."""
        await self._command(conference_id, call_id,
                            ParticipantCommand(command=ParticipantCommandName.RESUME))

    async def kick(self, conference_id: str, call_id: str) -> None:
        """Remove one participant (their call is hung up)."""
        await self._transport.request("DELETE", self._participant_url(conference_id, call_id))

    async def kick_all(self, conference_id: str) -> None:
        """Remove every participant, ending the conference."""
        await self._transport.request("DELETE", self._url(conference_id))


def _segment(field: str, value: str) -> str:
    return encode_segment(identifier(field, value), field)
