"""Solve → survey → mail, as plain functions on the real database and a real SMTP server.
The Zendesk API is mocked at the HTTP boundary with `responses`."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from ces.worker.db.models import EventState, Survey, SurveyAttempt, SurveyState, WebhookEvent
from ces.worker.events import process_event
from ces.worker.scheduler import tick
from ces.worker.surveys.send import send_survey
from tests.conftest import connector_table
from tests.pipeline import ZENDESK, Clock, deliver, drained_survey, events, mock_ticket, receive, status_body, surveys
from tests.support import POSTGRESQL_ONLY, SQLITE_ONLY, cli

TICKET = f"{ZENDESK}/api/v2/tickets/5158.json"


def sent_once_due(rt, queue, clock, sink, survey_id: int, *, after: int) -> None:
    """A survey not yet due is left alone; `after` seconds later the scheduler queues it and it is sent once."""
    assert send_survey(rt, survey_id) is None
    clock.advance(after)
    assert tick(rt)["surveys"] == 1
    queue.drain(rt)
    assert surveys(rt)[0].state == SurveyState.SENT and len(sink.messages) == 1


def test_a_solve_sends_one_ces_mail_in_the_requesters_language(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)  # María's Zendesk locale is "es"
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.SENT and survey.sent_at
    assert (survey.email, survey.name, survey.assignee, survey.group_name, survey.channel) == (
        "maria.garcia@example.com", "María García", "Priya Patel", "Billing", "email")
    assert (survey.assignee_id, survey.assignee_email) == ("8447388090495", "priya@acme.test")
    assert survey.expires_at - survey.sent_at == timedelta(days=28)
    [mail] = sink.messages
    assert mail["To"] == "María García <maria.garcia@example.com>"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Reply-To"] == "support@acme.test"
    assert mail["Message-ID"] == survey.message_id
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert mail["Subject"] == "¿Le resultó fácil obtener ayuda con su solicitud #5158?"
    assert "Acme me facilitó la gestión de mi problema." in text and survey.locale == "es"
    links = re.findall(r"http://127\.0\.0\.1:\d+/s/([\w-]+)/(\d)", text)
    assert [int(score) for _, score in links] == [1, 2, 3, 4, 5, 6, 7]
    assert {token for token, _ in links} == {survey.token} and len(survey.token) >= 43
    assert all(f"/s/{survey.token}/{n}" in html for n in range(1, 8))
    assert "Totalmente en desacuerdo" in html and "Totalmente de acuerdo" in html and "<script" not in html


def test_the_same_solve_told_twice_gives_one_survey(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-event")
    receive(rt, "trigger_solved.json", "inv-trigger")  # the trigger tells the same solve
    queue.drain(rt)
    assert len(surveys(rt)) == 1 and len(sink.messages) == 1
    assert [e.outcome.split(";")[0] for e in events(rt)] == ["solve #1 recorded", "solve #1 already recorded"]


def test_closed_after_solved_is_not_a_new_solve(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    receive(rt, "x", "inv-2", body=status_body("closed", "solved"))
    queue.drain(rt)
    assert len(surveys(rt)) == 1


def test_closed_without_a_recorded_solve_counts_as_one(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api, status="closed")
    receive(rt, "x", "inv-1", body=status_body("closed", "open"))
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.SENT


def test_a_reopen_before_the_send_cancels_the_survey(config, make_rt, queue, sink, zendesk_api):
    config.write(survey="delay_seconds = 3600")
    rt = make_rt()
    receive(rt, "status_changed_solved.json", "inv-1")
    receive(rt, "status_changed_reopened.json", "inv-2")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.CANCELLED and "reopened" in survey.reason
    assert sink.messages == []


def test_a_ticket_reopened_by_send_time_gets_no_survey(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api, status="open")
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.SKIPPED and "reopened" in survey.reason
    assert sink.messages == []


def test_out_of_order_events_change_nothing(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    receive(rt, "x", "inv-new", body=status_body("solved", "open", time="2026-11-23T10:00:00Z"))
    receive(rt, "x", "inv-old", body=status_body("open", "solved", time="2026-11-23T09:00:00Z"))
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.SENT
    assert events(rt)[1].outcome.startswith("stale")


def test_a_pending_change_told_after_the_solve_is_not_a_reopen(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    receive(rt, "x", "inv-solve", body=status_body("solved", "pending", time="2026-11-23T10:00:00Z"))
    receive(rt, "x", "inv-pend", body=status_body("pending", "open", time="2026-11-23T10:00:00Z"))
    queue.drain(rt)
    assert surveys(rt)[0].state == SurveyState.SENT


def test_changes_by_our_own_api_user_are_ignored(rt, queue, sink, zendesk_api):
    import json

    body = json.loads(status_body("solved", "open"))
    body["detail"]["actor_id"] = "8447388090400"  # api_user_id in the test configuration
    receive(rt, "x", "inv-own", body=json.dumps(body).encode())
    queue.drain(rt)
    assert surveys(rt) == [] and events(rt)[0].state == EventState.IGNORED


def test_api_404_fails_the_survey_with_the_reason(rt, queue, sink, zendesk_api):
    zendesk_api.get(TICKET, status=404, json={"error": "RecordNotFound", "description": "Not found"})
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.FAILED and "404" in survey.reason
    assert len(zendesk_api.calls) == 1 and sink.messages == []


def test_api_429_waits_for_retry_after(config, make_rt, clock, queue, sink, zendesk_api):
    rt = make_rt(clock=clock)
    zendesk_api.get(TICKET, status=429, headers={"Retry-After": "30"})
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.PENDING and "429" in survey.reason
    assert survey.send_after == clock.now + timedelta(seconds=30)
    sent_once_due(rt, queue, clock, sink, survey.id, after=31)  # not yet due: nothing happens before


def test_a_temporary_smtp_refusal_is_retried(config, make_rt, clock, queue, sink, zendesk_api):
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    sink.refuse_next(1, "451 4.7.1 Greylisted, try again")
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.PENDING and "451" in survey.reason
    clock.advance(1)
    tick(rt)
    queue.drain(rt)
    assert surveys(rt)[0].state == SurveyState.SENT and len(sink.messages) == 1
    with rt.transaction() as s:
        outcomes = [a.outcome for a in s.query(SurveyAttempt).order_by(SurveyAttempt.number)]
    assert outcomes == ["retry", "sent"]


def test_a_permanent_smtp_refusal_fails_the_survey(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    sink.refuse_next(1, "550 5.1.1 No such user")
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.FAILED and "550" in survey.reason


def test_a_failed_survey_is_sent_again_once_the_admin_has_fixed_the_cause(config, make_rt, clock, queue, sink,
                                                                         zendesk_api, capsys):
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    sink.refuse_next(1, "550 5.7.1 Sender not authorised")  # e.g. the relay's credentials were wrong
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.FAILED and sink.messages == []
    assert cli(capsys, "surveys", "resend", str(survey.id)) == (0, f"survey {survey.id} queued again\n", "")
    clock.catch_up()
    tick(rt)  # the resend is due now: the scheduler queues it if the broker message is not ours to take
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.SENT and len(sink.messages) == 1
    assert survey.reason is None and survey.attempts == 2
    code, out, err = cli(capsys, "surveys", "resend", str(survey.id), "999")
    assert (code, out) == (1, "")
    assert err == (f"ces: survey {survey.id} is sent: only failed or uncertain ones are sent again; no survey 999\n")
    clock.advance(60)
    tick(rt)
    queue.drain(rt)
    assert len(sink.messages) == 1


def test_an_uncertain_survey_is_resent_only_when_the_admin_says_it_did_not_arrive(config, make_rt, clock, queue, sink,
                                                                                 zendesk_api, capsys):
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.events_only(rt)  # the event: the survey is created, its send not run
    queue.items.clear()
    [survey] = surveys(rt)
    with rt.transaction() as s:  # a worker died between the SMTP hand-over and its commit
        s.execute(update(Survey).where(Survey.id == survey.id).values(
            state=SurveyState.UNCERTAIN, attempts=1, reason="the worker stopped while sending"))
    code, out, err = cli(capsys, "surveys", "resend", str(survey.id))
    assert (code, out) == (1, "") and "is uncertain: it may have arrived" in err and "--uncertain" in err
    assert surveys(rt)[0].state == SurveyState.UNCERTAIN
    assert cli(capsys, "surveys", "resend", "--uncertain", str(survey.id))[0] == 0
    clock.catch_up()
    tick(rt)
    queue.drain(rt)
    assert surveys(rt)[0].state == SurveyState.SENT and len(sink.messages) == 1


def test_a_failed_survey_of_a_reopened_solve_is_not_resent(config, make_rt, clock, queue, sink, zendesk_api, capsys):
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    sink.refuse_next(1, "550 5.1.1 No such user")
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.FAILED
    clock.advance(60)
    receive(rt, "status_changed_reopened.json", "inv-2")
    queue.drain(rt)
    code, _, err = cli(capsys, "surveys", "resend", str(survey.id))
    assert (code, err) == (1, f"ces: survey {survey.id} is for solve #1 of ticket 5158, which was reopened since: "
                              "a later solve has its own survey\n")
    assert surveys(rt)[0].state == SurveyState.FAILED


def test_an_answered_survey_is_never_resent(rt, queue, sink, zendesk_api, capsys):
    from ces.worker.surveys.answers import record_answer

    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    record_answer(rt, survey.token, 6, None, how="form")
    with rt.transaction() as s:  # marked uncertain, yet the customer answered: the mail arrived
        s.execute(update(Survey).where(Survey.id == survey.id).values(state=SurveyState.UNCERTAIN))
    code, _, err = cli(capsys, "surveys", "resend", "--uncertain", str(survey.id))
    assert (code, err) == (1, f"ces: survey {survey.id} was answered: its mail arrived\n")


def test_smtp_down_is_retried_then_failed_and_a_resend_gets_a_whole_retry_budget(config, make_rt, clock, queue, sink,
                                                                                 zendesk_api, capsys):
    config.write(smtp_port=1)  # the relay is unreachable until the admin fixes the configuration
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    for _ in range(3):
        clock.advance(5)
        tick(rt)
        survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.FAILED and "cannot reach the mail server" in survey.reason
    assert survey.attempts == 3  # max_attempts in the test configuration
    config.write(smtp_port=sink.port)
    rt = make_rt(clock=clock)
    sink.refuse_next(1, "451 4.3.0 Try again later")  # the first try after the fix meets a busy relay
    assert cli(capsys, "surveys", "resend", str(survey.id))[0] == 0
    clock.catch_up()
    tick(rt)
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.PENDING and "451" in survey.reason  # retried, not given up
    clock.advance(60)
    tick(rt)
    queue.drain(rt)
    assert surveys(rt)[0].state == SurveyState.SENT and len(sink.messages) == 1


def test_no_requester_email_is_skipped(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api, email=None)
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.SKIPPED and "e-mail" in survey.reason


def test_dry_run_decides_and_sends_nothing(config, make_rt, queue, sink, zendesk_api):
    config.write(extra="dry_run = true\n", smtp_port=sink.port)
    rt = make_rt()
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    survey = drained_survey(rt, queue)
    assert survey.state == SurveyState.SKIPPED and "dry run" in survey.reason and sink.messages == []


def test_concurrent_sends_of_one_survey_send_one_mail(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.events_only(rt)  # process the event only
    [(task, survey_id)] = list(queue.items)
    threads = [threading.Thread(target=send_survey, args=(rt, survey_id)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sink.messages) == 1 and surveys(rt)[0].state == SurveyState.SENT


def left_by_a_dead_worker(rt, queue, clock, state: str) -> int:
    """A solve's survey, queued; a worker took it to `state` (attempt 1, leased for 5 s) and died there."""
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.events_only(rt)
    [(_, survey_id)] = list(queue.items)
    with rt.transaction() as s:
        s.execute(update(Survey).where(Survey.id == survey_id).values(
            state=state, attempts=1, lease_until=clock.now + timedelta(seconds=5)))
    return survey_id


