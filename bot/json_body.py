"""JSON from a request body, with every way a body can fail to be JSON as one error
(:class:`BadJson`), which a route answers with 400, never 500.

``json.loads`` fails in three ways, not one: ``JSONDecodeError`` for bad syntax, a plain
``ValueError`` for an integer of more than 4,300 digits (Python's guard against
quadratic int parsing, ``sys.get_int_max_str_digits``), and ``RecursionError`` for
arrays or objects nested deeper than the interpreter's stack (20,000 ``[`` in a row).
A route that caught the first only answered the other two with a 500 and a traceback.

A document that parses is also refused when it is nested more than :data:`MAX_DEPTH`
deep: nothing we accept (a gate event, a Telegram update, a Twilio callback) comes
close, and code that walks a value recursively later (a validator, ``repr`` in a log
line) must not meet one 900 levels deep.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

#: Deepest nesting of arrays and objects accepted. A Telegram update with a reply to a
#: forwarded message is about ten levels deep; a gate event three.
MAX_DEPTH = 64


class BadJson(ValueError):
    """The body is not JSON we read; ``problem`` says why in a few English words
    (what the notices API puts in its message, after the line and column)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def parse_json(body: bytes) -> object:
    """The document in ``body`` (UTF-8 JSON), or :class:`BadJson`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson("not UTF-8") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadJson(f"line {error.lineno} column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise BadJson(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:  # an integer over sys.get_int_max_str_digits() digits
        raise BadJson("a number with too many digits") from None
    if isinstance(document, dict | list) and _deeper_than(document, MAX_DEPTH):
        raise BadJson(f"nested more than {MAX_DEPTH} levels deep")
    return document


def _deeper_than(document: dict[str, object] | list[object], limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep; walked with a stack
    of our own (containers only), so a deep document cannot exhaust the interpreter's."""
    stack: list[tuple[dict[str, object] | list[object], int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children: Iterable[object] = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False
