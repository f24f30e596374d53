"""The structure issue 8 asks for, held by tests: one implementation of the Application
scheme, every exception in errors.py, rules in validation.py, models free of the
converter, the converter configured in one place, svaml and events on the package."""

from __future__ import annotations

import inspect
import pkgutil
from importlib import import_module
from pathlib import Path

import pytest

import sinch_calling
from sinch_calling import converter
from sinch_calling.models import Destination

PACKAGE = Path(sinch_calling.__file__).parent
SOURCES = {p: p.read_text() for p in PACKAGE.rglob("*.py") if "testing" not in p.parts}


def test_the_package_exposes_svaml_and_events() -> None:
    assert sinch_calling.svaml.Svaml is not None
    assert sinch_calling.events.parse is not None


def test_every_public_exception_lives_in_errors() -> None:
    for info in pkgutil.walk_packages(sinch_calling.__path__, "sinch_calling."):
        if ".testing" in info.name or info.name.endswith("__main__"):
            continue
        module = import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, Exception) \
                    and value.__module__ == info.name and not name.startswith("_"):
                assert info.name == "sinch_calling.errors", f"{info.name}.{name}"


def test_only_auth_knows_the_application_scheme() -> None:
    for path, text in SOURCES.items():
        if path.name != "auth.py":
            assert "string_to_sign(" not in text, path
            assert "content_md5(" not in text, path


@pytest.mark.parametrize("pattern", [r"[0-9*#wW]", r"\+[0-9]{1,15}"])
def test_each_argument_pattern_is_written_once(pattern: str) -> None:
    where = [p.name for p, text in SOURCES.items() if pattern in text]
    assert where == ["validation.py"]


def test_models_import_no_converter_and_nothing_imports_the_package_root() -> None:
    for path, text in SOURCES.items():
        if path.parent.name == "models" or path.name in ("svaml.py", "validation.py"):
            assert "import serialization" not in text, path
            assert "from ..serialization" not in text, path
            assert "from .serialization" not in text, path
    for path, text in SOURCES.items():
        if path.parent == PACKAGE and path.name in ("__init__.py", "demo.py", "__main__.py"):
            continue
        assert "from . import __version__" not in text, path
        assert "from .. import " not in text, path


def test_no_hook_is_registered_for_a_bare_union() -> None:
    # DiCE's "from" override applies to that field only: a bare union of a string and a
    # destination is not something the converter decodes on its own.
    with pytest.raises(Exception):  # noqa: B017,PT011 -- cattrs' own "no hook" error
        converter.structure({"type": "number", "endpoint": "+46"}, str | Destination | None)
