"""Keys under which route handlers find the emulator's parts on the aiohttp app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["APPLICATION_KEY", "CUT_AFTER", "DROP_ON_PREPARE", "EMULATOR", "emulator_of"]

EMULATOR: web.AppKey[Emulator] = web.AppKey("sinch_calling.emulator")
APPLICATION_KEY = web.RequestKey("sinch_calling.application_key", str)
"""The application key the request was authenticated with."""
CUT_AFTER = web.RequestKey("sinch_calling.cut_after", int)
"""Set by a ``cut_after`` fault: close the connection after this many body bytes."""
DROP_ON_PREPARE = web.RequestKey("sinch_calling.drop_on_prepare", bool)
"""Set by a ``disconnect="after"`` fault while the route runs: a response the route
prepares itself (a streamed download) is stopped before its head goes out."""


def emulator_of(request: web.Request) -> Emulator:
    """The :class:`~sinch_calling.testing.Emulator` serving ``request``."""
    return request.app[EMULATOR]
