"""The shape of the code, as its imports draw it: ``core``, ``bot`` and ``storage``
have no import cycle (imports inside functions and under ``if TYPE_CHECKING:`` count:
a cycle a type checker needs is still two modules that cannot be read apart); the
layers point one way (``core`` imports nothing of ours, ``storage`` nothing of
``bot``); no channel package (``bot.sms``, ``bot.telegram``, ``bot.web``) imports a
sibling channel; the CLI is imported only by the CLI; and the composition root is
imported only by the entry points.

Features have rooms: ``core`` and ``storage`` are grouped in feature packages
(``core/campaigns/``, ``storage/outbox/`` ...) beside a few flat kernel modules, and no
flat family of modules told apart by a prefix (``campaign_*.py``) may grow again; a
feature is reached from outside only through the modules its ``__init__`` exports
(``__all__``); and ``bot`` reaches storage through core's ports, which the composition
root fills, or through the few storage modules named in :data:`STORAGE_API`."""

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
#: Layers whose subpackages are features with exports of their own.
FEATURE_LAYERS = ("core", "storage")
#: Flat modules that are no feature's: they may stand beside the feature packages.
FLAT_LAYERS = ("core", "storage", "bot")
#: The bot modules that wire storage into the app (the composition root and what runs
#: it) and the admin CLI, which imports, backs up and migrates the database itself.
STORAGE_WIRING = (
    "bot.bootstrap",
    "bot.database",
    "bot.services",
    "bot.app",
    "bot.server",
    "bot.workers",
    CLI,
)
#: What the rest of ``bot`` may import from storage, and why each is not behind a core port:
#: they are infrastructure the channels and background loops drive, with no rule in them.
STORAGE_API = {
    "storage.errors": "which exceptions mean the database is down, so a channel answers 503",
    "storage.outbox.queue": "the SMS outbox the sender drains and delivery callbacks update",
    "storage.outbox.failures": "verification SMS that did not arrive, for the chats to be told",
    "storage.notices.queue": "the queue of chat messages that notice delivery drains",
    "storage.turn_order": "one chat turn at a time across serve processes",
    "storage.outbox.send_rate": "the SMS send rate that serve processes book together",
    "storage.gauges": "figures read from the database when /metrics is scraped",
    "storage.housekeeping": "retention: old rows deleted in small batches",
}


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


def feature_exports(root: Path = ROOT) -> dict[str, tuple[str, ...]]:
    """Each feature package of :data:`FEATURE_LAYERS` -> the modules it exports: the
    names in its ``__init__``'s ``__all__`` (none when it has no ``__all__``)."""
    found = {}
    for layer in FEATURE_LAYERS:
        for init in sorted((root / layer).glob("*/__init__.py")):
            if init.parent.name == "migrations":
                continue
            exported: tuple[str, ...] = ()
            for node in ast.parse(init.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
                ):
                    exported = tuple(ast.literal_eval(node.value))
            found[f"{layer}.{init.parent.name}"] = exported
    return found


def private_reaches(
    graph_edges: Iterable[Edge], features: Mapping[str, Iterable[str]]
) -> list[Edge]:
    """Imports from outside a feature of one of its modules that it does not export."""
    found = []
    for edge in graph_edges:
        for feature, exported in features.items():
            if not within(edge.target, feature) or within(edge.source, feature):
                continue
            below = edge.target[len(feature) + 1 :].split(".")[0]
            if edge.target != feature and below not in exported:
                found.append(edge)
    return found


def prefix_families(root: Path = ROOT, layers: Iterable[str] = FLAT_LAYERS) -> list[str]:
    """Flat modules that are a feature waiting for its package: two or more told apart
    by one prefix (``campaign_dispatch``, ``campaign_options``), or one named after a
    feature package beside it (``outbox_notices.py`` next to ``outbox/``)."""
    found = []
    for layer in layers:
        flat = sorted(p.stem for p in (root / layer).glob("*.py") if p.stem != "__init__")
        packages = {p.parent.name for p in (root / layer).glob("*/__init__.py")}
        by_prefix: dict[str, list[str]] = {}
        for name in flat:
            if "_" in name:
                by_prefix.setdefault(name.split("_")[0], []).append(name)
        for prefix, names in sorted(by_prefix.items()):
            beside = {prefix, f"{prefix}s"} & packages
            if len(names) > 1 or beside:
                where = f" (beside {layer}/{min(beside)}/)" if beside else ""
                found.append(f"{layer}/: {', '.join(n + '.py' for n in names)}{where}")
    return found


