"""Keys under which route handlers find the emulator's parts on the aiohttp app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["EMULATOR", "emulator_of"]

EMULATOR: web.AppKey[Emulator] = web.AppKey("sinch_calling.emulator")


def emulator_of(request: web.Request) -> Emulator:
    """The :class:`~sinch_calling.testing.Emulator` serving ``request``."""
    return request.app[EMULATOR]
