"""``portpass import``: what the admin sees of an import.

A progress bar on stderr while it runs, only when stderr is a terminal (never in a
pipe, a log or a cron mail); then the summary on stdout: how the file was read, what
was imported (or, for a dry run or a refused file, what *would* be), and the ID numbers
that fail their check digit, masked. Row errors go to stderr, one line each.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

from bot.cli.terminal import bar
from storage.registry.importer import ImportProgress, ImportReport

_STAGES = {
    "read": ("檢查 checking", "B"),
    "compare": ("比對 comparing", " rows"),
    "merge": ("寫入 writing", " rows"),
}


class ProgressBar:
    """A progress hook for :func:`storage.registry.importer.import_registry` that draws a bar per
    stage on ``stream``, if it is a terminal; else it draws nothing."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._stage = ""
        self._bar: Any = None

    async def __call__(self, progress: ImportProgress) -> None:
        if not self._enabled:
            return
        if progress.stage != self._stage:
            self.close()
            label, unit = _STAGES[progress.stage]
            self._stage = progress.stage
            self._bar = bar(
                self._stream,
                total=progress.total,
                desc=label,
                unit=unit,
                unit_scale=True,
                leave=False,  # the summary follows; the bar is gone once done
            )
        self._bar.update(progress.done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def print_import(report: ImportReport, path: Path) -> None:
    """The import's summary on stdout, its row errors on stderr."""
    for error in report.errors:
        where = f"line {error.line}" + (f", {error.field}" if error.field else "")
        print(f"{path}: {where}: {error.reason}", file=sys.stderr)
    if report.errors_omitted:
        print(f"{path}: … and {report.errors_omitted} more invalid rows", file=sys.stderr)
    if report.delimiter:  # the header was read: rows were checked
        print(
            f"read {path.name}: {report.encoding}, {report.delimiter}-separated, {report.rows} rows"
        )
        if report.committed:
            print("imported:")
        elif report.dry_run:
            print("would import (dry run: nothing was written):")
        else:
            print("would import, once the rows above are fixed (nothing was written):")
        p = report.passes
        print(
            f"  passes: {p.new} new, {p.updated} updated, {p.unchanged} unchanged, "
            f"{p.invalid} invalid"
        )
        q = report.persons
        print(f"  persons: {q.new} new, {q.updated} updated, {q.unchanged} unchanged")
    if report.bad_check_digits:
        print(
            f"warning: {report.bad_check_digits} ID numbers fail their check digit "
            "(accepted as the registry has them; worth a look):"
        )
        listed = [f"line {line} {masked}" for line, masked in report.bad_check_digit_ids]
        for start in range(0, len(listed), 5):
            print("  " + ", ".join(listed[start : start + 5]))
        if more := report.bad_check_digits - len(listed):
            print(f"  … and {more} more")
    if not report.committed and not report.dry_run:
        print(f"nothing was imported: {_next_step(report)}", file=sys.stderr)


def _next_step(report: ImportReport) -> str:
    """What to do about a refused file; ``--skip-invalid`` only where it would help."""
    if not report.delimiter:  # the header could not be used: no row was read
        return "fix the file as said above (--skip-invalid cannot help: no row was read)"
    if not report.complete:
        return "fix the file as said above (the rest of it could not be read)"
    if report.skipping_helps:
        valid = report.passes.new + report.passes.updated + report.passes.unchanged
        return f"fix the rows above, or use --skip-invalid to import the {valid} valid rows"
    return "no row is valid; fix the rows above"
