"""The deployment files in deploy/ match the app they front: every public route the app
serves goes through the reverse-proxy snippets, nothing private does, each lets through
the body size the app allows on its path, and the systemd unit runs commands the CLI
accepts. And they pass their own tools (tests/e2e/deploy_tools.py): ``nginx -t`` with
Debian 12's nginx, ``caddy validate``, ``systemd-analyze verify``, and
``systemd-analyze security`` at 3.0 or less."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import create_app
from bot.cli.main import build_parser
from bot.config import Config, load_config
from tests.e2e.deploy_tools import (
    caddy_validate,
    exposure,
    nginx_test,
    run,
    tool,
    unit_copy,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PRIVATE = ("/dev/", "/healthz", "/metrics")


@pytest.fixture
def full_config(config_env: dict[str, str], tmp_path: Path) -> Config:
    """Every channel on, Telegram by webhook: the most routes the app can have."""
    env = config_env | {
        "TELEGRAM_BOT_TOKEN": "123456:" + "A" * 35,
        "PORTPASS_TELEGRAM_MODE": "webhook",
        "PORTPASS_TELEGRAM_WEBHOOK_SECRET": "deploy_test_secret_0123456789",
        "PORTPASS_METRICS_ENABLED": "true",
    }
    return load_config(None, env, cwd=tmp_path)


def app_paths(config: Config) -> set[str]:
    """A concrete path for each route (``/v/{token}`` becomes ``/v/x``)."""
    app = create_app(config, demo=True)
    return {re.sub(r"\{[^}]+\}", "x", r.canonical) for r in app.router.resources()}


def nginx_matches(path: str) -> bool:
    conf = (DEPLOY / "nginx.conf").read_text()
    for exact, location in re.findall(r"location\s+(=\s+)?(\S+)\s*\{\s*proxy_pass", conf):
        if (path == location) if exact else path.startswith(location):
            return True
    return False


def caddy_matches(path: str) -> bool:
    conf = (DEPLOY / "Caddyfile").read_text()
    for line in re.findall(r"^\s*path\s+(.+)$", conf, flags=re.MULTILINE):
        for pattern in line.split():
            if (path.startswith(pattern[:-1])) if pattern.endswith("*") else path == pattern:
                return True
    return False


_UNITS = {"": 1, "k": 1024, "m": 1024**2, "kib": 1024, "mib": 1024**2, "kb": 1000, "mb": 1000**2}


def size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([A-Za-z]*)", text.strip()).groups()  # type: ignore[union-attr]
    return int(number) * _UNITS[unit.lower()]


def nginx_body_limit(path: str) -> int:
    """``client_max_body_size`` for ``path``: its location's own, else the server's."""
    conf = (DEPLOY / "nginx.conf").read_text()
    for exact, location, body in re.findall(r"location\s+(=\s+)?(\S+)\s*\{([^}]*)\}", conf):
        if (path == location) if exact else path.startswith(location):
            own = re.search(r"client_max_body_size\s+(\S+);", body)
            if own:
                return size(own.group(1))
            break
    [server_wide] = re.findall(r"^    client_max_body_size\s+(\S+);", conf, flags=re.MULTILINE)
    return size(server_wide)


def caddy_body_limit(path: str) -> int:
    """``request_body max_size`` of the ``handle`` block whose matcher takes ``path``."""
    conf = (DEPLOY / "Caddyfile").read_text()
    for name, patterns in re.findall(r"@(\w+)\s*\{\s*path\s+([^\n]+)\n", conf):
        if any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in patterns.split()):
            block = re.search(rf"handle @{name}\s*\{{(.*?)\n\t\}}", conf, flags=re.DOTALL)
            assert block, name
            [limit] = re.findall(r"max_size\s+(\S+)", block.group(1))
            return size(limit)
    raise AssertionError(f"no Caddy matcher takes {path}")


def test_every_public_route_is_proxied_and_no_private_one(full_config: Config) -> None:
    paths = app_paths(full_config)
    public = {p for p in paths if not p.startswith(PRIVATE)}
    assert {"/sms/inbound", "/sms/status", "/telegram/webhook", "/v/x"} <= public
    assert {"/", "/verify", "/verify/confirm", "/verify/code"} <= public  # the web form
    private = paths - public
    assert {"/healthz", "/dev/inbox", "/metrics"} <= private
    for proxy in (nginx_matches, caddy_matches):
        assert [p for p in public if not proxy(p)] == [], proxy.__name__
        assert [p for p in private if proxy(p)] == [], proxy.__name__


def test_nginx_never_logs_a_link_token() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    assert re.search(r'~\^/v/\s+"/v/\*\*\*"', conf)
    [log_format] = re.findall(r"log_format portpass (.+?);", conf, flags=re.DOTALL)
    assert "$portpass_loggable_uri" in log_format
    assert "$request_uri" not in log_format and "$request " not in log_format
    assert re.search(r"access_log \S+ portpass;", conf)


def test_the_systemd_unit_runs_commands_the_cli_accepts() -> None:
    unit = (DEPLOY / "portpass.service").read_text()
    commands = re.findall(r"^(ExecStart(?:Pre)?)=(.+)$", unit, flags=re.MULTILINE)
    assert {name for name, _ in commands} == {"ExecStart", "ExecStartPre"}
    for _, line in commands:
        program, *argv = shlex.split(line)
        assert program.endswith("/portpass")
        build_parser().parse_args(argv)  # exits (fails the test) on an unknown option
    assert "UMask=0077" in unit  # the database and the secret file: owner only
    assert "EnvironmentFile=" in unit  # secrets outside the world-readable config


@pytest.mark.parametrize("proxy_limit", [nginx_body_limit, caddy_body_limit])
def test_the_proxies_let_each_path_carry_the_body_the_app_allows(
    full_config: Config, proxy_limit: Callable[[str], int]
) -> None:
    """The notices API takes up to ``notices.max_body_bytes`` (10,000 events); the
    webhooks and the link page ``server.max_body_bytes``. A proxy that caps every path
    at the smaller size turns a full batch of events into the proxy's own 413."""
    assert proxy_limit("/api/v1/notices") >= full_config.notices.max_body_bytes
    for path in ("/sms/inbound", "/sms/status", "/telegram/webhook", "/v/x"):
        # Enough for what the app takes, and no more: the app would refuse the rest.
        assert proxy_limit(path) == full_config.server.max_body_bytes, path


# --- the files pass their own tools --------------------------------------------------------


def test_nginx_accepts_the_config_debian_12s_nginx_included(tmp_path: Path) -> None:
    nginx = tool("nginx", "nginx-light")
    result = nginx_test(nginx, tmp_path)
    assert result.code == 0, result.output
    assert "test is successful" in result.output


def test_caddy_validates_the_caddyfile(tmp_path: Path) -> None:
    caddy = tool("caddy", "caddy")
    result = caddy_validate(caddy, tmp_path)
    assert result.code == 0, result.output
    assert "Valid configuration" in result.output


def test_systemd_verifies_the_unit(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    unit = unit_copy(tmp_path)
    result = run([analyze, "verify", str(unit)], tmp_path)
    assert result.code == 0, result.output
    assert result.output.strip() == "", result.output  # not even a warning


def test_the_units_exposure_is_at_most_3(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    unit = unit_copy(tmp_path)
    result = run([analyze, "security", "--offline=true", "--no-pager", str(unit)], tmp_path)
    assert result.code == 0, result.output
    assert exposure(result.output) <= 3.0, result.output
