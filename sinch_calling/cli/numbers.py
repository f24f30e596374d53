"""``sinch-calling numbers list | assign | unassign | query``."""

from __future__ import annotations

import argparse

from .context import Context
from .output import to_json
from .parser import Registry


async def _list(ctx: Context, args: argparse.Namespace) -> int:
    async with ctx.client() as sinch:
        numbers = await sinch.numbers.list()
    if ctx.out.json_mode:
        ctx.out.document(numbers)
    else:
        ctx.out.table(("number", "capability", "application key"),
                      ((n.number, n.capability, n.application_key) for n in numbers),
                      empty="the account owns no numbers")
    return 0


async def _assign(ctx: Context, args: argparse.Namespace) -> int:
    async with ctx.client() as sinch:
        await sinch.numbers.assign(args.numbers, application_key=args.application_key,
                                   capability=args.capability)
        key = args.application_key or sinch.application_key
    ctx.out.done(f"Assigned {', '.join(args.numbers)} to application {key} ({args.capability})",
                 {"assigned": args.numbers, "applicationKey": key,
                  "capability": args.capability})
    return 0


async def _unassign(ctx: Context, args: argparse.Namespace) -> int:
    async with ctx.client() as sinch:
        await sinch.numbers.unassign(args.number, application_key=args.application_key,
                                     capability=args.capability)
        key = args.application_key or sinch.application_key
    ctx.out.done(f"Unassigned {args.number} from application {key} ({args.capability})",
                 {"unassigned": args.number, "applicationKey": key,
                  "capability": args.capability})
    return 0


async def _query(ctx: Context, args: argparse.Namespace) -> int:
    async with ctx.client() as sinch:
        found = [(number, await sinch.numbers.query(number)) for number in args.numbers]
    if ctx.out.json_mode:
        ctx.out.document([{"number": number, **to_json(info)} for number, info in found])
        return 0
    ctx.out.table(
        ("number", "country", "type", "normalized", "restricted", "rate"),
        ((number, info.country_id, info.number_type, info.normalized_number, info.restricted,
          f"{info.rate.amount} {info.rate.currency_id}/min" if info.rate else None)
         for number, info in found))
    return 0


def _application_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--application-key", metavar="KEY",
                        help="the application (default: $SINCH_APPLICATION_KEY's)")
    parser.add_argument("--capability", choices=["voice", "sms"], default="voice",
                        help="what the number is used for")


def register(registry: Registry) -> None:
    """Add the ``numbers`` group."""
    group = registry.add("numbers", help="list, assign, unassign or look up numbers",
                         examples=["sinch-calling numbers list",
                                   "sinch-calling numbers query +46730170101 --json"])
    commands = registry.group(group)
    commands.add("list", help="list the numbers the account owns", run=_list,
                 examples=["sinch-calling numbers list", "sinch-calling numbers list --json"])
    assign = commands.add("assign", help="assign numbers to an application", run=_assign,
                          fields={"numbers": "NUMBER"},
                          examples=["sinch-calling numbers assign +46000000000",
                                    "sinch-calling numbers assign +46000000000 --capability sms"])
    assign.add_argument("numbers", nargs="+", metavar="NUMBER", help="E.164 numbers")
    _application_options(assign)
    unassign = commands.add("unassign", help="remove a number from an application",
                            run=_unassign, fields={"number": "NUMBER"},
                            examples=["sinch-calling numbers unassign +46000000000"])
    unassign.add_argument("number", metavar="NUMBER", help="an E.164 number")
    _application_options(unassign)
    query = commands.add("query", help="country, type and rate of any numbers", run=_query,
                         fields={"number": "NUMBER"},
                         examples=["sinch-calling numbers query +46730170101"])
    query.add_argument("numbers", nargs="+", metavar="NUMBER", help="numbers to look up")
