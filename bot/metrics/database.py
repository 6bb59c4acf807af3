"""Gauges read from the database at scrape time: the outbox queue, campaign progress.

They are facts of the database, shared by every process on it, so they are computed
when Prometheus asks (:func:`storage.gauges.read_gauges`) and never kept in memory: a
restart resets nothing, and every process reports the same figures. A database that
cannot be read makes ``portpass_database_up`` 0 and leaves these gauges out; the
process's own metrics are still served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import Priority
from storage.gauges import QUEUED_STATES, CampaignTargets, QueueDepth, read_gauges

log = logging.getLogger(__name__)


class Snapshot(Collector):
    """Metric families computed once, for one scrape."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


async def database_snapshot(engine: AsyncEngine, now: datetime) -> Snapshot:
    """The database gauges as of ``now`` (the app's clock)."""
    up = GaugeMetricFamily(
        "portpass_database_up", "1 if the database answered this scrape's queries, else 0."
    )
    took = GaugeMetricFamily(
        "portpass_database_scrape_seconds", "Time this scrape's database queries took."
    )
    started = time.perf_counter()
    try:
        gauges = await read_gauges(engine)
    except Exception as error:  # the answer is that the database did not answer
        log.error("metrics: the database could not be read: %s", type(error).__name__)
        up.add_metric([], 0)
        return Snapshot([up])
    up.add_metric([], 1)
    took.add_metric([], time.perf_counter() - started)
    families = [up, took, *_outbox_families(gauges.outbox, now)]
    return Snapshot([*families, _campaign_family(gauges.campaigns)])


def _outbox_families(depth: list[QueueDepth], now: datetime) -> list[Metric]:
    queued = GaugeMetricFamily(
        "portpass_outbox_queued",
        "Outbox rows still to send, by state (pending: waiting for its turn or a retry; "
        "sending: claimed by a worker) and priority (0 own, 1 notice, 2 campaign).",
        labels=["state", "priority"],
    )
    oldest = GaugeMetricFamily(
        "portpass_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending outbox row by priority, in seconds (0 when none).",
        labels=["priority"],
    )
    rows = {(d.state, d.priority): d for d in depth}
    priorities = sorted({int(p) for p in Priority} | {d.priority for d in depth})
    for state in QUEUED_STATES:
        for priority in priorities:
            found = rows.get((state, priority))
            queued.add_metric([state, str(priority)], found.rows if found else 0)
    for priority in priorities:
        found = rows.get(("pending", priority))
        age = max(0.0, (now - found.oldest).total_seconds()) if found else 0.0
        oldest.add_metric([str(priority)], age)
    return [queued, oldest]


def _campaign_family(targets: list[CampaignTargets]) -> Metric:
    family = GaugeMetricFamily(
        "portpass_campaign_targets",
        "Targets of each campaign not yet over (planned, running, paused), by state: "
        "excluded when planned, queued for their first SMS, sent, skipped when their "
        "turn came.",
        labels=["campaign", "state"],
    )
    for row in targets:
        family.add_metric([str(row.campaign_id), row.state], row.targets)
    return family