def storage_reaches(graph_edges: Iterable[Edge]) -> list[Edge]:
    """Imports of storage from bot outside the wiring, of anything but the named API."""
    return [
        e
        for e in graph_edges
        if within(e.source, "bot")
        and within(e.target, "storage")
        and not any(within(e.source, w) for w in STORAGE_WIRING)
        and not any(within(e.target, api) for api in STORAGE_API)
    ]


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


def test_the_feature_rules_find_their_breaks(tmp_path: Path) -> None:
    tree = fake_tree(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/campaigns/__init__.py": '__all__ = ["model"]\n',
            "core/campaigns/model.py": "",
            "core/campaigns/dispatch.py": "from core.campaigns import model\n",
            "core/notices/__init__.py": "",
            "core/notices/texts.py": (
                "from core.campaigns.model import Campaign\n"
                "from core.campaigns.dispatch import step\n"
            ),
            "core/notice_digest.py": "",
            "core/notice_csv.py": "",
            "core/campaign_extra.py": "",
            "core/clock_skew.py": "",
            "storage/__init__.py": "",
            "storage/outbox/__init__.py": '__all__ = ["queue"]\n',
            "storage/outbox/queue.py": "",
            "storage/uow.py": "",
            "storage/errors.py": "",
            "bot/__init__.py": "",
            "bot/bootstrap.py": "from storage.uow import make\n",
            "bot/sms/__init__.py": "",
            "bot/sms/inbound.py": (
                "from storage.errors import is_down\n"
                "from storage.uow import UnitOfWork\n"
                "from storage.outbox.queue import OutboxQueue\n"
            ),
        },
    )
    graph = edges(tree)
    assert feature_exports(tmp_path) == {
        "core.campaigns": ("model",),
        "core.notices": (),
        "storage.outbox": ("queue",),
    }
    assert [str(e) for e in private_reaches(graph, feature_exports(tmp_path))] == [
        "core.notices.texts:2 imports core.campaigns.dispatch"
    ]
    assert prefix_families(tmp_path) == [
        "core/: campaign_extra.py (beside core/campaigns/)",
        "core/: notice_csv.py, notice_digest.py (beside core/notices/)",
    ]
    assert [str(e) for e in storage_reaches(graph)] == ["bot.sms.inbound:2 imports storage.uow"]


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


def test_core_and_storage_have_no_flat_prefix_family() -> None:
    assert prefix_families() == []


def test_features_are_reached_only_through_what_they_export(graph: list[Edge]) -> None:
    features = feature_exports()
    assert {"core.campaigns", "core.notices", "storage.outbox", "storage.registry"} <= set(features)
    assert [str(e) for e in private_reaches(graph, features)] == []


def test_every_feature_says_what_it_exports() -> None:
    assert [name for name, exported in feature_exports().items() if not exported] == []


def test_bot_reaches_storage_through_ports_or_the_named_api(graph: list[Edge]) -> None:
    assert [str(e) for e in storage_reaches(graph)] == []
    modules = sources()
    assert [api for api in STORAGE_API if api not in modules] == []


def test_only_the_wiring_chooses_by_database_dialect() -> None:
    """Which database serves (one SQLite process, or PostgreSQL shared by many) is the
    composition root's choice: channels and loops get what it built (shared counters, a
    shared send rate) instead of asking the engine themselves."""
    asking = [
        name
        for name, source in sources(packages=("bot",)).items()
        if ".dialect." in source and not any(within(name, w) for w in STORAGE_WIRING)
    ]
    assert asking == []
