"""The helpdesk misbehaving: 429 with Retry-After, storms of 500s, answers slower than our read
timeout, a permanent 404; and its rate limit shared by two `ces worker` processes.

Every solve makes two kinds of calls to GET /api/v2/tickets/{id}.json: the survey's read-back
before sending and the signals' collect job. Each is tried at most max_attempts (3) times, each
try at most 1 + http.retries (3) requests for a transient failure; counts of failures below are
exact. Once the API has recovered there are one or two answers: a send that has handed its mail
over runs the collect job itself with the ticket it read, if the job is due by then (else a worker
runs it on its own, reading again), and which comes first is a race between two retries."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import redis

from tests.faults.tools import always, during, first, stall_first
from tests.support import wait_until

pytestmark = pytest.mark.slow

TERMINAL = ("sent", "failed", "uncertain", "skipped", "cancelled")


def test_429_500_timeouts_and_404_are_retried_within_bounds_and_sent_once_recovered(launch, hooks, faults, zendesk,
                                                                                    db, sink):
    # A 2 s API against a 1 s read timeout.
    svc = launch(env={"CES_HTTP__READ_TIMEOUT_SECONDS": "1"})
    limited, storm, slow, gone, broken = (hooks.customer_ticket(i) for i in range(5))
    faults.set(limited.id, during(1.0, 429, {"Retry-After": "1"}))
    faults.set(storm.id, first(4, 500))
    faults.set(slow.id, stall_first(2, 2.0))
    faults.set(broken.id, always(500))
    deliveries = [hooks.solved(t) for t in (limited, storm, slow, gone, broken)]
    del zendesk.tickets[gone.id]  # deleted in Zendesk after the webhook left: the API answers 404
    for raw, invocation in deliveries:
        assert hooks.post(raw, invocation).status_code == 202

    tickets = (limited, storm, slow, gone, broken)
    wait_until(lambda: all(db.state_of(t.id) in TERMINAL for t in tickets), 30, 0.1, "every survey finished")
    wait_until(db.quiet, 20, 0.1, "every retry done")

    states = {t.id: db.state_of(t.id) for t in tickets}
    assert states == {limited.id: "sent", storm.id: "sent", slow.id: "sent", gone.id: "failed",
                      broken.id: "failed"}
    assert sorted(m["To"].addresses[0].addr_spec for m in sink.messages) == \
        ["customer0@example.com", "customer1@example.com", "customer2@example.com"]

    # 429: the survey waited for Retry-After in the database, then read the ticket once more.
    survey = db.survey(limited.id)
    assert survey["attempts"] == 2
    waited, sent = db.attempts(survey["id"])
    assert waited["outcome"] == "retry" and "429, retry after 1 s" in waited["detail"]
    assert sent["outcome"] == "sent" and sent["started_at"] - waited["finished_at"] >= timedelta(seconds=1)
    # Each of the two callers got one 429 and then at most one answer: nobody called again within Retry-After.
    answers = faults.answers(limited.id)
    assert [a.status for a in answers] in ([429, 429, 200], [429, 429, 200, 200])
    assert min(a.at for a in answers[2:]) - answers[0].at >= 1.0
    # 500s: four failures in all, then at most one answer per caller.
    assert faults.statuses(storm.id) in ([500] * 4 + [200], [500] * 4 + [200, 200])
    # Timeouts: the two stalled requests were given up on and retried; then at most one answer per caller.
    assert faults.count(slow.id) in (3, 4)
    # The signals of the tickets whose API recovered are complete, not partial.
    partial = {r["external_id"]: r["partial"] for r in db.rows(
        "SELECT t.external_id, s.partial FROM ticket_signals s JOIN tickets t ON t.id = s.ticket_pk")}
    assert {str(t.id): False for t in (limited, storm, slow)}.items() <= partial.items()

    # 404 is permanent: one request per caller, failed with the reason, once.
    assert faults.count(gone.id) == 2
    gone_survey = db.survey(gone.id)
    assert gone_survey["attempts"] == 1
    assert gone_survey["reason"] == ("Zendesk ticket at 127.0.0.1: 404 Not Found (wrong address or subdomain, or the "
                                     "item no longer exists)")
    # 500 for ever: 3 attempts × 3 requests by each of the two callers, then failed with the reason.
    assert faults.count(broken.id) == 2 * 3 * 3
    broken_survey = db.survey(broken.id)
    assert broken_survey["attempts"] == 3
    assert broken_survey["reason"] == ("gave up after 3 attempts: Zendesk ticket at 127.0.0.1: "
                                       "500 Internal Server Error")

    listed = svc.cli("surveys", "--failed", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    # Newest survey first: which of the two events a worker applied first is not this test's point.
    assert sorted((r["ticket"], r["state"], r["reason"]) for r in json.loads(listed.stdout)) == sorted([
        (str(broken.id), "failed", broken_survey["reason"]), (str(gone.id), "failed", gone_survey["reason"])])


def test_the_rate_limit_is_shared_by_two_workers(launch, hooks, zendesk, db, sink, config):
    limit = 10
    svc = launch(["serve", "--port", str(config.values["port"])], ["worker"], ["worker"], ["scheduler"],
                 extra=f"rate_limit_per_minute = {limit}\n", env={"CES_LOG_LEVEL": "INFO"})
    tickets = [hooks.customer_ticket(i) for i in range(8)]  # 8 × (1 read-back + 4 collect calls) = 40 calls
    started = datetime.now(timezone.utc)
    for t in tickets:
        assert hooks.solve(t).status_code == 202

    def settled():
        """The budget is spent and everything that still needs the API waits (in the database) for
        the window to move: nothing can call Zendesk for the next seconds."""
        soon = datetime.now(timezone.utc) + timedelta(seconds=5)
        surveys = db.rows("SELECT state, reason, next_try_at FROM surveys")
        jobs = db.rows("SELECT state, next_try_at FROM jobs WHERE kind = 'collect'")
        return (zendesk.server.count() >= limit and len(surveys) == len(tickets)
                and all(s["state"] == "sent" or (s["state"] == "pending" and s["next_try_at"] > soon)
                        for s in surveys)
                and all(j["state"] == "due" and j["next_try_at"] > soon for j in jobs))

    wait_until(settled, 30, 0.1, "the shared budget spent and the rest waiting")
    elapsed = (datetime.now(timezone.utc) - started).total_seconds()
    assert elapsed < 55  # all of it inside one 60-second window
    assert zendesk.server.count() == limit
    client = redis.Redis.from_url(config.values["redis_url"])
    assert client.zcard(f"{config.values['prefix']}ces:ratelimit:zendesk:{zendesk.url}") == limit

    sent = [s for s in db.rows("SELECT * FROM surveys") if s["state"] == "sent"]
    waiting = [s for s in db.rows("SELECT * FROM surveys") if s["state"] == "pending"]
    assert sent and len(sink.messages) == len(sent)
    assert all(s["reason"].startswith(f"retrying: shared rate limit of {limit}/min reached") for s in waiting)
    # Both workers called the helpdesk (a limit per process would have let 2 × 10 through).
    for log in sorted(svc.logs.glob("worker-*.log")):
        text = log.read_text()
        assert "event_processed" in text or "survey_" in text, log.name
