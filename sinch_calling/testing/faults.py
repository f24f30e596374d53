"""Scripted failures: make a route answer an error, stall, cut or drop the connection.

    emu.faults.add("POST", "/calling/v1/callouts", status=429, retry_after=2)  # once
    emu.faults.add("POST", "/calling/v1/callouts", status=503, body="html", times=3)
    emu.faults.add("GET", "/calling/v1/recording/*", cut_after=1024)  # drop mid-body
    emu.faults.add("GET", "*", delay=0.5, times=None)                  # latency, forever
    emu.faults.add("POST", "/calling/v1/callouts", disconnect="after")  # acted, never answered

``path`` is a :func:`fnmatch.fnmatchcase` glob matched against the request's path (no
query) as sent and as decoded, so a recording key ``a b/c`` matches both
``/calling/v1/recording/a b/c`` and ``/calling/v1/recording/a%20b%2Fc`` (as in
:meth:`Emulator.requests_to <sinch_calling.testing.Emulator.requests_to>`);
``method`` is a method name or ``"*"``. A rule fires for
its first ``times`` matching requests (``None``: forever), in the order rules were
added: the first rule with turns left that matches wins, so two rules on one route
play one after the other.

What a rule does, in this order:

1. ``delay`` seconds of latency (then the rest of the rule, or the route as usual);
2. ``disconnect="before"``: the connection is closed without any response and the
   route never runs; ``disconnect="after"`` (or ``True``): the route runs (a callout
   *is* placed) and then the connection is closed without any response, the case a
   client must not blindly retry (a streaming route, such as a recording download, is
   stopped before it sends its head);
3. ``status``: answered instead of the route (the route never runs), with a Sinch JSON
   error body (``body="json"``, ``error_code`` defaults to ``status * 100``), a proxy's
   HTML page (``body="html"``) or nothing (``body="empty"``), and ``Retry-After`` when
   ``retry_after`` is given (a number of seconds, sent rounded up to a whole number,
   or text such as an HTTP date, sent as given);
4. ``cut_after``: the route answers, but the connection is closed after that many
   bytes of the response body (JSON and binary bodies alike).

Faults fire before authentication, as a proxy or load balancer would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import attrs

from ..errors import ValidationError
from . import options
from .journal import path_matches

__all__ = ["BodyKind", "DisconnectWhen", "Fault", "Faults"]

BodyKind = Literal["json", "html", "empty"]
DisconnectWhen = Literal["before", "after"]


@attrs.define(kw_only=True)
class Fault:
    """One rule (see the module docstring). ``fired`` counts the requests it took."""

    method: str
    path: str
    status: int | None = None
    body: BodyKind = "json"
    error_code: int | None = None
    retry_after: str | float | None = None
    delay: float = 0.0
    cut_after: int | None = None
    disconnect: DisconnectWhen | None = None
    times: int | None = 1
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        """Has this rule used all its turns?"""
        return self.times is not None and self.fired >= self.times

    def matches(self, method: str, path: str, decoded_path: str | None = None) -> bool:
        """Does this rule apply to the request (and has it turns left)? ``path`` as sent
        (``decoded_path``, if not given, is decoded from it); either form may match."""
        if self.exhausted:
            return False
        if self.method != "*" and self.method != method:
            return False
        return path_matches(self.path, path, decoded_path)


class Faults:
    """The emulator's fault rules, in the order they were added."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []

    def add(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        body: BodyKind = "json",
        error_code: int | None = None,
        retry_after: str | float | None = None,
        delay: float = 0.0,
        cut_after: int | None = None,
        disconnect: DisconnectWhen | bool | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Add a rule (see the module docstring); returns it, so a test can read ``fired``."""
        if disconnect is True:
            disconnect = "after"
        elif disconnect is False:
            disconnect = None
        if disconnect not in (None, "before", "after"):
            raise ValidationError("disconnect", "must be 'before', 'after', True or None")
        if status is None and not delay and cut_after is None and disconnect is None:
            raise ValidationError("status", "a fault needs a status, a delay, cut_after or "
                                            "disconnect")
        if status is not None and not 100 <= status <= 599:
            raise ValidationError("status", "must be an HTTP status (100-599)")
        if status is not None and (disconnect is not None or cut_after is not None):
            raise ValidationError("status", "cannot be combined with disconnect or cut_after")
        if body not in ("json", "html", "empty"):
            raise ValidationError("body", "must be 'json', 'html' or 'empty'")
        delay = options.seconds("delay", delay, zero=True)
        if not isinstance(retry_after, str):
            retry_after = options.seconds("retry_after", retry_after, none=True, zero=True)
        if cut_after is not None and cut_after < 0:
            raise ValidationError("cut_after", "must not be negative")
        if times is not None and times < 1:
            raise ValidationError("times", "must be at least 1, or None for forever")
        if not isinstance(method, str) or not method:
            raise ValidationError("method", "must be an HTTP method or '*'")
        fault = Fault(method=method if method == "*" else method.upper(), path=path,
                      status=status, body=body, error_code=error_code,
                      retry_after=retry_after, delay=float(delay), cut_after=cut_after,
                      disconnect=disconnect, times=times)
        self._rules.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Remove one rule."""
        self._rules.remove(fault)

    def clear(self) -> None:
        """Remove every rule."""
        self._rules.clear()

    def __iter__(self) -> Iterator[Fault]:
        return iter(list(self._rules))

    def __len__(self) -> int:
        return len(self._rules)

    def take(self, method: str, path: str, decoded_path: str | None = None) -> Fault | None:
        """The first rule matching the request (``path`` as sent, see :meth:`Fault.matches`),
        counted as fired; ``None`` when none matches."""
        if not self._rules:
            return None
        for fault in self._rules:
            if fault.matches(method, path, decoded_path):
                fault.fired += 1
                return fault
        return None
