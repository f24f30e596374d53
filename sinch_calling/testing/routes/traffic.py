"""Traffic API: callouts, calls and conferences (prefix ``/calling/v1``).

Requests are checked as Sinch checks them (400 with ``errorCode`` 40001 illegal
parameter, 40002 missing parameter, 40003 invalid request; 404 with 40400 for an
unknown call or conference); call progress is left to the call life cycle.

An application sees only its own calls: another application's call is answered 404,
as an unknown one, and a conference shows (and lets it manage) only its own
participants.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import cattrs
from aiohttp import web

from ...auth import format_timestamp
from ...models import CallLeg, CallReason, CallStatus, Destination, DestinationType, Domain
from ...models.callouts import MusicOnHold
from ...models.commands import ParticipantCommandName
from ...serialization import converter
from ...svaml import Svaml, UnknownAction, UnknownInstruction
from ..checks import is_dtmf, is_e164
from ..keys import APPLICATION_KEY
from ..lifecycle import CallLifecycle
from ..responses import bad_request, not_found
from ..state import EmulatedCall, ParticipantState, TrafficState
from .body import json_object, strict_json

__all__ = ["TrafficRoutes", "call_information"]

_PREFIX = "/calling/v1"
_METHODS = ("ttsCallout", "conferenceCallout", "customCallout")
_RATE_PER_MINUTE = 0.0368
_CURRENCY = "USD"

MISSING = 40002
ILLEGAL = 40001
INVALID = 40003


# -- callouts ----------------------------------------------------------------------


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"Illegal parameter: {key} must be a string", ILLEGAL)
    return value


def _required(body: dict[str, Any], key: str) -> str:
    value = _text(body, key)
    if value is None or not value.strip():
        raise bad_request(f"Missing parameter: {key}", MISSING)
    return value


def _destination(body: dict[str, Any], *, required: bool = True) -> Destination | None:
    raw = body.get("destination")
    if raw is None:
        if required:
            raise bad_request("Missing parameter: destination", MISSING)
        return None
    if not isinstance(raw, dict):
        raise bad_request("Illegal parameter: destination must be an object", ILLEGAL)
    kind, endpoint = _required(raw, "type"), _required(raw, "endpoint")
    try:
        dtype = DestinationType(kind)
    except ValueError:
        raise bad_request(f"Illegal parameter: destination.type {kind!r}", ILLEGAL) from None
    if dtype is DestinationType.NUMBER:
        if not endpoint.startswith("+"):
            raise bad_request("Number missing leading +", 40005)
        if not is_e164(endpoint):
            raise bad_request(f"Illegal parameter: destination.endpoint {endpoint!r}", ILLEGAL)
    return Destination(type=dtype, endpoint=endpoint)


def _pstn_or_user(body: dict[str, Any]) -> Destination:
    destination = _destination(body)
    if destination is None:
        raise bad_request("Missing parameter: destination", MISSING)
    return destination


def _common(body: dict[str, Any]) -> None:
    """Checks every callout kind shares: cli, dtmf, maxDuration, flags, domain."""
    cli = _text(body, "cli")
    if cli is not None and not is_e164(cli):
        raise bad_request(f"Illegal parameter: cli {cli!r}", ILLEGAL)
    dtmf = _text(body, "dtmf")
    if dtmf is not None and not is_dtmf(dtmf):
        raise bad_request(f"Illegal parameter: dtmf {dtmf!r}", ILLEGAL)
    duration = body.get("maxDuration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int)
                                 or duration < 1):
        raise bad_request(f"Illegal parameter: maxDuration {duration!r}", ILLEGAL)
    for flag in ("enableAce", "enableDice", "enablePie"):
        if body.get(flag) is not None and not isinstance(body[flag], bool):
            raise bad_request(f"Illegal parameter: {flag} must be a boolean", ILLEGAL)
    domain = _text(body, "domain")
    if domain is not None:
        try:
            Domain(domain)
        except ValueError:
            raise bad_request(f"Illegal parameter: domain {domain!r}", ILLEGAL) from None
    custom = body.get("custom")
    if custom is not None and not isinstance(custom, str):
        raise bad_request("Illegal parameter: custom must be a string", ILLEGAL)


def _inline_svaml(key: str, value: str) -> dict[str, Any] | None:
    """A custom callout's event field: a URL (``None``) or SVAML as JSON text."""
    if value.lstrip().startswith("{"):
        try:
            document = strict_json(value)
        except (ValueError, RecursionError):
            raise bad_request(f"Illegal parameter: {key} is not valid SVAML", ILLEGAL) from None
        return _svaml(document, key)
    if not re.match(r"https?://[^/\s]+", value):
        raise bad_request(f"Illegal parameter: {key} must be a URL or SVAML", ILLEGAL)
    return None


