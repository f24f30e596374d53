"""Per-request values the emulator's middleware hands its routes (``request[KEY]``).

Only facts about one request live here; the emulator's state reaches a route through
the route's constructor, never through the request or the application.
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["APPLICATION_KEY", "CUT_AFTER", "DROPPED", "DROP_ON_PREPARE"]

APPLICATION_KEY = web.RequestKey("sinch_calling.application_key", str)
"""The application key the request was authenticated with."""
CUT_AFTER = web.RequestKey("sinch_calling.cut_after", int)
"""Set by a ``cut_after`` fault: close the connection after this many body bytes."""
DROP_ON_PREPARE = web.RequestKey("sinch_calling.drop_on_prepare", bool)
"""Set by a ``disconnect="after"`` fault while the route runs: a response the route
prepares itself (a streamed download) is stopped before its head goes out."""
DROPPED = web.RequestKey("sinch_calling.dropped", str)
"""Set when a fault closed the connection instead of (or in the middle of) answering:
why, in words (reported to the observers)."""
