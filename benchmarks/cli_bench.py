"""The CLI as a user runs it: whole processes, start-up included.

    .venv/bin/python benchmarks/cli_bench.py               # 100,000 rows, 3 runs
    .venv/bin/python benchmarks/cli_bench.py --rows 10000 --repeat 5
    .venv/bin/python benchmarks/cli_bench.py --baseline-tree /tmp/before  # before/after

Times, each as a fresh process (wall-clock seconds and CPU seconds, median of
``--repeat`` runs):

* ``portpass --version`` and ``portpass --help``: start-up only (target: at most 0.2 s
  of CPU);
* ``portpass status`` on the demo database (the guide's 21 test holders);
* ``portpass import`` of a ``--rows`` registry (``benchmarks/import_bench.py`` writes
  it) into a fresh, migrated SQLite database, beside ``bare``: a process that imports
  nothing but ``csv`` and ``sqlite3`` and ``executemany``s the same rows, as they are,
  into ``persons`` and ``passes`` of another fresh, migrated database (one transaction,
  WAL, ``synchronous=NORMAL``; :func:`benchmarks.bare.bare_import`). Run by
  run, side by side; ``ratio`` is the median of each import over the bare run just
  before it (target: at most 4).

Only the standard library is imported at module level: the ``--bare`` child runs this
same file and must pay for nothing the baseline does not use.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTPASS = Path(sys.executable).with_name("portpass")


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)  # noqa: S603
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bare_child(db: Path, csv_path: Path) -> None:
    """``--bare``: the baseline, in a process of its own (csv and sqlite3 only)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.bare import bare_import

    bare_import(db, csv_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="registry rows to import")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (medians)")
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="also time the code of this directory (e.g. an older commit: git archive "
        "COMMIT | tar -x -C DIR), interleaved run by run with this checkout's",
    )
    parser.add_argument("--bare", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_child(*args.bare)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run_all(Path(tmp), args.rows, args.repeat, args.baseline_tree)


def run_all(workdir: Path, rows: int, repeat: int, baseline: Path | None) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.import_bench import write_registry
    from storage.registry.importer import DEMO_REGISTRY

    csv_path = workdir / "registry.csv"
    write_registry(csv_path, rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTPASS_")}
    env["PORTPASS_SECURITY_SECRET_KEY"] = "cli-bench-" + "k" * 32
    # Each tree: this checkout, and (--baseline-tree) another one's code run by the same
    # interpreter and packages, first on PYTHONPATH.
    trees = {"": env} | ({" (baseline)": {**env, "PYTHONPATH": str(baseline)}} if baseline else {})

    def at(tree_env: dict[str, str], name: str) -> dict[str, str]:
        return {**tree_env, "PORTPASS_DATABASE_URL": f"sqlite:///{workdir / name}"}

    portpass = str(PORTPASS)
    subprocess.run([portpass, "import", str(DEMO_REGISTRY)], env=at(env, "demo.db"), check=True)  # noqa: S603
    cases: dict[str, list[tuple[float, float]]] = {}
    ratios: dict[str, list[float]] = {}
    for n in range(repeat):
        for label, tree_env in trees.items():
            for name, argv in (
                ("portpass --version", [portpass, "--version"]),
                ("portpass --help", [portpass, "--help"]),
                ("portpass status (demo)", [portpass, "status"]),
            ):
                timing = timed(argv, at(tree_env, "demo.db"), workdir)
                cases.setdefault(name + label, []).append(timing)
        for label, tree_env in trees.items():
            bare_db, import_db = f"bare{n}{label.strip()}.db", f"import{n}{label.strip()}.db"
            for name in (bare_db, import_db):  # migrated, outside the timing
                subprocess.run([portpass, "db", "upgrade"], env=at(env, name), check=True)  # noqa: S603
            bare = timed(
                [sys.executable, __file__, "--bare", str(workdir / bare_db), str(csv_path)],
                env,
                workdir,
            )
            imported = timed([portpass, "import", str(csv_path)], at(tree_env, import_db), workdir)
            cases.setdefault(f"bare csv->sqlite3, {rows:,} rows{label}", []).append(bare)
            cases.setdefault(f"portpass import, {rows:,} rows{label}", []).append(imported)
            ratios.setdefault(label, []).append(imported[0] / bare[0])
            print(
                f"run {n + 1}{label}: bare {bare[0]:.2f} s, import {imported[0]:.2f} s "
                f"({ratios[label][-1]:.1f}x)",
                flush=True,
            )
    print(f"medians of {repeat} runs (load average now {os.getloadavg()[0]:.2f}):")
    print(f"{'case':<45} {'wall s':>8} {'CPU s':>8}")
    for name, runs in cases.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"{name:<45} {wall:>8.3f} {cpu:>8.3f}")
    for label, found in ratios.items():
        print(f"import / bare{label} (median of per-run ratios): {statistics.median(found):.1f}x")


if __name__ == "__main__":
    main()
