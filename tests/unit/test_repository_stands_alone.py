"""The repository stands alone: nothing in it points at a file it does not contain.

A newcomer with a fresh clone cannot open ``../shared/DESIGN.md``, ``STYLE.md`` or "DESIGN
§4", and cannot read "issue 8, item 3" (the tracker is not in the clone). A rule, a
decision or a reason is cited by a section of the repository's own docs
(``docs/design.md#secrets-are-hashed-or-sealed``) or said where it applies.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Folders that are not the project's own text: tools' caches, the virtualenv, builds.
SKIP = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache"}
SKIP |= {".ruff_cache", "node_modules"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".ini", ".cfg", ".html", ".po", ".conf", ".service"}
TEXT_SUFFIXES |= {".txt", ".yml", ".yaml", ".sh", ".csv", ".json", ".j2"}
TEXT_NAMES = {"Makefile", "Caddyfile", "run", "Dockerfile", "LICENSE"}

OUTSIDE = re.compile(
    r"(?<!\.)\.\./[\w.-]"  # a path above the repository: ../shared, ../anything
    r"|\bDESIGN(?:\.md|\s*§)"  # the design document that lived outside
    r"|\bSTYLE\.md"
    r"|\b[Ii]ssues?\s+#?\d"  # "issue 8", "issues 7-9", "Issue #3"
)


def text_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(part in SKIP or part.endswith(".egg-info") for part in parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            found.append(path)
    return found


def references_outside(root: Path) -> list[str]:
    found = []
    for path in text_files(root):
        if path.resolve() == Path(__file__).resolve():
            continue  # this file names the patterns it looks for
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if match := OUTSIDE.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {match[0]!r} in {line.strip()}")
    return found


def test_nothing_points_outside_the_repository() -> None:
    assert references_outside(ROOT) == []


def test_each_kind_of_outside_reference_is_found(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "a.py").write_text('"""Only hashes are kept (DESIGN §4)."""\n')
    (tmp_path / "b.md").write_text("The rules are in `../shared/DESIGN.md`.\n")
    (tmp_path / "c.toml").write_text("# see STYLE.md point 3\n")
    (tmp_path / "deploy" / "Caddyfile").write_text("# as issue 8 asked\n")
    (tmp_path / "d.po").write_text("#. campaigns (issues 7-9)\n")
    (tmp_path / "fine.py").write_text('"""See docs/design.md#r2-one-code-per-combination."""\n')
    found = references_outside(tmp_path)
    assert [line.split(":")[0] for line in found] == [
        "a.py",
        "b.md",
        "c.toml",
        "d.po",
        "deploy/Caddyfile",
    ]
