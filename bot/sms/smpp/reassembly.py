"""Concatenated holders' messages put together before the conversation engine reads them."""

from __future__ import annotations

import time
from collections import OrderedDict

_PARTS_KEPT = 1000
_PARTS_SECONDS = 600.0


class Reassembly:
    """Parts of concatenated messages, by sender and reference, until all have come
    (at most ``_PARTS_KEPT`` messages for ``_PARTS_SECONDS``: a part that never comes
    must not hold memory forever)."""

    def __init__(self) -> None:
        self._parts: OrderedDict[tuple[str, int], tuple[float, dict[int, str]]] = OrderedDict()

    def add(self, sender: str, ref: int, number: int, total: int, text: str) -> str | None:
        now = time.monotonic()
        while self._parts and (
            len(self._parts) >= _PARTS_KEPT
            or next(iter(self._parts.values()))[0] < now - _PARTS_SECONDS
        ):
            self._parts.popitem(last=False)
        key = (sender, ref)
        _, parts = self._parts.setdefault(key, (now, {}))
        parts[number] = text
        if len(parts) < total:
            return None
        del self._parts[key]
        return "".join(parts.get(i, "") for i in range(1, total + 1))