def test_a_worker_dying_after_the_handover_leaves_the_survey_uncertain(config, make_rt, clock, queue, sink,
                                                                         zendesk_api):
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api, status="solved")
    # A worker claimed it and handed it to the mail server, then died before recording it.
    survey_id = left_by_a_dead_worker(rt, queue, clock, SurveyState.SENDING)
    clock.advance(6)
    assert tick(rt)["uncertain"] == 1
    assert send_survey(rt, survey_id) is None
    [survey] = surveys(rt)
    assert survey.state == SurveyState.UNCERTAIN and sink.messages == []


def test_a_worker_dying_before_the_handover_is_retried(config, make_rt, clock, queue, sink, zendesk_api):
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    survey_id = left_by_a_dead_worker(rt, queue, clock, SurveyState.PREPARING)
    queue.items.clear()
    sent_once_due(rt, queue, clock, sink, survey_id, after=6)  # leased by the (dead) worker until then


def test_a_poison_event_is_parked_as_failed_and_replayable(config, make_rt, clock, queue, sink, zendesk_api):
    rt = make_rt(clock=clock)
    [event_id] = receive(rt, "status_changed_solved.json", "inv-1")
    with rt.transaction() as s:  # a stored event the handler cannot process
        s.execute(update(WebhookEvent).where(WebhookEvent.id == event_id).values(status="bogus"))
    for _ in range(3):
        queue.drain(rt)
        clock.advance(1)
        tick(rt)
    [event] = events(rt)
    assert event.state == EventState.FAILED and event.attempts == 3 and "bogus" in event.error
    assert process_event(rt, event_id) is None  # failed events are not picked up again by themselves
    with rt.transaction() as s:
        s.execute(update(WebhookEvent).where(WebhookEvent.id == event_id).values(status="solved"))
    from ces.worker.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["events", "replay", str(event_id)])
    assert exit_.value.code == 0
    mock_ticket(zendesk_api)
    queue.drain(rt)  # the replay enqueued through the configured broker; the scheduler would too
    clock.advance(1)
    tick(rt)
    queue.drain(rt)
    assert events(rt)[0].state == EventState.DONE and surveys(rt)[0].state == SurveyState.SENT


