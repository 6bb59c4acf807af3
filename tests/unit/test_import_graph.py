"""The shape of the code, as its imports draw it: ``core``, ``bot`` and ``storage``
have no import cycle (imports inside functions and under ``if TYPE_CHECKING:`` count:
a cycle a type checker needs is still two modules that cannot be read apart); the
layers point one way (``core`` imports nothing of ours, ``storage`` nothing of
``bot``); no channel package (``bot.sms``, ``bot.telegram``, ``bot.web``) imports a
sibling channel; the CLI is imported only by the CLI; and the composition root is
imported only by the entry points."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "bot", "storage")
CHANNELS = ("bot.sms", "bot.telegram", "bot.web")
CLI = "bot.cli"
#: The composition root, and the modules that wire or run the whole app on it.
ROOT_MODULES = ("bot.bootstrap", "bot.database", "bot.app", "bot.server")
ENTRY_POINTS = ("bot.app", "bot.server", CLI)


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Module name -> source text, for every module of ``packages`` under ``root``."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path.read_text(encoding="utf-8")
    return found


def edges(modules: Mapping[str, str]) -> list[Edge]:
    """Every import between ``modules``, wherever it stands in the file. ``from a
    import b`` is an edge to ``a.b`` when that is a module, else to ``a``."""
    found: set[Edge] = set()
    for name, source in modules.items():
        package = name if _is_package(name, modules) else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(source, filename=name)):
            for target in _targets(node, package):
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != name:
                    found.add(Edge(name, resolved, getattr(node, "lineno", 0)))
    return sorted(found)


def _is_package(name: str, modules: Mapping[str, str]) -> bool:
    return any(other.startswith(f"{name}.") for other in modules)


def _targets(node: ast.AST, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        return [f"{base}.{alias.name}" for alias in node.names]
    return []


def _resolve(target: str, modules: Mapping[str, str]) -> str | None:
    """The module ``target`` names, or else the nearest package above it (``a.b.Name``
    is module ``a.b``). Importing a module runs its packages' ``__init__`` too, but
    that is no dependency on them: a package that re-exports its modules would
    otherwise be a cycle with each of them."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def cycles(graph_edges: Iterable[Edge]) -> list[list[str]]:
    """Each import cycle as the modules on it (strongly connected components of more
    than one module, or a module importing itself)."""
    graph: dict[str, set[str]] = {}
    for edge in graph_edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def _owner(name: str, packages: Iterable[str]) -> str | None:
    return next((p for p in packages if within(name, p)), None)


def channel_crossings(graph_edges: Iterable[Edge]) -> list[Edge]:
    found = []
    for edge in graph_edges:
        source, target = _owner(edge.source, CHANNELS), _owner(edge.target, CHANNELS)
        if source is not None and target is not None and source != target:
            found.append(edge)
    return found


def cli_imports_from_outside(graph_edges: Iterable[Edge]) -> list[Edge]:
    return [e for e in graph_edges if within(e.target, CLI) and not within(e.source, CLI)]


def root_imports_from_outside(graph_edges: Iterable[Edge]) -> list[Edge]:
    return [
        e
        for e in graph_edges
        if e.target in ROOT_MODULES
        and e.source not in ROOT_MODULES  # bot.bootstrap builds on bot.database
        and not any(within(e.source, p) for p in ENTRY_POINTS)
    ]


def layer_breaks(graph_edges: Iterable[Edge]) -> list[Edge]:
    """``core`` depends on nothing of ours; ``storage`` only on ``core``."""
    allowed = {"core": ("core",), "storage": ("core", "storage")}
    found = []
    for edge in graph_edges:
        layer = edge.source.split(".")[0]
        if layer in allowed and edge.target.split(".")[0] not in allowed[layer]:
            found.append(edge)
    return found


# --- the checks can fail ----------------------------------------------------------------------


def fake_tree(tmp_path: Path, files: Mapping[str, str]) -> dict[str, str]:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sources(tmp_path, sorted({relative.split("/")[0] for relative in files}))


