"""What ``import sinch_calling`` loads: the client core, not the SVAML, event, recordings
transfer, webhooks or emulator machinery (each loads on first use; README's import
time figure rests on this), and what first use then gives, whatever the import order."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

LAZY = ("sinch_calling.svaml", "sinch_calling.events", "sinch_calling.models.events",
        "sinch_calling._fast_structure", "sinch_calling._fast_unstructure",
        "sinch_calling.webhooks", "sinch_calling.transfer",
        "sinch_calling.export",
        "sinch_calling.sinks", "sinch_calling.filenames", "sinch_calling.api.recordings",
        "sinch_calling.testing", "sinch_calling.campaign", "sinch_calling.cli",
        "sinch_calling.demo")


def _loaded(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def _run(code: str) -> str:
    """``code`` in a fresh interpreter (nothing imported yet); its standard output."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_leaves_the_heavy_machinery_for_later() -> None:
    loaded = _loaded("import sinch_calling")
    assert not {m for m in loaded if any(m == lazy or m.startswith(lazy + ".") for lazy in LAZY)}


def test_a_client_and_its_plain_calls_load_no_svaml_or_events() -> None:
    loaded = _loaded("import sinch_calling\n"
                     "from sinch_calling.models.callouts import CalloutResponse\n"
                     "client = sinch_calling.SinchCalling('key', 'c2VjcmV0')\n"
                     "client.callouts, client.calls, client.conferences, client.numbers\n"
                     "client.callbacks\n"
                     "sinch_calling.converter.structure({'callId': 'x'}, CalloutResponse)\n"
                     "sinch_calling.converter.unstructure(sinch_calling.Destination("
                     "type='number', endpoint='+46700000000'))")
    assert not {"sinch_calling.svaml", "sinch_calling.events",
                "sinch_calling.models.events"} & loaded


def test_first_use_loads_what_it_needs() -> None:
    loaded = _loaded("import sinch_calling\n"
                     "client = sinch_calling.SinchCalling('key', 'c2VjcmV0')\n"
                     "client.recordings\n"
                     "from sinch_calling.api import _checks\n"
                     "from sinch_calling.svaml import Svaml, Hangup\n"
                     "_checks.callback('ace', Svaml(action=Hangup()))")
    assert "sinch_calling.api.recordings" in loaded
    assert "sinch_calling.svaml" in loaded


def test_svaml_and_events_are_attributes_of_the_package_on_first_use() -> None:
    out = _run("""
        import sinch_calling
        print(sinch_calling.svaml.__name__, sinch_calling.events.__name__)
        from sinch_calling import events, svaml
        print(svaml is sinch_calling.svaml, events is sinch_calling.events)
        print({"svaml", "events"} <= set(dir(sinch_calling)))
        from sinch_calling import *
        print(svaml.Svaml.__name__)
        try:
            sinch_calling.no_such_name
        except AttributeError as exc:
            print(exc)
    """).split("\n")
    assert out[:4] == ["sinch_calling.svaml sinch_calling.events", "True True", "True",
                       "Svaml"]
    assert out[4] == "module 'sinch_calling' has no attribute 'no_such_name'"


# One program, run after each import order: the converter's answers must not depend on it.
_ROUND_TRIP = """
import json
from sinch_calling import converter
from sinch_calling.events import IncomingCallEvent, UnknownEvent, parse
from sinch_calling.svaml import Action, Hangup, Instruction, Say, Svaml, UnknownInstruction

doc = Svaml([Say("Hi", locale="en-US"), UnknownInstruction({"name": "future", "x": 1})],
            Hangup())
wire = converter.unstructure(doc)
back = converter.structure(wire, Svaml)
ice = parse(b'{"event": "ice", "callid": "c1", "to": {"type": "number", '
            b'"endpoint": "+46700000000"}}')
print(json.dumps([wire, back == doc, converter.unstructure(ice),
                  converter.structure({"name": "hangup"}, Action) == Hangup(),
                  type(converter.structure({"name": "nope"}, Instruction)).__name__,
                  converter.unstructure(parse(b'{"event": "new", "callId": "c2"}')),
                  type(converter.structure({"event": "x"}, UnknownEvent)).__name__,
                  type(ice).__name__ == IncomingCallEvent.__name__], sort_keys=True))
"""


def test_the_converter_gives_the_same_answers_whatever_was_imported_first() -> None:
    orders = [
        "",  # the package, then svaml and events on first use
        "import sinch_calling.svaml, sinch_calling.models.events\n",  # before the converter
        "import sinch_calling.serialization\n",  # the converter alone first
        # types looked up before SVAML and the events exist must not stick
        "from sinch_calling import converter\nfrom typing import Any\n"
        "converter.structure('x', str); converter.unstructure({'a': 1}, Any)\n",
    ]
    answers = {_run(first + _ROUND_TRIP) for first in orders}
    assert len(answers) == 1, answers
    wire, same, ice, action, unknown, new, unknown_event, is_ice = json.loads(answers.pop())
    assert wire == {"instructions": [{"name": "say", "text": "Hi", "locale": "en-US"},
                                     {"name": "future", "x": 1}],
                    "action": {"name": "hangup"}}
    assert same
    assert action
    assert is_ice
    assert ice["event"] == "ice"
    assert ice["callid"] == "c1"
    assert unknown == "UnknownInstruction"
    assert unknown_event == "UnknownEvent"
    assert new == {"event": "new", "callId": "c2"}
