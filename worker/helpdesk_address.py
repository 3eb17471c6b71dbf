"""Addresses an admin enters in the console are checked before any call to them: the console must
not become a way to reach what only the server can reach (its cloud's metadata service, itself).

https only; plain http only with `console.allow_http_helpdesks` (self-hosted helpdesks on a private
network, tests), which also allows loopback. After DNS resolution, no address may be link-local,
a cloud metadata service, unspecified or multicast; private networks are allowed (a self-hosted
helpdesk lives there). The cause is named in words; nothing the remote side says is repeated.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from ces.config.secrets import MissingSecret
from ces.connectors.models import CheckResult

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}

Resolver = Callable[[str, int], list[str]]


class AddressRefused(Exception):
    """Why the console will not call this address, in an admin's words."""


def resolve(host: str, port: int) -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(f"{host} does not resolve (check the address)") from None


def _refusal(address: str, allow_loopback: bool) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    if ip in METADATA:
        return "a cloud metadata service"
    if ip.is_link_local:
        return "link-local"
    if ip.is_loopback and not allow_loopback:
        return "this machine (loopback; allowed only with [console] allow_http_helpdesks = true)"
    if ip.is_unspecified or ip.is_multicast:
        return "not a host's address"
    return None


def check_address(url: str, *, allow_http: bool, resolver: Resolver = resolve) -> None:
    """Raise AddressRefused unless the console may call `url`."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise AddressRefused(f"{url} is not an https:// address" +
                             ("" if allow_http else " (plain http needs [console] allow_http_helpdesks = true)"))
    host = parts.hostname
    if not host:
        raise AddressRefused(f"{url} has no host name")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise AddressRefused(f"{url} has an invalid port") from None
    for address in resolver(host, port):
        why = _refusal(address, allow_http)
        if why:
            raise AddressRefused(f"{host} resolves to {address}, {why}: the console does not call it")


def run_checks(conn, *, check_address_first: bool, allow_http: bool) -> list[CheckResult]:
    """`ces connectors test` and the console's "Test": the address first (for addresses entered in
    the console), then the connector's own check of its credentials. Never raises for a bad secret."""
    held = conn.settings.held
    if held is not None and held.problem:  # the key changed: nothing else can be told
        return [CheckResult("secrets", False, held.problem)]
    url = conn.api_root()
    if check_address_first and url:
        try:
            check_address(url, allow_http=allow_http)
        except AddressRefused as exc:
            return [CheckResult("address", False, str(exc))]
    try:
        return conn.check()
    except MissingSecret as exc:
        return [CheckResult("secrets", False, f"{exc.key}: {exc.message}")]
