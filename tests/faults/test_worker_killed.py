"""A worker killed (SIGKILL) while it sends a survey: before the hand-over to the mail server the
survey is sent once by the next worker after the lease; after the hand-over it is `uncertain`,
listed for admins, never resent."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest

from tests.faults.conftest import kill
from tests.faults.tools import held
from tests.support import wait_until

pytestmark = pytest.mark.slow

LEASE = 3
# A short lease, and Redis handing a dead worker's unacknowledged messages back soon: the
# redelivered message finds its row claimed or finished and does nothing.
ENV = {"CES_WORKER__LEASE_SECONDS": str(LEASE), "CES_WORKER__VISIBILITY_TIMEOUT_SECONDS": "2"}


def solve_and_wait(hooks, db, sink, tickets):
    for t in tickets:
        resp = hooks.solve(t)
        assert resp.status_code == 202, resp.text
    for t in tickets:
        wait_until(lambda t=t: db.state_of(t.id) == "sent", 20, 0.05, f"survey of ticket {t.id} sent")


def mails_to(sink) -> Counter:
    return Counter(m["To"].addresses[0].addr_spec for m in sink.messages)


def assert_one_survey_per_ticket(db, sink, tickets, victim):
    surveys = db.surveys_by_ticket()
    assert sorted(surveys) == sorted(str(t.id) for t in tickets + [victim])
    for t in tickets:
        [s] = surveys[str(t.id)]
        assert s["state"] == "sent" and s["attempts"] == 1
    expected = {f"customer{i}@example.com": 1 for i in range(len(tickets) + 1)}
    assert mails_to(sink) == expected


def test_killed_between_claim_and_smtp_the_next_worker_sends_once_after_the_lease(launch, hooks, faults, db, sink):
    svc = launch(env=ENV)
    worker = svc.procs[1]
    tickets = [hooks.customer_ticket(i) for i in range(6)]
    victim, before, after = tickets[3], tickets[:3], tickets[4:]
    solve_and_wait(hooks, db, sink, before)

    gate = threading.Event()
    faults.set(victim.id, held(gate))  # Zendesk answers the victim's ticket only when we say so
    try:
        assert hooks.solve(victim).status_code == 202
        # The survey is claimed (preparing, leased) and the worker is reading the ticket back.
        wait_until(lambda: db.state_of(victim.id) == "preparing" and faults.count(victim.id) >= 1, 15, 0.02,
                   "the worker reading the ticket after claiming the survey")
        claimed = db.survey(victim.id)
        kill(worker)
    finally:
        faults.set(victim.id, None)
        gate.set()
    assert claimed["attempts"] == 1 and not sink.messages[3:]

    svc.start(["worker"])
    wait_until(lambda: db.state_of(victim.id) == "sent", 20, 0.05, "the survey sent by the new worker")
    solve_and_wait(hooks, db, sink, after)
    wait_until(db.quiet, 20, 0.1, "everything done")

    survey = db.survey(victim.id)
    assert survey["attempts"] == 2
    first, second = db.attempts(survey["id"])
    # The killed worker's attempt, closed (and counted) by the worker that took the survey over.
    assert (first["outcome"], first["finished_at"]) == ("abandoned", second["started_at"])
    assert second["outcome"] == "sent"
    # Nobody took the survey over while the dead worker's lease lasted.
    assert second["started_at"] >= claimed["lease_until"] >= first["started_at"] + timedelta(seconds=LEASE)
    assert_one_survey_per_ticket(db, sink, before + after, victim)
    assert json.loads(svc.cli("surveys", "--failed", "--format", "json").stdout) == []


def test_killed_after_the_mail_server_took_the_message_leaves_it_uncertain_never_resent(launch, hooks, db, sink):
    svc = launch(env=ENV)
    worker = svc.procs[1]
    tickets = [hooks.customer_ticket(i) for i in range(6)]
    victim, before, after = tickets[3], tickets[:3], tickets[4:]
    solve_and_wait(hooks, db, sink, before)

    sink.delay_reply_seconds = 30  # the message is stored; our 250 comes late
    raw, invocation = hooks.solved(victim)
    try:
        assert hooks.post(raw, invocation).status_code == 202
        wait_until(lambda: len(sink.messages) == 4 and db.state_of(victim.id) == "sending", 15, 0.02,
                   "the message stored by the mail server, its 250 not yet sent")
        kill(worker)
    finally:
        sink.delay_reply_seconds = 0
    assert mails_to(sink)["customer3@example.com"] == 1

    svc.start(["worker"])
    wait_until(lambda: db.state_of(victim.id) == "uncertain", LEASE + 10, 0.05, "the survey marked uncertain")
    # Zendesk retries the delivery, and a trigger tells the same solve again: nothing more is sent.
    assert hooks.post(raw, invocation).json() == {"status": "duplicate", "events": 0}
    assert hooks.post(raw, "trigger-" + invocation).status_code == 202
    solve_and_wait(hooks, db, sink, after)
    wait_until(db.quiet, 20, 0.1, "everything done")

    outcomes = [r["outcome"] for r in db.rows(
        "SELECT outcome FROM webhook_events WHERE ticket_id = :t ORDER BY id", t=str(victim.id))]
    assert outcomes == ["solve #1 recorded; survey due now", "solve #1 already recorded"]
    survey = db.survey(victim.id)
    assert survey["reason"] == ("the worker stopped after handing the survey to the mail server; "
                                "not resent automatically")
    assert survey["sent_at"] is None and survey["attempts"] == 1
    [attempt] = db.attempts(survey["id"])
    assert attempt["outcome"] == "uncertain" and attempt["finished_at"] is not None
    assert_one_survey_per_ticket(db, sink, before + after, victim)  # the victim's mail: once

    listed = svc.cli("surveys", "--failed", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["ticket"], row["state"], row["to"]) == (survey["id"], str(victim.id), "uncertain",
                                                                   "customer3@example.com")
    assert row["reason"] == survey["reason"]
