"""What README.md and docs/ tell a user to type works.

* Every ```` ```python ```` block of README.md and docs/**/*.md runs, in the order of its
  page, in one namespace and one temporary folder per page (a page reads like a notebook:
  a block may use the names of the blocks above it). Two HTML comments on the lines just
  before a block, visible in the Markdown source, steer this:

  - ``<!-- not-tested: REASON -->``: the block is not run (it needs a cluster, trains for
    minutes, ...); the test is skipped with REASON. It must still be valid Python.
  - ``<!-- test-setup: CODE -->``: CODE runs first, in the page's namespace. It stands in
    for what the reader brings (their image ``image``, their mask ``mask``, a file
    ``scan.ome.tif``), made small and synthetic; it never replaces the block's own calls.

  A new block is tested unless its author marks it; there is no list in this file.
* Every ``srmat ...`` command line shown (fenced blocks and inline code) names
  subcommands and ``--flags`` the parser has, by their current names (an old name of
  ``cli.add_renamed_option`` only where the text says "(now ``--new``)").
* Every relative link names a file of the repository and, for a page, one of its
  sections.
* Every dotted ``napari_srmat.x.y`` name in the docs resolves (a name followed by ``→``
  is an old name in a list of moves).

Was: api.md said ``super_resolve`` had no keyword checking (it had), audit.md's session
block saved a ``{...}`` set into JSON (TypeError), sr_eval.md's ``train_sr`` call was a
SyntaxError, the boundaries widget pointed to ``srmat edges predict IMAGE OUT`` (it
needs ``--out``), and api.md named ``io.check_channels_last``, which io did not export.
"""

from __future__ import annotations

import argparse
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
MARKER = re.compile(r"<!--\s*(not-tested|test-setup):\s*(.*?)\s*-->", re.S)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    index: int  # position among the page's python blocks
    code: str
    skip: str | None  # the not-tested reason
    setup: str  # test-setup code ("" for none)

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _fences(text: str):
    """(language, first line, body lines) of each fenced block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = len(m.group(1)), m.group(2), i
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith("```"):
            j += 1
        yield lang, start, [ln[indent:] for ln in lines[i + 1:j]]
        i = j + 1


def _markers(lines: list[str], fence: int) -> tuple[str | None, str]:
    """The not-tested reason and the test-setup code of the comments just above a fence."""
    above = re.search(r"((?:<!--(?:(?!-->).)*-->\s*)+)$", "\n".join(lines[:fence]), re.S)
    skip, setup = None, []
    for kind, body in MARKER.findall(above.group(1) if above else ""):
        if kind == "not-tested":
            skip = body or "marked not-tested"
        else:
            setup.append(body)
    return skip, "\n".join(setup)


def python_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    lines = text.splitlines()
    out = []
    for lang, start, body in _fences(text):
        if lang != "python":
            continue
        skip, setup = _markers(lines, start)
        out.append(Block(page, start + 1, len(out), "\n".join(body) + "\n", skip, setup))
    return out


BLOCKS = [b for page in PAGES for b in python_blocks(page)]


def test_every_python_block_is_collected():
    # the extraction must see every block, or the test below checks less than it says
    fences = sum(len(re.findall(r"^\s*```python\s*$", page.read_text(encoding="utf-8"), re.M))
                 for page in PAGES)
    assert len(BLOCKS) == fences >= 15
    assert any(b.page.name == "api.md" and not b.skip for b in BLOCKS)


class _Page:
    """Namespace and folder of one page; its blocks run in order, each once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.ns: dict = {"__name__": "__docs__"}
        self.done = -1


_PAGE_STATE: dict[Path, _Page] = {}


def _compile(block: Block):
    # padded so that a traceback names the line of the page
    return compile("\n" * block.line + block.code, str(block.page.relative_to(ROOT)), "exec")


def _run(block: Block, state: _Page) -> None:
    if block.setup:
        exec(compile(block.setup, f"{block.name} (test-setup)", "exec"), state.ns)
    exec(_compile(block), state.ns)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name)
