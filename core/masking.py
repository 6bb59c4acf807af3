"""Masks for personal data in logs, the audit trail, and views that need no more."""

from __future__ import annotations

import re

import phonenumbers

from core.values import IdNumber, PassNumber, Phone


def mask_phone(phone: Phone | None) -> str:
    """``0912-***-678``: enough for a holder to recognise their own number."""
    if phone is None:
        return ""
    shown = phone.display
    return f"{shown[:4]}-***-{shown[-3:]}" if len(shown) == 12 else "***" + shown[-3:]


def mask_sender(raw: str) -> str:
    """An SMS sender we do not serve, as Twilio gave it: ``+1*******00``, the country
    code (where the traffic comes from) and the last two digits. A short code or an
    alphanumeric sender shows nothing but its length."""
    digits = re.sub(r"\D", "", raw)
    if not raw.strip().startswith("+") or len(digits) < 6:
        return "*" * min(len(raw), 12)
    try:
        country = str(phonenumbers.parse("+" + digits).country_code)
    except phonenumbers.NumberParseException:
        country = digits[0]
    rest = digits[len(country) :]
    return f"+{country}{'*' * (len(rest) - 2)}{rest[-2:]}"


def mask_id(id_no: IdNumber | None) -> str:
    """``A12*****89``: the first three and last two characters."""
    if id_no is None:
        return ""
    value = id_no.value
    if len(value) <= 5:
        return value[0] + "*" * (len(value) - 1)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def mask_pass(pass_no: PassNumber) -> str:
    """``KHPS113-**0043``: prefix and the last four digits (what the SMS shows)."""
    head, _, serial = pass_no.value.partition("-")
    return f"{head}-{'*' * (len(serial) - 4)}{serial[-4:]}"


def mask_name(name: str | None) -> str:
    """``檢*測試三`` → first character and last character kept; a one-character name
    shows nothing (keeping its first character would show all of it)."""
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
