"""``sinch-calling emulator``: serve the local Calling API until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..models import CallbackUrls
from . import options
from .context import Context
from .errors import _CommandFailed, _UsageError
from .parser import Registry

if TYPE_CHECKING:
    from ..testing import Emulator
    from ..testing.observe import Exchange

DEFAULT_KEY = "emulator-application-key"  # the emulator's own (testing.DEFAULT_KEY)

RECORDING_SIZE = 64 * 1024


def mix_spec(value: str) -> str:
    """``answered=80,busy=10,noanswer=5,failed=5``: checked now, built later."""
    from ..testing import Mix

    try:
        Mix.from_spec(value)
    except (ValidationError, ValueError) as exc:
        raise argparse.ArgumentTypeError(
            f"{getattr(exc, 'rule', exc)}; expected e.g. answered=80,busy=10,noanswer=5,failed=5"
        ) from None
    return value


def _stamp() -> str:
    return datetime.now().strftime("%H:%M:%S.%f")[:-3]


def _line(exchange: Exchange) -> str:
    status = exchange.status if exchange.status is not None else (exchange.error or "-")
    what = f"callback {exchange.event} " if exchange.kind == "callback" else ""
    return (f"{_stamp()} {what}{exchange.method} {exchange.target} {status} "
            f"{exchange.elapsed * 1000:.1f} ms")


def watch(emu: Emulator, log: Callable[[str], None]) -> None:
    """Log one line per request served and per callback sent (method, path, status,
    time), through the emulator's observers."""
    emu.observers.add(lambda exchange: log(_line(exchange)))


def build(args: argparse.Namespace) -> Emulator:
    """The emulator the options describe (not started)."""
    from ..testing import DEFAULT_SECRET, Emulator, Mix, Outcome

    outcomes: Any = None
    if args.mix:
        outcomes = Mix.from_spec(args.mix, seed=args.seed, ring=args.ring, talk=args.talk)
    elif args.ring or args.talk is not None:
        outcomes = Outcome.answered(ring=args.ring, talk=args.talk)
    key = args.application_key or DEFAULT_KEY
    secret = args.application_secret or DEFAULT_SECRET
    emu = Emulator(key, secret, host=args.host, port=args.port, outcomes=outcomes,
                   auth_window=args.auth_window, max_journal=args.max_journal)
    if args.callback_url:
        emu.configuration.applications[key].callbacks = CallbackUrls(
            primary=args.callback_url, fallback=args.fallback_url)
    now = datetime.now(UTC).replace(microsecond=0)
    for index in range(args.recordings):
        emu.recordings.add_generated(
            f"recording-{index + 1:04d}.mp3", RECORDING_SIZE, seed=index,
            created_on=now - timedelta(minutes=args.recordings - index))
    return emu


async def _serve(ctx: Context, args: argparse.Namespace) -> int:
    if args.fallback_url and not args.callback_url:
        raise _UsageError("--fallback-url: needs --callback-url too")
    emu = build(args)
    if not args.quiet:
        watch(emu, lambda line: ctx.out.errors.print(line, markup=False, highlight=False))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await emu.start()
    except OSError as exc:
        raise _CommandFailed(f"cannot listen on {args.host}:{args.port}: "
                            f"{exc.strerror or exc}") from None
    async with emu:
        gc.freeze()  # a long-lived server: keep its objects out of the collector's way
        ctx.out.note(f"Sinch Calling emulator on {emu.url} (Ctrl-C to stop); "
                     "point any client at it with:")
        variables = {"SINCH_APPLICATION_KEY": emu.application_key,
                     "SINCH_APPLICATION_SECRET": emu.application_secret,
                     "SINCH_BASE_URL": emu.url}
        if ctx.out.json_mode:
            ctx.out.document({"url": emu.url, "environment": variables})
        else:
            for name, value in variables.items():
                ctx.out.stdout.write(f"export {name}={value}\n")
            ctx.out.stdout.flush()
        await stop.wait()
    ctx.out.note("emulator stopped")
    return 0


def register(registry: Registry) -> None:
    """Add the ``emulator`` command."""
    p = registry.add(
        "emulator", help="serve a local Calling API to point any client at", run=_serve,
        description="Serve the local Calling API emulator until Ctrl-C. It prints the "
                    "export lines that point a client at it, then one line per request "
                    "and per callback (--quiet silences them).",
        examples=["sinch-calling emulator",
                  "sinch-calling emulator --port 8700 --mix answered=80,busy=20 --ring 2 "
                  "--talk 10 --callback-url http://127.0.0.1:8080/sinch --recordings 5"])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=options.port_number, default=8700,
                   help="port to listen on (0 picks a free one)")
    p.add_argument("--application-key", metavar="KEY",
                   help=f"the application key it accepts (default: {DEFAULT_KEY})")
    p.add_argument("--application-secret", metavar="SECRET",
                   help="the application secret, base64 (default: the emulator's own)")
    p.add_argument("--recordings", type=options.count, default=0, metavar="N",
                   help="store N generated 64 KiB recordings, dated the last N minutes")
    p.add_argument("--mix", type=mix_spec, metavar="SPEC",
                   help="call outcomes by weight, e.g. answered=80,busy=10,noanswer=5,failed=5 "
                        "(default: every call answered)")
    p.add_argument("--seed", default="0", help="seed of --mix")
    p.add_argument("--ring", type=options.non_negative_seconds, default=0.0, metavar="SECONDS",
                   help="seconds each call rings")
    p.add_argument("--talk", type=options.positive_seconds, metavar="SECONDS",
                   help="seconds each answered call lasts (default: until hung up)")
    p.add_argument("--auth-window", type=options.seconds_or_none, default=300.0,
                   metavar="SECONDS", help="accepted x-timestamp skew, or 'none'")
    p.add_argument("--max-journal", type=options.positive_int, default=10_000, metavar="N",
                   help="keep the newest N requests, callbacks and finished calls")
    p.add_argument("--callback-url", type=options.url, metavar="URL",
                   help="the application's primary callback URL")
    p.add_argument("--fallback-url", type=options.url, metavar="URL",
                   help="the application's fallback callback URL")
