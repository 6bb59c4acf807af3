"""The one exception every command may raise for a problem the user can fix."""

from __future__ import annotations


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""
