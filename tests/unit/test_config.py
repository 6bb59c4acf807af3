"""Configuration: defaults < file < environment, checked values, hidden secrets."""

from __future__ import annotations

import copy
import stat
import tomllib
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from bot.config import (
    SECTIONS,
    Config,
    ConfigError,
    Secret,
    ServerConfig,
    load_config,
)
from bot.config.secret_key import resolve_secret_key

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
KEY = "k" * 40
TWILIO_OK = """
[sms]
sender = "twilio"
[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "tw-token"
from_number = "+15005550006"
"""


def load(tmp_path: Path, text: str | None = None, **env: str) -> Config:
    """Load with ``text`` as ./config.toml in an empty directory and only ``env``."""
    if text is not None:
        (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return load_config(env=env, cwd=tmp_path)


def error(tmp_path: Path, text: str | None = None, **env: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, **env)
    return caught.value


# --- layers --------------------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config == Config()
    assert config.server.port == 8080
    assert config.server.public_base_url == "http://127.0.0.1:8080"
    assert config.database.url == "sqlite:///portpass.db"
    assert config.sqlite_path == Path("portpass.db")
    assert config.verification.code_ttl_hours == 24
    assert config.verification.default_language == "zh-TW"
    assert config.phone.allowed_regions == ("TW",)
    assert config.sms.sender == "console"
    assert config.sms.max_per_second == 10.0
    assert not config.security.secret_key
    assert not config.telegram.token
    assert config.telegram.mode == "webhook"
    assert config.logging.level == "INFO"


def test_the_process_environment_is_not_read_when_a_mapping_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTPASS_SERVER_PORT", "1234")
    monkeypatch.setenv("PORTPASS_CONFIG", str(tmp_path / "missing.toml"))
    assert load(tmp_path).server.port == 8080


def test_os_environ_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTPASS_SERVER_PORT", "1234")
    assert load_config(cwd=tmp_path).server.port == 1234


def test_file_overrides_defaults(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [server]
        port = 9000
        public_base_url = "https://pp.example.tw/"
        [phone]
        allowed_regions = ["TW", "HK"]
        [sms]
        max_per_second = 2
        [telegram]
        set_webhook = true
        """,
    )
    assert config.server.port == 9000
    assert config.server.public_base_url == "https://pp.example.tw"  # slash stripped
    assert config.server.host == "127.0.0.1"  # untouched keys keep their default
    assert config.phone.allowed_regions == ("TW", "HK")
    assert config.sms.max_per_second == 2.0
    assert isinstance(config.sms.max_per_second, float)
    assert config.telegram.set_webhook is True


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[server]\nport = 9000\n[database]\nurl = "sqlite:///file.db"\n',
        PORTPASS_SERVER_PORT="9100",
        PORTPASS_DATABASE_URL="postgresql://pp@db/portpass",
        PORTPASS_SMS_SENDER="twilio",
        TWILIO_ACCOUNT_SID="AC123",
        TWILIO_AUTH_TOKEN="tw-token",
        PORTPASS_TWILIO_MESSAGING_SERVICE_SID="MG123",
        TELEGRAM_BOT_TOKEN="123:abc",
        PORTPASS_TELEGRAM_MODE="polling",
        PORTPASS_PHONE_ALLOWED_REGIONS="TW, HK,",
        PORTPASS_SMS_MAX_PER_SECOND="2.5",
        PORTPASS_TELEGRAM_SET_WEBHOOK="no",
    )
    assert config.server.port == 9100
    assert config.database.url == "postgresql://pp@db/portpass"
    assert config.sqlite_path is None
    assert config.sms.sender == "twilio"
    assert config.twilio.account_sid == "AC123"
    assert config.twilio.auth_token.reveal() == "tw-token"
    assert config.twilio.messaging_service_sid == "MG123"
    assert config.telegram.token.reveal() == "123:abc"
    assert config.phone.allowed_regions == ("TW", "HK")
    assert config.sms.max_per_second == 2.5
    assert config.telegram.set_webhook is False


def test_portpass_names_win_over_standard_names(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        TELEGRAM_BOT_TOKEN="standard",
        PORTPASS_TELEGRAM_TOKEN="ours",
        PORTPASS_TELEGRAM_MODE="polling",
    )
    assert config.telegram.token.reveal() == "ours"


def test_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    config = load(
        tmp_path, "[server]\nport = 9000\n", PORTPASS_SERVER_PORT="", TWILIO_AUTH_TOKEN=""
    )
    assert config.server.port == 9000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("0", False),
        ("No", False),
    ],
)
def test_environment_booleans(tmp_path: Path, text: str, expected: bool) -> None:
    assert load(tmp_path, PORTPASS_TELEGRAM_SET_WEBHOOK=text).telegram.set_webhook is expected


# --- which file ------------------------------------------------------------------------


def test_portpass_config_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[server]\nport = 1111\n")
    (tmp_path / "other.toml").write_text("[server]\nport = 2222\n")
    assert load(tmp_path, PORTPASS_CONFIG=str(tmp_path / "other.toml")).server.port == 2222
    # a relative name is taken from the working directory
    assert load(tmp_path, PORTPASS_CONFIG="other.toml").server.port == 2222


def test_config_toml_in_the_working_directory_is_used(tmp_path: Path) -> None:
    assert load(tmp_path, "[server]\nport = 1111\n").server.port == 1111


def test_explicit_path_wins_over_portpass_config(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("[server]\nport = 1111\n")
    (tmp_path / "b.toml").write_text("[server]\nport = 2222\n")
    env = {"PORTPASS_CONFIG": str(tmp_path / "b.toml")}
    assert load_config(tmp_path / "a.toml", env, cwd=tmp_path).server.port == 1111
    assert load_config("a.toml", env, cwd=tmp_path).server.port == 1111


@pytest.mark.parametrize("origin", ["--config", "PORTPASS_CONFIG"])
def test_a_named_file_that_is_missing_stops_start_up(tmp_path: Path, origin: str) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as caught:
        if origin == "--config":
            load_config(missing, {}, cwd=tmp_path)
        else:
            load_config(None, {"PORTPASS_CONFIG": str(missing)}, cwd=tmp_path)
    assert str(missing) in str(caught.value)
    assert caught.value.source == origin


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    caught = error(tmp_path, "[server\nport = 1\n")
    assert "config.toml is not valid TOML" in str(caught)


# --- wrong keys and values -------------------------------------------------------------


def test_unknown_section_is_named(tmp_path: Path) -> None:
    caught = error(tmp_path, "[sever]\nport = 1\n")
    assert caught.key == "sever"
    assert "not a known section" in str(caught)
    assert "did you mean 'server'?" in str(caught)
    assert caught.source == str(tmp_path / "config.toml")


def test_unknown_key_is_named_with_the_known_ones(tmp_path: Path) -> None:
    caught = error(tmp_path, "[server]\nprot = 1\n")
    assert caught.key == "server.prot"
    assert str(caught).startswith("server.prot is not a known key")
    assert "host, port, public_base_url, max_body_bytes" in str(caught)
    assert "did you mean 'port'?" in str(caught)


@pytest.mark.parametrize("where", ["file", "environment"])
def test_a_removed_key_is_refused_with_what_replaced_it(tmp_path: Path, where: str) -> None:
    if where == "file":
        caught = error(tmp_path, "[sms]\nmax_attempts = 8\n")
    else:
        caught = error(tmp_path, PORTPASS_SMS_MAX_ATTEMPTS="8")
    assert caught.key == "sms.max_attempts"
    assert "is no longer a setting" in str(caught)
    assert "retried" in str(caught) and "delete the key" in str(caught)


def test_top_level_value_is_not_a_section(tmp_path: Path) -> None:
    assert error(tmp_path, "port = 8080\n").key == "port"
    assert "must be a table" in str(error(tmp_path, "server = 8080\n"))


def test_unknown_portpass_variable_of_a_known_section_is_named(tmp_path: Path) -> None:
    caught = error(tmp_path, PORTPASS_SMS_SENDR="twilio")
    assert caught.key == "sms.sendr"
    assert caught.source == "PORTPASS_SMS_SENDR"
    # other PORTPASS_ names (PORTPASS_CONFIG, test settings) are not settings
    assert load(tmp_path, PORTPASS_TEST_POSTGRES_URL="postgresql://x/y") == Config()


@pytest.mark.parametrize(
    ("toml", "key", "allowed"),
    [
        ('[server]\nport = "8080"', "server.port", "must be an integer"),
        ("[server]\nport = 0", "server.port", "must be between 1 and 65535"),
        ("[server]\nport = 65536", "server.port", "must be between 1 and 65535"),
        ("[server]\nport = true", "server.port", "must be an integer"),
        ('[server]\nhost = ""', "server.host", "must be a host name"),
        ('[server]\npublic_base_url = "pp.example.tw"', "server.public_base_url", "absolute"),
        ('[server]\npublic_base_url = "ftp://x.tw"', "server.public_base_url", "https://"),
        ('[server]\npublic_base_url = "https://x.tw/?a=1"', "server.public_base_url", "URL"),
        ("[server]\nmax_body_bytes = 10", "server.max_body_bytes", "between 1024 and"),
        ('[database]\nurl = "mysql://db/x"', "database.url", "postgresql+asyncpg://"),
        ('[security]\nsecret_key = "short"', "security.secret_key", "at least 32 characters"),
        ("[verification]\ncode_ttl_hours = 0", "verification.code_ttl_hours", "1 and 168"),
        ("[verification]\ncode_ttl_hours = 169", "verification.code_ttl_hours", "1 and 168"),
        ("[verification]\nmax_code_attempts = 21", "verification.max_code_attempts", "1 and 20"),
        (
            "[verification]\nlookup_failures_per_hour = 0",
            "verification.lookup_failures_per_hour",
            "between 1 and 100",
        ),
        (
            "[verification]\nconversation_idle_minutes = 1441",
            "verification.conversation_idle_minutes",
            "between 1 and 1440",
        ),
        (
            '[verification]\ndefault_language = "zh"',
            "verification.default_language",
            "must be one of: zh-TW, en",
        ),
        ("[phone]\nallowed_regions = []", "phone.allowed_regions", "non-empty list"),
        ('[phone]\nallowed_regions = ["tw"]', "phone.allowed_regions", "upper-case"),
        ('[phone]\nallowed_regions = ["XX"]', "phone.allowed_regions", "ISO 3166"),
        ('[phone]\nallowed_regions = "TW"', "phone.allowed_regions", "list of strings"),
        ('[sms]\nsender = "sms"', "sms.sender", "must be one of: console, twilio"),
        ("[sms]\nmax_per_second = 0", "sms.max_per_second", "greater than 0"),
        ("[sms]\nmax_per_second = inf", "sms.max_per_second", "finite"),
        ('[sms]\nmax_per_second = "fast"', "sms.max_per_second", "must be a number"),
        ('[twilio]\naccount_sid = "SK123"', "twilio.account_sid", "must start with AC"),
        ('[twilio]\nmessaging_service_sid = "PN1"', "twilio.messaging_service_sid", "MG"),
        ('[twilio]\nfrom_number = "0912345678"', "twilio.from_number", "E.164"),
        ('[twilio]\napi_base_url = "api.twilio.com"', "twilio.api_base_url", "URL"),
        ('[telegram]\nmode = "push"', "telegram.mode", "must be one of: webhook, polling"),
        ('[telegram]\nwebhook_secret = "a b"', "telegram.webhook_secret", "A-Z a-z 0-9 _ -"),
        ('[telegram]\nset_webhook = "yes"', "telegram.set_webhook", "must be true or false"),
        ('[logging]\nlevel = "verbose"', "logging.level", "DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_wrong_value_in_file_is_named(tmp_path: Path, toml: str, key: str, allowed: str) -> None:
    caught = error(tmp_path, toml + "\n")
    assert caught.key == key
    assert str(caught).startswith(key + " ")
    assert allowed in str(caught)
    assert caught.source == str(tmp_path / "config.toml")


def test_wrong_value_shows_what_was_given(tmp_path: Path) -> None:
    caught = error(tmp_path, '[sms]\nsender = "sms"\n')
    assert "must be one of: console, twilio, smpp; got 'sms'" in str(caught)


@pytest.mark.parametrize(
    ("name", "text", "key", "allowed"),
    [
        ("PORTPASS_SERVER_PORT", "eighty", "server.port", "must be an integer"),
        ("PORTPASS_SERVER_PORT", "70000", "server.port", "between 1 and 65535"),
        ("PORTPASS_SMS_SENDER", "sms", "sms.sender", "must be one of: console, twilio"),
        ("PORTPASS_SMS_MAX_PER_SECOND", "nan", "sms.max_per_second", "finite"),
        ("PORTPASS_SMS_MAX_PER_SECOND", "x", "sms.max_per_second", "must be a number"),
        ("PORTPASS_TELEGRAM_SET_WEBHOOK", "maybe", "telegram.set_webhook", "true, 1, yes"),
        ("PORTPASS_PHONE_ALLOWED_REGIONS", " , ", "phone.allowed_regions", "non-empty"),
        ("PORTPASS_DATABASE_URL", "mysql://u:pw@db/x", "database.url", "must start with"),
        ("TWILIO_ACCOUNT_SID", "XX1", "twilio.account_sid", "must start with AC"),
    ],
)
def test_wrong_environment_value_names_variable_and_key(
    tmp_path: Path, name: str, text: str, key: str, allowed: str
) -> None:
    caught = error(tmp_path, **{name: text})
    assert caught.key == key
    assert caught.source == name
    assert key in str(caught)
    assert name in str(caught)
    assert allowed in str(caught)


def test_a_wrong_file_value_stops_start_up_even_when_the_environment_overrides_it(
    tmp_path: Path,
) -> None:
    assert error(tmp_path, "[server]\nport = 0\n", PORTPASS_SERVER_PORT="80").key == "server.port"


def test_sections_check_values_however_built() -> None:
    with pytest.raises(ConfigError, match=r"^server\.port must be between 1 and 65535"):
        ServerConfig(port=0)
    assert ServerConfig(public_base_url="https://x.tw/").public_base_url == "https://x.tw"


# --- rules between settings ------------------------------------------------------------


def test_twilio_sender_with_its_settings_loads(tmp_path: Path) -> None:
    config = load(tmp_path, TWILIO_OK)
    assert config.sms.sender == "twilio"
    assert config.twilio.from_number == "+15005550006"


@pytest.mark.parametrize(
    ("drop", "key", "hint"),
    [
        ('account_sid = "AC0123456789abcdef0123456789abcdef"', "twilio.account_sid", "TWILIO"),
        ('auth_token = "tw-token"', "twilio.auth_token", "TWILIO_AUTH_TOKEN"),
        ('from_number = "+15005550006"', "twilio.from_number", "neither is set"),
    ],
)
def test_twilio_sender_requires_its_settings(
    tmp_path: Path, drop: str, key: str, hint: str
) -> None:
    caught = error(tmp_path, TWILIO_OK.replace(drop, ""))
    assert caught.key == key
    assert "required when sms.sender is twilio" in str(caught)
    assert hint in str(caught)


def test_twilio_sender_takes_one_sender_not_both(tmp_path: Path) -> None:
    caught = error(tmp_path, TWILIO_OK + 'messaging_service_sid = "MG123"\n')
    assert "exactly one" in str(caught)
    assert "both are set" in str(caught)


def test_twilio_settings_are_optional_for_the_console_sender(tmp_path: Path) -> None:
    assert load(tmp_path, '[sms]\nsender = "console"\n').twilio.account_sid == ""


def test_telegram_webhook_needs_a_secret(tmp_path: Path) -> None:
    caught = error(tmp_path, TELEGRAM_BOT_TOKEN="123:abc")
    assert caught.key == "telegram.webhook_secret"
    assert "required" in str(caught)
    assert load(tmp_path, TELEGRAM_BOT_TOKEN="123:abc", PORTPASS_TELEGRAM_MODE="polling")
    config = load(tmp_path, TELEGRAM_BOT_TOKEN="1:a", PORTPASS_TELEGRAM_WEBHOOK_SECRET="s_-9")
    assert config.telegram.webhook_secret.reveal() == "s_-9"


def test_set_webhook_only_in_webhook_mode(tmp_path: Path) -> None:
    caught = error(tmp_path, '[telegram]\nmode = "polling"\nset_webhook = true\n')
    assert caught.key == "telegram.set_webhook"


TELEGRAM_WEBHOOK = {
    "TELEGRAM_BOT_TOKEN": "123:abc",
    "PORTPASS_TELEGRAM_WEBHOOK_SECRET": "hook_secret",
    "PORTPASS_TELEGRAM_SET_WEBHOOK": "true",
}


@pytest.mark.parametrize(
    ("public_base_url", "problem"),
    [
        ("http://pp.example.tw", "needs an https:// server.public_base_url"),
        ("http://127.0.0.1:8080", "needs an https:// server.public_base_url"),
        ("https://pp.example.tw:8080", "on port 443, 80, 88, 8443"),
    ],
)
def test_set_webhook_to_an_address_telegram_refuses_is_a_config_error(
    tmp_path: Path, public_base_url: str, problem: str
) -> None:
    """Telegram's setWebhook would refuse it, and serve stop with "BadRequest"."""
    env = TELEGRAM_WEBHOOK | {"PORTPASS_SERVER_PUBLIC_BASE_URL": public_base_url}
    caught = error(tmp_path, **env)
    assert caught.key == "telegram.set_webhook"
    assert problem in str(caught)
    assert "\n" not in str(caught)


@pytest.mark.parametrize("public_base_url", ["https://pp.example.tw", "https://pp.tw:8443/pp"])
def test_set_webhook_to_an_https_address_on_a_telegram_port_is_fine(
    tmp_path: Path, public_base_url: str
) -> None:
    env = TELEGRAM_WEBHOOK | {"PORTPASS_SERVER_PUBLIC_BASE_URL": public_base_url}
    assert load(tmp_path, **env).telegram.set_webhook is True


# --- secrets ---------------------------------------------------------------------------


def test_secrets_are_not_in_repr_nor_str(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        TWILIO_OK,
        PORTPASS_SECURITY_SECRET_KEY=KEY,
        TELEGRAM_BOT_TOKEN="123:telegram-token",
        PORTPASS_TELEGRAM_WEBHOOK_SECRET="hook-secret",
        PORTPASS_DATABASE_URL="postgresql://pp:db-password@db/portpass",
    )
    for shown in (repr(config), str(config), f"{config.twilio}", repr(config.telegram)):
        for secret in (KEY, "tw-token", "telegram-token", "hook-secret", "db-password"):
            assert secret not in shown
    assert "Secret('**********')" in repr(config)
    assert config.security.secret_key.reveal() == KEY
    assert config.database.url == "postgresql://pp:db-password@db/portpass"


def test_secret_wrapper() -> None:
    secret = Secret("hunter2hunter2")
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == f"{secret}" == "**********"
    assert secret.reveal() == "hunter2hunter2"
    assert secret == Secret("hunter2hunter2")
    assert secret != Secret("other")
    assert bool(secret)
    assert not Secret("")
    with pytest.raises(AttributeError):
        secret._value = "x"
    assert copy.deepcopy(secret) == secret
    assert asdict(Config())["telegram"]["token"] == Secret("")


def test_wrong_secret_value_is_not_echoed(tmp_path: Path) -> None:
    caught = error(tmp_path, PORTPASS_SECURITY_SECRET_KEY="too-short-secret")
    assert "too-short-secret" not in str(caught)
    caught = error(tmp_path, PORTPASS_DATABASE_URL="mysql://u:db-password@x/y")
    assert "db-password" not in str(caught)


def test_configured_secret_key_is_used(tmp_path: Path) -> None:
    config = load(tmp_path, PORTPASS_SECURITY_SECRET_KEY=KEY)
    assert resolve_secret_key(config, demo=False) == KEY.encode()


@pytest.mark.parametrize("demo", [True, False])
def test_secret_key_is_generated_once_beside_the_sqlite_file(tmp_path: Path, demo: bool) -> None:
    database = tmp_path / "portpass.db"
    config = load(tmp_path, PORTPASS_DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    first = resolve_secret_key(config, demo=demo)
    key_file = tmp_path / "portpass.db.secret"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert first == key_file.read_text().strip().encode()
    assert resolve_secret_key(config, demo=demo) == first  # reused on the next start
    assert sorted(p.name for p in tmp_path.iterdir()) == ["portpass.db.secret"]


def test_secret_keys_differ_between_databases(tmp_path: Path) -> None:
    keys = {
        resolve_secret_key(
            load(tmp_path, PORTPASS_DATABASE_URL=f"sqlite:///{tmp_path}/{n}"), demo=True
        )
        for n in ("a.db", "b.db")
    }
    assert len(keys) == 2


def test_damaged_key_file_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "pp.db.secret").write_text("short\n")
    config = load(tmp_path, PORTPASS_DATABASE_URL=f"sqlite:///{tmp_path}/pp.db")
    with pytest.raises(ConfigError, match="fewer than 32 characters"):
        resolve_secret_key(config, demo=True)


def test_missing_secret_key_with_postgresql_stops_start_up(tmp_path: Path) -> None:
    config = load(tmp_path, PORTPASS_DATABASE_URL="postgresql+asyncpg://pp@db/portpass")
    with pytest.raises(ConfigError, match=r"^security\.secret_key is required") as caught:
        resolve_secret_key(config, demo=False)
    assert caught.value.key == "security.secret_key"
    assert list(tmp_path.iterdir()) == []


def test_demo_without_a_sqlite_file_gets_a_key_for_this_process(tmp_path: Path) -> None:
    config = load(tmp_path, PORTPASS_DATABASE_URL="sqlite:///:memory:")
    assert config.sqlite_path is None
    assert resolve_secret_key(config, demo=True) != resolve_secret_key(config, demo=True)
    with pytest.raises(ConfigError):
        resolve_secret_key(config, demo=False)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///portpass.db", Path("portpass.db")),
        ("sqlite:////var/lib/pp/pp.db", Path("/var/lib/pp/pp.db")),
        ("sqlite+aiosqlite:///data/pp.db?timeout=5", Path("data/pp.db")),
        ("sqlite:///:memory:", None),
        ("postgresql://pp@db/portpass", None),
    ],
)
def test_sqlite_path(tmp_path: Path, url: str, path: Path | None) -> None:
    assert load(tmp_path, PORTPASS_DATABASE_URL=url).sqlite_path == path