@POSTGRESQL_ONLY
def test_an_event_is_claimed_applied_and_closed_in_one_transaction(rt, queue, monkeypatch):
    """A failure while applying undoes the claim with the change: nothing half-done, the attempt
    counted, the event waiting for its next try. A second worker's claim waits for the first
    worker's transaction and then finds the event done: one solve, one survey."""
    import ces.worker.events as events_module

    [event_id] = receive(rt, "status_changed_solved.json", "inv-1")
    real = events_module.create_survey

    def broken(*args, **kwargs):
        raise RuntimeError("survey insert failed")
    monkeypatch.setattr(events_module, "create_survey", broken)
    assert process_event(rt, event_id) is None
    [event] = events(rt)
    assert (event.state, event.attempts, event.lease_until) == (EventState.RECEIVED, 1, None)
    assert "survey insert failed" in event.error and event.next_try_at is not None
    with rt.engine.connect() as db:  # the ticket's solve was undone with the claim
        assert db.scalar(text("SELECT count(*) FROM solves")) == 0

    inside, release = threading.Event(), threading.Event()

    def slow(*args, **kwargs):
        inside.set()
        release.wait(10)
        return real(*args, **kwargs)
    monkeypatch.setattr(events_module, "create_survey", slow)
    with rt.transaction() as s:
        s.execute(update(WebhookEvent).values(next_try_at=None))
    first: list = []
    worker = threading.Thread(target=lambda: first.append(process_event(rt, event_id)))
    worker.start()
    assert inside.wait(10)
    second: list = []
    other = threading.Thread(target=lambda: second.append(process_event(rt, event_id)))
    other.start()
    other.join(0.5)
    assert other.is_alive()  # its claim waits on the first worker's uncommitted one
    release.set()
    worker.join(10)
    other.join(10)
    assert first[0].startswith("solve #1 recorded") and second == [None]
    [event] = events(rt)
    assert (event.state, event.attempts) == (EventState.DONE, 2) and len(surveys(rt)) == 1


