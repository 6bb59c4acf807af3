"""Value checks for settings: each returns the (normalised) value or raises
``ValueError("must ...")``, which :mod:`bot.config.sections` turns into a
:class:`~bot.config.errors.ConfigError` naming the key. A section field carries its
check in its metadata (:func:`rule`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from bot.config.secret import Secret

Check = Callable[[Any], Any]


def between(low: float, high: float) -> Check:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check


def positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def one_of(*choices: str, ignore_case: bool = False) -> Check:
    """One of ``choices``; with ``ignore_case``, ``info`` is taken as ``INFO`` (people type
    log levels both ways)."""
    by_key = {c.casefold() if ignore_case else c: c for c in choices}

    def check(value: str) -> str:
        chosen = by_key.get(value.casefold() if ignore_case else value)
        if chosen is None:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return chosen

    return check


def host(value: str) -> str:
    if not value or any(char.isspace() for char in value):
        raise ValueError("must be a host name or IP address, e.g. 127.0.0.1 or 0.0.0.0")
    return value


def optional_host(value: str) -> str:
    """A host name or IP address, or empty (not configured)."""
    return host(value) if value else value


def http_url(value: str) -> str:
    """An absolute http(s) URL without query or fragment; a trailing slash is dropped."""
    value = value.rstrip("/")
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(char.isspace() for char in value)
    ):
        raise ValueError("must be an absolute http:// or https:// URL, e.g. https://pp.example.tw")
    return value


SQLITE_PREFIXES = ("sqlite:///", "sqlite+aiosqlite:///")
DATABASE_PREFIXES = (*SQLITE_PREFIXES, "postgresql://", "postgresql+asyncpg://")


def database_url(value: str) -> str:
    if not value.startswith(DATABASE_PREFIXES) or (
        value.startswith("postgresql") and value.endswith("://")
    ):
        raise ValueError(f"must start with one of: {', '.join(DATABASE_PREFIXES)}")
    return value


def regions(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value or any(
        not re.fullmatch(r"[A-Z]{2}", code) or code not in phonenumbers.SUPPORTED_REGIONS
        for code in value
    ):
        raise ValueError("must be a non-empty list of upper-case ISO 3166 codes, e.g. TW")
    return tuple(dict.fromkeys(value))


def secret_key(value: Secret) -> Secret:
    if value and len(value.reveal()) < 32:
        raise ValueError(
            "must be at least 32 characters, or empty to have one generated beside a "
            "SQLite database"
        )
    return value


def prefixed(prefix: str) -> Check:
    def check(value: str) -> str:
        if value and not re.fullmatch(rf"{prefix}[0-9A-Za-z]+", value):
            raise ValueError(f"must start with {prefix} followed by letters and digits")
        return value

    return check


def sender_id(value: str) -> str:
    if value and not (
        re.fullmatch(r"\+[1-9][0-9]{6,14}", value)
        or re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}", value)
    ):
        raise ValueError("must be an E.164 number like +15005550006 or an alphanumeric sender ID")
    return value


#: The only ports Telegram delivers webhooks to (Bot API, setWebhook).
TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)


def telegram_webhook_url(public_base_url: str) -> str | None:
    """Why Telegram's setWebhook would refuse ``<public_base_url>/telegram/webhook``
    (``serve`` would stop with "BadRequest"), or ``None`` if it would not."""
    parts = urlsplit(public_base_url)
    if parts.scheme != "https":
        return (
            "needs an https:// server.public_base_url (Telegram delivers webhooks only over "
            f"HTTPS); got {public_base_url!r}"
        )
    port = parts.port or 443
    if port not in TELEGRAM_WEBHOOK_PORTS:
        ports = ", ".join(map(str, TELEGRAM_WEBHOOK_PORTS))
        return (
            f"needs server.public_base_url on port {ports} (Telegram delivers webhooks "
            f"only there); got port {port}"
        )
    return None


def webhook_secret(value: Secret) -> Secret:
    if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.reveal()):
        raise ValueError("must be 1-256 characters from A-Z a-z 0-9 _ -")
    return value


def sha256_hexes(value: tuple[str, ...]) -> tuple[str, ...]:
    digests = tuple(item.strip().lower() for item in value)
    if any(not re.fullmatch(r"[0-9a-f]{64}", item) for item in digests):
        raise ValueError(
            "must be a list of SHA-256 digests (64 hex digits each): "
            "run 'portpass notices token' to make a token and its digest"
        )
    return tuple(dict.fromkeys(digests))


def notice_contact(value: str) -> str:
    """Whom a holder should contact: it must keep every notice SMS in one segment."""
    from dataclasses import replace

    from core import messages
    from core.notices.texts import NoticeWording, sms_lengths
    from core.verification.wording import LanguageWording, SmsWording

    # Unsigned here: the configuration check counts the sender name of each language.
    unsigned = replace(LanguageWording.catalogue(messages.ZH), sender_name="")
    value = value.strip()
    if not value:
        raise ValueError("must not be empty (the notice SMS says whom to contact)")
    too_long = {
        kind: seg
        for kind, seg in sms_lengths(
            NoticeWording(value, value, SmsWording({messages.ZH: unsigned}))
        ).items()
        if seg.count > 1
    }
    if too_long:
        kind, seg = max(too_long.items(), key=lambda item: item[1].length)
        raise ValueError(
            f"makes the {kind.value} notice SMS {seg.length} characters ({seg.count} "
            "segments); keep every notice in one segment of 70"
        )
    return value


def non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def clock_time(value: str) -> str:
    """``HH:MM`` (24-hour), or empty to turn the digest off."""
    value = value.strip()
    match = re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", value)
    if value and not match:
        raise ValueError("must be a time of day HH:MM such as 08:00 (Taipei), or empty for off")
    return f"{int(match.group(1)):02d}:{match.group(2)}" if match else ""


def currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError("must be a three-letter ISO 4217 code, e.g. TWD or USD")
    return value


def networks(value: tuple[str, ...]) -> tuple[str, ...]:
    """IP addresses or CIDR networks (``10.0.0.0/8``, ``::1``), kept as written."""
    for item in value:
        try:
            ipaddress.ip_network(item, strict=True)
        except ValueError:
            raise ValueError(
                "must be a list of IP addresses or networks, e.g. 127.0.0.1, ::1, 10.0.0.0/8 "
                f"(a network without host bits); {item!r} is not one"
            ) from None
    return tuple(dict.fromkeys(value))


def bearer_token(value: Secret) -> Secret:
    """Empty, or 32-256 characters a header can carry as ``Bearer <token>``."""
    if value and not re.fullmatch(r"[A-Za-z0-9._~+/=-]{32,256}", value.reveal()):
        raise ValueError("must be empty or 32-256 characters from A-Z a-z 0-9 . _ ~ + / = -")
    return value


def rule(check: Check, *, echo: bool = True) -> dict[str, Any]:
    """Field metadata: the check, and whether an error may show the value (``echo``)."""
    return {"check": check, "echo": echo}


def short_text(limit: int) -> Check:
    """A one-line text of at most ``limit`` characters (a name or a line on a page)."""

    def check(value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("must be one line")
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value

    return check


def sms_template(kind: str) -> Check:
    """An SMS template of ``kind`` (:data:`core.verification.wording.REQUIRED`) with its
    named placeholders, or empty for the catalogue's words."""
    from core.verification.wording import template_problem

    def check(value: str) -> str:
        value = value.strip()
        if len(value) > 600:
            raise ValueError("must be at most 600 characters (an SMS of 4 UCS-2 segments is 268)")
        why = template_problem(kind, value) if value else None
        if why:
            raise ValueError(why)
        return value

    return check


def contact_phone(value: str) -> str:
    """A phone number as people write it (07-5612311, +886 7 561 2311, 0800-000-000), or
    empty: digits with spaces, hyphens, brackets and a leading +; 6-20 digits."""
    value = value.strip()
    if value and (
        not re.fullmatch(r"\+?[0-9][0-9 ()#-]*", value)
        or not 6 <= sum(c.isdigit() for c in value) <= 20
    ):
        raise ValueError("must be a phone number such as 07-5612311 or +886-7-5612311, or empty")
    return value


def https_url_or_empty(value: str) -> str:
    """An https:// page (the port company's own), or empty."""
    value = value.strip()
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or " " in value:
        raise ValueError("must be an https:// address on the port company's own domain, or empty")
    return value
