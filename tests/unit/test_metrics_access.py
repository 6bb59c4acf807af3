"""Who may read ``/metrics`` (:class:`bot.metrics.http.Access`) and the ``[metrics]``
settings that say so; what becomes of an inbound message's outcome label."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, MetricsConfig, Secret, load_config
from bot.metrics.http import Access
from bot.metrics.inbound import InboundNote, outcome

TOKEN = "a-scrape-token-of-enough-length-0123456789"


def access(*allow: str, token: str = "") -> Access:
    return Access.from_config(MetricsConfig(enabled=True, allow=allow, token=Secret(token)))


@pytest.mark.parametrize(
    ("remote", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # an IPv4 peer on a dual-stack socket
        ("127.0.0.2", False),
        ("10.1.2.3", False),
        ("::2", False),
        ("", False),
        (None, False),
        ("not-an-address", False),
    ],
)
def test_the_default_allows_only_loopback(remote: str | None, allowed: bool) -> None:
    assert access("127.0.0.1", "::1").permits(remote, None) is allowed


def test_networks_allow_every_address_in_them() -> None:
    rule = access("10.0.0.0/8", "fd00::/8")
    assert rule.permits("10.200.0.7", None)
    assert rule.permits("fd12:3456::1", None)
    assert not rule.permits("11.0.0.1", None)
    assert not rule.permits("127.0.0.1", None)


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),  # the scheme is case-insensitive (RFC 9110)
        (f"Bearer  {TOKEN} ", True),
        (f"Bearer {TOKEN[:-1]}", False),
        (f"Bearer {TOKEN}0", False),
        (f"Basic {TOKEN}", False),
        (TOKEN, False),
        ("Bearer", False),
        ("", False),
    ],
)
def test_a_token_decides_whatever_the_address(header: str, allowed: bool) -> None:
    rule = access("127.0.0.1", token=TOKEN)
    assert rule.permits("10.9.9.9", header) is allowed
    assert rule.permits("127.0.0.1", header) is allowed  # a wrong token fails even here


def test_without_a_configured_token_no_token_is_right() -> None:
    rule = access("10.0.0.0/8")
    assert not rule.permits("10.0.0.1", "Bearer ")
    assert not rule.permits("10.0.0.1", "Bearer x")
    assert rule.permits("10.0.0.1", None)


# --- the settings ------------------------------------------------------------------------


def load(tmp_path: Path, **env: str) -> MetricsConfig:
    return load_config(None, env, cwd=tmp_path).metrics


def test_off_by_default_and_loopback_only(tmp_path: Path) -> None:
    metrics = load(tmp_path)
    assert (metrics.enabled, metrics.allow, metrics.token) == (
        False,
        ("127.0.0.1", "::1"),
        Secret(""),
    )


def test_turned_on_from_the_environment(tmp_path: Path) -> None:
    metrics = load(
        tmp_path,
        PORTPASS_METRICS_ENABLED="true",
        PORTPASS_METRICS_ALLOW="10.0.0.0/8, 192.168.1.10",
        PORTPASS_METRICS_TOKEN=TOKEN,
    )
    assert metrics.enabled
    assert metrics.allow == ("10.0.0.0/8", "192.168.1.10")
    assert metrics.token.reveal() == TOKEN
    assert TOKEN not in repr(metrics)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"PORTPASS_METRICS_ALLOW": "10.0.0.1/8"}, "'10.0.0.1/8' is not one"),  # host bits
        ({"PORTPASS_METRICS_ALLOW": "localhost"}, "must be a list of IP addresses"),
        ({"PORTPASS_METRICS_TOKEN": "short"}, "32-256 characters"),
        ({"PORTPASS_METRICS_TOKEN": "x" * 31 + " "}, "32-256 characters"),
        ({"PORTPASS_METRICS_ENABLED": "sure"}, "must be one of: true"),
    ],
)
def test_a_wrong_setting_names_the_key_and_what_is_expected(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **env)
    assert "metrics." in str(caught.value)
    assert says in str(caught.value)
    if "PORTPASS_METRICS_TOKEN" in env:  # a secret, even a wrong one, is never echoed
        assert env["PORTPASS_METRICS_TOKEN"].strip() not in str(caught.value)


def test_enabled_with_nobody_allowed_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[metrics]\nenabled = true\nallow = []\n")
    with pytest.raises(ConfigError, match=r"metrics\.allow or metrics\.token is required"):
        load_config(None, {}, cwd=tmp_path)
    token_only = load(tmp_path, PORTPASS_METRICS_TOKEN=TOKEN)  # no address at all
    assert token_only.enabled and token_only.allow == ()
    assert not Access.from_config(token_only).permits("127.0.0.1", None)


# --- outcomes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "status", "expected"),
    [
        ("sms", 200, "replied"),
        ("sms", 204, "replied"),
        ("sms", 403, "refused_signature"),
        ("telegram", 403, "refused_secret"),
        ("web", 403, "refused_origin"),
        ("sms", 400, "bad_request"),
        ("web", 404, "not_found"),
        ("web", 410, "expired"),
        ("sms", 413, "refused_size"),
        ("web", 429, "rate_limited"),
        ("telegram", 503, "unavailable"),
        ("sms", 500, "error"),
        ("web", 405, "refused"),
    ],
)
def test_the_outcome_is_the_http_status_unless_the_channel_noted_one(
    channel: str, status: int, expected: str
) -> None:
    assert outcome(channel, status, InboundNote()) == expected
    assert outcome(channel, status, InboundNote("duplicate")) == "duplicate"
