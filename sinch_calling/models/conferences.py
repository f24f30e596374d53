"""Conference state, as ``conferences.get`` reports it."""

from __future__ import annotations

import attrs

from ._names import Id

__all__ = ["Conference", "Participant"]


@attrs.frozen(kw_only=True)
class Participant:
    """One call leg in a conference. ``id`` is that leg's call id."""

    id: Id
    cli: str | None = None
    duration: int | None = None
    muted: bool | None = None
    onhold: bool | None = None

    @property
    def call_id(self) -> str:
        """The participant's call id (the wire calls it ``id``)."""
        return self.id


@attrs.frozen(kw_only=True)
class Conference:
    """A conference's participants."""

    participants: tuple[Participant, ...] = ()
