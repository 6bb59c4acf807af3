"""``portpass``: the admin CLI. Every command builds its services through the same
composition root as the server, and every failure is one clear line and a non-zero
exit, never a traceback.

Only the parser is imported up front (:mod:`bot.cli.parser`, standard library only):
each command's module, and what it needs (SQLAlchemy, aiohttp, twilio, telegram), is
imported when that command runs, so ``portpass --version`` and ``--help`` take a few
hundredths of a second instead of a second (``docs/benchmarks.md``, "CLI start-up").
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from bot.cli.errors import CliError
from bot.cli.parser import build_parser

if TYPE_CHECKING:
    import argparse

    from bot.config import Config

__all__ = ["COMMANDS", "CliError", "build_parser", "main"]

log = logging.getLogger("portpass")

Command = Callable[["argparse.Namespace", "Config"], Coroutine[Any, Any, int]]

#: Each command as ``module:function``, imported only when that command runs.
COMMANDS: dict[str, str] = {
    "serve": "bot.cli.serve:run_serve",
    "db": "bot.cli.maintenance:run_db",
    "import": "bot.cli.registry:run_import",
    "status": "bot.cli.registry:run_status",
    "operator": "bot.cli.operator:run_operator",
    "notices": "bot.cli.notices:run_notices",
    "campaign": "bot.cli.campaign:run_campaign",
    "check-config": "bot.cli.check_config:check_config",
    "chat": "bot.cli.chat:chat_command",
}


def command(name: str) -> Command:
    module, _, function = COMMANDS[name].partition(":")
    found: Command = getattr(importlib.import_module(module), function)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"portpass: configuration: {error}", file=sys.stderr)
        return 2
    from bot.logs import configure_logging

    configure_logging(config)
    return _run(args, config)


def _run(args: argparse.Namespace, config: Config) -> int:
    import asyncio

    from bot.config import ConfigError
    from bot.event_loop import EventLoopUnavailable, LoopFactory, loop_factory

    try:
        factory: LoopFactory | None = None
        if args.command == "serve":
            name, factory = loop_factory(config.server.event_loop)
            log.info("event loop: %s", name)
        run = command(args.command)
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(run(args, config))
    except (CliError, ConfigError, EventLoopUnavailable) as error:
        print(f"portpass: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `portpass status | head` closed the pipe: the reader has what it wanted. Point
        # stdout at /dev/null so the interpreter's own flush at exit stays quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        print(f"portpass: {error.strerror or error}", file=sys.stderr)
        return 1
    except Exception as error:  # the last line of defence: one line, no traceback
        # Driver errors can quote SQL parameters (ID numbers, phones): type only here,
        # the details at DEBUG for whoever runs it with logging.level = "DEBUG".
        log.debug("unexpected error", exc_info=True)
        print(
            f"portpass: unexpected error ({type(error).__name__}); "
            "set logging.level = DEBUG for details",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
