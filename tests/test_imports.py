"""What ``import sinch_calling`` loads: the client core, not the SVAML, recordings
transfer, webhooks or emulator machinery (each loads on first use; README's import
time figure rests on this)."""

from __future__ import annotations

import json
import subprocess
import sys

LAZY = ("sinch_calling.webhooks", "sinch_calling.transfer", "sinch_calling.export",
        "sinch_calling.sinks", "sinch_calling.filenames", "sinch_calling.api.recordings",
        "sinch_calling.testing", "sinch_calling.campaign", "sinch_calling.cli")


def _loaded(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def test_import_leaves_the_heavy_machinery_for_later() -> None:
    loaded = _loaded("import sinch_calling")
    assert not {m for m in loaded if any(m == lazy or m.startswith(lazy + ".") for lazy in LAZY)}


def test_first_use_loads_what_it_needs() -> None:
    loaded = _loaded("import sinch_calling\n"
                     "client = sinch_calling.SinchCalling('key', 'c2VjcmV0')\n"
                     "client.recordings\n"
                     "from sinch_calling.api import _checks\n"
                     "from sinch_calling.svaml import Svaml, Hangup\n"
                     "_checks.callback('ace', Svaml(action=Hangup()))")
    assert "sinch_calling.api.recordings" in loaded
    assert "sinch_calling.svaml" in loaded
