"""``portpass serve --demo --port 9000``: the links in the demo's SMS reach the demo."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import load_config
from bot.server import demo_base_url


def config_with(tmp_path: Path, **env: str):
    return load_config(None, env, cwd=tmp_path)


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "http://127.0.0.1:9000"), ("0.0.0.0", "http://127.0.0.1:9000")],  # noqa: S104
)
def test_the_default_base_url_follows_the_port_served(tmp_path: Path, host, expected) -> None:
    config = demo_base_url(config_with(tmp_path), host, 9000)
    assert config.server.public_base_url == expected


def test_a_chosen_local_url_on_another_port_is_kept_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chosen = config_with(tmp_path, PORTPASS_SERVER_PUBLIC_BASE_URL="http://127.0.0.1:8081")
    with caplog.at_level(logging.WARNING, logger="bot.server"):
        config = demo_base_url(chosen, "127.0.0.1", 9000)
    assert config.server.public_base_url == "http://127.0.0.1:8081"
    assert "links in the SMS will not reach it" in caplog.text


def test_a_public_url_is_kept_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    chosen = config_with(tmp_path, PORTPASS_SERVER_PUBLIC_BASE_URL="https://pp.example.tw")
    with caplog.at_level(logging.WARNING, logger="bot.server"):
        config = demo_base_url(chosen, "127.0.0.1", 9000)
    assert config.server.public_base_url == "https://pp.example.tw"
    assert caplog.text == ""
