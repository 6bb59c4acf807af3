"""The SMPP link where operators look: ``/healthz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.providers.smpp.sender import SmppSender
from bot.sms.smpp.deliveries import SmscDeliveries

SMSC_DELIVERIES = web.AppKey("smsc_deliveries", SmscDeliveries)


def health(app: web.Application) -> dict[str, object] | None:
    """The SMPP link for ``/healthz`` (``None`` without an SMPP sender). Not bound is
    reported, not failed: the outbox keeps every SMS until the link is back, and a load
    balancer that took the process out would not bring the carrier back."""
    deliveries = app.get(SMSC_DELIVERIES)
    if deliveries is None:
        return None
    sender, counters = deliveries.sender, deliveries.sender.counters
    refused = next((s.refused for s in sender.sessions if s.refused), None)
    return {
        "bound": sender.bound,
        "binds": len(sender.sessions),
        "window_in_use": sender.in_window,
        "submits": counters.submits,
        "receipts": counters.receipts,
        "messages": counters.messages,
        **({"bind_refused": refused} if refused else {}),
    }


class SmppCollector(Collector):
    """The link's state on ``/metrics``, read when scraped."""

    def __init__(self, sender: SmppSender) -> None:
        self._sender = sender

    def collect(self) -> Iterator[Metric]:
        sender, counters = self._sender, self._sender.counters
        yield GaugeMetricFamily(
            "portpass_smpp_bound", "1 while every SMPP bind is up.", value=int(sender.bound)
        )
        yield GaugeMetricFamily(
            "portpass_smpp_binds", "SMPP binds this process holds open.", len(sender.sessions)
        )
        yield GaugeMetricFamily(
            "portpass_smpp_window_in_use",
            "SMPP requests awaiting their response now.",
            value=sender.in_window,
        )
        for name, value, what in (
            ("submits", counters.submits, "submit_sm answered by the SMSC"),
            ("receipts", counters.receipts, "delivery receipts received"),
            ("messages", counters.messages, "holders' messages (parts) received"),
        ):
            yield CounterMetricFamily(f"portpass_smpp_{name}", what, value=value)
