"""How emulated callees respond: answered, busy, no answer or failed, and when.

    emu = Emulator(outcomes=Mix({Outcome.answered(talk=20): 80, Outcome.busy(): 10,
                                 Outcome.no_answer(ring=30): 5, Outcome.failed(): 5}, seed=7))
    emu.outcomes.set("+46700000001", Outcome.busy())          # one number
    emu.outcomes.set("+4670*", Outcome.answered(dtmf="1"))    # a glob of numbers

The default outcome answers at once and keeps the call up until it is hung up.
"""

from __future__ import annotations

import fnmatch
import math
import random
from collections.abc import Iterable, Mapping
from typing import TypeAlias

import attrs

from ..errors import ValidationError
from ..models import CallReason, CallResult
from . import options

__all__ = ["Mix", "Outcome", "OutcomeSource", "Outcomes"]

_DEFAULT_REASONS = {
    CallResult.ANSWERED: CallReason.CALLEEHANGUP,
    CallResult.BUSY: CallReason.CALLEEHANGUP,
    CallResult.NOANSWER: CallReason.TIMEOUT,
    CallResult.FAILED: CallReason.GENERALERROR,
}


def _dtmf(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen(kw_only=True)
class Outcome:
    """What the callee of one call does.

    ``ring``: seconds from the callout until the call is answered, or until it ends
    busy / unanswered / failed. ``talk``: seconds the callee stays on after answering
    before hanging up (``None``: until the call is hung up by the API or SVAML).
    ``dtmf``: the keys pressed at successive menus (``runMenu``), one string per menu;
    no input left means the menu times out. ``amd``: the answering-machine verdict
    reported in ACE when the ``connectPstn`` asked for AMD.
    """

    result: CallResult = CallResult.ANSWERED
    reason: CallReason | None = None
    ring: float = 0.0
    talk: float | None = None
    dtmf: tuple[str, ...] = attrs.field(default=(), converter=_dtmf)
    amd: str = "human"

    def __attrs_post_init__(self) -> None:
        options.seconds("ring", self.ring, zero=True)
        options.seconds("talk", self.talk, none=True, zero=True)
        if not isinstance(self.result, CallResult) or self.result is CallResult.NA:
            raise ValidationError("result", "must be a CallResult other than N/A; got "
                                            f"{self.result!r}")

    @classmethod
    def answered(cls, *, ring: float = 0.0, talk: float | None = None,
                 dtmf: str | Iterable[str] | None = None, amd: str = "human") -> Outcome:
        """Picks up after ``ring`` seconds; hangs up after ``talk`` seconds (or never)."""
        return cls(result=CallResult.ANSWERED, ring=ring, talk=talk, dtmf=_dtmf(dtmf), amd=amd)

    @classmethod
    def busy(cls, *, ring: float = 0.0) -> Outcome:
        """The line is busy."""
        return cls(result=CallResult.BUSY, ring=ring)

    @classmethod
    def no_answer(cls, *, ring: float = 0.0) -> Outcome:
        """Rings for ``ring`` seconds, then gives up (reason TIMEOUT)."""
        return cls(result=CallResult.NOANSWER, ring=ring)

    @classmethod
    def failed(cls, *, ring: float = 0.0,
               reason: CallReason = CallReason.GENERALERROR) -> Outcome:
        """The network could not place the call."""
        return cls(result=CallResult.FAILED, ring=ring, reason=reason)

    @property
    def final_reason(self) -> CallReason:
        """The reason reported when the callee ends the call (or it never connects)."""
        return self.reason or _DEFAULT_REASONS.get(self.result, CallReason.NA)

    @property
    def answers(self) -> bool:
        """Does the callee pick up?"""
        return self.result is CallResult.ANSWERED


_NAMED = {
    "answered": Outcome.answered(),
    "busy": Outcome.busy(),
    "noanswer": Outcome.no_answer(),
    "no_answer": Outcome.no_answer(),
    "failed": Outcome.failed(),
}


def _outcome(value: Outcome | str) -> Outcome:
    if isinstance(value, Outcome):
        return value
    try:
        return _NAMED[value.lower()]
    except (KeyError, AttributeError):
        raise ValidationError("outcomes", f"unknown outcome {value!r}: use an Outcome or "
                                          "'answered', 'busy', 'noanswer', 'failed'") from None


def _weight(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value < 0:
        raise ValidationError("weights", f"each weight must be a finite number, zero or "
                                         f"more; got {value!r}")
    return float(value)


class Mix:
    """A seeded random mix of outcomes, by weight.

    ``Mix({"answered": 80, "busy": 10, "noanswer": 5, "failed": 5}, seed=1)``; keys are
    :class:`Outcome` s or their names. Each pick depends only on the seed, the number
    called and how many times it was called before, so a campaign sees the same
    outcomes run after run, whatever order its callouts arrive in.
    """

    def __init__(self, weights: Mapping[Outcome, float] | Mapping[str, float]
                 | Mapping[Outcome | str, float], *, seed: int | str = 0) -> None:
        pairs = [(_outcome(k), _weight(w)) for k, w in weights.items()]
        if not pairs or sum(w for _, w in pairs) <= 0:
            raise ValidationError("weights", "need at least one positive weight, none negative")
        self._outcomes = tuple(o for o, _ in pairs)
        total = sum(w for _, w in pairs)
        running = 0.0
        cumulative = []
        for _, weight in pairs:
            running += weight / total
            cumulative.append(running)
        self._cumulative = tuple(cumulative)
        self.seed = seed

    @classmethod
    def from_spec(cls, spec: str, *, seed: int | str = 0, ring: float = 0.0,
                  talk: float | None = None) -> Mix:
        """Parse ``"answered=80,busy=10,noanswer=5,failed=5"`` (for command lines);
        every outcome rings ``ring`` seconds, answered calls last ``talk`` seconds."""
        weights: dict[Outcome, float] = {}
        for part in spec.split(","):
            name, sep, weight = part.partition("=")
            base = _outcome(name.strip())
            try:
                value = float(weight) if sep else 1.0
            except ValueError:
                raise ValidationError("mix", f"weight of {name.strip()!r} is not a number") \
                    from None
            outcome = attrs.evolve(base, ring=ring, talk=talk if base.answers else None)
            weights[outcome] = weights.get(outcome, 0.0) + value
        return cls(weights, seed=seed)

    def pick(self, destination: str, nth: int) -> Outcome:
        """The outcome of the ``nth`` call (0-based) to ``destination``."""
        draw = random.Random(f"{self.seed}:{destination}:{nth}").random()
        for outcome, bound in zip(self._outcomes, self._cumulative, strict=True):
            if draw < bound:
                return outcome
        return self._outcomes[-1]

    def __repr__(self) -> str:
        return f"Mix({len(self._outcomes)} outcomes, seed={self.seed!r})"


OutcomeSource: TypeAlias = Outcome | Mix


class Outcomes:
    """Which outcome each destination gets: exact numbers first, then globs (the most
    recently set first), then :attr:`default`."""

    def __init__(self, default: OutcomeSource | str = Outcome()) -> None:
        self.default: OutcomeSource = default if isinstance(default, Mix) else _outcome(default)
        self._exact: dict[str, OutcomeSource] = {}
        self._patterns: list[tuple[str, OutcomeSource]] = []
        self._calls: dict[str, int] = {}

    def set(self, destination: str, outcome: OutcomeSource | str) -> None:
        """Give calls to ``destination`` (a number, username, or a glob like ``+4670*``)
        this outcome or mix."""
        source = outcome if isinstance(outcome, Mix) else _outcome(outcome)
        if any(ch in destination for ch in "*?["):
            self._patterns = [(p, s) for p, s in self._patterns if p != destination]
            self._patterns.insert(0, (destination, source))
        else:
            self._exact[destination] = source

    def reset(self) -> None:
        """Forget per-destination rules (and call counts); keep :attr:`default`."""
        self._exact.clear()
        self._patterns.clear()
        self._calls.clear()

    def source_for(self, destination: str) -> OutcomeSource:
        """The outcome or mix that applies to ``destination``."""
        source = self._exact.get(destination)
        if source is not None:
            return source
        for pattern, candidate in self._patterns:
            if fnmatch.fnmatchcase(destination, pattern):
                return candidate
        return self.default

    def choose(self, destination: str) -> Outcome:
        """The outcome of the next call to ``destination`` (counts the call)."""
        source = self.source_for(destination)
        if isinstance(source, Outcome):
            return source
        nth = self._calls.get(destination, 0)
        self._calls[destination] = nth + 1
        return source.pick(destination, nth)
