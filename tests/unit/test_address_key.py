"""Per-address limits count an IPv4 address as it is and an IPv6 address by its /64:
a subscriber's whole /64 is one client, not 2**64 fresh allowances."""

from __future__ import annotations

from bot.web.client_limits import address_key


def test_ipv4_is_itself() -> None:
    assert address_key("203.0.113.9") == "203.0.113.9"
    assert address_key("::ffff:203.0.113.9") == "203.0.113.9"  # mapped: the same client


def test_ipv6_counts_by_its_64() -> None:
    one = address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    assert one == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:2::1") == one
    assert address_key("2001:db8:1:2::1%eth0") == one
    assert address_key("2001:db8:1:3::1") != one
