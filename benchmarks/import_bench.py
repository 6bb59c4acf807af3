"""Registry import benchmark: time against a bare csv->sqlite3 baseline, and memory.

    .venv/bin/python benchmarks/import_bench.py                 # 10k and 100k, SQLite
    .venv/bin/python benchmarks/import_bench.py --rows 100000 \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test

Each (rows, backend) case runs in its own process, so peak RSS is that case's own. In
it, ``--repeat`` times (default 3), side by side:

* ``bare``: the same file into a fresh, migrated SQLite database (the same tables and
  indexes) with nothing but Python's ``csv`` and ``sqlite3``: rows as they are in the
  file, ``executemany`` into ``persons`` and ``passes`` in chunks of 1,000, one
  transaction, WAL and ``synchronous=NORMAL`` as the app uses. What an import would
  cost if it checked nothing and stayed off the service's way.
* the import into another fresh database, timed; then again into the now full database,
  timed as ``reimport_s`` (every row unchanged: the daily case, where every lookup finds
  stored rows).

It prints each run, then the medians, and ``ratio``: the median of the runs' import
time over the bare time measured just before it (the target: at most 5). Then, once,
the import into a fresh database under ``tracemalloc`` (slower; gives the peak of
Python allocations). Flat memory shows as peaks that barely move between 10k and 100k
rows. (Caches are bounded: phones written other than as 0912345678, at most 8,192 of
them, and dates, at most 4,096.)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bare import bare_import  # noqa: E402
from benchmarks.scratch import scratch_database_url  # noqa: E402
from bot.bootstrap import Database, database_for  # noqa: E402
from bot.config import load_config  # noqa: E402
from core.values import id_check_digit_ok  # noqa: E402
from storage.registry.csv_rows import OPTIONAL_COLUMNS, REQUIRED_COLUMNS  # noqa: E402
from storage.registry.importer import import_registry  # noqa: E402

HEADER = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴徐"
GIVEN = "志明俊傑家豪怡君淑芬雅婷建宏美玲宗翰佳穎冠宇心怡"
COMPANIES = ["高雄港測試業者", "臺中港測試公司", "基隆港物流", "花蓮港工程", "安平港倉儲"]


def national_id(k: int) -> str:
    """A distinct, valid national ID for person ``k`` (check digit computed)."""
    head = f"{'ABCDEFGHJKLMNPQRSTUVXYWZIO'[k % 26]}{1 + k % 2}{k % 10**7:07d}"
    return next(head + d for d in "0123456789" if id_check_digit_ok(head + d))


def write_registry(path: Path, rows: int) -> None:
    """Streams ``rows`` rows; every fifth pass belongs to the previous row's holder,
    dates alternate between the three accepted formats, a third are verified."""
    with path.open("w", encoding="utf-8", newline="") as file:
        out = csv.writer(file)
        out.writerow(HEADER)
        for i in range(rows):
            k = i - 1 if i % 5 == 4 else i
            # 0900-0989 are mobile ranges; 7919 is prime to 9 * 10**7, so k <= 9e7 never
            # repeats a number.
            phone = f"09{(k * 7919 + 12345) % (9 * 10**7):08d}"
            name = SURNAMES[k % 20] + GIVEN[(k // 20) % 24] + GIVEN[(k // 480) % 24]
            year = 2024 + i % 3
            dates = [
                (f"{year}/01/05", f"{year + 1}/01/04"),
                (f"{year}-01-05", f"{year + 1}-01-04"),
                (f"{year - 1911}/01/05", f"{year - 1910}/01/04"),
            ][i % 3]
            verified = phone if i % 3 == 0 else ""
            out.writerow(
                [
                    f"KHPS{113 + i % 3}-{i:06d}",
                    national_id(k),
                    name,
                    phone,
                    *dates,
                    COMPANIES[k % len(COMPANIES)],
                    verified,
                ]
            )


@asynccontextmanager
async def fresh_database(
    backend: str, workdir: Path, postgres_url: str | None
) -> AsyncIterator[Database]:
    """A migrated, empty database from the composition root, removed afterwards."""
    server = postgres_url if backend == "postgres" else None
    async with scratch_database_url(workdir, server) as url:
        config = load_config(None, {"PORTPASS_DATABASE_URL": url}, cwd=workdir)
        async with database_for(config) as database:
            yield database


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def one_run(
    rows: int, backend: str, workdir: Path, csv_path: Path, url: str | None
) -> dict[str, float]:
    async with fresh_database("sqlite", workdir, None) as bare_database:
        bare_db = bare_database.engine.url.database
        assert bare_db
        bare = bare_import(Path(bare_db), csv_path)
    async with fresh_database(backend, workdir, url) as database:
        engine = database.engine
        started = time.perf_counter()
        report = await import_registry(engine, csv_path)
        seconds = time.perf_counter() - started
        if not (report.committed and report.passes.new == rows):
            raise RuntimeError(f"import failed: {report.passes}, errors {report.errors[:5]}")
        started = time.perf_counter()
        report = await import_registry(engine, csv_path)
        reimport = time.perf_counter() - started
        if not (report.committed and report.passes.unchanged == rows):
            raise RuntimeError(f"re-import failed: {report.passes}, {report.errors[:5]}")
    return {"bare_s": bare, "seconds": seconds, "reimport_s": reimport}


async def run_case(
    rows: int, backend: str, postgres_url: str | None, repeat: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "registry.csv"
        write_registry(csv_path, rows)
        rss_before = peak_rss_mib()
        runs = [
            await one_run(rows, backend, workdir, csv_path, postgres_url) for _ in range(repeat)
        ]
        rss_after = peak_rss_mib()

        async with fresh_database(backend, workdir, postgres_url) as database:
            tracemalloc.start()
            await import_registry(database.engine, csv_path)
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    return {
        "rows": rows,
        "backend": backend,
        "runs": [{k: round(v, 2) for k, v in run.items()} for run in runs],
        "bare_s": round(median("bare_s"), 2),
        "seconds": round(median("seconds"), 2),
        # Each run's import against the bare run just before it, then the median: the
        # machine's load moves both alike, which a ratio of medians would not cancel.
        "ratio": round(statistics.median(r["seconds"] / r["bare_s"] for r in runs), 1),
        "rows_per_s": round(rows / median("seconds")),
        "reimport_s": round(median("reimport_s"), 2),
        "peak_rss_mib": round(rss_after, 1),
        "rss_growth_mib": round(rss_after - rss_before, 1),
        "tracemalloc_peak_mib": round(traced_peak / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (medians)")
    parser.add_argument("--postgres-url", help="also run against this PostgreSQL database")
    parser.add_argument("--case", nargs=2, metavar=("ROWS", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:  # child process: one case, one JSON line
        rows, backend = int(args.case[0]), args.case[1]
        result = asyncio.run(run_case(rows, backend, args.postgres_url, args.repeat))
        print(json.dumps(result))
        return

    backends = ["sqlite"] + (["postgres"] if args.postgres_url else [])
    columns = [
        "rows",
        "backend",
        "bare_s",
        "seconds",
        "ratio",
        "rows_per_s",
        "reimport_s",
        "peak_rss_mib",
        "rss_growth_mib",
        "tracemalloc_peak_mib",
    ]
    results = []
    for rows in args.rows:
        for backend in backends:
            command = [sys.executable, __file__, "--case", str(rows), backend]
            command += ["--repeat", str(args.repeat)]
            if args.postgres_url:
                command += ["--postgres-url", args.postgres_url]
            done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
            result = json.loads(done.stdout.strip().splitlines()[-1])
            for n, run in enumerate(result["runs"], 1):
                print(
                    f"{rows:>7} {backend:<8} run {n}: bare {run['bare_s']:.2f} s, "
                    f"import {run['seconds']:.2f} s "
                    f"({run['seconds'] / run['bare_s']:.1f}x), re-import {run['reimport_s']:.2f} s",
                    flush=True,
                )
            results.append(result)
    print(f"medians of {args.repeat} runs:")
    print("  ".join(f"{c:>20}" for c in columns))
    for result in results:
        print("  ".join(f"{result[c]!s:>20}" for c in columns))


if __name__ == "__main__":
    main()
