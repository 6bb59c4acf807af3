"""A registry import never stalls the service.

On SQLite the import checks the whole file first, into a staging database of its own,
and only then writes, in short transactions of a few holders each: between two of them
any other connection takes the write lock at once. On PostgreSQL it writes in one
transaction, which nobody waits for (MVCC: readers see the registry as it was until the
commit, and writers wait only for the rows the import itself changed). Either way an
invalid file imports nothing and a dry run changes nothing.

The progress hook is called after each batch is written (on SQLite: committed, with
the lock released), so these tests act "while the import runs" without any timing.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.values import PassNumber
from storage import inline_sqlite
from storage.db import create_engine
from storage.migrate import upgrade
from storage.registry import importer
from storage.registry import merge_sqlite as registry_merge
from storage.registry.importer import ImportProgress, import_registry
from storage.registry.merge_sqlite import LockPacer
from storage.tables import passes, persons
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import Backend
from tests.integration.builders import PHONE_B, T0, add_pass, add_person

HEADER = "pass_no,id_no,name,phone,valid_from,valid_to,company,verified_phone"
HOLDERS = 40
BATCH = 10
SEED_PASS = "KHPS110-999999"  # stored before the import, not in its file


def holder_passes(k: int) -> int:
    """Holder k has 1, 2 or 3 passes."""
    return 1 + k % 3


def registry_lines(*, company: str = "C") -> list[str]:
    """Each holder's passes are far apart in the file (one per round), so batches of
    file lines would split holders; the import must not."""
    lines = [HEADER]
    for round_ in range(3):
        for k in range(HOLDERS):
            if round_ < holder_passes(k):
                serial = round_ * 1000 + k
                lines.append(
                    f"KHPS113-{serial:06d},TEST{k:05d},人{k},09{k:08d},"
                    f"2026/01/05,2027/01/04,{company},"
                )
    return lines


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "BATCH_ROWS", BATCH)


def other_engine(backend: Backend) -> AsyncEngine:
    """A second connection that never waits for a lock: it fails at once if the import
    holds one (SQLite: no busy wait; PostgreSQL: lock_timeout of 0.2 s)."""
    if backend.name == "sqlite":
        return create_engine(backend.url, connect_args={"timeout": 0})
    settings = {**backend.options["connect_args"]["server_settings"], "lock_timeout": "200"}
    return create_engine(backend.url, connect_args={"server_settings": settings})


async def visible(engine: AsyncEngine) -> tuple[Counter[str], set[str]]:
    """Passes per holder and the holders with a person record, as another reader sees them."""
    async with engine.connect() as conn:
        by_holder = Counter(
            (
                await conn.execute(select(passes.c.id_no).where(passes.c.pass_no != SEED_PASS))
            ).scalars()
        )
        people = set((await conn.execute(select(persons.c.id_no))).scalars())
    return by_holder, people


async def test_other_connections_write_while_an_import_runs(
    backend: Backend, engine: AsyncEngine, tmp_path: Path
) -> None:
    await add_person(engine, "A123456789")
    await add_pass(engine, SEED_PASS, "A123456789")
    path = write(tmp_path / "registry.csv", registry_lines())
    rows = len(registry_lines()) - 1
    other = other_engine(backend)
    seen: list[tuple[Counter[str], set[str]]] = []
    merged = [0]

    async def during(progress: ImportProgress) -> None:
        if progress.stage != "merge":
            return
        # Bounded batches: BATCH rows, plus the rest of the last holder's (at most 2).
        assert 0 < progress.done - merged[-1] < BATCH + 3
        merged.append(progress.done)
        # A service write (what a verification does to a pass), mid-import.
        async with SqlUnitOfWorkFactory(other)() as uow:
            await uow.passes.set_verified_phone(PassNumber(SEED_PASS), PHONE_B, T0)
            await uow.commit()
        seen.append(await visible(other))

    try:
        report = await import_registry(engine, path, progress=during)
        assert report.committed and report.passes.new == rows
        assert len(seen) >= rows // BATCH
        if backend.name == "sqlite":
            # Committed batch by batch: others see the import grow, holder by holder.
            totals = [sum(by_holder.values()) for by_holder, _ in seen]
            assert totals == sorted(totals)
            assert 0 < totals[0] < rows
            for by_holder, people in seen:
                # A holder is there with all of their passes, or not at all.
                assert set(by_holder) <= people
                for id_no, count in by_holder.items():
                    assert count == holder_passes(int(id_no[4:]))
        else:
            # One transaction: nothing of it is visible before the commit.
            assert all(sum(by_holder.values()) == 0 for by_holder, _ in seen)
        async with SqlUnitOfWorkFactory(other)() as uow:
            record = await uow.passes.get(PassNumber(SEED_PASS))
        assert record is not None and record.verified_phone == PHONE_B
    finally:
        await other.dispose()


async def test_a_verification_made_during_an_import_is_kept(
    backend: Backend, engine: AsyncEngine, tmp_path: Path
) -> None:
    # The last holder's pass is stored already; the file moves it to company D with an
    # empty verified_phone cell, and it is written in the import's last batch.
    last = HOLDERS - 1
    pass_no = f"KHPS113-{last:06d}"
    await add_pass(engine, pass_no, f"TEST{last:05d}", company="C")
    path = write(tmp_path / "registry.csv", registry_lines(company="D"))
    other = other_engine(backend)
    verified = False

    async def during(progress: ImportProgress) -> None:
        nonlocal verified
        if progress.stage == "merge" and not verified:
            async with SqlUnitOfWorkFactory(other)() as uow:
                await uow.passes.set_verified_phone(PassNumber(pass_no), PHONE_B, T0)
                await uow.commit()
            verified = True

    try:
        report = await import_registry(engine, path, progress=during)
        assert report.committed and verified
        async with SqlUnitOfWorkFactory(engine)() as uow:
            record = await uow.passes.get(PassNumber(pass_no))
        assert record is not None
        assert (record.company, record.verified_phone, record.verified_at) == ("D", PHONE_B, T0)
    finally:
        await other.dispose()


async def row_counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        n_passes = (await conn.execute(select(func.count()).select_from(passes))).scalar_one()
        n_people = (await conn.execute(select(func.count()).select_from(persons))).scalar_one()
    return n_passes, n_people


async def test_an_invalid_last_row_of_a_long_file_imports_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    lines = registry_lines()
    lines.append("KHPS113-999998,TEST99999,壞,09123,2026/01/05,2027/01/04,C,")
    batches: list[ImportProgress] = []

    async def during(progress: ImportProgress) -> None:
        batches.append(progress)

    report = await import_registry(engine, write(tmp_path / "bad.csv", lines), progress=during)
    assert not report.committed
    assert [(e.line, e.field) for e in report.errors] == [(len(lines), "phone")]
    assert report.passes.new == len(lines) - 2  # what it would have imported
    assert await row_counts(engine) == (0, 0)
    # Compared with the registry, batch by batch, but never written.
    assert {p.stage for p in batches} == {"read", "compare"}


async def test_a_dry_run_of_a_long_file_changes_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await import_registry(engine, write(tmp_path / "first.csv", registry_lines(company="C")))
    before = await visible(engine)
    report = await import_registry(
        engine, write(tmp_path / "moved.csv", registry_lines(company="D")), dry_run=True
    )
    assert not report.committed
    assert (report.passes.new, report.passes.updated) == (0, len(registry_lines()) - 1)
    assert await visible(engine) == before
    async with engine.connect() as conn:
        companies = set((await conn.execute(select(passes.c.company))).scalars())
    assert companies == {"C"}


async def test_an_in_memory_sqlite_database_imports_too(tmp_path: Path) -> None:
    # `serve --demo` with sqlite:///:memory: loads the demo registry this way: no other
    # connection can reach that database, so the batches run on the engine's own one.
    engine = create_engine("sqlite:///:memory:")
    try:
        await upgrade(engine)
        report = await import_registry(engine, write(tmp_path / "r.csv", registry_lines()))
        assert report.committed
        assert await row_counts(engine) == (len(registry_lines()) - 1, HOLDERS)
    finally:
        await engine.dispose()


class Pauses:
    """``sleep`` for a LockPacer: records each pause instead of sleeping, and lets
    another connection commit during the first ``busy`` of them (the service's webhooks)."""

    def __init__(self, path: Path, busy: int) -> None:
        self.other = sqlite3.connect(path, isolation_level=None)
        self.busy = busy
        self.taken: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)
        if len(self.taken) <= self.busy:
            self.other.execute("INSERT INTO t VALUES (1)")


