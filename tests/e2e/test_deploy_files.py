"""The deployment files in deploy/ match the app they front: every public route the app
serves goes through the reverse-proxy snippets, nothing private does, and the systemd
unit runs commands the CLI accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bot.app import create_app
from bot.cli.main import build_parser
from bot.config import Config, load_config

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
    [line] = re.findall(r"^\s*path\s+(.+)$", conf, flags=re.MULTILINE)
    for pattern in line.split():
        if (path.startswith(pattern[:-1])) if pattern.endswith("*") else path == pattern:
            return True
    return False


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