def test_a_type_only_import_closes_a_cycle(tmp_path: Path) -> None:
    tree = fake_tree(
        tmp_path,
        {
            "bot/__init__.py": "",
            "bot/services.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from bot.worker import Tuning\n"
            ),
            "bot/worker.py": "from bot.services import SERVICES\n",
        },
    )
    assert cycles(edges(tree)) == [["bot.services", "bot.worker"]]


def test_imports_inside_functions_and_relative_ones_count(tmp_path: Path) -> None:
    tree = fake_tree(
        tmp_path,
        {
            "bot/__init__.py": "",
            "bot/a.py": "def f():\n    from . import b\n",
            "bot/b.py": "from .c import thing\n",
            "bot/c.py": "import bot.a\n",
        },
    )
    assert cycles(edges(tree)) == [["bot.a", "bot.b", "bot.c"]]


def test_an_acyclic_tree_has_no_cycle(tmp_path: Path) -> None:
    tree = fake_tree(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/a.py": "import os\nfrom core import b\n",
            "core/b.py": "from typing import TYPE_CHECKING\n",
        },
    )
    assert edges(tree) == [Edge("core.a", "core.b", 2)]
    assert cycles(edges(tree)) == []


def test_the_channel_cli_root_and_layer_rules_find_their_breaks(tmp_path: Path) -> None:
    tree = fake_tree(
        tmp_path,
        {
            "bot/__init__.py": "",
            "bot/sms/__init__.py": "",
            "bot/sms/inbound.py": "from bot.web.pages import render\n",
            "bot/web/__init__.py": "",
            "bot/web/pages.py": "from bot.cli.main import main\nfrom bot.bootstrap import x\n",
            "bot/cli/__init__.py": "",
            "bot/cli/main.py": "from bot.sms import inbound\nfrom bot import bootstrap\n",
            "bot/bootstrap.py": "from bot.sms.inbound import setup\n",
            "core/__init__.py": "",
            "core/rules.py": "from storage.tables import passes\n",
            "storage/__init__.py": "",
            "storage/tables.py": "from bot.config import Config\nfrom core import rules\n",
        },
    )
    graph = edges(tree)
    assert [str(e) for e in channel_crossings(graph)] == ["bot.sms.inbound:1 imports bot.web.pages"]
    assert [str(e) for e in cli_imports_from_outside(graph)] == [
        "bot.web.pages:1 imports bot.cli.main"
    ]
    assert [str(e) for e in root_imports_from_outside(graph)] == [
        "bot.web.pages:2 imports bot.bootstrap"
    ]
    assert [str(e) for e in layer_breaks(graph)] == [
        "core.rules:1 imports storage.tables",
        "storage.tables:1 imports bot",
    ]


# --- the real tree ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> list[Edge]:
    return edges(sources())


def test_the_tree_is_found(graph: list[Edge]) -> None:
    names = {e.source for e in graph}
    assert {"bot.app", "bot.bootstrap", "bot.sms.inbound", "core.verification.service"} <= names
    pairs = {(e.source, e.target) for e in graph}
    assert ("bot.bootstrap", "bot.sms.outbox_worker") in pairs  # OutboxTuning
    assert ("bot.sms.outbox_worker", "bot.services") in pairs  # SERVICES


def test_no_import_cycle(graph: list[Edge]) -> None:
    found = cycles(graph)
    assert found == [], "\n".join(
        " <-> ".join(cycle) + "\n  " + "\n  ".join(_edges_on(cycle, graph)) for cycle in found
    )


def _edges_on(cycle: list[str], graph: list[Edge]) -> Iterator[str]:
    members = set(cycle)
    return (str(e) for e in graph if e.source in members and e.target in members)


def test_no_channel_imports_a_sibling_channel(graph: list[Edge]) -> None:
    assert [str(e) for e in channel_crossings(graph)] == []


def test_only_the_cli_imports_the_cli(graph: list[Edge]) -> None:
    assert [str(e) for e in cli_imports_from_outside(graph)] == []


def test_only_entry_points_import_the_composition_root(graph: list[Edge]) -> None:
    assert [str(e) for e in root_imports_from_outside(graph)] == []


def test_layers_point_one_way(graph: list[Edge]) -> None:
    assert [str(e) for e in layer_breaks(graph)] == []
