"""``portpass serve``: its options, and the choice between one process and
``--workers N`` (:mod:`bot.workers`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.bootstrap import database_for
from bot.config import Config
from bot.services import Worker


def add_serve_parser(commands: argparse._SubParsersAction[Any]) -> None:
    serve = commands.add_parser("serve", help="run the web server (webhooks, link page)")
    serve.add_argument("--host", help="listen address (default: server.host)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port)")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load the demo registry of the guide's test holders and show a dev inbox",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run N server processes on the one port (PostgreSQL only; default 1)",
    )
    serve.add_argument(
        "--listen-fd",
        type=int,
        help="(internal) the inherited listening socket of a --workers child",
    )
    serve.add_argument(
        "--worker",
        type=_worker,
        help="(internal) which --workers child this is, as INDEX/COUNT",
    )


def _worker(text: str) -> Worker:
    index, _, count = text.partition("/")
    try:
        worker = Worker(int(index), int(count))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not INDEX/COUNT, e.g. 0/2") from None
    if not 0 <= worker.index < worker.count:
        raise argparse.ArgumentTypeError(f"{text!r} is not INDEX/COUNT, e.g. 0/2")
    return worker


async def run_serve(args: argparse.Namespace, config: Config) -> int:
    from bot import workers
    from bot.server import run_server  # aiohttp's runner is only needed here

    refused = workers.refusal(config, args.workers, demo=args.demo)
    if refused:
        print(f"portpass: {refused}", file=sys.stderr)
        return 2
    if args.workers > 1:
        async with database_for(config):  # migrated once here, not raced by N workers
            pass
        host, port = args.host or config.server.host, args.port or config.server.port
        return await workers.supervise(args.config, host, port, args.workers)
    await run_server(
        config,
        host=args.host,
        port=args.port,
        demo=args.demo,
        listen_fd=args.listen_fd,
        worker=args.worker,
    )
    return 0
