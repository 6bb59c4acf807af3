"""The process's metrics: one :class:`Metrics` per app, each with a registry of its own.

A registry per app, never ``prometheus_client``'s global default: two apps in one
process (the tests start many) would otherwise count into each other's series or fail
on a name registered twice.

What is counted here lives in this process's memory and starts at zero when the process
starts (Prometheus' ``rate()`` and ``increase()`` take such resets in their stride).
Under ``portpass serve --workers N`` the supervisor sets ``PROMETHEUS_MULTIPROC_DIR``
(:mod:`bot.workers`): each worker's counters then live in files there, and ``/metrics``
on any worker shows the sum over all of them (``prometheus_client``'s multiprocess
mode), not the share of whichever worker took the scrape. The per-process collectors
(CPU, memory, garbage collection) are left out in that mode: one worker's figures
under the name of all.
What the database knows (the outbox queue) is read at scrape time instead, in
:mod:`bot.metrics.database`.

Label values are only ever names from our own code (channels, outcomes, origins,
routes as declared, HTTP status numbers, provider error codes): never a phone number, a
pass number, an ID number, a code, a token or a URL path as requested.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.multiprocess import MultiProcessCollector

from bot.metrics.inbound import note_inbound
from bot.metrics.sender import MeteredSender
from bot.providers.sender import PermanentFailure, SendResult, Sent, SmsSender
from core.model import Origin

#: Seconds: webhooks answer in milliseconds; Twilio gives up after 15 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)

#: Set by ``portpass serve --workers N`` for its workers: where they keep their counters.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: The channels a verification, a code or an inbound message can come from.
CHANNELS = ("sms", "telegram", "web")
SEND_RESULTS = ("sent", "transient", "permanent")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ERROR_CODE = re.compile(r"[0-9]{1,6}")

# Audit actions (core/verification/service.py) that metrics count.
_VERIFIED = "verified"
_WRONG_CODE = "check.wrong_code"
_NO_MATCH = "request.no_match"
#: ``request.holder``, ``request.operator``, ... -> the origin; new origins count as they come.
_CODE_REQUESTED = {f"request.{origin.value}": origin.value for origin in Origin}


class Metrics:
    """The counters and histograms of one app, and the registry they are exposed from."""

    def __init__(self) -> None:
        # No ``*_created`` series beside each counter and histogram: in the text format
        # they are extra gauges that double the series and tell nothing
        # ``process_start_time_seconds`` does not. (A process-wide switch of the library.)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry()
        self._inbound = Counter(
            "portpass_inbound_messages",
            "Inbound messages and webhook deliveries, by channel and what became of them.",
            ["channel", "outcome"],
            registry=registry,
        )
        self._verifications = Counter(
            "portpass_verifications",
            "Passes verified (a right code or a confirmed link), by the channel it came from.",
            ["channel"],
            registry=registry,
        )
        self._codes = Counter(
            "portpass_codes_sent",
            "Verification requests made, each a code and link queued for SMS in the same "
            "commit, by origin (holder, operator, campaign) and channel.",
            ["origin", "channel"],
            registry=registry,
        )
        self._wrong_codes = Counter(
            "portpass_wrong_codes",
            "Codes entered that matched no live request of the sender.",
            ["channel"],
            registry=registry,
        )
        self._no_match = Counter(
            "portpass_lookups_unmatched",
            "Pass / ID / phone lookups that matched nothing (R1), which count toward the "
            "cool-down.",
            ["channel"],
            registry=registry,
        )
        self._sends = Counter(
            "portpass_sms_sends",
            "Calls to the SMS provider by the outbox worker, by result and provider error "
            "code ('' when there is none).",
            ["result", "error_code"],
            registry=registry,
        )
        self._delivery = Counter(
            "portpass_sms_delivery_statuses",
            "Delivery statuses reported by the provider's status callbacks.",
            ["status", "error_code"],
            registry=registry,
        )
        self._latency = Histogram(
            "portpass_http_request_duration_seconds",
            "Time to answer an HTTP request, by route as declared (e.g. /v/{token}) and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._responses = Counter(
            "portpass_http_responses",
            "HTTP responses by route as declared, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        shared = os.environ.get(MULTIPROCESS_ENV)
        #: What ``/metrics`` shows: this registry, or the sum over every worker's files.
        self.exposed = registry
        if shared:
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, path=shared)  # type: ignore[no-untyped-call]
        else:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        # Labelled children by label values: ``labels()`` takes a lock and builds its key
        # on every call, which is most of the cost of counting one request.
        self._inbound_children: dict[tuple[str, str], Counter] = {}
        self._audit_children: dict[tuple[str, str], Counter | None] = {}
        self._request_children: dict[tuple[str, str, int], tuple[Histogram, Counter]] = {}
        for channel in CHANNELS:  # series exist from the start, so rate() has a zero
            self._verifications.labels(channel)
            self._inbound.labels(channel, "replied")
        for result in SEND_RESULTS:
            self._sends.labels(result, "")

    # --- what the app reports -----------------------------------------------------------

    def inbound(self, channel: str, outcome: str) -> None:
        key = (channel, outcome)
        counter = self._inbound_children.get(key)
        if counter is None:
            counter = self._inbound_children[key] = self._inbound.labels(channel, outcome)
        counter.inc()

    @staticmethod
    def note_inbound(outcome: str) -> None:
        """What became of the inbound message being handled, when its HTTP status
        cannot say (:func:`bot.metrics.inbound.note_inbound`): a channel that holds the
        services notes it without importing this package."""
        note_inbound(outcome)

    def metered(self, sender: SmsSender) -> SmsSender:
        """``sender``, counting each provider answer (the outbox worker sends through it)."""
        return MeteredSender(sender, self.sent)

    def audited(self, entries: Sequence[tuple[str, str]]) -> None:
        """The audit entries a commit wrote (a unit-of-work audit listener): counted only
        once committed, so a turn that was rolled back counts nothing."""
        for key in entries:
            counter = self._audit_children.get(key)
            if counter is None:
                counter = self._audit_children[key] = self._audit_counter(*key)
            if counter is not None:
                counter.inc()

    def _audit_counter(self, channel: str, action: str) -> Counter | None:
        if action == _VERIFIED:
            return self._verifications.labels(channel)
        if action in _CODE_REQUESTED:
            return self._codes.labels(_CODE_REQUESTED[action], channel)
        if action == _WRONG_CODE:
            return self._wrong_codes.labels(channel)
        if action == _NO_MATCH:
            return self._no_match.labels(channel)
        return None  # an action no metric counts (operator accounts, ...)

    def sent(self, result: SendResult | None) -> None:
        """One answer of the SMS provider; ``None``: the sender raised (the worker
        retries it as a transient failure)."""
        if isinstance(result, Sent):
            self._sends.labels("sent", "").inc()
        elif isinstance(result, PermanentFailure):
            self._sends.labels("permanent", _error_code(result.code)).inc()
        else:
            self._sends.labels("transient", "").inc()

    def delivery_status(self, status: str, error_code: str | None) -> None:
        """A status callback's status (one of the known statuses: the caller checks)."""
        self._delivery.labels(status, _error_code(error_code)).inc()

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            label = method if method in _METHODS else "other"
            children = self._request_children[key] = (
                self._latency.labels(route, label),
                self._responses.labels(route, label, str(status)),
            )
        latency, responses = children
        latency.observe(seconds)
        responses.inc()


def _error_code(code: int | str | None) -> str:
    """A provider error code as a label: digits only, else ``other`` (never free text)."""
    if code is None:
        return ""
    text = str(code)
    return text if _ERROR_CODE.fullmatch(text) else "other"
