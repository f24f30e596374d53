"""Scripted failures: make a route answer an error, stall, or cut the connection.

    emu.faults.add("POST", "/calling/v1/callouts", status=429, retry_after=2, times=1)
    emu.faults.add("GET", "/calling/v1/recording/*", cut_after=1024)   # drop mid-body
    emu.faults.add("GET", "*", delay=0.5)                              # latency

``path`` is matched against the request's decoded path with :func:`fnmatch.fnmatchcase`.
A rule fires for its first ``times`` matching requests (``None``: forever), in the
order rules were added; the first rule that matches wins.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

import attrs

__all__ = ["Fault", "Faults"]

BodyKind = Literal["json", "html", "empty"]


@attrs.define(kw_only=True)
class Fault:
    """One rule. ``status`` answers instead of the route; ``delay`` (seconds) comes first;
    ``cut_after`` lets the route answer but closes the connection after that many body
    bytes."""

    method: str
    path: str
    status: int | None = None
    body: BodyKind = "json"
    retry_after: str | float | None = None
    delay: float = 0.0
    cut_after: int | None = None
    times: int | None = 1
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Does this rule apply to the request (and has it turns left)?"""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path)


class Faults:
    """The emulator's fault rules."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []

    def add(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        body: BodyKind = "json",
        retry_after: str | float | None = None,
        delay: float = 0.0,
        cut_after: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Add a rule (see the module docstring); returns it, so a test can read ``fired``."""
        if status is None and not delay and cut_after is None:
            raise ValueError("a fault needs a status, a delay or cut_after")
        if body not in ("json", "html", "empty"):
            raise ValueError("body must be 'json', 'html' or 'empty'")
        fault = Fault(method=method, path=path, status=status, body=body,
                      retry_after=retry_after, delay=delay, cut_after=cut_after, times=times)
        self._rules.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first matching rule, counted as fired; ``None`` when none matches."""
        if not self._rules:
            return None
        for fault in self._rules:
            if fault.matches(method, path):
                fault.fired += 1
                return fault
        return None
