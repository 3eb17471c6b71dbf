"""PostgreSQL unreachable (a TCP proxy in front of it, switched off): intake answers 503 with
Retry-After and stores nothing; once it is back, Zendesk's retries of the same deliveries are
accepted and every survey goes out once."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.faults.tools import TcpProxy
from tests.support import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def proxy(db_url):
    url = make_url(db_url)
    p = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield p
    p.stop()


def test_database_down_gives_503_with_retry_after_and_the_retries_are_sent_once(launch, hooks, db, db_url, sink,
                                                                               proxy):
    through_proxy = make_url(db_url).set(port=proxy.port).render_as_string(hide_password=False)
    # Every process (server, worker, scheduler) reaches PostgreSQL through the proxy only.
    svc = launch(db_url=through_proxy)
    tickets = [hooks.customer_ticket(i) for i in range(5)]
    first, during = tickets[0], tickets[1:]
    assert hooks.solve(first).status_code == 202
    wait_until(lambda: len(sink.messages) == 1, 15, 0.05, "the first survey")

    proxy.off()
    ready = requests.get(svc.url + "/readyz", timeout=20)
    assert ready.status_code == 503 and ready.json()["database"].startswith("unavailable")
    deliveries = [hooks.solved(t) for t in during]
    for raw, invocation in deliveries:
        resp = hooks.post(raw, invocation)
        assert resp.status_code == 503, resp.text
        assert resp.headers["Retry-After"] == "30"
        assert resp.json()["error"] == "database_unavailable"
    assert proxy.refused > 0  # the server did try
    # Nothing half-written: not an event, a solve or a survey of these deliveries.
    assert db.scalar("SELECT count(*) FROM webhook_events") == 1
    assert db.scalar("SELECT count(*) FROM solves") == 1
    assert db.scalar("SELECT count(*) FROM surveys") == 1

    proxy.on()
    wait_until(lambda: requests.get(svc.url + "/readyz", timeout=20).status_code == 200, 20, 0.1,
               "the server to see the database again")
    # Zendesk retries each failed delivery with its invocation id; then once more, as a duplicate.
    for raw, invocation in deliveries:
        resp = hooks.post(raw, invocation)
        assert (resp.status_code, resp.json()) == (202, {"status": "accepted", "events": 1})
    for raw, invocation in deliveries:
        resp = hooks.post(raw, invocation)
        assert (resp.status_code, resp.json()) == (200, {"status": "duplicate", "events": 0})

    wait_until(lambda: len(sink.messages) == len(tickets), 30, 0.05, "every survey")
    wait_until(db.quiet, 20, 0.1, "everything done")
    assert [p.poll() for p in svc.procs] == [None, None, None]  # server, worker and scheduler rode it out
    assert [(e["ticket_id"], e["state"]) for e in db.rows("SELECT * FROM webhook_events ORDER BY id")] == \
        [(str(t.id), "done") for t in tickets]
    surveys = db.surveys_by_ticket()
    assert {tid: [s["state"] for s in rows] for tid, rows in surveys.items()} == {str(t.id): ["sent"] for t in tickets}
    assert Counter(m["To"].addresses[0].addr_spec for m in sink.messages) == \
        {f"customer{i}@example.com": 1 for i in range(len(tickets))}
    assert json.loads(svc.cli("surveys", "--failed", "--format", "json").stdout) == []
