"""The console's small parts on their own: the Argon2 pool's bound, the client address behind
proxies, where a sign-in may send you, what the access log shows of a sign-in link."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ces.worker.console import passwords
from ces.worker.console.address import client_address
from ces.worker.console.render import safe_next


def test_the_hash_pool_frees_a_slot_when_the_work_ends_not_when_its_caller_stops_waiting():
    pool = passwords.HashPool(workers=1, queue=1)
    release = threading.Event()

    async def scenario():
        first = asyncio.ensure_future(pool.run(release.wait, 30))
        second = asyncio.ensure_future(pool.run(lambda: "second"))
        await asyncio.sleep(0.05)
        with pytest.raises(passwords.Busy):
            await pool.run(lambda: "third")
        first.cancel()  # the caller gives up; the work goes on and keeps its slot
        await asyncio.sleep(0.05)
        with pytest.raises(passwords.Busy):
            await pool.run(lambda: "fourth")
        release.set()
        assert await second == "second"
        assert await pool.run(lambda: "fifth") == "fifth"

    asyncio.run(scenario())


def test_sign_in_links_are_redacted_in_the_access_log():
    from ces.worker.web.app import redact

    assert redact("/login/link/AbC-123_xyz") == "/login/link/<token>"
    assert redact("/login") == "/login"


def test_sign_in_links_are_redacted_in_every_log_line():
    """e.g. `console_page_failed` names the path of a page that failed, /login/link/{token} too."""
    from ces.worker import logs

    token = "Zq3_k-" * 8
    line = logs.redact(None, "error", {"event": "console_page_failed", "path": f"/login/link/{token}",
                                        "error": f"while opening https://ces.acme.test/login/link/{token}"})
    assert token not in str(line) and line["path"] == "/login/link/<token>"


@pytest.mark.parametrize(("peer", "forwarded", "trusted", "client"), [
    ("198.51.100.7", "203.0.113.9", [], "198.51.100.7"),  # no proxy trusted: the header is anyone's words
    ("198.51.100.7", "203.0.113.9", ["10.0.0.0/8"], "198.51.100.7"),  # not from a trusted proxy
    ("10.0.0.2", "203.0.113.9", ["10.0.0.0/8"], "203.0.113.9"),
    ("10.0.0.2", "192.0.2.66, 203.0.113.9", ["10.0.0.0/8"], "203.0.113.9"),  # the client's own entry is ignored
    ("10.0.0.2", "203.0.113.9, 10.0.0.5", ["10.0.0.0/8"], "203.0.113.9"),  # two proxies of ours
    ("10.0.0.2", "10.0.0.9, 10.0.0.5", ["10.0.0.0/8"], "10.0.0.9"),  # all ours: the left-most
    ("10.0.0.2", None, ["10.0.0.0/8"], "10.0.0.2"),
    ("::1", "2001:db8::1", ["::1/128"], "2001:db8::1"),
])
def test_the_client_address_is_the_right_most_hop_that_is_not_a_trusted_proxy(peer, forwarded, trusted, client):
    assert client_address(peer, forwarded, trusted) == client


@pytest.mark.parametrize(("value", "safe"), [
    (None, "/"), ("", "/"), ("/", "/"), ("/teams?x=1", "/teams?x=1"), ("//evil.example", "/"),
    ("/\\evil.example", "/"), ("https://evil.example", "/"), ("evil", "/"), ("/a\tb", "/"), ("/a b", "/"),
])
def test_only_paths_on_this_site_are_followed_after_signing_in(value, safe):
    assert safe_next(value) == safe
