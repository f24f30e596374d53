"""How emulated calls progress: ring, answer or not, SVAML, callbacks, hang-up.

Route handlers call exactly four methods: :meth:`CallLifecycle.admit` for a call a
callout created, :meth:`CallLifecycle.apply` for ``PATCH /calls/id/{callId}``,
:meth:`CallLifecycle.play_to_leg` for ``PATCH /calls/id/{callId}/leg/{callLeg}`` and
:meth:`CallLifecycle.hangup` for conference kicks. Everything about timing and
callbacks lives here.

With the default :class:`~sinch_calling.testing.Outcome` a callout is answered
synchronously inside :meth:`admit` (and a conference callout joins its room), and
the call stays ONGOING until it is hung up, or until ``max_live`` newer calls push it
out (:meth:`CallLifecycle.admit`). Steps that take emulated time or need a backend run
as one tracked task per call (see :mod:`sinch_calling.testing.clock`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeAlias

import attrs

from ..auth import format_timestamp
from ..models import CallReason, CallResult, CallStatus
from .callbacks import CallbackSender
from .clock import Clock, Timer
from .journal import Recent, SentEvent
from .outcomes import Outcome, Outcomes
from .state import Application, ConferenceState, EmulatedCall, ParticipantState, TrafficState

__all__ = ["EVICTED_REASON", "MAX_PROGRESS_ENTRIES", "CallLifecycle", "CallProgress"]

Document: TypeAlias = dict[str, Any]
Route: TypeAlias = tuple[str, ...] | Document  # callback URLs, or inline SVAML
MAX_MENU_ROUNDS = 50  # a backend answering every PIE with another menu must not spin forever
RATE_PER_MINUTE = 0.0368
RATE: dict[str, Any] = {"currencyId": "USD", "amount": RATE_PER_MINUTE}
MAX_PROGRESS_ENTRIES = 100
"""Prompts, tones and menu results a call remembers (the newest)."""
EVICTED_REASON = CallReason.TIMEOUT
"""Why a call pushed out by ``max_live`` newer calls ended (as if it reached its
``maxDuration``)."""


def _entries() -> Recent[Any]:
    return Recent(MAX_PROGRESS_ENTRIES)


@attrs.define(kw_only=True, eq=False)
class CallProgress:
    """What the emulator knows about one call beyond the REST view, for assertions.

    ``prompts``: texts said and file ids played, in order; ``heard``: what each leg
    (``"caller"``, ``"callee"``) was played by ``calls.manage_leg``, in order (a leg
    Sinch ignores, as for a callout or a conference participant, counts as the call's
    one party: the callee of a callout, the caller of an incoming call); ``sent_dtmf``:
    tones sent to the callee; ``menu_results``: each ``runMenu`` outcome (PIE's
    ``menuResult``) -- each of these keeps the newest :data:`MAX_PROGRESS_ENTRIES`;
    ``cookies``: ``setCookie`` values; ``recording``: the last ``startRecording``
    options; ``parked``: waiting for a ``PATCH`` to unpark it.
    """

    call_id: str
    outcome: Outcome
    routes: dict[str, Route] = attrs.Factory(dict)
    on_answer: tuple[tuple[str, ...], str | None] = ((), None)  # prompts, DTMF, on answer
    dtmf: list[str] = attrs.Factory(list)
    prompts: Recent[str] = attrs.Factory(_entries)
    sent_dtmf: Recent[str] = attrs.Factory(_entries)
    menu_results: Recent[dict[str, Any]] = attrs.Factory(_entries)
    cookies: dict[str, str] = attrs.Factory(dict)
    recording: dict[str, Any] | None = None
    parked: bool = False
    amd: bool = False
    wake: asyncio.Future[None] | None = attrs.field(default=None, repr=False)
    hangup_timer: Timer | None = attrs.field(default=None, repr=False)  # the talk time's end
    # What each leg heard, made on the first manage_leg (most calls never get one).
    legs: dict[str, Recent[str]] | None = attrs.field(default=None, repr=False)

    @property
    def heard(self) -> dict[str, list[str]]:
        """What the ``"caller"`` and ``"callee"`` legs were played, in order (a copy)."""
        legs = self.legs or {}
        return {leg: list(legs.get(leg, ())) for leg in ("caller", "callee")}

    def hear(self, leg: str, played: list[str]) -> None:
        """Record that ``leg`` (``"caller"`` or ``"callee"``) was played ``played``."""
        if self.legs is None:
            self.legs = {"caller": _entries(), "callee": _entries()}
        self.legs[leg].extend(played)


def _lower_keys(callout: Mapping[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in callout.items() if isinstance(k, str)}


def _on_answer(method: str, body: Mapping[str, Any]) -> tuple[tuple[str, ...], str | None]:
    """What the callee hears on answer: prompts said, DTMF sent (callout fields)."""
    prompts: list[str] = []
    spoken = body.get("text") or body.get("prompts")
    if method == "ttsCallout" and isinstance(spoken, str):
        prompts.append(spoken)
    if method == "conferenceCallout" and isinstance(body.get("greeting"), str):
        prompts.append(body["greeting"])
    dtmf = body.get("dtmf")
    return tuple(prompts), dtmf if isinstance(dtmf, str) else None


def _inline_or_url(value: object) -> Route | None:
    """A custom callout's ``ice``/``ace``/``pie``/``dice`` field: URL, inline SVAML or blank."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None
    return (text,)