def test_jobs_due_together_go_four_to_a_message_and_each_runs_once(rt, queue):
    from ces.worker.db.models import Job, JobKind
    from ces.worker.jobs import RUN_JOBS, schedule_all
    from ces.worker.tickets import lock_ticket

    with rt.transaction() as s:
        pks = [lock_ticket(s, "zendesk-main", str(9000 + n), rt.now()).id for n in range(9)]
        schedule_all(s, [(JobKind.RECHECK, pk, rt.now()) for pk in pks])
    queue.items.clear()
    assert tick(rt)["jobs"] == 9
    messages = [ids for task, ids in queue.items if task == RUN_JOBS]
    assert [len(ids) for ids in messages] == [4, 4, 1] and sorted(sum(messages, [])) == sorted(
        rt_job_ids(rt, JobKind.RECHECK))
    assert tick(rt)["jobs"] == 0  # queued: not handed out again before requeue_after_seconds
    queue.drain(rt)
    queue.items.extend((RUN_JOBS, ids) for ids in messages)  # delivered again: nothing runs twice
    queue.drain(rt)
    assert rt_job_ids(rt, JobKind.RECHECK) == []
    with rt.transaction() as s:  # each re-check ran once: one collect job per ticket, first version
        assert sorted(s.execute(select(Job.ticket_pk, Job.version).where(Job.kind == JobKind.COLLECT)).all()) == [
            (pk, 1) for pk in sorted(pks)]


