"""``sinch-calling demo``."""

from __future__ import annotations

import argparse

from .context import Context
from .parser import Registry


async def _demo(ctx: Context, args: argparse.Namespace) -> int:
    from ..demo import run_demo

    return await run_demo(verbose=not args.quiet)


def register(registry: Registry) -> None:
    """Add the ``demo`` command."""
    registry.add("demo", help="the whole library, offline, against the embedded emulator",
                 run=_demo, examples=["sinch-calling demo"])
