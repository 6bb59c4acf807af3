"""The one lifecycle of serve's background loops (:mod:`bot.background.loop`): a pass
at start, another at once when woken, a prompt stop even in the middle of a long
sleep or a hung pass, and a pass that raises logged without its message (personal
data) while the loop goes on after a growing, jittered backoff."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from bot.background.backoff import Backoff
from bot.background.jobs import Job, run
from bot.background.loop import BackgroundLoop, describe, worker_id

PHONE, ID_NUMBER = "0912345678", "A123456789"


class Recorded(BackgroundLoop):
    """Counts its passes; a pass may hang, raise, or ask for a delay."""

    name = "recorded loop"

    def __init__(self, *, interval: float = 3600.0, **options: object) -> None:
        super().__init__(interval=interval, **options)  # type: ignore[arg-type]
        self.passes = 0
        self.passed = asyncio.Event()
        self.failing = 0  # how many of the next passes raise
        self.hang = False
        self.delay: float | None = None
        self.times: list[float] = []

    async def step(self) -> float | None:
        self.passes += 1
        self.times.append(time.monotonic())
        self.passed.set()
        if self.hang:
            await asyncio.sleep(3600)
        if self.failing:
            self.failing -= 1
            raise RuntimeError(f"duplicate key (phone)=({PHONE}), (id_no)=({ID_NUMBER})")
        return self.delay

    async def next_pass(self) -> int:
        self.passed.clear()
        async with asyncio.timeout(5):
            await self.passed.wait()
        return self.passes


@pytest.fixture
async def loop() -> AsyncIterator[Recorded]:
    made = Recorded(stop_grace=0.2)
    yield made
    await made.stop()


async def test_a_pass_runs_at_start_and_at_once_when_woken(loop: Recorded) -> None:
    await loop.start()
    assert await loop.next_pass() == 1
    await asyncio.sleep(0.05)
    assert loop.passes == 1  # the interval is an hour
    loop.wake()
    assert await loop.next_pass() == 2


async def test_a_wake_during_a_pass_runs_another_right_after(loop: Recorded) -> None:
    gate = asyncio.Event()
    original = loop.step

    async def slow_first() -> float | None:
        result = await original()
        if loop.passes == 1:
            await gate.wait()
        return result

    loop.step = slow_first  # type: ignore[method-assign]
    await loop.start()
    await loop.next_pass()
    loop.wake()  # while the first pass still runs
    gate.set()
    assert await loop.next_pass() == 2


async def test_the_loop_sleeps_as_long_as_the_pass_asks(loop: Recorded) -> None:
    loop.delay = 0.05
    await loop.start()
    async with asyncio.timeout(5):
        while loop.passes < 4:
            await loop.next_pass()
    gaps = [b - a for a, b in zip(loop.times, loop.times[1:], strict=False)]
    assert min(gaps) >= 0.04


async def test_stop_is_prompt_in_a_long_sleep_and_ends_the_task(loop: Recorded) -> None:
    await loop.start()
    await loop.next_pass()
    started = time.monotonic()
    await loop.stop()
    assert time.monotonic() - started < 0.5
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith(loop.name)]
    passes = loop.passes
    loop.wake()
    await asyncio.sleep(0.05)
    assert loop.passes == passes  # stopped for good


async def test_a_hung_pass_is_cancelled_after_the_grace(
    loop: Recorded, caplog: pytest.LogCaptureFixture
) -> None:
    loop.hang = True
    await loop.start()
    await loop.next_pass()
    started = time.monotonic()
    await loop.stop()
    assert 0.15 <= time.monotonic() - started < 1.0  # stop_grace is 0.2 s
    assert "cut off by the stop" in caplog.text


async def test_a_loop_cannot_run_twice(loop: Recorded) -> None:
    await loop.start()
    with pytest.raises(RuntimeError, match="already running"):
        await loop.start()


async def test_a_failed_pass_is_logged_without_its_message_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = Recorded(errors=Backoff(base=0.05, cap=0.2, rng=random.Random(3)))
    loop.failing = 3
    with caplog.at_level(logging.DEBUG):
        await loop.start()
        async with asyncio.timeout(5):
            while loop.passes < 4:  # three failures, then a pass that works
                await loop.next_pass()
        await loop.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    first = warnings[0].getMessage()
    assert first.startswith("recorded loop: a pass failed (RuntimeError at tests/unit/")
    assert "in step, 1 in a row); next try in" in first
    assert "3 in a row" in warnings[2].getMessage()
    everything = caplog.text + "".join(str(r.exc_info) for r in caplog.records)
    assert PHONE not in everything
    assert ID_NUMBER not in everything
    assert loop.passes == 4


async def test_the_waits_after_failures_follow_the_backoff() -> None:
    """Seeded: the waits the loop takes are the backoff's draws, one per failure in a
    row (ceilings 0.1, 0.2, 0.4 s), and a success starts the count again."""
    seed = 11
    expected = Backoff(base=0.1, cap=0.4, rng=random.Random(seed))
    draws = [expected.delay(n) for n in (1, 2, 3)]
    loop = Recorded(errors=Backoff(base=0.1, cap=0.4, rng=random.Random(seed)))
    loop.failing = 3
    await loop.start()
    async with asyncio.timeout(10):
        while loop.passes < 4:
            await loop.next_pass()
    await loop.stop()
    gaps = [b - a for a, b in zip(loop.times, loop.times[1:], strict=False)]
    for gap, draw in zip(gaps, draws, strict=True):
        assert draw - 0.005 <= gap <= draw + 0.25, (gaps, draws)


def test_describe_names_the_type_and_our_line_only() -> None:
    try:
        int(f"{PHONE} is not a number, nor is {ID_NUMBER}")
    except ValueError as error:
        text = describe(error)
    assert text.startswith("ValueError at tests/unit/test_background_loop.py:")
    assert text.endswith("in test_describe_names_the_type_and_our_line_only")
    assert PHONE not in text


def test_worker_ids_name_the_host_and_process_and_differ() -> None:
    first, second = worker_id(), worker_id()
    assert first != second
    assert first.rsplit(":", 1)[0] == second.rsplit(":", 1)[0]


class Named(Recorded):
    def __init__(self, name: str, journal: list[str]) -> None:
        super().__init__()
        self.name, self.journal = name, journal

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")
        await super().start()

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        await super().stop()


async def test_jobs_start_in_their_order_and_stop_in_reverse() -> None:
    journal: list[str] = []
    key = web.AppKey("second", Named)

    def job(name: str | None) -> Callable[[web.Application], Named | None]:
        return lambda app: Named(name, journal) if name else None

    app = web.Application()
    run(app, [Job(job("first")), Job(job(None)), Job(job("second"), key), Job(job("third"))])
    runner = web.AppRunner(app)
    await runner.setup()
    assert journal == ["start first", "start second", "start third"]
    assert app[key].name == "second"
    await runner.cleanup()
    assert journal[3:] == ["stop third", "stop second", "stop first"]


async def test_a_job_that_fails_to_start_stops_those_already_started() -> None:
    journal: list[str] = []

    def broken(app: web.Application) -> Named:
        raise RuntimeError("cannot build")

    app = web.Application()
    run(app, [Job(lambda app: Named("first", journal)), Job(broken)])
    runner = web.AppRunner(app)
    with pytest.raises(RuntimeError, match="cannot build"):
        await runner.setup()
    assert journal == ["start first", "stop first"]
