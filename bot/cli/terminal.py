"""Progress bars on the administrator's terminal, the same for every command.

One library (``tqdm``) for ``portpass import`` and ``portpass campaign watch``, and one
answer to a terminal that does not know its size: some pseudo-terminals report 0 x 0,
and tqdm would then draw nothing (or hide the bar below "row 0").
"""

from __future__ import annotations

import os
from typing import Any, TextIO

from tqdm import tqdm


def size(stream: TextIO) -> tuple[int, int]:
    """Columns and rows of ``stream``'s terminal, 80 x 24 when it does not say."""
    try:
        found = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        return 80, 24
    return found.columns or 80, found.lines or 24


def bar(stream: TextIO, **options: Any) -> tqdm[None]:
    """A tqdm bar on ``stream`` sized to its terminal (call only when it is one)."""
    columns, rows = size(stream)
    return tqdm(file=stream, ncols=columns, nrows=rows, **options)
