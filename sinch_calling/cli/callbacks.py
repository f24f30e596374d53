"""``sinch-calling callbacks get | set``."""

from __future__ import annotations

import argparse

from . import options
from .context import Context
from .parser import Registry


async def _get(ctx: Context, args: argparse.Namespace) -> int:
    async with ctx.client() as sinch:
        urls = await sinch.callbacks.get(application_key=args.application_key)
    if ctx.out.json_mode:
        ctx.out.document(urls)
    elif urls.primary is None and urls.fallback is None:
        ctx.out.note("no callback URLs set: sinch-calling callbacks set PRIMARY [FALLBACK]")
    else:
        ctx.out.record([("primary", urls.primary), ("fallback", urls.fallback)])
    return 0


async def _set(ctx: Context, args: argparse.Namespace) -> int:
    async with ctx.client() as sinch:
        await sinch.callbacks.update(args.primary, args.fallback,
                                     application_key=args.application_key)
        key = args.application_key or sinch.application_key
    fallback = f", fallback {args.fallback}" if args.fallback else ""
    ctx.out.done(f"Callbacks of application {key} now go to {args.primary}{fallback}",
                 {"applicationKey": key, "primary": args.primary, "fallback": args.fallback})
    return 0


def register(registry: Registry) -> None:
    """Add the ``callbacks`` group."""
    group = registry.add("callbacks", help="show or set an application's callback URLs",
                         examples=["sinch-calling callbacks get",
                                   "sinch-calling callbacks set https://my.host/sinch"])
    commands = registry.group(group)
    get = commands.add("get", help="show the callback URLs", run=_get,
                       examples=["sinch-calling callbacks get --json"])
    get.add_argument("--application-key", metavar="KEY",
                     help="the application (default: $SINCH_APPLICATION_KEY's)")
    set_ = commands.add("set", help="set the callback URLs", run=_set,
                        examples=["sinch-calling callbacks set https://my.host/sinch "
                                  "https://backup.host/sinch"])
    set_.add_argument("primary", type=options.url, metavar="PRIMARY", help="the primary URL")
    set_.add_argument("fallback", type=options.url, nargs="?", metavar="FALLBACK",
                      help="used when the primary fails")
    set_.add_argument("--application-key", metavar="KEY",
                      help="the application (default: $SINCH_APPLICATION_KEY's)")