def test_python_block(block: Block, tmp_path_factory, monkeypatch):
    _compile(block)  # a skipped block is still valid Python
    if block.skip:
        pytest.skip(f"{block.name}: not-tested: {block.skip}")
    state = _PAGE_STATE.get(block.page)
    if state is None:
        state = _PAGE_STATE[block.page] = _Page(tmp_path_factory.mktemp(block.page.stem))
    monkeypatch.chdir(state.folder)
    page_blocks = [b for b in BLOCKS if b.page == block.page]
    for earlier in page_blocks[state.done + 1:block.index]:  # when run on its own (-k)
        if not earlier.skip:
            try:
                _run(earlier, state)
            except Exception as exc:  # report it against this block
                pytest.fail(f"an earlier block of the page, {earlier.name}, failed: {exc!r}")
        state.done = earlier.index
    try:
        _run(block, state)
    finally:
        state.done = block.index


# --- srmat command lines -------------------------------------------------------------------

SRMAT = re.compile(r"(?<![\w/.-])srmat((?: +[^\s`]+)*)")
FLAG = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")
#: a flag shown with its value or alternatives, ``--tta d4``, ``--tta=d4``, ``--tta none|d4``
#: (placeholders are upper case)
CHOICES = re.compile(r"(?<![\w-])(--[A-Za-z][\w-]*)[ =]\[?([\w.-]+(?:\|[\w.-]+)*)")


def _subcommands(parser: argparse.ArgumentParser) -> dict:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for action in parser._actions for o in action.option_strings}


def _command_lines(page: Path):
    """(line number, text) of each srmat command shown: inline code spans and lines of
    fenced blocks (with their ``\\`` and indented continuation lines)."""
    text = page.read_text(encoding="utf-8")
    lines = text.splitlines()
    in_fence = set()
    for _lang, start, body in _fences(text):
        cmd, first = None, None
        for k, ln in enumerate(body, start + 2):
            in_fence.add(k)
            stripped = ln.strip().removeprefix("$ ")
            if cmd is not None and (cmd.endswith("\\") or ln[:1].isspace()) \
                    and not stripped.startswith(("srmat", "#")):
                cmd = cmd.rstrip("\\") + " " + stripped
                continue
            if cmd is not None:
                yield first, cmd
            cmd, first = (stripped, k) if re.match(r"(OMP\S+ )?srmat ", stripped) else (None, None)
        if cmd is not None:
            yield first, cmd
        in_fence.update((start + 1, start + 2 + len(body)))  # the fence lines themselves
    # inline spans may run over a line break (a synopsis in a paragraph), never over a
    # blank line (the paragraph's end); a table cell escapes its pipes (\|)
    prose = "\n".join("" if k in in_fence else ln for k, ln in enumerate(lines, 1))
    for m in re.finditer(r"`((?:[^`\n]|\n(?![ \t]*\n))+)`", prose):
        span = " ".join(m.group(1).replace("\\|", "|").split())
        if span.startswith("srmat "):
            yield prose.count("\n", 0, m.start()) + 1, span


def _parser_of(words: list[str], root: argparse.ArgumentParser, sr_parser):
    """The (sub)parser that ``srmat WORDS...`` reaches and its command path (``None`` and
    the path for an unknown subcommand)."""
    parser, path = root, ["srmat"]
    subs = _subcommands(parser)
    if words and not words[0].startswith("-"):
        if words[0] not in subs:
            return None, path
        parser, path = subs[words[0]], [*path, words[0]]
        if words[0] == "sr":  # `srmat sr` has its own parser; `srmat sr IN OUT` is `run`
            acts = _subcommands(sr_parser)
            action = words[1] if len(words) > 1 and words[1] in acts else "run"
            parser, path = acts[action], [*path, action]
        else:
            acts = _subcommands(parser)
            if acts and len(words) > 1 and words[1] in acts:
                parser, path = acts[words[1]], [*path, words[1]]
    return parser, path


def _check_command(cmd: str, root: argparse.ArgumentParser, sr_parser) -> list[str]:
    m = SRMAT.search(cmd.split(" #")[0])
    if not m:
        return []
    words = m.group(1).split()
    if words and words[0].endswith(":"):  # a message: `srmat sr: error: ...`
        return []
    parser, path = _parser_of(words, root, sr_parser)
    if parser is None:
        return [f"no subcommand {words[0]!r}"]
    known = _options(parser)
    problems = [f"{' '.join(path)} has no {flag}" for flag in FLAG.findall(m.group(1))
                if flag not in known]
    actions = {o: action for action in parser._actions for o in action.option_strings}
    for flag, values in CHOICES.findall(m.group(1)):  # `--tta none|d4`: each one is taken
        action = actions.get(flag)
        if getattr(action, "choices", None) is None:  # a flag without choices takes any
            continue
        problems += [f"{' '.join(path)} {flag} takes no {value!r} (it takes "
                     f"{', '.join(map(str, action.choices))})" for value in values.split("|")
                     if not value.isupper() and not _takes(action, value)]
    return problems


