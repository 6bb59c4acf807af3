"""Process logging: one handler on the root logger, whose formatter takes secrets out.

Why the last line of defence is a formatter: the HTTP client under python-telegram-bot
(httpx) logs every request's full URL at INFO, and a Bot API URL carries the bot token;
an exception's text (a timeout, a refused connection) quotes the same URL at any level;
a PostgreSQL URL may carry a password. Quietening those loggers removes the routine
lines, but only a pass over the final text, traceback included, catches the rest,
whichever library wrote it. Our own log lines name rows by id and phones masked, and
never hold a code or a link token; :mod:`tests.e2e.test_no_secrets_in_logs` checks
the whole of a Telegram and an SMS verification for every secret.

Personal data gets the same treatment (:mod:`bot.privacy`): the handler drops the
parameter dumps of library loggers whatever their level, and the formatters mask ID
numbers and phones in every line; the same test checks ID numbers, names and phones.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.config import Config, Secret
from bot.privacy import LibraryFloor, mask_personal_data

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"

#: Loggers that describe every HTTP request at INFO (URLs, headers): useful to nobody
#: running the bot, and a bot token in every Bot API URL.
CHATTY_LOGGERS = ("httpx", "httpcore", "twilio.http_client", "twilio.async_http_client")

#: Secrets recognised by shape, for text that reaches a log without passing through our
#: code: a bot token in a Bot API URL, a link token in a link-page URL, the password in a
#: database URL.
_PATTERNS = (
    re.compile(r"(?<=/bot)\d+:[A-Za-z0-9_-]+"),
    re.compile(r"(?<=/v/)[A-Za-z0-9_-]{6,}"),
    re.compile(r"(?<=://)([^:/@\s]+):[^@/\s]+(?=@)"),
)


#: Ids of what the current task is handling (``request_id`` of an HTTP request,
#: ``update_id`` of a Telegram update), added to every line logged while it runs.
_CONTEXT: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context")


@contextlib.contextmanager
def log_context(**ids: str | int) -> Iterator[None]:
    """Add ``ids`` to every line logged in this task (and tasks it starts) until exit."""
    token = _CONTEXT.set({**_CONTEXT.get({}), **{k: str(v) for k, v in ids.items()}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def context_ids() -> dict[str, str]:
    return dict(_CONTEXT.get({}))


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces every known secret, and anything shaped like one, with
    ``***`` in the finished line (message, arguments and traceback alike), and masks
    ID numbers and phones (:func:`bot.privacy.mask_personal_data`)."""

    def __init__(self, secrets: Iterable[str], fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = context_ids()
        if ids:
            line += " [" + " ".join(f"{k}={v}" for k, v in sorted(ids.items())) + "]"
        return self.redact(line)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _PATTERNS[0].sub(MASK, text)
        text = _PATTERNS[1].sub(MASK, text)
        text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}:{MASK}", text)
        return mask_personal_data(text)


class JsonFormatter(RedactingFormatter):
    """One JSON object a line, for a log shipper: ``time`` (UTC, ISO 8601), ``level``,
    ``logger``, ``message``, the ids of :func:`log_context`, and ``exception`` when there
    is one; every string redacted as in the text format."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
            **context_ids(),
        }
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def config_secrets(config: Config) -> Iterator[str]:
    """Every :class:`Secret` in the configuration, whatever section holds it (a secret
    added to the config later is covered without touching this module)."""
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        if not dataclasses.is_dataclass(value):
            continue
        for item in dataclasses.fields(value):
            secret = getattr(value, item.name)
            if isinstance(secret, Secret) and secret:
                yield secret.reveal()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The process's handler: one per process (configuring again replaces it), writing
    to ``sys.stderr`` as it is when a line is written, not as it was at start-up."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    config: Config, *, stream: TextIO | None = None, level: str | None = None
) -> logging.Handler:
    """Send the process's log to ``stream`` (stderr by default) through the redacting
    formatter, library parameter dumps dropped (:class:`bot.privacy.LibraryFloor`);
    return the handler so a caller (or a test) can remove it again."""
    handler = _Handler(stream)
    secrets = config_secrets(config)
    json_lines = config.logging.format == "json"
    handler.setFormatter(JsonFormatter(secrets) if json_lines else RedactingFormatter(secrets))
    handler.addFilter(LibraryFloor())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    chosen = level or config.logging.level
    root.setLevel(chosen)
    if chosen != "DEBUG":
        # Migrations run on every command; their progress lines are noise to an admin.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
