"""Traffic API: callouts, calls and conferences (prefix ``/calling/v1``)."""

from __future__ import annotations

from aiohttp import web

__all__ = ["routes"]

routes = web.RouteTableDef()
