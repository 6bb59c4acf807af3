"""The one error a configuration raises: it names the key, what is wrong with it and
where the value came from, so start-up stops with one line a person can act on."""

from __future__ import annotations


class ConfigError(Exception):
    """A setting is unknown or wrong; ``key`` is e.g. ``sms.sender``, ``source`` a file
    path or an environment variable (``None`` for a rule between settings)."""

    def __init__(self, key: str, problem: str, source: str | None = None) -> None:
        self.key, self.problem, self.source = key, problem, source
        origin = f" (from {source})" if source else ""
        super().__init__(f"{key} {problem}{origin}")
