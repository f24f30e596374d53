"""``sinch-calling conferences get | mute | unmute | hold | resume | kick | kick-all``."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from ..client import SinchCalling
from .context import Context
from .parser import Registry

_FIELDS = {"conference_id": "ID", "call_id": "CALL_ID"}


async def _get(ctx: Context, args: argparse.Namespace) -> int:
    async with ctx.client() as sinch:
        conference = await sinch.conferences.get(args.conference_id)
    if ctx.out.json_mode:
        ctx.out.document(conference)
        return 0
    ctx.out.table(("call id", "cli", "duration", "muted", "on hold"),
                  ((p.call_id, p.cli, p.duration, p.muted, p.onhold)
                   for p in conference.participants),
                  title=f"conference {args.conference_id}",
                  empty=f"conference {args.conference_id} has no participants")
    return 0


def _participant(verb: str, done: str) -> Callable[[Context, argparse.Namespace],
                                                  Awaitable[int]]:
    async def run(ctx: Context, args: argparse.Namespace) -> int:
        async with ctx.client() as sinch:
            await _COMMANDS[verb](sinch, args)
        ctx.out.done(f"{done} {args.call_id} in conference {args.conference_id}",
                     {"conferenceId": args.conference_id, "callId": args.call_id,
                      "command": verb})
        return 0
    return run


_COMMANDS: dict[str, Callable[[SinchCalling, argparse.Namespace], Awaitable[None]]] = {
    "mute": lambda s, a: s.conferences.mute(a.conference_id, a.call_id),
    "unmute": lambda s, a: s.conferences.unmute(a.conference_id, a.call_id),
    "hold": lambda s, a: s.conferences.hold(a.conference_id, a.call_id, moh=a.moh),
    "resume": lambda s, a: s.conferences.resume(a.conference_id, a.call_id),
    "kick": lambda s, a: s.conferences.kick(a.conference_id, a.call_id),
}
_DONE = {"mute": "Muted", "unmute": "Unmuted", "hold": "Put on hold", "resume": "Resumed",
         "kick": "Removed"}
_HELP = {"mute": "mute a participant", "unmute": "unmute a participant",
         "hold": "put a participant on hold", "resume": "take a participant off hold",
         "kick": "remove a participant (hangs up their call)"}


async def _kick_all(ctx: Context, args: argparse.Namespace) -> int:
    ctx.confirm(f"Remove every participant of conference {args.conference_id}?", yes=args.yes)
    async with ctx.client() as sinch:
        await sinch.conferences.kick_all(args.conference_id)
    ctx.out.done(f"Removed every participant of conference {args.conference_id}",
                 {"conferenceId": args.conference_id, "command": "kick-all"})
    return 0


def register(registry: Registry) -> None:
    """Add the ``conferences`` group."""
    group = registry.add("conferences", help="show a conference and control its participants",
                         examples=["sinch-calling conferences get room-1"])
    commands = registry.group(group)
    get = commands.add("get", help="list a conference's participants", run=_get,
                       fields=_FIELDS, examples=["sinch-calling conferences get room-1 --json"])
    get.add_argument("conference_id", metavar="ID")
    for verb in ("mute", "unmute", "hold", "resume", "kick"):
        command = commands.add(verb, help=_HELP[verb], run=_participant(verb, _DONE[verb]),
                               fields=_FIELDS,
                               examples=[f"sinch-calling conferences {verb} room-1 CALL_ID"])
        command.add_argument("conference_id", metavar="ID")
        command.add_argument("call_id", metavar="CALL_ID", help="the participant's call id")
        if verb == "hold":
            command.add_argument("--moh", choices=["ring", "music1", "music2", "music3"],
                                 help="what they hear meanwhile")
    kick_all = commands.add("kick-all", help="remove every participant, ending the conference",
                            run=_kick_all, fields=_FIELDS,
                            examples=["sinch-calling conferences kick-all room-1 --yes"])
    kick_all.add_argument("conference_id", metavar="ID")
    kick_all.add_argument("-y", "--yes", action="store_true",
                          help="do not ask (needed when not on a terminal)")