# --- the example file -----------------------------------------------------------------


def test_example_file_loads_and_holds_the_defaults(tmp_path: Path) -> None:
    assert load_config(EXAMPLE, {}, cwd=tmp_path) == Config()


def test_example_file_documents_every_key() -> None:
    document = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert list(document) == list(SECTIONS)
    for name, section in SECTIONS.items():
        assert list(document[name]) == [spec.name for spec in fields(section)]
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line and not line.startswith(("#", "[")):
            assert lines[number - 1].startswith("#"), f"no comment above: {line}"


@pytest.mark.parametrize("written", ["info", "Info", "INFO", " warning"])
def test_log_level_is_taken_in_any_case(tmp_path: Path, written: str) -> None:
    config = load_config(None, {"PORTPASS_LOGGING_LEVEL": written.strip()}, cwd=tmp_path)
    assert config.logging.level == written.strip().upper()


def test_a_short_secret_key_is_explained_without_naming_internal_functions(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"PORTPASS_SECURITY_SECRET_KEY": "short"}, cwd=tmp_path)
    message = str(caught.value)
    assert "at least 32 characters" in message and "generated beside a SQLite" in message
    assert "resolve_secret_key" not in message and "see " not in message


def test_every_section_is_exported_beside_config() -> None:
    import bot.config

    exported = {name: getattr(bot.config, name) for name in bot.config.__all__}
    assert [cls.__name__ for cls in SECTIONS.values() if cls not in exported.values()] == []
