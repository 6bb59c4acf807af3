"""The tree in docs/architecture.md cannot go stale: every package of core/, storage/ and
bot/ is in it with a line on what it holds, and everything it names exists.

A newcomer reads the tree before the code; a tree that omits packages (as the README's
once omitted api/, campaigns/ and notices/) or names moved files sends them looking for
what is not there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
MARKER = "<!-- architecture-tree"
LAYERS = ("core", "storage", "bot")
_ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.]+/?)(?: {2,}(?P<what>\S.*))?$")


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the repository, folders ending in "/"
    what: str  # what it holds
    line: int


def tree_lines(text: str) -> list[tuple[int, str]]:
    """The lines of the fenced block after the marker, with their line numbers."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(MARKER))
    assert lines[start + 1].startswith("```"), "the marker must be followed by the block"
    block: list[tuple[int, str]] = []
    for n in range(start + 2, len(lines)):
        if lines[n].startswith("```"):
            return block
        block.append((n + 1, lines[n]))
    raise AssertionError("the tree's block is not closed")


def entries(text: str) -> list[Entry]:
    """Each line as a path: a name indented two spaces per level under the folder above."""
    found: list[Entry] = []
    parents: list[str] = []
    for number, line in tree_lines(text):
        match = _ENTRY.match(line)
        assert match, f"docs/architecture.md line {number}: not 'name  what it holds': {line!r}"
        depth, rest = divmod(len(match["indent"]), 2)
        assert rest == 0 and depth <= len(parents), (
            f"docs/architecture.md line {number}: indent by two spaces under a folder"
        )
        del parents[depth:]
        path = "".join(parents) + match["name"]
        found.append(Entry(path, (match["what"] or "").strip(), number))
        if path.endswith("/"):
            parents.append(match["name"])
    return found


def packages(root: Path = ROOT) -> set[str]:
    """Every folder of the three layers with an ``__init__.py``, as ``core/campaigns/``."""
    return {
        init.parent.relative_to(root).as_posix() + "/"
        for layer in LAYERS
        for init in (root / layer).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def problems(text: str, root: Path = ROOT) -> list[str]:
    listed = entries(text)
    named = {entry.path for entry in listed}
    found = [
        f"line {e.line}: {e.path} does not exist" for e in listed if not (root / e.path).exists()
    ]
    found += [
        f"line {e.line}: {e.path} says nothing of what it holds" for e in listed if not e.what
    ]
    found += [f"{package} is missing from the tree" for package in sorted(packages(root) - named)]
    return found


def test_the_tree_names_every_package_and_nothing_that_is_gone() -> None:
    assert problems(DOC.read_text(encoding="utf-8")) == []


def test_the_check_fails_on_a_missing_package_and_on_a_ghost(tmp_path: Path) -> None:
    for folder in ("core/verification", "core/newfeature", "storage", "bot"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "core" / "__init__.py").write_text("")
    doc = (
        "<!-- architecture-tree -->\n```\n"
        "core/            the domain\n"
        "  verification/  the rules\n"
        "  gone.py        a module that moved away\n"
        "storage/         SQL\n"
        "bot/\n"
        "```\n"
    )
    assert problems(doc, tmp_path) == [
        "line 5: core/gone.py does not exist",
        "line 7: bot/ says nothing of what it holds",
        "core/newfeature/ is missing from the tree",
    ]