def _tts(body: dict[str, Any]) -> tuple[Destination, str | None]:
    destination = _pstn_or_user(body)
    text, prompts = _text(body, "text"), _text(body, "prompts")
    if not (text or prompts):
        raise bad_request("Missing parameter: text or prompts", MISSING)
    return destination, None


def _conference(body: dict[str, Any]) -> tuple[Destination, str | None]:
    destination = _pstn_or_user(body)
    conference_id = _required(body, "conferenceId")
    moh = _text(body, "mohClass")
    if moh is not None:
        try:
            MusicOnHold(moh)
        except ValueError:
            raise bad_request(f"Illegal parameter: mohClass {moh!r}", ILLEGAL) from None
    return destination, conference_id


def _custom(body: dict[str, Any]) -> tuple[Destination, str | None]:
    documents = {}
    for key in ("ice", "ace", "pie", "dice"):
        value = _text(body, key)
        if value:
            documents[key] = _inline_svaml(key, value)
    destination = _destination(body, required=False)
    if destination is None:
        # The emulator cannot ask an ICE URL where to call; inline connectPstn will do.
        action = (documents.get("ice") or {}).get("action") or {}
        number = action.get("number") if action.get("name") == "connectPstn" else None
        if not isinstance(number, str):
            raise bad_request("Missing parameter: destination", MISSING)
        destination = Destination.number(number)
    return destination, None


_CHECKS = {"ttsCallout": _tts, "conferenceCallout": _conference, "customCallout": _custom}


def _participant(request: web.Request, room: dict[str, ParticipantState]) -> ParticipantState:
    participant = room.get(request.match_info["call_id"])
    if participant is None:
        raise not_found("Participant not found in conference")
    return participant


def _domain_of(destination: Destination) -> str:
    if destination.type == DestinationType.USERNAME:
        return Domain.MXP.value
    if destination.type == DestinationType.SIP:
        return Domain.SIP.value
    return Domain.PSTN.value


# -- calls -------------------------------------------------------------------------


def _money(amount: float) -> dict[str, Any]:
    return {"currencyId": _CURRENCY, "amount": round(amount, 4)}


