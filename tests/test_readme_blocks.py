"""Every ```python block of README.md runs, as written, against the emulator.

How a block runs (the convention; README's "Development" section says the same):

* By default a block is the body of an ``async def``: top-level ``await`` works, and
  it finds ``sinch`` (a ``SinchCalling`` signed for a fresh emulator and pointed at it)
  and ``emu`` (that ``Emulator``, realtime) already defined, the current directory is
  an empty temporary one, and ``SINCH_APPLICATION_KEY`` / ``SINCH_APPLICATION_SECRET``
  / ``SINCH_BASE_URL`` point at the emulator. ``__name__`` is ``"readme"``, so code
  under ``if __name__ == "__main__":`` (``asyncio.run(main())``, ``web.run_app(app)``)
  is defined but not started. Each block starts afresh: nothing carries over.
* A block may need setup the reader need not see (numbers the account owns,
  recordings to list) or a check after it. Put an HTML comment right above its fence
  (GitHub does not show it); each key is followed by indented Python that runs in the
  block's namespace, ``await`` allowed::

      <!-- readme-test
      setup:
          emu.configuration.add_number("+14151112223333")
      check:
          assert (await sinch.callbacks.get()).primary == "https://my.host/sinch"
      -->

* ``<!-- readme-test: pytest -->`` above a block marks a pytest test file: it is
  written to a fresh project (pytest-asyncio in strict mode, the sinch_calling plugin
  installed) and must pass there.

Every python fence is a block: at any indentation (inside a list item), in any case,
with attributes after the language (```python, ```Python, ```py, ```python3,
```python title="x", ```{.python}, ~~~python). One it cannot run as written (never
closed, inside a blockquote) is an error naming its line, never skipped; a looser scan
cross-checks that none was missed.

A failure names the README line of the block (``README.md:123``), the section it sits
in, and the error with its traceback mapped to README lines.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
import textwrap
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from types import CodeType
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import SinchCalling
from sinch_calling.testing import Emulator
from tests._pytester import REWRITE_WARNING

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"
DIRECTIVE = "readme-test"
KEYS = ("setup", "check")
STAGE_LIMIT = 120  # seconds: a safety net against a block that never returns, not a timing
MODES = ("run", "pytest")

# A fence opens at any indentation (a block inside a list item is indented), with an
# info string whose first word is the language, in any case, perhaps with attributes:
# ```python, ```Python, ```python title="x", ```{.python}. A backtick fence's info
# string holds no backtick (CommonMark), so ```x``` on one line is inline code.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<quote>(?:>[ \t]?)*)(?P<fence>`{3,}|~{3,})"
                    r"(?P<info>[^\n]*)$")
_LANGUAGE = re.compile(r"[{.\s]*(?P<name>[\w+-]*)")
PYTHON = frozenset({"python", "py", "python3", "py3"})
_COMMENT = re.compile(r"<!--\s*" + DIRECTIVE + r"(?P<body>.*?)-->", re.DOTALL)


@attrs.frozen
class Code:
    """Python text and the README line its first line sits on."""

    text: str
    line: int


@attrs.frozen
class Block:
    """One ```python block of README, with what its directive asks."""

    code: Code
    section: str
    mode: str = "run"
    setup: Code | None = None
    check: Code | None = None

    @property
    def where(self) -> str:
        return f"README.md:{self.code.line} (section {self.section!r})"


class DirectiveError(ValueError):
    """A ``readme-test`` comment this extractor does not understand."""


def _directive(comment: str, first_line: int) -> dict[str, Any]:
    """Parse the body of ``<!-- readme-test ... -->`` starting on README line
    ``first_line``: ``{"mode": ..., "setup": Code, "check": Code}``."""
    head, _, rest = comment.partition("\n")
    parsed: dict[str, Any] = {}
    head = head.strip()
    if head.startswith(":"):
        mode = head[1:].strip()
        if mode not in MODES:
            raise DirectiveError(f"README.md:{first_line}: unknown readme-test mode {mode!r} "
                                 f"(known: {', '.join(MODES)})")
        parsed["mode"] = mode
    elif head:
        raise DirectiveError(f"README.md:{first_line}: write 'readme-test: MODE' or put keys "
                             "on the following lines")
    key: str | None = None
    lines: list[str] = []
    start = first_line

    def close() -> None:
        if key is not None:
            parsed[key] = Code(textwrap.dedent("\n".join(lines)).strip("\n"), start)

    for number, line in enumerate(rest.splitlines(), first_line + 1):
        match = re.fullmatch(r"(\w+):\s*(.*)", line.strip()) if not line[:1].isspace() else None
        if match:
            close()
            key, lines, start = match[1], [], number + 1
            if key not in KEYS:
                raise DirectiveError(f"README.md:{number}: unknown readme-test key {key!r} "
                                     f"(known: {', '.join(KEYS)})")
            if match[2]:
                lines, start = [match[2]], number
        elif line.strip():
            if key is None:
                raise DirectiveError(f"README.md:{number}: code outside a key "
                                     f"({', '.join(KEYS)}) in a readme-test comment")
            lines.append(line)
        elif key is not None:
            lines.append("")
    close()
    return parsed


def _language(info: str) -> str:
    """``python title="x"`` -> ``python``; ``{.Python}`` -> ``python``."""
    match = _LANGUAGE.match(info)
    return match["name"].lower() if match else ""


def _closes(line: str, fence: str) -> bool:
    """Does ``line`` close a block opened by ``fence`` (the same character, at least as
    many, nothing after but spaces; any indentation)?"""
    stripped = line.strip()
    return (len(stripped) >= len(fence) and set(stripped) == {fence[0]})


def _unindent(lines: list[str], indent: str) -> str:
    """The block's lines without the fence's own indentation (as CommonMark reads a
    fenced block inside a list item), then dedented."""
    width = len(indent)
    trimmed = [line[min(width, len(line) - len(line.lstrip(" \t"))):] for line in lines]
    return "\n".join(textwrap.dedent("\n".join(trimmed)).splitlines())


def extract(text: str) -> list[Block]:
    """Every python block of a Markdown ``text``, in order, with its directive.

    Raises :class:`DirectiveError` naming the README line for a directive it does not
    understand and for a python block it cannot run as written (unclosed, or inside a
    blockquote): a python block is never skipped silently.
    """
    blocks: list[Block] = []
    lines = text.splitlines()
    section = "(top)"
    pending: tuple[dict[str, Any], int] | None = None  # a directive and the line it ends
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence is not None and fence["fence"][0] == "`" and "`" in fence["info"]:
            fence = None  # ```inline``` code, not a fence
        if fence is None:
            if line.startswith("#"):
                section = line.lstrip("#").strip()
            if line.lstrip().startswith("<!--") and DIRECTIVE in line:
                end = index
                while "-->" not in lines[end]:
                    end += 1
                    if end == len(lines):
                        raise DirectiveError(f"README.md:{index + 1}: unclosed readme-test "
                                             "comment")
                comment = _COMMENT.search("\n".join(lines[index:end + 1]))
                if comment is None:
                    raise DirectiveError(f"README.md:{index + 1}: malformed readme-test "
                                         "comment")
                pending = (_directive(comment["body"], index + 1), end)
                index = end
            index += 1
            continue
        marker, info = fence["fence"], fence["info"].strip()
        language = _language(info)
        end = index + 1
        while end < len(lines) and not _closes(lines[end], marker):
            end += 1
        if language in PYTHON:
            where = f"README.md:{index + 1}"
            if fence["quote"]:
                raise DirectiveError(f"{where}: a ```{info} block inside a blockquote is not "
                                     "run by the suite; take it out of the quote")
            if end == len(lines):
                raise DirectiveError(f"{where}: a ```{info} block is never closed")
            body = _unindent(lines[index + 1:end], fence["indent"])
            directive: dict[str, Any] = {}
            if pending is not None:
                gap = lines[pending[1] + 1:index]
                if any(g.strip() for g in gap):
                    raise DirectiveError(f"README.md:{pending[1] + 1}: a readme-test comment "
                                         "must sit right above its ```python block")
                directive = pending[0]
            blocks.append(Block(Code(body, index + 2), section, **directive))
        elif pending is not None:
            raise DirectiveError(f"README.md:{pending[1] + 1}: a readme-test comment must sit "
                                 f"right above a ```python block, not a ```{info} one")
        pending = None
        index = end + 1
    if pending is not None:
        raise DirectiveError(f"README.md:{pending[1] + 1}: a readme-test comment with no "
                             "block after it")
    return blocks


