"""The one shape of a background loop in ``portpass serve``: start, wake, stop.

Every loop of serve (the outbox worker, the campaign dispatcher, the notice messages,
the digest, the failure notices, housekeeping) is a :class:`BackgroundLoop`: it runs
:meth:`~BackgroundLoop.step` (one pass over what is due), then sleeps for as long as
the pass asked (``None``: its ``interval``), until

- :meth:`~BackgroundLoop.wake` is called: something was queued in this process (an
  SMS committed, a notice stored, an SMS failed) and the next pass should run now. A
  wake during a pass makes another pass follow at once, so none is lost;
- :meth:`~BackgroundLoop.stop` is called: no pass starts any more; the pass under way
  has ``stop_grace`` seconds to finish (its transaction commits or rolls back), then
  it is cancelled;
- a pass raises: the exception is logged as its type and the line of ours that raised
  it, never its message (a database error's message carries the statement's
  parameters: phones, ID numbers, pass numbers), and the next pass runs after a
  full-jitter backoff (:mod:`bot.background.backoff`) that grows with each failure in a
  row and resets after a pass that worked. A database that is away must neither end
  the loop nor make it spin.

Rows queued by another process are found by the poll (the sleep's upper bound), so a
wake is a shortcut, never a requirement. Which loops an app runs, and in which order
they start and stop, is :func:`bot.app.background_jobs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import traceback
from abc import ABC, abstractmethod
from pathlib import Path

from bot.background.backoff import Backoff

#: The tree of our own code: a traceback names its last frame in it.
_ROOT = Path(__file__).resolve().parents[2]
_OURS = ("bot", "core", "storage", "fakes", "tests")


def worker_id() -> str:
    """Who holds a claim, in the lease columns and the logs: host, process and a few
    random hex digits (two loops, or a restart under the same pid, never share one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def describe(error: BaseException) -> str:
    """``error``'s type and where in our code it was raised, without its message."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if _relative(f.filename) is not None]
    if not (ours or frames):
        return type(error).__name__
    frame = (ours or frames)[-1]
    where = _relative(frame.filename) or Path(frame.filename).name
    return f"{type(error).__name__} at {where}:{frame.lineno} in {frame.name}"


def _relative(filename: str) -> str | None:
    try:
        path = Path(filename).resolve().relative_to(_ROOT)
    except ValueError:
        return None
    return path.as_posix() if path.parts and path.parts[0] in _OURS else None


#: After a failed pass: 0-1 s, 0-2 s, 0-4 s ... at most a minute.
ERROR_BACKOFF = Backoff(base=1.0, cap=60.0)


class BackgroundLoop(ABC):
    """A loop of passes with one lifecycle: :meth:`start`, :meth:`wake`, :meth:`stop`.

    Subclasses write :meth:`step`; they log under their own module's logger."""

    #: What the logs and the task call the loop.
    name = "background loop"

    def __init__(
        self,
        *,
        interval: float,
        stop_grace: float = 5.0,
        errors: Backoff | None = None,
    ) -> None:
        self.interval = interval
        self.worker_id = worker_id()
        self._stop_grace = stop_grace
        self._errors = errors or ERROR_BACKOFF
        self._failures = 0
        self._woken = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._log = logging.getLogger(type(self).__module__)

    @abstractmethod
    async def step(self) -> float | None:
        """One pass over what is due now: seconds until the next pass is due (0: at
        once, ``math.inf``: not before a wake), or ``None`` for :attr:`interval`."""

    async def stopped(self) -> None:  # noqa: B027 - a hook; most loops leave nothing
        """Called once the loop has ended: finish what a pass left running beside it."""

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: a long pass should end early."""
        return self._stopping.is_set()

    def wake(self) -> None:
        """Run the next pass now (or right after the one under way)."""
        self._woken.set()

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError(f"the {self.name} is already running")
        self._task = asyncio.create_task(self._run(), name=f"{self.name} {self.worker_id}")
        self._log.info("%s %s started", self.name, self.worker_id)

    async def stop(self) -> None:
        """Stop: no pass starts any more; the one under way gets ``stop_grace`` seconds,
        then is cancelled (what it claimed goes back, or waits for its lease)."""
        self._stopping.set()
        self._woken.set()
        task, self._task = self._task, None
        if task is None:
            return
        _, late = await asyncio.wait({task}, timeout=self._stop_grace)
        if late:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._log.warning("%s: the pass under way was cut off by the stop", self.name)
        await self.stopped()
        self._log.info("%s %s stopped", self.name, self.worker_id)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._woken.clear()  # before the pass: a wake during it runs another
            try:
                delay = await self.step()
            except Exception as error:  # a database hiccup must not end the loop
                self._failures += 1
                delay = self._errors.delay(self._failures)
                self._log.warning(
                    "%s: a pass failed (%s, %d in a row); next try in %.1f s",
                    self.name,
                    describe(error),
                    self._failures,
                    delay,
                )
            else:
                self._failures = 0
            await self._sleep(self.interval if delay is None else delay)

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0 or self._stopping.is_set():
            return
        timeout = None if math.isinf(seconds) else seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout)
