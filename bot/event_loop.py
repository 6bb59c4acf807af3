"""Which event loop ``portpass serve`` runs on (``server.event_loop``).

uvloop is an optional speed-up (``pip install 'portpass-verify[speed]'``): the same
asyncio API on libuv, with the transports, the loop's own bookkeeping and the socket
calls in C. It makes the bare aiohttp handler cheaper; a verification turn, whose cost
is mostly SQL and our own code, measured the same on both here (docs/benchmarks.md, "A faster
turn"; ``benchmarks/verify_bench.py --loop``). Nothing depends on it: "auto" takes it
when it can be imported and the standard loop otherwise, "asyncio" turns it off, and
"uvloop" refuses to start without it, for whoever wants to be sure.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class EventLoopUnavailable(Exception):
    """``server.event_loop = "uvloop"`` without uvloop installed."""


def loop_factory(choice: str) -> tuple[str, LoopFactory | None]:
    """The loop's name and a factory for ``asyncio.Runner`` (``None``: the standard loop)."""
    if choice == "asyncio":
        return "asyncio", None
    try:
        uvloop: Any = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise EventLoopUnavailable(
                "server.event_loop is 'uvloop' but uvloop is not installed: "
                "pip install 'portpass-verify[speed]', or set it to 'auto'"
            ) from None
        return "asyncio", None
    factory: LoopFactory = uvloop.new_event_loop
    return "uvloop", factory
