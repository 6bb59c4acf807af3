"""``portpass serve``: the choice between one process and
``--workers N`` (:mod:`bot.workers`)."""

from __future__ import annotations

import argparse
import sys

from bot.bootstrap import database_for
from bot.config import Config


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