STEPS = int((registry_merge.MAX_PAUSE_S - registry_merge.LONG_PAUSE_S) / registry_merge.BUSY_STEP_S)


@pytest.mark.parametrize(
    ("busy", "steps"),
    [
        (0, 0),  # an idle service: the long pause only
        (3, 1),  # commits in the long pause, none in the step after it: the queue is empty
        (100, STEPS),  # others never stop: the pause still ends, at MAX_PAUSE_S
    ],
)
def test_the_merge_leaves_the_lock_longer_while_others_keep_writing(
    tmp_path: Path, busy: int, steps: int
) -> None:
    path = tmp_path / "pacer.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE t (x)")
    pauses = Pauses(path, busy)
    pacer = LockPacer(db, sleep=pauses)
    for _ in range(3):  # three batches: short pauses, then the holding time is up
        pacer.after_batch(registry_merge.MAX_HOLD_S / 3 + 0.001)
    short, long_ = registry_merge.SHORT_PAUSE_S, registry_merge.LONG_PAUSE_S
    assert pauses.taken == [short, short, long_] + [registry_merge.BUSY_STEP_S] * steps
    assert sum(pauses.taken[2:]) <= registry_merge.MAX_PAUSE_S
    # Every writer that was waiting tries again within the long pause: the service's
    # connections wait at most MAX_POLL_S between two tries of a locked database.
    assert max(inline_sqlite._BACKOFF) <= registry_merge.MAX_POLL_S < long_