def rt_job_ids(rt, kind: str) -> list[int]:
    from ces.worker.db.models import Job

    with rt.transaction() as s:
        return list(s.scalars(select(Job.id).where(Job.kind == kind)))


@SQLITE_ONLY
def test_an_idle_sweep_on_sqlite_takes_the_write_lock_only_to_settle_answers(rt):
    """SQLite has one writer: the scheduler's once-a-second looks that find nothing must not take the
    write lock that intake's webhooks wait for. Only settling answers (a read that locks what it
    may change) still does."""
    from sqlalchemy import event

    begins: list[str] = []

    def seen(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            begins.append(statement)
    tick(rt)  # the first sweep also looks whether a refit is due
    event.listen(rt.engine, "before_cursor_execute", seen)
    try:
        tick(rt)
    finally:
        event.remove(rt.engine, "before_cursor_execute", seen)
    assert begins.count("BEGIN IMMEDIATE") == 1 and begins.count("BEGIN") >= 6, begins


def test_only_one_scheduler_sweeps(rt):
    from ces.worker.scheduler import Leadership

    first, second = Leadership(rt, ttl_seconds=5, me="host-a:1"), Leadership(rt, ttl_seconds=5, me="host-b:2")
    assert first.holds() and not second.holds()
    assert first.holds()  # renews its lease
    first.client.delete(first.key)  # the leader is gone (its lease ran out)
    assert second.holds() and not first.holds()


def test_freshdesk_an_identical_body_is_a_retry_within_the_window_and_a_new_solve_after_it(config, make_rt, queue,
                                                                                           sink, monkeypatch):
    """{{ticket.modified_on}} rendering empty: a ticket solved, reopened and solved again sends the
    same body twice. Within Freshdesk's retry span it is a retry; after it, a second solve."""
    from ces.connectors.freshdesk.connector import DELIVERY_WINDOW
    from tests.simulators.freshdesk import FreshdeskSimulator

    sim = FreshdeskSimulator(api_key="fd-key", secret="fd-secret").start()
    try:
        monkeypatch.setenv("TEST_FD_KEY", "fd-key")
        monkeypatch.setenv("TEST_FD_SECRET", "fd-secret")
        config.write(connectors=connector_table("freshdesk", base_url=sim.url, api_key_env="TEST_FD_KEY",
                                                webhook_secret_env="TEST_FD_SECRET"),
                     survey="resurvey_after_reopen = true\nfatigue_days = 0")
        clock = Clock()
        rt = make_rt(clock=clock)
        ticket = sim.tickets[sim.create_ticket(sim.add_contact("Ana Souza", "ana@example.com"), "Refund").id]

        def change(status: int) -> list[int | None]:
            previous = ticket.status
            sim.set_status(ticket.id, status, send=False)
            return send(sim.status_body(ticket, previous))

        def send(body: dict) -> list[int | None]:
            raw = json.dumps({**body, "updated_at": ""}).encode()  # modified_on rendered empty
            return deliver(rt, "freshdesk-main", raw, sim.headers())

        [first] = change(4)
        solved = sim.status_body(ticket, 2)
        queue.drain(rt)
        clock.advance(95 * 60)  # Freshdesk's last retry: 5 + 30 + 60 minutes after the first failure
        assert send(solved) == [None]  # the same body within the window: a retry, nothing new
        clock.advance(10 * 60)
        [reopen] = change(2)
        queue.drain(rt)
        clock.advance(DELIVERY_WINDOW.total_seconds())
        [second] = change(4)  # the very same body again, after the window: a new change
        assert {**sim.status_body(ticket, 2), "updated_at": ""} == {**solved, "updated_at": ""}
        assert None not in (first, reopen, second)
        queue.drain(rt)
        assert [e.outcome.split(";")[0] for e in events(rt)] == [
            "solve #1 recorded", "reopen after solve #1", "solve #2 recorded"]
        assert [s.state for s in surveys(rt)] == [SurveyState.SENT, SurveyState.SENT]
        assert len(sink.messages) == 2
    finally:
        sim.stop()


def two_solves_in_one_message(rt, queue) -> list[int]:
    """Tickets 5158 and 5159 solved, their events in one message, as intake's group commit sends them."""
    receive(rt, "status_changed_solved.json", "inv-1")
    receive(rt, "x", "inv-2", body=status_body("solved", "open", ticket_id="5159"))
    ids = [event_id for _, event_id in queue.items]
    queue.items.clear()
    queue.items.append(("ces.process_events", ids))
    return ids


def test_an_event_message_sends_its_last_survey_itself_and_queues_the_others(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    mock_ticket(zendesk_api, "5159", email="li.wei@example.com", name="Li Wei")
    two_solves_in_one_message(rt, queue)
    queue.drain(rt, limit=1)
    # The last survey sent by the event's task (a message fewer), the other queued: no event of a
    # batch waits on a send.
    assert [s.state for s in surveys(rt)] == [SurveyState.PENDING, SurveyState.SENT]
    assert [task for task, _ in queue.items] == ["ces.send_survey"]
    queue.drain(rt)
    assert [s.state for s in surveys(rt)] == [SurveyState.SENT] * 2 and len(sink.messages) == 2


def test_a_message_of_events_failing_midway_queues_the_surveys_of_the_events_done(rt, queue, sink, zendesk_api,
                                                                                 monkeypatch):
    from ces.worker import tasks

    mock_ticket(zendesk_api)
    ids = two_solves_in_one_message(rt, queue)
    process = tasks.process_event

    def database_gone_at_the_second(rt, event_id, due):
        if event_id == ids[1]:
            raise OperationalError("UPDATE webhook_events", {}, Exception("server closed the connection"))
        return process(rt, event_id, due)

    monkeypatch.setattr(tasks, "process_event", database_gone_at_the_second)
    with pytest.raises(OperationalError):
        queue.drain(rt, limit=1)
    [survey] = surveys(rt)
    assert list(queue.items) == [("ces.send_survey", survey.id)]  # queued at once, not left for the sweep
