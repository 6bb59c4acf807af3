"""Run the CLI with one of its streams on a pseudo-terminal, as an administrator's shell
would, to see what it draws there (progress bars appear only on a terminal)."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Screen:
    terminal: str  # what the terminal showed
    piped: str  # the other of stdout/stderr, read from a pipe
    code: int


def run_on_terminal(
    argv: Sequence[str],
    *,
    stream: str = "stdout",
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Screen:
    """Run ``argv`` with ``stream`` ("stdout" or "stderr") on a terminal, the other piped."""
    controller, terminal = pty.openpty()
    streams = {"stdout": terminal, "stderr": subprocess.PIPE}
    if stream == "stderr":
        streams = {"stdout": subprocess.PIPE, "stderr": terminal}
    with subprocess.Popen(  # noqa: S603 - the tests' own interpreter and CLI
        list(argv), cwd=cwd, env=dict(env) if env else None, stdin=subprocess.DEVNULL, **streams
    ) as process:
        os.close(terminal)
        screen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        pipe = process.stdout if stream == "stderr" else process.stderr
        piped = pipe.read() if pipe else b""
        code = process.wait(timeout=60)
    os.close(controller)
    return Screen(screen.decode(errors="replace"), piped.decode(errors="replace"), code)
