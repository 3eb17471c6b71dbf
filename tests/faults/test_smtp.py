"""The mail server down or refusing: down and 4xx are retried and sent once it takes the message;
5xx, and a 4xx that never ends, fail with the server's reason. No survey is ever dropped silently:
each ends sent or failed with a reason."""

from __future__ import annotations

import json

import pytest

from ces.worker.demo.smtp_sink import MailSink
from tests.support import free_port, wait_until

pytestmark = pytest.mark.slow

MAX_ATTEMPTS = 5
# Backoff 0.15 s … 0.6 s between tries: about 2 s of patience in all.
ENV = {"CES_WORKER__MAX_ATTEMPTS": str(MAX_ATTEMPTS), "CES_WORKER__RETRY_BASE_SECONDS": "0.3",
       "CES_WORKER__RETRY_MAX_SECONDS": "0.6"}


@pytest.fixture
def mail_port():
    return free_port()


@pytest.fixture
def late_sink(mail_port):
    sinks: list[MailSink] = []
    yield lambda: sinks.append(MailSink(port=mail_port).start()) or sinks[0]
    for s in sinks:
        s.stop()


def details(db, ticket) -> list[tuple[str, str | None]]:
    survey = db.survey(ticket.id)
    return [(a["outcome"], a["detail"]) for a in db.attempts(survey["id"])]


def test_smtp_down_then_4xx_then_5xx(launch, hooks, db, mail_port, late_sink):
    svc = launch(env=ENV, smtp_port=mail_port)  # nothing listens there yet
    down, greylisted, rejected, full = (hooks.customer_ticket(i) for i in range(4))

    # Down: retried while nothing listens, sent once the server is back.
    assert hooks.solve(down).status_code == 202
    retries = ("SELECT count(*) FROM survey_attempts a JOIN surveys s ON s.id = a.survey_id "
               "WHERE s.ticket_external_id = :t AND a.outcome = 'retry'")
    wait_until(lambda: db.scalar(retries, t=str(down.id)) >= 2, 10, 0.02, "two failed tries at an unreachable server")
    assert db.survey(down.id)["state"] in ("pending", "preparing")
    sink = late_sink()
    wait_until(lambda: db.state_of(down.id) == "sent", 10, 0.05, "the survey sent once the server is back")
    tries = details(db, down)
    assert tries[-1] == ("sent", None) and len(tries) >= 3
    assert set(tries[:-1]) == {("retry", f"retrying: cannot reach the mail server 127.0.0.1:{mail_port}: "
                                         "ConnectionRefusedError")}
    assert len(sink.messages) == 1

    # 4xx (greylisting): retried, then sent.
    sink.refuse_next(2, "451 4.7.1 Greylisted, try again later")
    assert hooks.solve(greylisted).status_code == 202
    wait_until(lambda: db.state_of(greylisted.id) == "sent", 10, 0.05, "the greylisted survey sent")
    assert details(db, greylisted) == [("retry", "retrying: mail server answered 451 4.7.1 Greylisted, try again "
                                                 "later")] * 2 + [("sent", None)]

    # 5xx: failed at once with the server's reason.
    sink.refuse_next(1, "550 5.1.1 Mailbox unavailable")
    assert hooks.solve(rejected).status_code == 202
    wait_until(lambda: db.state_of(rejected.id) == "failed", 10, 0.05, "the rejected survey failed")
    assert details(db, rejected) == [("failed", "mail server answered 550 5.1.1 Mailbox unavailable")]

    # 4xx for ever: bounded, then failed with the reason.
    sink.refuse_next(MAX_ATTEMPTS, "452 4.2.2 Mailbox full")
    assert hooks.solve(full).status_code == 202
    wait_until(lambda: db.state_of(full.id) == "failed", 20, 0.05, "the survey to a full mailbox failed")
    reason = f"gave up after {MAX_ATTEMPTS} attempts: mail server answered 452 4.2.2 Mailbox full"
    assert details(db, full) == [("retry", "retrying: mail server answered 452 4.2.2 Mailbox full")] * \
        (MAX_ATTEMPTS - 1) + [("failed", reason)]
    assert not sink.refusals  # every refusal was met by a try

    wait_until(db.quiet, 20, 0.1, "everything done")
    surveys = {s["ticket_external_id"]: (s["state"], s["reason"]) for s in db.rows("SELECT * FROM surveys")}
    assert surveys == {str(down.id): ("sent", None), str(greylisted.id): ("sent", None),
                       str(rejected.id): ("failed", "mail server answered 550 5.1.1 Mailbox unavailable"),
                       str(full.id): ("failed", reason)}
    assert sorted(m["To"].addresses[0].addr_spec for m in sink.messages) == \
        ["customer0@example.com", "customer1@example.com"]
    listed = svc.cli("surveys", "--failed", "--format", "json")
    assert [(r["ticket"], r["state"], r["reason"]) for r in json.loads(listed.stdout)] == [
        (str(full.id), "failed", reason),
        (str(rejected.id), "failed", "mail server answered 550 5.1.1 Mailbox unavailable")]
