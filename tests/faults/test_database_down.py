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
    wait_until(lambda: db.state_of(first.id) == "sent", 15, 0.05, "the first survey")

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


def test_database_down_when_the_mail_server_answers_the_worker_records_sent_once_it_is_back(launch, hooks, db,
                                                                                             db_url, sink, proxy):
    """The mail server took the message; the database is down when its 250 arrives. The worker is
    alive and knows the outcome: it records `sent` once the database is back (within its lease),
    instead of leaving the survey `sending` for the scheduler to call uncertain."""
    through_proxy = make_url(db_url).set(port=proxy.port).render_as_string(hide_password=False)
    # The worker (and the server) reach PostgreSQL through the proxy; the scheduler directly, so
    # that every connection the proxy refuses is the worker's.
    # The survey a second after the solve: the signals job (queued by the same scheduler, at once)
    # is done before the mail is under way, whatever the machine's load.
    launch(["serve", "--port", str(launch.port)], ["worker"], env={"CES_DATABASE_URL": through_proxy},
           survey="delay_seconds = 1")
    svc = launch(["scheduler"], ready=False, survey="delay_seconds = 1")
    ticket = hooks.customer_ticket(0)
    sink.delay_reply_seconds = 2.0
    assert hooks.solve(ticket).status_code == 202
    wait_until(lambda: len(sink.messages) == 1 and db.state_of(ticket.id) == "sending"
               and db.scalar("SELECT count(*) FROM jobs WHERE kind = 'collect'") == 0, 15, 0.02,
               "the message with the mail server (its 250 not yet sent), nothing else under way")
    proxy.off()
    # The 250 arrives; the worker cannot record it.
    wait_until(lambda: proxy.refused >= 1, 10, 0.02, "the worker trying to record the outcome")
    assert db.state_of(ticket.id) == "sending"
    proxy.on()
    wait_until(lambda: db.state_of(ticket.id) != "sending", 15, 0.05, "the outcome recorded")
    survey = db.survey(ticket.id)
    assert (survey["state"], survey["reason"], survey["attempts"]) == ("sent", None, 1)
    assert survey["sent_at"] is not None
    assert [a["outcome"] for a in db.attempts(survey["id"])] == ["sent"]
    assert len(sink.messages) == 1
    assert json.loads(svc.cli("surveys", "--failed", "--format", "json").stdout) == []
