"""``portpass serve``'s background loops, as the app runs them: started in the order
:func:`bot.app.background_jobs` lists, each one after those it wakes, and stopped in the
reverse order when the app stops, none left running."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from bot.config import Config

AppClient = TestClient  # type: ignore[type-arg]
_LIFECYCLE = re.compile(r"^(.+) \S+:\d+:[0-9a-f]{6} (started|stopped)$")


async def test_the_loops_start_in_the_listed_order_and_stop_in_reverse(
    make_client: Callable[..., Awaitable[AppClient]],
    config: Config,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        client = await make_client(config)
        await client.close()
    events = [
        (m.group(2), m.group(1))
        for r in caplog.records
        if (m := _LIFECYCLE.match(r.getMessage())) is not None
    ]
    # Telegram is off in this config: no notice messenger, no digest.
    order = ["failure notices", "outbox worker", "campaign dispatcher", "housekeeping"]
    assert events == [("started", n) for n in order] + [("stopped", n) for n in order[::-1]]
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith(tuple(order))]
