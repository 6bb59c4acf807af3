"""Small modules named for their concept (docs/architecture.md#what-the-code-keeps-to): a
module outside the tests that grows past :data:`LIMIT` lines either splits, or says in its
docstring, in a paragraph that starts ``Why one module:``, why it is one concept all the
same."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "bot", "storage", "fakes", "benchmarks")
LIMIT = 300
MARK = "Why one module:"


def explains_its_length(source: str) -> bool:
    lines = source.count("\n") + (not source.endswith("\n"))
    if lines <= LIMIT:
        return True
    docstring = ast.get_docstring(ast.parse(source)) or ""
    return any(paragraph.startswith(MARK) for paragraph in docstring.split("\n\n"))


def long_modules() -> list[Path]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.read_text(encoding="utf-8").count("\n") > LIMIT:
                found.append(path)
    return found


def test_the_check_can_fail() -> None:
    body = "x = 1\n" * LIMIT
    assert explains_its_length('"""Short."""\n' + "x = 1\n" * 10)
    assert not explains_its_length('"""Long."""\n' + body)
    assert not explains_its_length('"""Long.\n\nIt mentions Why one module: late."""\n' + body)
    assert explains_its_length('"""Long.\n\nWhy one module: one concept."""\n' + body)


@pytest.mark.parametrize("path", long_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_long_module_says_why_it_is_one(path: Path) -> None:
    assert explains_its_length(path.read_text(encoding="utf-8")), (
        f"{path.relative_to(ROOT)} has over {LIMIT} lines: split it, or add a paragraph "
        f"starting {MARK!r} to its docstring"
    )
