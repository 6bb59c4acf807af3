"""``portpass campaign watch ID``: a live progress bar (``rich``) until the campaign is
done, cancelled, or has sent every first SMS and only waits for reminders; Ctrl-C stops
watching, never the campaign."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bot.cli.campaign_views import state_line, when
from core.campaign_progress import Progress as CampaignProgress
from core.campaign_progress import format_span
from core.campaign_service import CampaignService
from core.campaigns import CampaignState

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


async def watch(
    service: CampaignService, campaign_id: int, *, interval: float, console: Console | None = None
) -> int:
    console = console or Console()
    progress = await service.progress(campaign_id)
    console.print(f"watching campaign {campaign_id} (Ctrl-C stops watching, not the campaign)")
    console.file.flush()
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task(f"campaign {campaign_id}", total=None, detail="")
            while True:
                t = progress.totals
                bar.update(
                    task,
                    total=max(t.targeted, 1),
                    completed=t.targeted - t.queued,
                    description=f"campaign {campaign_id} ({state_line(progress)})",
                    detail=detail(progress),
                )
                if finished(progress):
                    break
                await asyncio.sleep(interval)
                progress = await service.progress(campaign_id)
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print(f"stopped watching; campaign {campaign_id} goes on")
        return 0
    state = progress.campaign.state
    if state in _FINAL:
        console.print(f"campaign {campaign_id} is {state.value}")
    else:
        due = progress.next_reminder_at
        console.print(
            f"campaign {campaign_id}: every first SMS is out"
            + (f"; reminders from {when(due)} Taipei" if due else "")
        )
    return 0
