"""``portpass campaign watch ID``: progress until the campaign is done, cancelled, or has
sent every first SMS and only waits for reminders; Ctrl-C stops watching, never the
campaign.

On a terminal it is a live bar (``tqdm``, the same as ``portpass import``'s, so the CLI
has one progress library); in a pipe or a log it is one plain line each time the
numbers change, which a cron mail or ``tee`` can keep.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from tqdm import tqdm

from bot.cli.campaign_views import state_line, when
from bot.cli.terminal import bar
from core.campaigns.model import CampaignState
from core.campaigns.progress import Progress as CampaignProgress
from core.campaigns.progress import format_span
from core.campaigns.service import CampaignService

_FINAL = (CampaignState.DONE, CampaignState.CANCELLED)


def detail(progress: CampaignProgress) -> str:
    t = progress.totals
    parts = [
        f"sent {t.sent:,}",
        f"delivered {t.delivered:,}",
        f"failed {t.failed:,}",
        f"skipped {t.skipped:,}",
        f"verified {t.verified:,}",
        f"{progress.measured_rate:.1f}/s",
    ]
    eta = progress.eta()
    if eta is not None:
        parts.append(f"ETA {when(eta)[-5:]} ({format_span((eta - progress.now).total_seconds())})")
    return " · ".join(parts)


def finished(progress: CampaignProgress) -> bool:
    """Nothing more to watch: ended, or every first SMS out and only reminders left."""
    state = progress.campaign.state
    return state in _FINAL or (state is CampaignState.RUNNING and progress.totals.queued == 0)


class _Display:
    """A bar on a terminal, else a line per change: the two ways one progress is shown."""

    def __init__(self, campaign_id: int, out: TextIO) -> None:
        self._id = campaign_id
        self._out = out
        self._last = ""
        self._bar: tqdm[None] | None = None
        if out.isatty():
            self._bar = bar(out, total=1, unit=" SMS", leave=True)

    def show(self, progress: CampaignProgress) -> None:
        t = progress.totals
        done, total = t.targeted - t.queued, max(t.targeted, 1)
        head = f"campaign {self._id} ({state_line(progress)})"
        if self._bar is not None:
            self._bar.total = total
            self._bar.n = done
            self._bar.set_description_str(head, refresh=False)
            self._bar.set_postfix_str(detail(progress), refresh=False)
            self._bar.refresh()
            return
        line = f"{head}: {done:,}/{total:,} · {detail(progress)}"
        if line != self._last:
            self._out.write(line + "\n")
            self._out.flush()
            self._last = line

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


async def watch(
    service: CampaignService, campaign_id: int, *, interval: float, out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    progress = await service.progress(campaign_id)
    out.write(f"watching campaign {campaign_id} (Ctrl-C stops watching, not the campaign)\n")
    out.flush()
    display = _Display(campaign_id, out)
    try:
        while True:
            display.show(progress)
            if finished(progress):
                break
            await asyncio.sleep(interval)
            progress = await service.progress(campaign_id)
    except (KeyboardInterrupt, asyncio.CancelledError):
        display.close()
        out.write(f"stopped watching; campaign {campaign_id} goes on\n")
        return 0
    display.close()
    state = progress.campaign.state
    if state in _FINAL:
        out.write(f"campaign {campaign_id} is {state.value}\n")
    else:
        due = progress.next_reminder_at
        out.write(
            f"campaign {campaign_id}: every first SMS is out"
            + (f"; reminders from {when(due)} Taipei" if due else "")
            + "\n"
        )
    return 0
