"""The ``sinch-calling`` command (also ``python -m sinch_calling``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from .client import SinchCalling
from .errors import SinchError
from .serialization import converter

__all__ = ["main"]

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def _print_json(value: Any) -> None:
    print(json.dumps(converter.unstructure(value), indent=2, ensure_ascii=False))


def _client(args: argparse.Namespace) -> SinchCalling:
    overrides: dict[str, Any] = {}
    if getattr(args, "region", None):
        overrides["region"] = args.region
    if getattr(args, "base_url", None):
        overrides["base_url"] = args.base_url
    return SinchCalling.from_env(**overrides)


async def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return await run_demo(verbose=not args.quiet)


async def _emulator(args: argparse.Namespace) -> int:
    from .testing import Emulator

    emu = Emulator(args.application_key, args.application_secret, host=args.host,
                   port=args.port)
    async with emu:
        print(f"Sinch Calling emulator on {emu.url}", flush=True)
        print(f"  SINCH_APPLICATION_KEY={emu.application_key}", flush=True)
        print(f"  SINCH_APPLICATION_SECRET={emu.application_secret}", flush=True)
        print(f"  SINCH_BASE_URL={emu.url}", flush=True)
        await asyncio.Event().wait()  # until Ctrl-C
    return 0


async def _numbers(args: argparse.Namespace) -> int:
    async with _client(args) as sinch:
        if args.action == "list":
            _print_json(await sinch.numbers.list())
        elif args.action == "assign":
            await sinch.numbers.assign(args.numbers, application_key=args.application_key,
                                       capability=args.capability)
        elif args.action == "unassign":
            for number in args.numbers:
                await sinch.numbers.unassign(number, application_key=args.application_key,
                                             capability=args.capability)
        else:
            for number in args.numbers:
                _print_json(await sinch.numbers.query(number))
    return 0


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="euc1, use1, sae1, apse1, apse2 or global "
                                         "(default: $SINCH_REGION or global)")
    parser.add_argument("--base-url", help="an origin replacing the Sinch hosts "
                                           "(default: $SINCH_BASE_URL)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from .testing.emulator import DEFAULT_KEY, DEFAULT_SECRET

    parser = argparse.ArgumentParser(
        prog="sinch-calling",
        description="Sinch Calling API client. Credentials come from SINCH_APPLICATION_KEY "
                    "and SINCH_APPLICATION_SECRET.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the offline demo against the embedded emulator")
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    demo.set_defaults(run=_demo)

    emulator = sub.add_parser("emulator", help="serve the local Calling API emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8700)
    emulator.add_argument("--application-key", default=DEFAULT_KEY)
    emulator.add_argument("--application-secret", default=DEFAULT_SECRET)
    emulator.set_defaults(run=_emulator)

    numbers = sub.add_parser("numbers", help="list, assign, unassign or query numbers")
    numbers.add_argument("action", choices=["list", "assign", "unassign", "query"])
    numbers.add_argument("numbers", nargs="*")
    numbers.add_argument("--application-key")
    numbers.add_argument("--capability", default="voice", choices=["voice", "sms"])
    _connection_options(numbers)
    numbers.set_defaults(run=_numbers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sinch-calling``."""
    args = build_parser().parse_args(argv)
    command: Command = args.run
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        return 130
    except (SinchError, ValueError) as exc:
        print(f"sinch-calling: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
