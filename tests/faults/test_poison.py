"""Poison input: a stored event that makes the handler raise (a corrupt row) is tried a bounded
number of times, parked as failed with the error, and processed by `ces events replay ID` once
the row is fixed; other events go through meanwhile."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.support import wait_until

pytestmark = pytest.mark.slow


def test_a_poison_event_is_parked_as_failed_and_replayed_once_fixed(launch, hooks, db, sink, app_port):
    # No worker yet: the events stay as stored until we have corrupted one.
    svc = launch(["serve", "--port", str(app_port)], ["scheduler"])
    poison, good = hooks.customer_ticket(0), hooks.customer_ticket(1)
    assert hooks.solve(poison).status_code == 202
    event_id = db.scalar("SELECT id FROM webhook_events WHERE ticket_id = :t", t=str(poison.id))
    assert db.execute("UPDATE webhook_events SET status = 'bogus' WHERE id = :i", i=event_id) == 1
    assert hooks.solve(good).status_code == 202

    svc.start(["worker"])
    wait_until(lambda: db.scalar("SELECT state FROM webhook_events WHERE id = :i", i=event_id) == "failed", 20, 0.05,
               "the poison event parked as failed")
    wait_until(lambda: db.state_of(good.id) == "sent", 20, 0.05, "the good ticket's survey")
    wait_until(db.quiet, 20, 0.1, "nothing left to retry")

    [event] = db.rows("SELECT * FROM webhook_events WHERE id = :i", i=event_id)
    error = "ValueError: 'bogus' is not a valid Status"
    assert (event["state"], event["attempts"], event["error"], event["outcome"]) == \
        ("failed", 3, error, "failed after 3 attempts")
    # Nothing of it was applied: no ticket, solve or survey.
    assert db.scalar("SELECT count(*) FROM tickets WHERE external_id = :t", t=str(poison.id)) == 0
    assert db.rows("SELECT ticket_external_id FROM surveys") == [{"ticket_external_id": str(good.id)}]

    listed = svc.cli("events", "--failed", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["ticket"], row["state"], row["attempts"], row["outcome"]) == \
        (event_id, str(poison.id), "failed", 3, error)

    # The admin fixes the row and replays the event.
    assert db.execute("UPDATE webhook_events SET status = 'solved' WHERE id = :i", i=event_id) == 1
    replay = svc.cli("events", "replay", str(event_id))
    assert (replay.returncode, replay.stdout.strip()) == (0, f"event {event_id} queued again")
    wait_until(lambda: db.state_of(poison.id) == "sent", 20, 0.05, "the replayed event's survey")
    wait_until(db.quiet, 20, 0.1, "everything done")
    [event] = db.rows("SELECT * FROM webhook_events WHERE id = :i", i=event_id)
    assert (event["state"], event["attempts"], event["error"], event["outcome"]) == \
        ("done", 1, None, "solve #1 recorded; survey due now")

    # Replayed once more (it is done): its effects are not repeated.
    again = svc.cli("events", "replay", str(event_id))
    assert again.returncode == 0, again.stderr
    wait_until(lambda: db.scalar("SELECT outcome FROM webhook_events WHERE id = :i", i=event_id)
               == "solve #1 already recorded", 20, 0.05, "the second replay processed")
    wait_until(db.quiet, 20, 0.1, "everything done")
    assert json.loads(svc.cli("events", "--failed", "--format", "json").stdout) == []
    assert {s["ticket_external_id"]: s["state"] for s in db.rows("SELECT * FROM surveys")} == \
        {str(poison.id): "sent", str(good.id): "sent"}
    assert Counter(m["To"].addresses[0].addr_spec for m in sink.messages) == \
        {"customer0@example.com": 1, "customer1@example.com": 1}
