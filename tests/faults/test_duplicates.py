"""A storm of duplicate webhooks over two `ces serve` processes sharing one database: one event,
one survey, one mail per solve."""

from __future__ import annotations

import random
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support import free_port, wait_until

pytestmark = pytest.mark.slow

TICKETS = 100
DELIVERIES = 10


def test_duplicate_storm_across_two_servers_gives_one_survey_per_solve(launch, hooks, zendesk, sink, db, app_port):
    other_port = free_port()
    svc = launch(["serve", "--port", str(app_port)], ["serve", "--port", str(other_port)], ["worker"], ["worker"],
                 ["scheduler"], extra="rate_limit_per_minute = 100000\n")
    urls = [svc.url, f"http://127.0.0.1:{other_port}"]
    wait_until(lambda: _ready(urls[1]), 30, 0.1, "the second server")

    tickets = [hooks.customer_ticket(i) for i in range(TICKETS)]
    deliveries = []
    for n, ticket in enumerate(tickets):
        raw, invocation = hooks.solved(ticket)
        # Zendesk retries with the same invocation id; the load balancer spreads them over both servers.
        deliveries += [(ticket.id, raw, invocation, urls[(n + k) % 2]) for k in range(DELIVERIES)]
    random.Random(7).shuffle(deliveries)

    def post(delivery):
        tid, raw, invocation, url = delivery
        resp = hooks.post(raw, invocation, url)
        return tid, resp.status_code, resp.json()

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(post, deliveries))

    by_ticket: dict[int, list[tuple[int, dict]]] = {}
    for tid, status, body in answers:
        by_ticket.setdefault(tid, []).append((status, body))
    assert len(by_ticket) == TICKETS
    for tid, got in by_ticket.items():
        assert Counter(status for status, _ in got) == {202: 1, 200: DELIVERIES - 1}, (tid, got)
        assert sorted((s, b["status"], b["events"]) for s, b in got) == \
            [(200, "duplicate", 0)] * (DELIVERIES - 1) + [(202, "accepted", 1)]
    # Both servers stored first deliveries and answered duplicates; together, exactly once per ticket.
    counts = [_webhook_counts(url) for url in urls]
    assert all(c["accepted"] > 0 and c["duplicate"] > 0 for c in counts), counts
    assert sum(c["accepted"] for c in counts) == TICKETS
    assert sum(c["duplicate"] for c in counts) == TICKETS * (DELIVERIES - 1)

    wait_until(lambda: db.scalar("SELECT count(*) FROM surveys WHERE state = 'sent'") == TICKETS, 90, 0.2,
               f"{TICKETS} surveys sent")
    wait_until(db.quiet, 30, 0.2, "every event, survey and job done")

    assert db.scalar("SELECT count(*) FROM webhook_events") == TICKETS
    assert db.rows("SELECT state, count(*) AS n FROM webhook_events GROUP BY state") == [{"state": "done", "n": TICKETS}]
    assert db.scalar("SELECT count(*) FROM solves") == TICKETS
    assert db.rows("SELECT state, count(*) AS n FROM surveys GROUP BY state") == [{"state": "sent", "n": TICKETS}]
    assert len(sink.messages) == TICKETS
    recipients = Counter(m["To"].addresses[0].addr_spec for m in sink.messages)
    assert recipients == {f"customer{i}@example.com": 1 for i in range(TICKETS)}


def _webhook_counts(url: str) -> Counter:
    """This server's ces_webhooks_total by outcome (its /metrics)."""
    found = re.findall(r'^ces_webhooks_total\{connector="zendesk-main",outcome="(\w+)"\} (\S+)$',
                       requests.get(url + "/metrics", timeout=10).text, re.M)
    return Counter({outcome: int(float(value)) for outcome, value in found})


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=1).status_code == 200
    except requests.RequestException:
        return False
