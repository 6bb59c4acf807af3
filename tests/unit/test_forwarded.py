"""Who the client is behind our reverse proxy: believed only from a trusted proxy, and
read from the right, so what a client writes into the header itself never counts."""

from __future__ import annotations

import pytest

from bot.web.forwarded import client_address, networks

PROXIES = networks(["127.0.0.1", "::1", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # No proxy in between: the peer, whatever the header claims.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # Our proxy on this host names the client.
        ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        ("::1", ["203.0.113.5"], "203.0.113.5"),
        ("::ffff:127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        # A client sent its own header: our proxy appended the address it saw.
        ("127.0.0.1", ["127.0.0.1, 198.51.100.7, 203.0.113.5"], "203.0.113.5"),
        # Two proxies of ours (a load balancer, then nginx); two header lines.
        ("127.0.0.1", ["203.0.113.5, 10.1.2.3"], "203.0.113.5"),
        ("127.0.0.1", ["203.0.113.5", "10.1.2.3"], "203.0.113.5"),
        ("127.0.0.1", ["2001:db8::5"], "2001:db8::5"),
        # Garbage where an address should be: nothing left of it is believed.
        ("127.0.0.1", ["203.0.113.5, unknown"], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.5, not-an-ip, 10.1.2.3"], "10.1.2.3"),
        # A proxy without a header, or a chain of ours only.
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["10.9.9.9"], "10.9.9.9"),
    ],
)
def test_the_client_is_the_rightmost_address_no_proxy_of_ours_vouches_for(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("127.0.0.1", ["203.0.113.5"], ()) == "127.0.0.1"
