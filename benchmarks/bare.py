"""The baseline the registry import is measured against (``import_bench.py``,
``cli_bench.py``): the same CSV into the same two tables with nothing but ``csv`` and
``sqlite3``. Standard library only, so a process that runs just this (``cli_bench.py
--bare``) loads nothing the baseline does not use."""

from __future__ import annotations

import csv
import sqlite3
import time
from pathlib import Path


def bare_import(db: Path, csv_path: Path) -> float:
    """Seconds for the bare baseline: csv rows as they are, executemany, one transaction."""
    now = "2026-01-01 00:00:00.000000"
    started = time.perf_counter()
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        with csv_path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            next(reader)
            con.execute("BEGIN IMMEDIATE")
            while chunk := [row for _, row in zip(range(1000), reader, strict=False)]:
                con.executemany(
                    "INSERT OR REPLACE INTO persons (id_no, name, phone, updated_at)"
                    " VALUES (?, ?, ?, ?)",
                    [(r[1], r[2], r[3], now) for r in chunk],
                )
                con.executemany(
                    "INSERT INTO passes (pass_no, id_no, company, valid_from, valid_to,"
                    " verified_phone, verified_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(r[0], r[1], r[6], r[4], r[5], r[7] or None, None, now) for r in chunk],
                )
            con.execute("COMMIT")
    finally:
        con.close()
    return time.perf_counter() - started