def _takes(action: argparse.Action, value: str) -> bool:
    """Whether ``action`` accepts ``value`` as argparse would: converted by its type (the
    ``2`` of int choices), then one of its choices."""
    try:
        return (action.type(value) if action.type else value) in action.choices
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        return False


def test_srmat_commands_in_docs_use_existing_subcommands_and_flags():
    from napari_srmat.cli import build_parser
    from napari_srmat.cli.sr import build_sr_parser

    root, sr_parser = build_parser(), build_sr_parser()
    problems, n = [], 0
    for page in PAGES:
        for line, cmd in _command_lines(page):
            n += 1
            problems += [f"{page.relative_to(ROOT)}:{line}: {p}: {cmd}"
                         for p in _check_command(cmd, root, sr_parser)]
    assert n > 50, n  # the collection sees the commands
    assert not problems, "\n".join(problems)


def test_srmat_commands_in_docs_use_no_old_option_names():
    # an old name (cli.add_renamed_option) still works but prints a deprecation note: a
    # command shown to be typed gives the new name; a sentence that tells the rename shows
    # the old one followed by "(now `--new`)". Was: standards.md's `srmat synth s3 --size
    # 384` (warned "--size is deprecated here: give --size-px") and boundaries.md's
    # `srmat edges pretrain ... [--steps N]` (now --train-steps).
    from napari_srmat.cli import DeprecatedAlias, build_parser
    from napari_srmat.cli.sr import build_sr_parser

    root, sr_parser = build_parser(), build_sr_parser()
    problems = []
    for page in PAGES:
        flat = " ".join(page.read_text(encoding="utf-8").split())
        for line, cmd in _command_lines(page):
            m = SRMAT.search(cmd.split(" #")[0])
            parser = m and _parser_of(m.group(1).split(), root, sr_parser)[0]
            if parser is None:
                continue
            old = {o: a.new for a in parser._actions if isinstance(a, DeprecatedAlias)
                   for o in a.option_strings}
            problems += [f"{page.relative_to(ROOT)}:{line}: {flag} is the old name of "
                         f"{old[flag]}: {cmd}" for flag in FLAG.findall(m.group(1))
                         if flag in old and f"{cmd}` (now" not in flat]
    assert not problems, "\n".join(problems)


