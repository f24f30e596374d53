"""Stored recordings, as ``recordings.list`` reports them."""

from __future__ import annotations

from datetime import datetime

import attrs

from ._names import Id

__all__ = ["Recording"]


@attrs.frozen(kw_only=True)
class Recording:
    """A file in Sinch's storage. ``key`` identifies it for download and delete."""

    key: Id
    url: str | None = None
    created_on: datetime | None = None
    expires_on: datetime | None = None
    headers: dict[str, str] | None = None
