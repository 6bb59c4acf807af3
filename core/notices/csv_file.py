"""Reading ``portpass notices import EVENTS.csv``: the same fields as the API, one event
per row, columns found by their header names in any order.

Only the file's shape is checked here (header, cell counts); each row then goes through
the same checks as an API item (:func:`core.notices.events.parse_event`), with its line
number as its position, so an admin reads "line 7, kind: ..." for what to fix.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass

from core.notices.events import FIELDS, REQUIRED, EventProblem, RejectedEvent


@dataclass(frozen=True, slots=True)
class EventRows:
    """Rows as mappings of field to cell (an empty ``detail`` cell is no detail), with
    their line numbers, and the rows whose shape is already wrong."""

    items: list[dict[str, str | None]]
    lines: list[int]
    rejected: list[RejectedEvent]


class BadHeader(ValueError):
    """The first line does not name the columns we need; ``problem`` says which."""

    def __init__(self, problem: EventProblem) -> None:
        super().__init__(problem.key)
        self.problem = problem


def read_event_rows(lines: Iterable[str]) -> EventRows:
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise BadHeader(EventProblem(None, "notice.error.missing", {"field": "event_id"}))
    names = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    for name in names:
        if name not in FIELDS:
            raise BadHeader(EventProblem(name, "notice.error.unknown_field", {"field": name}))
    for name in REQUIRED:
        if name not in names:
            raise BadHeader(EventProblem(name, "notice.error.missing", {"field": name}))
    rows = EventRows([], [], [])
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, as spreadsheets leave at the end
        if len(cells) != len(names):
            problem = EventProblem(
                None,
                "notice.error.columns",
                {"count": str(len(cells)), "expected": str(len(names))},
            )
            rows.rejected.append(RejectedEvent(line, None, (problem,)))
            continue
        item: dict[str, str | None] = dict(zip(names, cells, strict=True))
        if not (item.get("detail") or "").strip():
            item["detail"] = None
        rows.items.append(item)
        rows.lines.append(line)
    return rows