def _name(element: object) -> str:
    return str(element.get("name", "")).lower() if isinstance(element, dict) else ""


def _played(instruction: object) -> list[str]:
    """The prompts a ``say`` (its text) or ``playFiles`` (its ids) plays; else none."""
    if not isinstance(instruction, dict):
        return []
    name = _name(instruction)
    if name == "say" and isinstance(instruction.get("text"), str):
        return [instruction["text"]]
    if name == "playfiles" and isinstance(instruction.get("ids"), list):
        return [str(i) for i in instruction["ids"]]
    return []


def _wire(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


class CallLifecycle:
    """Moves emulated calls from ONGOING to FINAL and sends their callbacks.

    It is handed the parts it works on: ``traffic`` (calls, conferences, bounds),
    ``applications`` (callback URLs and credentials, by key), ``outcomes`` (what callees
    do), ``clock`` (emulated time and tasks), ``callbacks`` (the sender) and ``origin``
    (the emulator's URL, for ICE's ``callResourceUrl``).
    """

    def __init__(self, *, traffic: TrafficState, applications: Mapping[str, Application],
                 outcomes: Outcomes, clock: Clock, callbacks: CallbackSender,
                 origin: Callable[[], str]) -> None:
        self._traffic = traffic
        self._applications = applications
        self._outcomes = outcomes
        self._clock = clock
        self._callbacks = callbacks
        self._origin = origin
        self._progress: dict[str, CallProgress] = {}

    # -- inspection -------------------------------------------------------------------

    def progress(self, call_id: str) -> CallProgress:
        """The call's :class:`CallProgress` (``KeyError`` for an unknown call)."""
        return self._progress[call_id]

    def press(self, call_id: str, *inputs: str) -> None:
        """Script the keys the callee of ``call_id`` presses at its next menus."""
        self._progress[call_id].dtmf.extend(inputs)

    def clear(self) -> None:
        """Forget per-call progress (calls stay in the traffic state)."""
        self._progress.clear()

    # -- the three entry points -------------------------------------------------------

    def admit(self, call: EmulatedCall, callout: Mapping[str, Any] | None = None) -> None:
        """Store the new ``call`` and start it; ``callout`` is the callout's own fields
        (``request[method]``), read now and not kept.

        When ``traffic.max_live`` calls are already ONGOING, the oldest of them ends first
        as if it reached its ``maxDuration``: reason :data:`EVICTED_REASON` (``TIMEOUT``),
        result ``ANSWERED`` if it was answered, else ``NOANSWER`` (as Sinch reports an
        unanswered call ended by timeout); its DiCE is sent as usual.
        """
        while (oldest := self._traffic.over_live_bound()) is not None:
            self._end(oldest, CallResult.ANSWERED if oldest.answered_at
                      else CallResult.NOANSWER, EVICTED_REASON)
        self._traffic.add(call)
        outcome = self._outcomes.choose(call.to.endpoint)
        body = _lower_keys(callout or {})
        progress = CallProgress(call_id=call.call_id, outcome=outcome, dtmf=list(outcome.dtmf),
                                routes=self._routes(call, body),
                                on_answer=_on_answer(call.method, body))
        self._progress[call.call_id] = progress
        pending_menu: Document | None = None
        ice = progress.routes.get("ice")
        if isinstance(ice, dict):  # inline SVAML: no backend to wait for
            del progress.routes["ice"]
            pending_menu = self._execute(call, progress, ice)
        if ("ice" not in progress.routes and pending_menu is None and not progress.parked
                and outcome.answers and outcome.ring == 0 and call.status is CallStatus.ONGOING):
            self._answer(call, progress)
            if (outcome.talk is None and not progress.routes.keys() & {"ace", "pie", "dice"}):
                return  # nothing happens until the call is hung up: no task needed
        self._clock.spawn(self._run(call, progress, pending_menu), f"sinch-call-{call.call_id}")

    def apply(self, call: EmulatedCall, document: dict[str, Any]) -> None:
        """A SVAML document arrived for ``call`` (``PATCH /calls/id/{callId}``)."""
        progress = self._progress_of(call)
        if progress.parked:
            progress.parked = False
            self._clock.wake(progress.wake)
        menu = self._execute(call, progress, document)
        if menu is not None:
            self._clock.spawn(self._menus(call, progress, menu), f"sinch-menu-{call.call_id}")

    def play_to_leg(self, call: EmulatedCall, leg: str, document: dict[str, Any]) -> None:
        """``PATCH /calls/id/{callId}/leg/{callLeg}``: play ``document``'s ``say`` and
        ``playFiles`` to ``leg`` (``caller``, ``callee``, ``both``), then its action.

        Sinch ignores the leg for conference participants and for calls placed by the
        Callout API: the prompt then goes to the call's one party."""
        progress = self._progress_of(call)
        call.svaml.append(document)
        if call.conference_id or call.method != "incoming":
            legs: tuple[str, ...] = ("caller",) if call.method == "incoming" else ("callee",)
        else:
            legs = ("caller", "callee") if leg == "both" else (leg,)
        instructions = document.get("instructions")
        for instruction in instructions if isinstance(instructions, list) else ():
            played = _played(instruction)
            progress.prompts.extend(played)
            for name in legs:
                progress.hear(name, played)
        if _name(document.get("action")) == "hangup":
            self.hangup(call, CallReason.MANAGERHANGUP)

    def hangup(self, call: EmulatedCall, reason: CallReason) -> None:
        """End ``call`` now (manage hang-up, conference kick, callee hang-up)."""
        if call.status is CallStatus.FINAL:
            return
        result = CallResult.ANSWERED if call.answered_at else CallResult.NA
        self._end(call, result, reason)

    # -- more ways in, for users' tests -------------------------------------------------

    async def notify(self, call: EmulatedCall, event_type: str,
                     **fields: Any) -> SentEvent | None:
        """Send a ``notify`` event about ``call`` to the application's callback URL."""
        return await self._notify(call, self._progress_of(call), event_type, **fields)

    async def _notify(self, call: EmulatedCall, progress: CallProgress, event_type: str,
                      **fields: Any) -> SentEvent | None:
        event = {"event": "notify", "callid": call.call_id, "version": 1,
                 "type": event_type, **fields}
        if call.custom is not None:
            event.setdefault("custom", call.custom)
        if call.conference_id:
            event.setdefault("conferenceId", call.conference_id)
        route = progress.routes.get("notify")
        app = self._applications.get(call.application_key)
        if not isinstance(route, tuple) or app is None:
            return None
        return await self._callbacks.send(app.credentials, route, event)

    # -- progress ----------------------------------------------------------------------

    def _progress_of(self, call: EmulatedCall) -> CallProgress:
        progress = self._progress.get(call.call_id)
        if progress is None:
            progress = CallProgress(call_id=call.call_id, outcome=Outcome())
            if call.call_id in self._traffic.calls:  # not for a forgotten call
                self._progress[call.call_id] = progress
        return progress

    def _routes(self, call: EmulatedCall, body: dict[str, Any]) -> dict[str, Route]:
        """Where each event of ``call`` goes: callback URLs or inline SVAML."""
        app = self._applications.get(call.application_key)
        urls = tuple(u for u in (app.callbacks.primary, app.callbacks.fallback) if u) if app \
            else ()
        routes: dict[str, Route] = {}
        if call.method == "customCallout" or call.method == "incoming":
            for name in ("ice", "ace", "pie", "dice"):
                route = _inline_or_url(body.get(name))
                if route is None and urls and (name != "ice" or not body.get("destination")):
                    route = urls
                if route is not None:
                    routes[name] = route
        elif urls:
            for name in ("ace", "pie", "dice"):
                if body.get(f"enable{name}") is True:
                    routes[name] = urls
        if urls:
            routes["notify"] = urls
        return routes

    async def _run(self, call: EmulatedCall, progress: CallProgress,
                   pending_menu: Document | None) -> None:
        outcome = progress.outcome
        if pending_menu is not None:
            await self._menus(call, progress, pending_menu)
        if "ice" in progress.routes:
            document = await self._send(call, progress, "ice", self._ice_event(call))
            if document is None:  # no instructions: Sinch cannot go on with the call
                self._end(call, CallResult.FAILED, CallReason.GENERALERROR)
            await self._perform(call, progress, document)
        while progress.parked and self._ongoing(call):
            await self._pause(progress, None)
        if self._ongoing(call) and call.answered_at is None:
            await self._pause(progress, outcome.ring)
            if self._ongoing(call):
                if outcome.answers:
                    self._answer(call, progress)
                else:
                    self._end(call, outcome.result, outcome.final_reason)
        if self._ongoing(call) and "ace" in progress.routes:
            await self._perform(call, progress, await self._send(
                call, progress, "ace", self._ace_event(call, progress)))
        if self._ongoing(call):
            if outcome.talk is not None:
                progress.hangup_timer = self._clock.schedule(
                    outcome.talk, lambda: self.hangup(call, CallReason.CALLEEHANGUP))
            while self._ongoing(call):
                await self._pause(progress, None)
        if "dice" in progress.routes:
            await self._send(call, progress, "dice", self._dice_event(call))
        recording = progress.recording or {}
        options = recording.get("options") or recording.get("recordingOptions") or {}
        if isinstance(options, dict) and options.get("notificationEvents"):
            await self._notify(call, progress, "recording_finished",
                               destination=options.get("destinationUrl"))

    async def _pause(self, progress: CallProgress, seconds: float | None) -> None:
        """Wait ``seconds`` of emulated time (``None``: until woken by a hang-up or PATCH)."""
        if seconds is not None and seconds <= 0:
            return
        clock = self._clock
        future = clock.future()
        progress.wake = future
        timer = clock.schedule(seconds, lambda: clock.wake(future)) if seconds else None
        try:
            await clock.park(future)
        finally:
            progress.wake = None
            if timer is not None:
                timer.cancel()

    @staticmethod
    def _ongoing(call: EmulatedCall) -> bool:
        return call.status is CallStatus.ONGOING

    def _answer(self, call: EmulatedCall, progress: CallProgress) -> None:
        call.answered_at = self._clock.utcnow()
        prompts, dtmf = progress.on_answer
        progress.on_answer = ((), None)
        progress.prompts.extend(prompts)
        if dtmf is not None:
            progress.sent_dtmf.append(dtmf)
        if call.conference_id is not None:  # a conference callout, or connectConf came first
            self._join(call, call.conference_id)

    def _join(self, call: EmulatedCall, conference_id: str) -> None:
        conferences = self._traffic.conferences
        self._traffic.leave(call, keep=conference_id)
        call.conference_id = conference_id
        if call.answered_at is None:
            return
        room = conferences.setdefault(conference_id,
                                      ConferenceState(conference_id=conference_id))
        if call.call_id not in room.participants:
            # The participant's own number: the caller of an incoming call, else the callee.
            number = call.cli if call.method == "incoming" else call.to.endpoint
            room.participants[call.call_id] = ParticipantState(
                call_id=call.call_id, cli=number or "",
                joined_at=self._clock.utcnow())

    def _end(self, call: EmulatedCall, result: CallResult, reason: CallReason) -> None:
        if call.status is CallStatus.FINAL:
            return
        traffic = self._traffic
        traffic.leave(call)
        call.finish(result, reason)
        progress = self._progress.get(call.call_id)
        if progress is not None:
            if progress.hangup_timer is not None:
                progress.hangup_timer.cancel()
                progress.hangup_timer = None
            self._clock.wake(progress.wake)
        for forgotten in traffic.retire(call.call_id):
            self._progress.pop(forgotten, None)

    # -- SVAML -------------------------------------------------------------------------

    def _execute(self, call: EmulatedCall, progress: CallProgress,
                 document: Document) -> Document | None:
        """Apply ``document``'s instructions and action; a ``runMenu`` action is returned
        for the caller to run (it needs the backend's PIE answer)."""
        call.svaml.append(document)
        instructions = document.get("instructions")
        for instruction in instructions if isinstance(instructions, list) else ():
            self._instruction(call, progress, instruction)
        action = document.get("action")
        name = _name(action)
        if not isinstance(action, dict):
            return None
        if name == "hangup":
            self.hangup(call, CallReason.MANAGERHANGUP)
        elif name == "connectconf" and action.get("conferenceId"):
            self._join(call, str(action["conferenceId"]))
        elif name == "runmenu":
            return action
        elif name == "park":
            progress.parked = True
        elif name == "connectpstn":
            amd = action.get("amd")
            progress.amd = isinstance(amd, dict) and bool(amd.get("enabled"))
        return None

    @staticmethod
    def _instruction(call: EmulatedCall, progress: CallProgress, instruction: object) -> None:
        name = _name(instruction)
        if not isinstance(instruction, dict):
            return
        if name in ("say", "playfiles"):
            progress.prompts.extend(_played(instruction))
        elif name == "senddtmf" and isinstance(instruction.get("value"), str):
            progress.sent_dtmf.append(instruction["value"])
        elif name == "setcookie":
            progress.cookies[str(instruction.get("key"))] = str(instruction.get("value"))
        elif name == "startrecording":
            progress.recording = instruction

    async def _perform(self, call: EmulatedCall, progress: CallProgress,
                       document: Document | None) -> None:
        if document is None or not self._ongoing(call):
            return
        menu = self._execute(call, progress, document)
        if menu is not None:
            await self._menus(call, progress, menu)

    async def _menus(self, call: EmulatedCall, progress: CallProgress, menu: Document) -> None:
        """Run ``menu``, send PIE, apply the answer; again while the answer is a menu."""
        current: Document | None = menu
        for _ in range(MAX_MENU_ROUNDS):
            if current is None or not self._ongoing(call):
                return
            result = self._menu_result(progress, current)
            progress.menu_results.append(result)
            if "pie" not in progress.routes:
                return
            answer = await self._send(call, progress, "pie", self._pie_event(call, result))
            if answer is None or not self._ongoing(call):
                return
            current = self._execute(call, progress, answer)
        self.hangup(call, CallReason.TIMEOUT)

    @staticmethod
    def _menu_result(progress: CallProgress, action: Document) -> dict[str, Any]:
        """What the callee's scripted keys make of a ``runMenu``: PIE's ``menuResult``."""
        menus = {str(m.get("id")): m for m in action.get("menus") or () if isinstance(m, dict)}
        menu_id = str(action.get("mainMenu") or next(iter(menus), "main"))
        for _ in range(len(menus) + 1):
            menu = menus.get(menu_id, {})
            if not progress.dtmf:
                return {"menuId": menu_id, "type": "timeout", "value": "", "inputMethod": "dtmf"}
            pressed = progress.dtmf.pop(0)
            options = {str(o.get("dtmf")): str(o.get("action", ""))
                       for o in menu.get("options") or () if isinstance(o, dict)}
            if pressed in options:
                kind, _, argument = options[pressed].partition("(")
                argument = argument.rstrip(")")
                if kind.strip().lower() == "menu" and argument in menus:
                    menu_id = argument
                    continue
                return {"menuId": menu_id, "type": "return", "value": argument or pressed,
                        "inputMethod": "dtmf"}
            kind = "sequence" if menu.get("maxDigits") else "invalidinput"
            return {"menuId": menu_id, "type": kind, "value": pressed, "inputMethod": "dtmf"}
        return {"menuId": menu_id, "type": "error", "value": "", "inputMethod": "dtmf"}

    # -- events ------------------------------------------------------------------------

    async def _send(self, call: EmulatedCall, progress: CallProgress, name: str,
                    event: dict[str, Any]) -> Document | None:
        """Deliver one event; the SVAML to apply next (inline, or the backend's answer)."""
        route = progress.routes.get(name)
        if route is None:
            return None
        if isinstance(route, dict):
            return route
        app = self._applications.get(call.application_key)
        if app is None:
            return None
        sent = await self._callbacks.send(app.credentials, route, event)
        return sent.svaml if sent is not None and name in ("ice", "ace", "pie") else None

    def _common(self, call: EmulatedCall, name: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event": name,
            "callid": call.call_id,
            "timestamp": format_timestamp(self._clock.utcnow()),
            "version": 1,
            "applicationKey": call.application_key,
        }
        if call.custom is not None:
            event["custom"] = call.custom
        if call.conference_id:
            event["conferenceId"] = call.conference_id
        return event

    def _to(self, call: EmulatedCall) -> dict[str, str]:
        return {"type": _wire(call.to.type), "endpoint": call.to.endpoint}

    def _ice_event(self, call: EmulatedCall) -> dict[str, Any]:
        event = self._common(call, "ice")
        event.update({
            "callResourceUrl": f"{self._origin()}/calling/v1/calls/id/{call.call_id}",
            "userRate": RATE,
            "cli": call.cli or "private",
            "to": self._to(call),
            "domain": call.domain,
            "originationType": call.domain.upper(),
            "duration": 0,
            "rdnis": "",
            "callHeaders": [],
        })
        return event

    def _ace_event(self, call: EmulatedCall, progress: CallProgress) -> dict[str, Any]:
        event = self._common(call, "ace")
        if progress.amd:
            event["amd"] = {"status": progress.outcome.amd, "duration": 2}
            if progress.outcome.amd == "machine":
                event["amd"]["reason"] = "longgreeting"
        return event

    def _pie_event(self, call: EmulatedCall, result: dict[str, Any]) -> dict[str, Any]:
        event = self._common(call, "pie")
        event["menuResult"] = result
        return event

    def _dice_event(self, call: EmulatedCall) -> dict[str, Any]:
        event = self._common(call, "dice")
        minutes = -(-call.duration // 60)
        event.update({
            "reason": _wire(call.reason),
            "result": _wire(call.result),
            "debit": {"currencyId": RATE["currencyId"],
                      "amount": round(minutes * RATE_PER_MINUTE, 4)},
            "userRate": RATE,
            "to": self._to(call),
            "from": call.cli or "private",
            "duration": call.duration,
            "callHeaders": [],
        })
        return event
