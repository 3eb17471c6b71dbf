"""Redis down while webhooks arrive: every webhook is still accepted (it is in the database), and
once Redis is back the scheduler enqueues what the intake could not push: each event processed
once, each survey sent once."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests

from tests.faults.tools import RedisServer
from tests.support import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def readyz(url: str) -> dict:
    return requests.get(url + "/readyz", timeout=10).json()


def test_webhooks_are_accepted_while_redis_is_down_and_processed_once_when_it_is_back(launch, hooks, db, sink,
                                                                                       broker):
    svc = launch(redis_url=broker.url)
    tickets = [hooks.customer_ticket(i) for i in range(7)]
    first, during = tickets[0], tickets[1:]
    assert hooks.solve(first).status_code == 202
    wait_until(lambda: len(sink.messages) == 1, 15, 0.05, "the first survey")

    broker.stop()
    wait_until(lambda: readyz(svc.url)["broker"] != "ok", 10, 0.1, "the server to see Redis down")
    deliveries = [hooks.solved(t) for t in during]
    for (raw, invocation), ticket in zip(deliveries, during):
        resp = hooks.post(raw, invocation)
        assert (resp.status_code, resp.json()) == (202, {"status": "accepted", "events": 1})
        # A 2xx means the event is in the database.
        [stored] = db.rows("SELECT ticket_id, state FROM webhook_events WHERE delivery_id = :d", d=invocation)
        assert stored == {"ticket_id": str(ticket.id), "state": "received"}
    raw, invocation = deliveries[0]
    assert hooks.post(raw, invocation).json() == {"status": "duplicate", "events": 0}
    assert db.scalar("SELECT count(*) FROM webhook_events WHERE state = 'received'") == len(during)
    assert len(sink.messages) == 1 and db.scalar("SELECT count(*) FROM surveys") == 1

    broker.start()  # same port, empty: the pushes made while it was down are gone
    wait_until(lambda: len(sink.messages) == len(tickets), 30, 0.05, "every survey after Redis is back")
    wait_until(db.quiet, 20, 0.1, "everything done")
    assert [p.poll() for p in svc.procs] == [None, None, None]  # server, worker and scheduler rode it out

    events = db.rows("SELECT ticket_id, state, attempts, outcome FROM webhook_events ORDER BY id")
    assert [(e["ticket_id"], e["state"], e["attempts"]) for e in events] == \
        [(str(t.id), "done", 1) for t in tickets]
    assert {e["outcome"] for e in events} == {"solve #1 recorded; survey due now"}
    surveys = db.surveys_by_ticket()
    assert {tid: [(s["state"], s["attempts"]) for s in rows] for tid, rows in surveys.items()} == \
        {str(t.id): [("sent", 1)] for t in tickets}
    assert Counter(m["To"].addresses[0].addr_spec for m in sink.messages) == \
        {f"customer{i}@example.com": 1 for i in range(len(tickets))}
    assert readyz(svc.url) == {"database": "ok", "broker": "ok"}
    assert json.loads(svc.cli("events", "--failed", "--format", "json").stdout) == []
