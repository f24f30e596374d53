"""``sinch-calling calls get | hangup | say``: live calls."""

from __future__ import annotations

import argparse

from ..models import Call, CallLeg
from ..svaml import Continue, Hangup, Say, Svaml
from . import options
from .context import Context
from .parser import Registry

_FIELDS = {"call_id": "CALL_ID", "svaml": "TEXT", "leg": "--leg"}


def _money(value: object) -> str | None:
    amount = getattr(value, "amount", None)
    return None if amount is None else f"{amount} {getattr(value, 'currency_id', '') or ''}"


def show_call(ctx: Context, call: Call) -> None:
    """One call as a record (or its JSON document)."""
    if ctx.out.json_mode:
        ctx.out.document(call)
        return
    ctx.out.record([
        ("call id", call.call_id), ("status", call.status), ("result", call.result),
        ("reason", call.reason),
        ("from", call.from_.endpoint if call.from_ else None),
        ("to", call.to.endpoint if call.to else None), ("domain", call.domain),
        ("duration", f"{call.duration} s" if call.duration is not None else None),
        ("started", call.timestamp), ("rate", _money(call.user_rate)),
        ("debit", _money(call.debit)), ("custom", call.custom)])


async def _get(ctx: Context, args: argparse.Namespace) -> int:
    async with ctx.client() as sinch:
        call = await sinch.calls.get(args.call_id)
    show_call(ctx, call)
    return 0


async def _hangup(ctx: Context, args: argparse.Namespace) -> int:
    instructions = [Say(args.say, locale=args.locale)] if args.say else []
    async with ctx.client() as sinch:
        await sinch.calls.manage(args.call_id, Svaml(instructions, Hangup()))
    said = " after saying the text" if args.say else ""
    ctx.out.done(f"Hung up call {args.call_id}{said}",
                 {"callId": args.call_id, "hungUp": True, "said": args.say})
    return 0


async def _say(ctx: Context, args: argparse.Namespace) -> int:
    document = Svaml([Say(args.text, locale=args.locale)],
                           Hangup() if args.hangup else Continue())
    async with ctx.client() as sinch:
        await sinch.calls.manage_leg(args.call_id, args.leg, document)
    ctx.out.done(f"Said the text to the {args.leg} leg of call {args.call_id}"
                 + (", then hung up" if args.hangup else ""),
                 {"callId": args.call_id, "leg": args.leg, "said": args.text,
                  "hungUp": args.hangup})
    return 0


def register(registry: Registry) -> None:
    """Add the ``calls`` group."""
    group = registry.add("calls", help="show, steer or hang up a live call",
                         examples=["sinch-calling calls get CALL_ID"])
    commands = registry.group(group)
    get = commands.add("get", help="show a call: status, result, duration, cost", run=_get,
                       fields=_FIELDS, examples=["sinch-calling calls get CALL_ID --json"])
    get.add_argument("call_id", metavar="CALL_ID")
    hangup = commands.add("hangup", help="hang up a call, optionally saying something first",
                          run=_hangup, fields=_FIELDS,
                          examples=["sinch-calling calls hangup CALL_ID --say 'Goodbye'"])
    hangup.add_argument("call_id", metavar="CALL_ID")
    hangup.add_argument("--say", type=options.text, metavar="TEXT", help="say this first")
    hangup.add_argument("--locale", metavar="L", help="text-to-speech voice, e.g. en-US")
    say = commands.add("say", help="say a text to one leg of a connected call", run=_say,
                       fields=_FIELDS,
                       examples=["sinch-calling calls say CALL_ID 'Please hold' --leg callee"])
    say.add_argument("call_id", metavar="CALL_ID")
    say.add_argument("text", type=options.text, metavar="TEXT", help="what to say")
    say.add_argument("--leg", choices=[leg.value for leg in CallLeg], default="both",
                     help="who hears it (Sinch ignores it for callouts and conferences)")
    say.add_argument("--locale", metavar="L", help="text-to-speech voice, e.g. en-US")
    say.add_argument("--hangup", action="store_true", help="hang up once it is said")
