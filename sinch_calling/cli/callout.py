"""``sinch-calling callout tts | conference | custom``: place one call."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import cattrs

from ..serialization import converter
from ..svaml import Svaml
from . import options
from .context import Context
from .errors import _UsageError
from .parser import Registry

_FIELDS = {"destination": "NUMBER", "conference_id": "CONFERENCE_ID", "moh_class": "--moh"}


def _placed(ctx: Context, kind: str, destination: str | None, call_id: str) -> int:
    to = f" to {destination}" if destination else ""
    ctx.out.done(f"Placed {kind} callout{to}: call id {call_id}",
                 {"callId": call_id, "method": kind, "destination": destination},
                 value=call_id)
    return 0


def _events(args: argparse.Namespace) -> dict[str, Any]:
    return {"enable_ace": args.enable_ace or None, "enable_dice": args.enable_dice or None,
            "enable_pie": args.enable_pie or None}


_MAYBE_PLACED = ("interrupted while placing the callout: it may have reached Sinch and been "
                 "placed; check before placing it again")


async def _tts(ctx: Context, args: argparse.Namespace) -> int:
    ctx.interrupted = _MAYBE_PLACED
    async with ctx.client() as sinch:
        call_id = await sinch.callouts.tts(
            args.number, text=args.text, prompts=args.prompts, cli=args.cli,
            locale=args.locale, dtmf=args.dtmf, custom=args.custom, **_events(args))
    return _placed(ctx, "tts", args.number, call_id)


async def _conference(ctx: Context, args: argparse.Namespace) -> int:
    ctx.interrupted = _MAYBE_PLACED
    async with ctx.client() as sinch:
        call_id = await sinch.callouts.conference(
            args.number, args.conference_id, greeting=args.greeting, cli=args.cli,
            locale=args.locale, dtmf=args.dtmf, max_duration=args.max_duration,
            moh_class=args.moh, custom=args.custom, **_events(args))
    return _placed(ctx, "conference", args.number, call_id)


async def _steering(ctx: Context, flag: str, value: str | None) -> str | Svaml | None:
    """``--ice`` and friends: a callback URL, SVAML JSON, ``@FILE`` or ``-`` (stdin)."""
    if value is None or value.startswith(("http://", "https://")):
        return value
    if value == "-":
        text = await asyncio.to_thread(ctx.stdin.read)
    elif value.startswith("@"):
        text = await asyncio.to_thread(Path(value[1:]).read_text, encoding="utf-8")
    else:
        text = value
    try:
        data: Any = json.loads(text)
        return converter.structure(data, Svaml)
    except ValueError as exc:
        raise _UsageError(f"{flag}: not a URL and not SVAML JSON ({exc})") from None
    except (cattrs.BaseValidationError, TypeError, KeyError) as exc:
        raise _UsageError(f"{flag}: not a SVAML document ({exc})") from None


async def _custom(ctx: Context, args: argparse.Namespace) -> int:
    steering = {name: await _steering(ctx, f"--{name}", getattr(args, name))
                for name in ("ice", "ace", "pie", "dice")}
    ctx.interrupted = _MAYBE_PLACED
    async with ctx.client() as sinch:
        call_id = await sinch.callouts.custom(
            destination=args.number, cli=args.cli, dtmf=args.dtmf, custom=args.custom,
            max_duration=args.max_duration, **steering)
    return _placed(ctx, "custom", args.number, call_id)


def _common(parser: argparse.ArgumentParser, *, locale: bool = True) -> None:
    parser.add_argument("--cli", metavar="NUMBER", help="the caller number shown (E.164)")
    if locale:
        parser.add_argument("--locale", metavar="L", help="text-to-speech voice, e.g. en-US")
    parser.add_argument("--dtmf", metavar="D", help="tones sent on answer (0-9 * # w)")
    parser.add_argument("--custom", metavar="C", help="your data, echoed in callbacks")


def _callbacks(parser: argparse.ArgumentParser) -> None:
    for name in ("ace", "dice", "pie"):
        parser.add_argument(f"--enable-{name}", action="store_true",
                            help=f"send {name.upper()} callbacks to the application's URL")


def register(registry: Registry) -> None:
    """Add the ``callout`` group."""
    group = registry.add("callout", help="place a text-to-speech, conference or custom call",
                         examples=["sinch-calling callout tts +46700000001 --text 'Hello'"])
    commands = registry.group(group)
    tts = commands.add("tts", help="call a number and speak a text (or play prompts)",
                       run=_tts, fields=_FIELDS,
                       examples=["sinch-calling callout tts +46700000001 "
                                 "--text 'Your code is 1234' --cli +46000000000",
                                 "sinch-calling callout tts +46700000001 --prompts "
                                 "'#tts[Hello]' --quiet   # prints only the call id"])
    tts.add_argument("number", metavar="NUMBER", help="who to call (E.164)")
    what = tts.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", type=options.text, metavar="T", help="what to say")
    what.add_argument("--prompts", type=options.text, metavar="P",
                      help="';'-separated prompt files or #tts[...]/#ssml[...] strings")
    _common(tts)
    _callbacks(tts)

    conference = commands.add("conference", help="call a number into a conference",
                              run=_conference, fields=_FIELDS,
                              examples=["sinch-calling callout conference +46700000002 room-1 "
                                        "--greeting 'Welcome'"])
    conference.add_argument("number", metavar="NUMBER", help="who to call (E.164)")
    conference.add_argument("conference_id", metavar="CONFERENCE_ID",
                            help="the conference (created by its first participant)")
    conference.add_argument("--greeting", type=options.text, metavar="T",
                            help="spoken before joining")
    conference.add_argument("--max-duration", type=options.positive_int, metavar="SECONDS",
                            help="end the call after this long")
    conference.add_argument("--moh", choices=["ring", "music1", "music2", "music3"],
                            help="what a participant alone in the room hears")
    _common(conference)
    _callbacks(conference)

    custom = commands.add("custom", help="place a call steered by URLs or inline SVAML",
                          run=_custom, fields=_FIELDS,
                          examples=["sinch-calling callout custom +46700000003 --ice "
                                    "'{\"action\": {\"name\": \"connectPstn\", "
                                    "\"number\": \"+46700000003\"}}' --ace "
                                    "https://my.host/sinch/ace"])
    custom.add_argument("number", nargs="?", metavar="NUMBER", help="who to call (E.164)")
    custom.add_argument("--max-duration", type=options.positive_int, metavar="SECONDS",
                        help="end the call after this long")
    _common(custom, locale=False)
    for name in ("ice", "ace", "pie", "dice"):
        custom.add_argument(f"--{name}", metavar="URL|SVAML",
                            help=f"{name.upper()}: a callback URL, SVAML JSON, @FILE or - "
                                 "(stdin)")
