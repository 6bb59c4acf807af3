"""What :class:`bot.metrics.registry.Metrics` makes of what the app tells it: audit
actions as verifications and codes by origin, provider answers as sends by result, and
label values kept to names from our code."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics.registry import Metrics
from bot.providers.sender import PermanentFailure, Sent, TransientFailure


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_audit_actions_become_verifications_and_codes_by_origin() -> None:
    metrics = Metrics()
    metrics.audited(
        [
            ("sms", "verified"),
            ("web", "verified"),
            ("sms", "request.holder"),
            ("telegram", "request.operator"),
            ("cli", "request.campaign"),
            ("cli", "request.campaign"),
            ("sms", "check.wrong_code"),
            ("telegram", "request.no_match"),
            ("sms", "request.stale"),  # not a code sent
            ("cli", "operator.add"),  # nothing counts it
        ]
    )
    found = samples(metrics)
    assert found[("portpass_verifications_total", (("channel", "sms"),))] == 1
    assert found[("portpass_verifications_total", (("channel", "web"),))] == 1
    codes = "portpass_codes_sent_total"
    assert found[(codes, (("channel", "sms"), ("origin", "holder")))] == 1
    assert found[(codes, (("channel", "telegram"), ("origin", "operator")))] == 1
    assert found[(codes, (("channel", "cli"), ("origin", "campaign")))] == 2
    assert sum(v for (name, _), v in found.items() if name == codes) == 4
    assert found[("portpass_wrong_codes_total", (("channel", "sms"),))] == 1
    assert found[("portpass_lookups_unmatched_total", (("channel", "telegram"),))] == 1


def test_provider_answers_by_result_with_only_numeric_error_codes() -> None:
    metrics = Metrics()
    metrics.sent(Sent("SM1", "queued"))
    metrics.sent(TransientFailure("HTTP 503"))
    metrics.sent(None)  # the sender raised
    metrics.sent(PermanentFailure(21211, "invalid 'To' number +886912345678"))
    metrics.sent(PermanentFailure(None, "no code"))
    metrics.delivery_status("undelivered", "30003")
    metrics.delivery_status("failed", "not a code +886912345678")

    found = samples(metrics)
    sends = "portpass_sms_sends_total"
    assert found[(sends, (("error_code", ""), ("result", "sent")))] == 1
    assert found[(sends, (("error_code", ""), ("result", "transient")))] == 2
    assert found[(sends, (("error_code", "21211"), ("result", "permanent")))] == 1
    assert found[(sends, (("error_code", ""), ("result", "permanent")))] == 1
    statuses = "portpass_sms_delivery_statuses_total"
    assert found[(statuses, (("error_code", "30003"), ("status", "undelivered")))] == 1
    assert found[(statuses, (("error_code", "other"), ("status", "failed")))] == 1
    assert "886912345678" not in generate_latest(metrics.registry).decode()


def test_an_unusual_http_method_is_one_label() -> None:
    metrics = Metrics()
    metrics.request("unmatched", "PROPFIND", 405, 0.001)
    metrics.request("unmatched", "BREW", 405, 0.001)
    found = samples(metrics)
    key = (
        "portpass_http_responses_total",
        (("method", "other"), ("route", "unmatched"), ("status", "405")),
    )
    assert found[key] == 2
