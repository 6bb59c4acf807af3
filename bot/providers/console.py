"""The console sender: sends nothing, keeps the latest messages for the demo inbox."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from bot.providers.sender import SendResult, Sent, masked

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConsoleMessage:
    sid: str
    to: str
    body: str
    at: datetime


class ConsoleSender:
    """Sends nothing: keeps the latest messages for the demo inbox page.

    ``stream`` (e.g. ``sys.stdout`` in the demo CLI) gets each full SMS, code included,
    so someone trying the bot locally can read it; the log only says that one was sent.
    """

    def __init__(
        self,
        *,
        keep: int = 50,
        stream: TextIO | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.recent: deque[ConsoleMessage] = deque(maxlen=keep)
        self._stream = stream
        self._now = now
        self._count = 0

    async def send(self, to: str, body: str) -> SendResult:
        self._count += 1
        message = ConsoleMessage(f"console-{self._count}", to, body, self._now())
        self.recent.append(message)
        log.info("console sms %s to %s (%d chars)", message.sid, masked(to), len(body))
        if self._stream is not None:
            print(f"[SMS {message.sid} to {to}] {body}", file=self._stream, flush=True)
        return Sent(message.sid, "sent")

    async def close(self) -> None:
        """Nothing to release; here so the worker can treat every sender alike."""