BLOCKS = extract(README.read_text())


def _ids(blocks: list[Block]) -> list[str]:
    return [f"line{b.code.line}-{re.sub(r'[^a-z0-9]+', '-', b.section.lower()).strip('-')}"
            for b in blocks]


def _compile(code: Code) -> CodeType:
    # Padded so line numbers in tracebacks are README's, and linecache shows its lines.
    source = "\n" * (code.line - 1) + code.text
    return compile(source, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                   dont_inherit=True)


async def _run(code: Code, namespace: dict[str, Any]) -> None:
    result = eval(_compile(code), namespace)  # README's own code, by design
    if inspect.isawaitable(result):
        await result


def _readme_traceback(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(README)]
    return "".join(traceback.format_list(frames)) if frames else ""


async def _stage(block: Block, stage: str, code: Code, namespace: dict[str, Any]) -> None:
    """Run one stage of ``block``; a failure says which README block and why."""
    try:
        async with asyncio.timeout(STAGE_LIMIT):
            await _run(code, namespace)
    except TimeoutError:
        failure: Exception | None = TimeoutError(
            f"still running after {STAGE_LIMIT} s (a server started outside "
            "`if __name__ == \"__main__\":`?)")
    except Exception as exc:
        failure = exc
    else:
        failure = None
    if failure is not None:  # outside the except: the report is README's, not ours
        what = "its block" if stage == "block" else f"its readme-test {stage}"
        pytest.fail(f"{block.where}: {what} failed: {type(failure).__name__}: {failure}\n"
                    f"{_readme_traceback(failure)}", pytrace=False)


