"""Help texts with values that take longer to import than the parser takes to build.

A help text may hold a ``{name}`` mark of :data:`LAZY_HELP`; :class:`HelpFormatter`
renders it only when help is printed, so ``portpass --version`` and a command that runs
never import the message catalogues for it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, rendering the marks of :data:`LAZY_HELP`."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        for mark, render in LAZY_HELP.items():
            if text and mark in text:
                text = text.replace(mark, render())
        return text


def _state_words() -> str:
    from core.status import status_words

    return "; ".join(status_words())


def _default_window() -> str:
    from core.campaigns.schedule import DEFAULT_WINDOW

    return str(DEFAULT_WINDOW)


LAZY_HELP: dict[str, Callable[[], str]] = {
    "{state_words}": _state_words,
    "{default_window}": _default_window,
}
