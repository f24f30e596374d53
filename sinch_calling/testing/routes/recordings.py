"""Recordings API: list, download (with Range), delete (prefix ``/calling/v1``)."""

from __future__ import annotations

from aiohttp import web

__all__ = ["routes"]

routes = web.RouteTableDef()