@pytest.fixture
async def readme_world(tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    """What a block finds: ``emu``, ``sinch``, a temporary cwd, SINCH_* variables."""
    monkeypatch.chdir(tmp_path)
    async with Emulator() as emu, SinchCalling(emu.application_key, emu.application_secret,
                                               base_url=emu.url) as sinch:
        monkeypatch.setenv("SINCH_APPLICATION_KEY", emu.application_key)
        monkeypatch.setenv("SINCH_APPLICATION_SECRET", emu.application_secret)
        monkeypatch.setenv("SINCH_BASE_URL", emu.url)
        monkeypatch.delenv("SINCH_REGION", raising=False)
        yield {"__name__": "readme", "emu": emu, "sinch": sinch}


RUN = [b for b in BLOCKS if b.mode == "run"]
PYTEST = [b for b in BLOCKS if b.mode == "pytest"]


@pytest.mark.parametrize("block", RUN, ids=_ids(RUN))
async def test_readme_block_runs(block: Block, readme_world: dict[str, Any]) -> None:
    for stage, code in (("setup", block.setup), ("block", block.code),
                        ("check", block.check)):
        if code is not None:
            await _stage(block, stage, code, readme_world)
    await readme_world["emu"].settle()


@pytest.mark.parametrize("block", PYTEST, ids=_ids(PYTEST))
def test_readme_test_file_passes(block: Block, pytester: pytest.Pytester) -> None:
    pytester.makeini(f"""
        [pytest]
        asyncio_mode = strict
        asyncio_default_fixture_loop_scope = function
        filterwarnings =
            error
            {REWRITE_WARNING}
    """)
    pytester.makepyfile(**{"test_from_readme": "\n" * (block.code.line - 1) + block.code.text})
    result = pytester.runpytest("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    if result.ret != 0 or not outcomes.get("passed"):
        pytest.fail(f"{block.where}: as a test file it did not pass under pytest-asyncio "
                    f"(strict mode): {outcomes}\n{result.stdout.str()[-3000:]}", pytrace=False)


# -- the extractor itself -------------------------------------------------------------


# Deliberately looser than the extractor: any line that looks like it opens a python
# fence, at any indentation, in any case, with anything after the language.
_LOOSE_PYTHON_FENCE = re.compile(
    r"^[ \t>]*(?:`{3,}|~{3,})[ \t{.]*(?:python3?|py3?)(?![\w+-])", re.IGNORECASE | re.MULTILINE)


def _uncollected(text: str, blocks: list[Block]) -> list[str]:
    """A message per python-looking fence of ``text`` that no block of ``blocks`` opens."""
    collected = {b.code.line - 1 for b in blocks}
    fences = [text.count("\n", 0, m.start()) + 1 for m in _LOOSE_PYTHON_FENCE.finditer(text)]
    return [f"README.md:{line}: a python fence the extractor did not collect: "
            f"{text.splitlines()[line - 1].strip()!r}" for line in fences
            if line not in collected]


def test_every_python_block_is_collected() -> None:
    text = README.read_text()
    missing = _uncollected(text, BLOCKS)
    assert not missing, "\n".join(missing)
    assert BLOCKS, "README.md: no ```python block found at all"
    odd = [f"{b.where}: unknown mode {b.mode!r}" for b in BLOCKS if b.mode not in MODES]
    assert not odd, "\n".join(odd)


@pytest.mark.parametrize(("fence", "indent"), [
    ("```python", ""), ("```Python", ""), ("```PY", ""), ("```python3", ""),
    ('```python title="example.py"', ""), ("```python {.numberLines}", ""),
    ("```{.python}", ""), ("~~~python", ""), ("````python", ""),
    ("```python", "   "), ("```python", "    "), ("```python", "  "), ("```python", "\t"),
])
def test_every_kind_of_python_fence_is_found(fence: str, indent: str) -> None:
    close = fence[0] * (len(fence) - len(fence.lstrip(fence[0])))
    text = (f"# T\n- a list item:\n\n{indent}{fence}\n{indent}x = 1\n{indent}if x:\n"
            f"{indent}    y = 2\n{indent}{close}\n")
    blocks = extract(text)
    assert [(b.code.line, b.code.text) for b in blocks] == [(5, "x = 1\nif x:\n    y = 2")]
    assert _uncollected(text, blocks) == []


def test_a_fence_the_extractor_misses_is_named_by_its_line() -> None:
    text = "# T\n\n```python\nx = 1\n```\n"
    assert _uncollected(text, []) == [
        "README.md:3: a python fence the extractor did not collect: '```python'"]


@pytest.mark.parametrize(("text", "message"), [
    ("> ```python\n> x = 1\n> ```\n", r"README.md:1: .*blockquote"),
    ("text\n```python\nx = 1\n", r"README.md:2: .*never closed"),
])
def test_a_python_block_that_cannot_run_is_named_not_skipped(text: str, message: str) -> None:
    with pytest.raises(DirectiveError, match=message):
        extract(text)


def test_non_python_fences_and_inline_code_are_not_blocks() -> None:
    text = ("```sh\npython x.py\n```\n```pycon\n>>> 1\n```\n```python-repl\n>>> 1\n```\n"
            "Run ```python -m x``` there.\n~~~\n```python\n~~~\n")
    assert extract(text) == []
    assert _uncollected(text.replace("~~~\n```python\n~~~\n", ""), []) == []


def test_directives_are_parsed_with_their_lines() -> None:
    text = textwrap.dedent('''\
        # Title
        ## Numbers
        <!-- readme-test
        setup:
            emu.configuration.add_number("+14151112223333")
            x = 1
        check: assert x == 2
        -->
        ```python
        x = 2
        ```
        <!-- readme-test: pytest -->
        ```py
        def test_x(): pass
        ```
        ```sh
        echo not python
        ```
    ''')
    first, second = extract(text)
    assert first.section == "Numbers"
    assert first.code == Code("x = 2", 10)
    assert first.setup == Code('emu.configuration.add_number("+14151112223333")\nx = 1', 5)
    assert first.check == Code("assert x == 2", 7)
    assert (second.mode, second.code.line) == ("pytest", 14)


@pytest.mark.parametrize(("text", "message"), [
    ("<!-- readme-test\nsetpu:\n    x = 1\n-->\n```python\nx\n```\n", "unknown readme-test key"),
    ("<!-- readme-test: later -->\n```python\nx\n```\n", "unknown readme-test mode"),
    ("<!-- readme-test: pytest -->\ntext\n```python\nx\n```\n", "right above"),
    ("<!-- readme-test: pytest -->\n```sh\nx\n```\n", "not a ```sh one"),
    ("<!-- readme-test: pytest -->\n", "no block after it"),
    ("<!-- readme-test\nsetup:\n  x = 1\n", "unclosed"),
])
def test_a_directive_mistake_names_its_line(text: str, message: str) -> None:
    with pytest.raises(DirectiveError, match=message) as info:
        extract(text)
    assert str(info.value).startswith("README.md:")


async def test_a_failing_block_names_its_readme_line(tmp_path: Path) -> None:
    block = Block(Code("x = 1\nassert x == 2, 'x is not 2'", 41), "Numbers")
    with pytest.raises(pytest.fail.Exception) as info:
        await _stage(block, "block", block.code, {})
    message = str(info.value)
    assert message.startswith("README.md:41 (section 'Numbers'): its block failed: "
                              "AssertionError: x is not 2")
    assert f'File "{README}", line 42' in message



async def test_a_block_that_never_returns_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "STAGE_LIMIT", 0.05)
    block = Block(Code("import asyncio\nawait asyncio.Event().wait()", 7), "Serving")
    with pytest.raises(pytest.fail.Exception, match=r"README.md:7 .*still running"):
        await _stage(block, "block", block.code, {})


_SEGMENTS = st.sampled_from(["prose", "heading", "python", "sh", "directive-python",
                             "pytest-python", "blank"])


@settings(max_examples=60, deadline=None)
@given(st.lists(_SEGMENTS, max_size=12), st.text(alphabet="abc xyz=1()", max_size=12))
def test_extract_finds_every_python_block_on_its_line(segments: list[str], code: str) -> None:
    lines: list[str] = []
    expected: list[tuple[int, str, str]] = []  # (line, mode, text)
    for index, kind in enumerate(segments):
        text = f"x{index} = {code!r}"
        if kind == "prose":
            lines.append(f"Some words {code}".replace("<!--", "").replace("```", ""))
        elif kind == "heading":
            lines.append(f"## Section {index}")
        elif kind == "blank":
            lines.append("")
        elif kind == "sh":
            lines += ["```sh", "echo hi", "```"]
        else:
            if kind == "directive-python":
                lines += ["<!-- readme-test", "setup:", "    y = 1", "-->"]
            elif kind == "pytest-python":
                lines.append("<!-- readme-test: pytest -->")
            lines += ["```python", text, "```"]
            expected.append((len(lines) - 1, "pytest" if kind == "pytest-python" else "run",
                             text))
    found = [(b.code.line, b.mode, b.code.text) for b in extract("\n".join(lines))]
    assert found == expected
