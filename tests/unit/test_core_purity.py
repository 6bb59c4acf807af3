"""``core`` is the pure domain (docs/design.md#channels-translate). It imports no web
server, chat client, SMS provider, database driver, migration tool or template engine;
storage and channels depend on it, never the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"

FORBIDDEN = frozenset(
    {
        "aiohttp",
        "telegram",
        "twilio",
        "sqlalchemy",
        "aiosqlite",
        "asyncpg",
        "sqlite3",
        "alembic",
        "jinja2",
    }
)


def forbidden_imports(source: str, filename: str = "<string>") -> list[str]:
    """``line: module`` for every import in ``source`` whose top-level module is forbidden.

    Finds imports anywhere (inside functions, ``if TYPE_CHECKING:`` blocks, ``try:``), and
    ``importlib.import_module("x")`` / ``__import__("x")`` calls with a literal name.
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        found += [
            f"{getattr(node, 'lineno', 0)}: {name}"
            for name in _imported_names(node)
            if name.split(".")[0].lower() in FORBIDDEN
        ]
    return found


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        # ``from . import sqlite3`` is a module of our own, not the driver
        return [node.module] if node.level == 0 and node.module else []
    if (
        isinstance(node, ast.Call)
        and _is_dynamic_import(node.func)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return [node.args[0].value]
    return []


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


# --- the checker can fail ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import sqlite3\n", ["1: sqlite3"]),
        ("import os\nimport sqlite3 as db\n", ["2: sqlite3"]),
        ("from sqlite3 import connect\n", ["1: sqlite3"]),
        ("from sqlalchemy.ext.asyncio import AsyncSession\n", ["1: sqlalchemy.ext.asyncio"]),
        ("import json, aiohttp.web\n", ["1: aiohttp.web"]),
        ("from telegram import Update\n", ["1: telegram"]),
        ("from twilio.rest import Client\n", ["1: twilio.rest"]),
        ("import aiosqlite\nimport asyncpg\n", ["1: aiosqlite", "2: asyncpg"]),
        ("from alembic import op\n", ["1: alembic"]),
        ("from jinja2 import Environment\n", ["1: jinja2"]),
        ("def f():\n    import sqlite3\n", ["2: sqlite3"]),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import aiohttp\n",
            ["3: aiohttp"],
        ),
        ("try:\n    import asyncpg\nexcept ImportError:\n    pass\n", ["2: asyncpg"]),
        ("import importlib\nimportlib.import_module('sqlite3')\n", ["2: sqlite3"]),
        ("__import__('twilio')\n", ["1: twilio"]),
    ],
)
def test_the_checker_finds_forbidden_imports(source: str, expected: list[str]) -> None:
    assert forbidden_imports(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "import os\nimport hmac\nimport phonenumbers\n",
        "from core.values import Phone\n",
        "from . import sqlite3\n",  # a module of our own, relative: not the driver
        "from core import telegram_text\n",
        "import sqlite3_helpers\n",  # a different top-level module
        "sqlite3 = 'just a name'\n",
        "x = 'import sqlite3'\n",
    ],
)
def test_the_checker_passes_clean_source(source: str) -> None:
    assert forbidden_imports(source) == []


# --- the real tree -------------------------------------------------------------------------


def test_core_is_found() -> None:
    modules = {path.name for path in core_modules()}
    assert {"__init__.py", "values.py", "codes.py", "status.py", "masking.py"} <= modules


@pytest.mark.parametrize("path", core_modules(), ids=lambda path: path.relative_to(CORE).as_posix())
def test_core_imports_no_infrastructure(path: Path) -> None:
    found = forbidden_imports(path.read_text(encoding="utf-8"), filename=str(path))
    assert found == [], f"core/{path.relative_to(CORE)} imports {found}"