def call_information(call: EmulatedCall, at: datetime) -> dict[str, Any]:
    """``GET /calls/id/{callId}``'s body for ``call``, as Sinch shapes it."""
    duration = call.duration_at(at)
    minutes = -(-duration // 60)
    info: dict[str, Any] = {
        "to": {"type": str(call.to.type), "endpoint": call.to.endpoint},
        "domain": call.domain,
        "callId": call.call_id,
        "duration": duration,
        "status": call.status.value,
        "result": call.result.value,
        "reason": call.reason.value,
        "timestamp": format_timestamp(call.started_at),
        "custom": call.custom,
        "userRate": _money(_RATE_PER_MINUTE),
        "debit": _money(_RATE_PER_MINUTE * minutes),
    }
    if call.cli:
        info["from"] = {"type": DestinationType.NUMBER.value, "endpoint": call.cli}
    return {k: v for k, v in info.items() if v is not None}


def _prompt(instruction: dict[str, Any], where: str) -> None:
    """A ``say`` needs text to say, a ``playFiles`` files to play: absent, ``null`` or
    empty is 40002 (missing parameter); blank text, a blank id or a value of the wrong
    type is 40001 (illegal parameter). Checked on the JSON itself, before any
    conversion could turn ``5`` into ``"5"``."""
    name = str(instruction.get("name", "")).lower()
    if name == "say":
        text = instruction.get("text")
        if text is None or text == "":
            raise bad_request(f"Missing parameter: {where}.text (the text to say)", MISSING)
        if not isinstance(text, str) or not text.strip():
            raise bad_request(f"Illegal parameter: {where}.text must be text to say; got "
                              f"{text!r}", ILLEGAL)
    elif name == "playfiles":
        ids = instruction.get("ids")
        if ids is None or ids == []:
            raise bad_request(f"Missing parameter: {where}.ids (the files to play)", MISSING)
        if not isinstance(ids, list) or not all(isinstance(i, str) and i.strip()
                                                for i in ids):
            raise bad_request(f"Illegal parameter: {where}.ids must be a list of file ids; "
                              f"got {ids!r}", ILLEGAL)


def _svaml(document: object, where: str) -> dict[str, Any]:
    """Check a SVAML document as Sinch would: an object with an action or instructions,
    made of elements Sinch knows, well formed."""
    if not isinstance(document, dict) or not (
            isinstance(document.get("action"), dict)
            or isinstance(document.get("instructions"), list)):
        raise bad_request(f"Invalid request: {where} must be SVAML with an action or "
                          "instructions", INVALID)
    instructions = document.get("instructions")
    for index, instruction in enumerate(instructions if isinstance(instructions, list) else ()):
        if isinstance(instruction, dict):
            _prompt(instruction, f"{where}.instructions[{index}]")
    try:
        parsed = converter.structure(document, Svaml)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise bad_request(f"Illegal parameter: {where} is not valid SVAML ({exc})",
                          ILLEGAL) from None
    unknown = [e.name for e in (*parsed.instructions, parsed.action)
               if isinstance(e, UnknownInstruction | UnknownAction)]
    if unknown:
        raise bad_request(f"Illegal parameter: unknown SVAML element {unknown[0]!r}", ILLEGAL)
    return document


_LEG_INSTRUCTIONS = frozenset({"playfiles", "say"})
_LEG_ACTIONS = frozenset({"hangup", "continue"})


class TrafficRoutes:
    """The traffic API's handlers, handed what they work on: ``traffic`` (calls and
    conferences to read), ``lifecycle`` (which admits, steers and ends calls) and
    ``now`` (the emulator's clock)."""

    def __init__(self, traffic: TrafficState, lifecycle: CallLifecycle,
                 now: Callable[[], datetime]) -> None:
        self._traffic = traffic
        self._lifecycle = lifecycle
        self._now = now

    def table(self) -> list[web.RouteDef]:
        """Every route, for ``app.add_routes``."""
        call = f"{_PREFIX}/calls/id/{{call_id}}"
        room = f"{_PREFIX}/conferences/id/{{conference_id}}"
        return [
            web.post(f"{_PREFIX}/callouts", self.callout),
            web.get(call, self.get_call),
            web.patch(call, self.manage_call),
            # Any segment reaches the handler: a bad leg is 40001 as on Sinch, never a 404.
            web.patch(f"{call}/leg/{{leg:[^/]+}}", self.manage_call_leg),
            web.get(room, self.get_conference),
            web.delete(room, self.kick_all),
            web.patch(f"{room}/{{call_id}}", self.manage_participant),
            web.delete(f"{room}/{{call_id}}", self.kick_participant),
        ]

    # -- callouts ------------------------------------------------------------------

    async def callout(self, request: web.Request) -> web.Response:
        """``POST /callouts``: place a tts, conference or custom call; ``{"callId": ...}``."""
        data = await json_object(request)
        method = data.get("method")
        if method is None:
            raise bad_request("Missing parameter: method", MISSING)
        if method not in _METHODS:
            raise bad_request(f"Illegal parameter: method {method!r}", ILLEGAL)
        body = data.get(method)
        if not isinstance(body, dict):
            raise bad_request(f"Missing parameter: {method}", MISSING)
        _common(body)
        destination, conference_id = _CHECKS[method](body)
        call = EmulatedCall(
            call_id=uuid.uuid4().hex,
            application_key=request[APPLICATION_KEY],
            method=method,
            to=destination,
            cli=body.get("cli"),
            domain=body.get("domain") or _domain_of(destination),
            custom=body.get("custom"),
            conference_id=conference_id,
            clock=self._now,
        )
        self._lifecycle.admit(call, body)
        return web.json_response({"callId": call.call_id})

    # -- calls ---------------------------------------------------------------------

    def _call(self, request: web.Request) -> EmulatedCall:
        call = self._traffic.calls.get(request.match_info["call_id"])
        if call is None or call.application_key != request[APPLICATION_KEY]:
            raise not_found("Call not found")
        return call

    async def get_call(self, request: web.Request) -> web.Response:
        """``GET /calls/id/{callId}``."""
        return web.json_response(call_information(self._call(request), self._now()))

    async def manage_call(self, request: web.Request) -> web.Response:
        """``PATCH /calls/id/{callId}``: SVAML for a live call (a finished call is gone:
        404)."""
        call = self._call(request)
        document = _svaml(await json_object(request), "body")
        if call.status is CallStatus.FINAL:
            raise not_found("Call not found: the call has ended")
        self._lifecycle.apply(call, document)
        return web.Response(status=204)

    async def manage_call_leg(self, request: web.Request) -> web.Response:
        """``PATCH /calls/id/{callId}/leg/{callLeg}``: play ``say``/``playFiles`` to the
        ``caller``, the ``callee`` or ``both`` (400 40001 for another leg or element,
        40002 with no instruction; 404 40400 for an unknown or ended call). Sinch ignores
        the leg for conference participants and calls placed by the Callout API; so does
        the emulator. A ``say`` without text or a ``playFiles`` without ids is 40002,
        with blank or mistyped ones 40001 (as on every SVAML route); a call not answered
        yet (a callout still ringing) is 400 40003 and nobody is recorded as having heard
        anything: Sinch plays to connected calls only."""
        raw_leg = request.match_info["leg"]
        if raw_leg not in {leg.value for leg in CallLeg}:
            raise bad_request(f"Illegal parameter: callLeg {raw_leg!r} (caller, callee or "
                              "both)", ILLEGAL)
        call = self._call(request)
        document = _svaml(await json_object(request), "body")
        instructions = document.get("instructions")
        names = [str(i.get("name", "")) for i in instructions or () if isinstance(i, dict)]
        if not names:
            raise bad_request("Missing parameter: instructions (playFiles or say)", MISSING)
        if any(n.lower() not in _LEG_INSTRUCTIONS for n in names):
            raise bad_request("Illegal parameter: a call leg takes playFiles or say "
                              f"instructions only; got {names!r}", ILLEGAL)
        action = document.get("action")
        if isinstance(action, dict) and str(action.get("name", "")).lower() not in _LEG_ACTIONS:
            raise bad_request(f"Illegal parameter: action {action.get('name')!r} on a call "
                              "leg (hangup or continue)", ILLEGAL)
        if call.status is CallStatus.FINAL:
            raise not_found("Call not found: the call has ended")
        if call.answered_at is None:  # Sinch manages "ongoing, connected calls" this way
            raise bad_request("Invalid request: the call is not connected yet (still "
                              "ringing); a prompt plays only on an answered call", INVALID)
        self._lifecycle.play_to_leg(call, raw_leg, document)
        return web.Response(status=204)

    # -- conferences ---------------------------------------------------------------

    def _conference_of(self, request: web.Request) -> dict[str, ParticipantState]:
        """The participants of the conference that are the caller's own calls (404:
        none)."""
        room = self._traffic.conferences.get(request.match_info["conference_id"])
        key = request[APPLICATION_KEY]
        calls = self._traffic.calls
        mine = {call_id: participant for call_id, participant in room.participants.items()
                if (call := calls.get(call_id)) is not None
                and call.application_key == key} if room is not None else {}
        if not mine:
            raise not_found("Conference not found")
        return mine

    async def get_conference(self, request: web.Request) -> web.Response:
        """``GET /conferences/id/{conferenceId}``."""
        room = self._conference_of(request)
        at = self._now()
        return web.json_response({"participants": [
            {"cli": p.cli, "id": p.call_id, "duration": p.duration_at(at), "muted": p.muted,
             "onhold": p.onhold}
            for p in room.values()
        ]})

    async def manage_participant(self, request: web.Request) -> web.Response:
        """``PATCH /conferences/id/{conferenceId}/{callId}``: mute, unmute, onhold, resume."""
        room = self._conference_of(request)
        participant = _participant(request, room)
        data = await json_object(request)
        raw = _required(data, "command")
        try:
            command = ParticipantCommandName(raw)
        except ValueError:
            raise bad_request(f"Illegal parameter: command {raw!r}", ILLEGAL) from None
        moh = _text(data, "moh")
        if moh is not None:
            try:
                moh = MusicOnHold(moh).value
            except ValueError:
                raise bad_request(f"Illegal parameter: moh {moh!r}", ILLEGAL) from None
        if command is ParticipantCommandName.MUTE:
            participant.muted = True
        elif command is ParticipantCommandName.UNMUTE:
            participant.muted = False
        elif command is ParticipantCommandName.ONHOLD:
            participant.onhold, participant.moh = True, moh
        else:
            participant.onhold, participant.moh = False, None
        return web.Response(status=204)

    def _kick(self, call_id: str) -> None:
        call = self._traffic.calls.get(call_id)
        if call is not None:
            self._lifecycle.hangup(call, CallReason.MANAGERHANGUP)  # leaves the room too

    async def kick_participant(self, request: web.Request) -> web.Response:
        """``DELETE /conferences/id/{conferenceId}/{callId}``: hang up one participant."""
        room = self._conference_of(request)
        participant = _participant(request, room)
        self._kick(participant.call_id)
        return web.Response(status=204)

    async def kick_all(self, request: web.Request) -> web.Response:
        """``DELETE /conferences/id/{conferenceId}``: hang up every participant."""
        for call_id in self._conference_of(request):
            self._kick(call_id)
        return web.Response(status=204)
