"""The client's address: the connection's, or, when that is a trusted proxy (`http.trusted_proxies`),
the right-most address in X-Forwarded-For that is not one of the trusted proxies (addresses to its
left were written by the client and prove nothing)."""

from __future__ import annotations

import ipaddress
from functools import cache


@cache
def _networks(cidrs: tuple[str, ...]):
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str:
    networks = _networks(tuple(trusted))
    address = peer or "unknown"
    if not networks or not _trusted(address, networks):
        return address
    for hop in reversed([h.strip() for h in (forwarded_for or "").split(",") if h.strip()]):
        address = hop
        if not _trusted(hop, networks):
            break
    return address