def test_the_readme_s_demo_command_writes_what_the_readme_names(tmp_path, monkeypatch, capsys):
    # README's first command, `srmat demo --out srmat-demo`, run as shown (smaller: --size
    # 128); what the README says it writes is there: `srmat-demo/report.md`, the PNGs, the
    # x4 super-resolution as OME-Zarr, the boundary probability and uncertainty maps
    from napari_srmat.cli import main
    from napari_srmat.io import read_image

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^.*&& (srmat demo[^\n`]*)$", readme, re.M)
    assert line, "README.md has no set-up line ending in '&& srmat demo --out DIR'"
    shown = line.group(1).split()
    assert "--out" in shown[:-1], f"README.md's demo command names no --out DIR: {shown}"
    monkeypatch.chdir(tmp_path)
    assert main([*shown[1:], "--size", "128"]) == 0
    out = tmp_path / shown[shown.index("--out") + 1]
    named = re.findall(rf"`{out.name}/([^`]+)`", readme)
    assert "report.md" in named and all((out / n).exists() for n in named), named
    pngs = {f.stem for f in out.glob("*.png")}
    assert {"micrograph", "boundary_probability", "uncertainty"} <= pngs, pngs
    (store,) = out.glob("*.zarr")
    assert read_image(store).data.shape[:2] == (4 * 128, 4 * 128)  # "×4 super-resolution"
    assert f"written to {out}" in capsys.readouterr().out


#: One clause of a ``requires-python`` specifier: its operator and version.
PYTHON_CLAUSE = re.compile(r"^\s*(>=|<=|<|~=)\s*(\d+(?:\.\d+)*)\s*$")


def _readme_python_words(requires: str) -> str:
    """What README.md says of the Python that ``requires-python`` (``">=3.11"``,
    ``">=3.11,<3.14"``, ``"~=3.11"``) asks for: ``"Python 3.11 or newer"``, or with an
    upper bound ``"Python 3.11 to 3.13"``. A clause it cannot read fails the test, saying
    which."""
    least = newest = None
    for clause in requires.split(","):
        m = PYTHON_CLAUSE.match(clause)
        if not m:
            pytest.fail(f"pyproject.toml's requires-python {requires!r}: cannot read "
                        f"{clause.strip()!r} (>=, <, <= or ~= and a version)")
        op, version = m.groups()
        if op in (">=", "~="):
            least = version
        elif op == "<=":
            newest = version
        else:  # "<3.14": 3.13 is the newest; "<4" or "<4.0" says no minor to name
            major, _, minor = version.partition(".")
            if not minor.split(".")[0].strip("0"):
                pytest.fail(f"requires-python {requires!r}: name the newest Python in "
                            f"README.md by hand for {clause.strip()!r}")
            newest = f"{major}.{int(minor.split('.')[0]) - 1}"
    if least is None:
        pytest.fail(f"pyproject.toml's requires-python {requires!r} has no lower bound "
                    "(>=) for README.md to name")
    return f"Python {least} or newer" if newest is None else f"Python {least} to {newest}"


@pytest.mark.parametrize("requires, words", [
    (">=3.11", "Python 3.11 or newer"), (" >= 3.11 , < 3.14", "Python 3.11 to 3.13"),
    (">=3.11,<=3.13", "Python 3.11 to 3.13"), ("~=3.12", "Python 3.12 or newer")])
def test_readme_python_words_read_requires_python_ranges(requires, words):
    # ">=3.11,<3.14" was read as least "3.11,<3.14" (a failure with an empty message)
    assert _readme_python_words(requires) == words


def test_the_readme_names_the_python_the_package_requires():
    # the set-up's `python3 -m venv` fails in pip on an older Python; the README says
    # which (it did not), from pyproject.toml's requires-python
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requires = pyproject["project"]["requires-python"]
    words = _readme_python_words(requires)
    assert words in (ROOT / "README.md").read_text(encoding="utf-8"), (
        f"README.md does not say {words!r} (pyproject.toml's requires-python {requires!r})")


# --- dotted names ---------------------------------------------------------------------------

DOTTED = re.compile(r"napari_srmat(?:\.[A-Za-z_]\w*)+")


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_dotted_names_in_docs_resolve():
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in DOTTED.finditer(text):
            if re.match(r"`?\s*→", text[m.end():]):  # an old name in a list of moves
                continue
            try:
                _resolve(m.group(0))
            except (ImportError, AttributeError) as exc:
                line = text.count("\n", 0, m.start()) + 1
                missing.append(f"{page.relative_to(ROOT)}:{line}: {m.group(0)} ({exc})")
    assert not missing, "\n".join(missing)


# --- links -------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def _prose_lines(text: str) -> list[str]:
    """The page's lines with those of fenced blocks blanked (their ``#`` is no heading)."""
    fenced = {k for _lang, start, body in _fences(text)
              for k in range(start, start + len(body) + 2)}
    return ["" if k in fenced else ln for k, ln in enumerate(text.splitlines())]


def _anchors(page: Path) -> set[str]:
    """The ``#fragment`` names GitHub gives the page's headings (lower case, punctuation
    other than ``-`` and ``_`` dropped, spaces to ``-``; a repeated one gets ``-1``, ...),
    and any ``<a id=...>`` / ``<a name=...>``."""
    out, seen = set(), {}
    for ln in _prose_lines(page.read_text(encoding="utf-8")):
        out.update(re.findall(r'<a (?:id|name)="([^"]+)"', ln))
        m = HEADING.match(ln)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _broken_links(page: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for k, ln in enumerate(_prose_lines(page.read_text(encoding="utf-8")), 1):
        for target in LINK.findall(ln):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, fragment = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                problems.append(f"{page.relative_to(root)}:{k}: no file {target}")
            elif fragment and linked.suffix == ".md" and fragment not in _anchors(linked):
                problems.append(f"{page.relative_to(root)}:{k}: no section {target}")
    return problems


def test_links_in_docs_resolve():
    # every relative link of README.md and docs/ names a file of the repository (a page,
    # a script, a study, a benchmark's JSON) and, for a page, one of its sections
    problems = [p for page in PAGES for p in _broken_links(page)]
    assert not problems, "\n".join(problems)


def test_link_check_sees_a_missing_file_and_section(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## The E112 table (`srmat heyn`)\n"
                                       "## The E112 table (`srmat heyn`)\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("[a](other.md#the-e112-table-srmat-heyn) [b](other.md#the-e112-table-"
                    "srmat-heyn-1) [c](other.md#gone) [d](missing.py) [e](https://x.org/y)\n"
                    "```\n[f](in-a-fence.md)\n```\n", encoding="utf-8")
    assert _broken_links(page, tmp_path) == ["page.md:1: no section other.md#gone",
                                             "page.md:1: no file missing.py"]


def test_marker_parsing(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n<!-- not-tested: needs a cluster -->\n```python\nx = 1\n```\n\n"
                    "<!-- test-setup: mask = 1 -->\n\n```python\nmask\n```\n"
                    "```python\ny = 2\n```\n", encoding="utf-8")
    a, b, c = python_blocks(page)
    assert (a.skip, a.setup) == ("needs a cluster", "")
    assert (b.skip, b.setup, b.code) == (None, "mask = 1", "mask\n")
    assert (c.skip, c.setup) == (None, "")
    root = argparse.ArgumentParser()
    sub = root.add_subparsers()
    p = sub.add_parser("heyn")
    p.add_argument("--lines")
    assert _check_command("srmat heyn m.png --lines 5", root, None) == []
    assert _check_command("srmat heyn m.png --line 5", root, None) == ["srmat heyn has no --line"]
    assert _check_command("srmat hein m.png", root, None) == ["no subcommand 'hein'"]
    p.add_argument("--pattern", choices=["random", "grid"])
    assert _check_command("srmat heyn m.png --pattern random|grid|N", root, None) == []
    assert _check_command("srmat heyn m.png [--pattern random|circles]", root, None) == [
        "srmat heyn --pattern takes no 'circles' (it takes random, grid)"]
    # one value, the commonest form (`--pattern circles`, `--pattern=circles`), is checked
    # too, and a value the parser converts (`--scale 2|4` of int choices) is taken
    for shown in ("--pattern circles", "--pattern=circles", "--pattern=grid|circles"):
        assert _check_command(f"srmat heyn m.png {shown} --lines 5", root, None) == [
            "srmat heyn --pattern takes no 'circles' (it takes random, grid)"], shown
    assert _check_command("srmat heyn m.png --pattern=grid", root, None) == []
    p.add_argument("--scale", type=int, choices=(2, 4))
    assert _check_command("srmat heyn m.png --scale 2|4", root, None) == []
    assert _check_command("srmat heyn m.png --scale=4 --pattern PATTERN", root, None) == []
    assert _check_command("srmat heyn m.png --scale 3", root, None) == [
        "srmat heyn --scale takes no '3' (it takes 2, 4)"]
    page.write_text("A synopsis `srmat heyn MASK\n[--line N]` over a line break.\n"
                    "```bash\nsrmat heyn a.png\n```\nand `srmat heyn b.png`\n",
                    encoding="utf-8")
    assert list(_command_lines(page)) == [(4, "srmat heyn a.png"),
                                          (1, "srmat heyn MASK [--line N]"),
                                          (6, "srmat heyn b.png")]
    # a code span ends with its paragraph (CommonMark): a stray backtick in one paragraph
    # paired with the next span's and hid every later command of the page; a table cell
    # shows its pipes escaped (`--pattern grid\|circles` reads grid|circles)
    page.write_text("A stray ` here.\n\nRun `srmat hein x`.\n\n"
                    "| `srmat heyn m.png --pattern grid\\|circles` | table |\n",
                    encoding="utf-8")
    assert list(_command_lines(page)) == [(3, "srmat hein x"),
                                          (5, "srmat heyn m.png --pattern grid|circles")]
