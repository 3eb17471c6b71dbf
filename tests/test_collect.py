"""Signals for every solved ticket: collected after the solve, assessed, re-assessed when an answer
arrives, completed later when the helpdesk API fails, re-checked after the repeat window."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from ces.worker.db.models import AssessmentRecord, Job, Ticket, TicketHistoryRecord, TicketSignalsRecord
from ces.worker.scheduler import tick
from ces.worker.surveys.answers import record_answer
from tests.conftest import ZENDESK_EU
from tests.pipeline import ZENDESK, Clock, mock_history, mock_ticket, receive, status_body, surveys, ticket_json


def run_due(rt, queue, clock=None, rounds=3):
    for _ in range(rounds):
        tick(rt)
        queue.drain(rt)


def assessment(rt, ticket_pk=1) -> AssessmentRecord | None:
    with rt.transaction() as s:
        return s.get(AssessmentRecord, ticket_pk)


def signals_row(rt, ticket_pk=1) -> TicketSignalsRecord | None:
    with rt.transaction() as s:
        return s.get(TicketSignalsRecord, ticket_pk)


@pytest.fixture
def clock():
    # The solved-ticket fixture's own time: its re-check (solve + 7 days) stays ahead, whatever today is.
    return Clock(datetime(2026, 11, 23, 10, 15, 50, tzinfo=timezone.utc))


@pytest.fixture
def rt(make_rt, clock):
    return make_rt(clock=clock)


def test_a_solve_is_collected_stored_and_assessed(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    run_due(rt, queue)
    sig = signals_row(rt)
    assert (sig.group_transfers, sig.assignee_transfers, sig.repeat_contacts, sig.channel_switch) == (1, 1, 1, True)
    result = assessment(rt)
    assert result.basis == "signals" and result.level in ("medium", "high")
    codes = result.reason_codes.split(",")
    assert {"group_transfers", "repeat_contact", "channel_switch"} <= set(codes)
    with rt.transaction() as s:
        stored = s.get(TicketHistoryRecord, 1)
        jobs = s.scalars(select(Job.kind)).all()
        agent = s.get(Ticket, 1).assignee_email  # how an agent finds a ticket that had no survey
    assert agent == "priya@acme.test"
    assert len(stored.history["entries"]) == 14 and stored.contacts[0]["id"] in ("5158", "5140")
    assert jobs == ["recheck"]  # the collect is done; the re-check waits for the window


def test_an_answer_reassesses_without_calling_the_helpdesk(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    run_due(rt, queue)
    calls = len(zendesk_api.calls)
    record_answer(rt, surveys(rt)[0].token, 2, how="form")
    run_due(rt, queue)
    result = assessment(rt)
    assert (result.level, result.basis, result.survey_id) == ("high", "survey", surveys(rt)[0].id)
    assert result.reasons[0]["text"] == "answered 2 of 7 (Disagree)"
    assert len(zendesk_api.calls) == calls


def test_tickets_without_a_survey_are_assessed_too(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api, email=None)  # no survey: no e-mail
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    run_due(rt, queue)
    assert surveys(rt)[0].state == "skipped" and assessment(rt).basis == "signals"


def test_an_api_timeout_gives_a_partial_assessment_completed_later(rt, queue, sink, zendesk_api, clock):
    mock_ticket(zendesk_api)
    base = f"{ZENDESK}/api/v2/tickets/5158"
    zendesk_api.get(f"{base}/metrics.json", body=requests.ConnectTimeout("connect timed out"))
    receive(rt, "status_changed_solved.json", "inv-1")
    run_due(rt, queue)
    first = assessment(rt)
    assert first is not None and first.partial
    with rt.transaction() as s:
        job = s.scalars(select(Job).where(Job.kind == "collect")).one()
    assert "helpdesk unreachable (timeout while connecting)" in job.last_error  # the cause in words
    zendesk_api.replace("GET", f"{base}/metrics.json", json={"ticket_metric": {}})
    mock_history(zendesk_api)
    clock.advance(10)
    run_due(rt, queue)
    done = assessment(rt)
    assert not done.partial and "group_transfers" in done.reason_codes


def test_a_429_on_the_history_read_waits_for_retry_after_then_completes(rt, queue, sink, zendesk_api, clock):
    mock_ticket(zendesk_api)
    metrics = f"{ZENDESK}/api/v2/tickets/5158/metrics.json"
    zendesk_api.get(metrics, status=429, headers={"Retry-After": "30"}, json={"error": "TooManyRequests"})
    receive(rt, "status_changed_solved.json", "inv-1")
    run_due(rt, queue)
    assert assessment(rt).partial
    with rt.transaction() as s:
        job = s.scalars(select(Job).where(Job.kind == "collect")).one()
    assert job.state == "due" and job.due_at == clock.now + timedelta(seconds=30) and "429" in job.last_error
    calls = len([c for c in zendesk_api.calls if c.request.url.startswith(metrics)])
    clock.advance(29)
    run_due(rt, queue)  # still inside Retry-After: the helpdesk is not asked again
    assert len([c for c in zendesk_api.calls if c.request.url.startswith(metrics)]) == calls == 1
    zendesk_api.replace("GET", metrics, json={"ticket_metric": {}})
    mock_history(zendesk_api)
    clock.advance(2)
    run_due(rt, queue)
    assert not assessment(rt).partial


def test_the_recheck_finds_a_contact_on_another_helpdesk_after_the_solve(config, make_rt, queue, sink, zendesk_api,
                                                                          clock):
    config.write(extra=ZENDESK_EU)
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    run_due(rt, queue)
    assert "not_resolved_first_time" not in assessment(rt).reason_codes
    # Two days later the same customer (other case in the address) calls the EU helpdesk.
    clock.advance(2 * 86400)
    eu = ticket_json("901", email="MARIA.GARCIA@example.com", channel="voice")
    eu["ticket"]["created_at"] = clock.now.isoformat().replace("+00:00", "Z")
    zendesk_api.get("https://acme-eu.zendesk.com/api/v2/tickets/901.json", json=eu)
    for path in ("metrics", "audits"):
        zendesk_api.get(f"https://acme-eu.zendesk.com/api/v2/tickets/901/{path}.json", status=404, json={})
    zendesk_api.get("https://acme-eu.zendesk.com/api/v2/users/8447388090494/tickets/requested.json",
                    json={"tickets": [], "next_page": None})
    receive(rt, "x", "inv-eu", body=status_body("solved", "open", ticket_id="901"), connector="zendesk-eu")
    run_due(rt, queue)
    # The EU ticket sees the earlier Zendesk ticket as a repeat contact by e-mail …
    with rt.transaction() as s:
        eu_ticket = s.execute(select(TicketSignalsRecord).where(TicketSignalsRecord.ticket_pk == 2)).scalar_one()
    assert eu_ticket.repeat_contacts == 1 and eu_ticket.channel_switch
    # … and once the window is over, the first ticket learns it was not resolved the first time.
    clock.advance(6 * 86400)
    run_due(rt, queue, rounds=4)
    assert "not_resolved_first_time" in assessment(rt).reason_codes


def test_rebuild_recomputes_from_the_stored_histories(rt, queue, sink, zendesk_api, config, capsys):
    from ces.worker.cli import main

    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    run_due(rt, queue)
    before = assessment(rt).effort_index
    calls = len(zendesk_api.calls)
    config.write(extra="", survey="")
    text = config.path.read_text().replace("[worker]", "[effort]\ngroup_transfer = 40\n\n[worker]")
    config.path.write_text(text)
    since = (rt.now() - timedelta(days=1)).date().isoformat()
    with pytest.raises(SystemExit) as done:
        main(["signals", "rebuild", "--since", since])
    assert done.value.code == 0 and "rebuilt 1 of 1 tickets" in capsys.readouterr().out
    assert len(zendesk_api.calls) == calls
    with rt.transaction() as s:
        assert s.get(AssessmentRecord, 1).effort_index == min(100, before + 25)


def test_flags_and_the_report_by_signal(rt, queue, sink, zendesk_api, capsys):
    from ces.worker.cli import main

    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    run_due(rt, queue)
    record_answer(rt, surveys(rt)[0].token, 2, how="form")
    run_due(rt, queue)
    with pytest.raises(SystemExit):
        main(["flags", "--format", "json"])
    [flag] = json.loads(capsys.readouterr().out)
    assert flag["ticket_id"] == "5158" and flag["level"] == "high" and flag["reasons"][0] == "low_answer"
    with pytest.raises(SystemExit):
        main(["report", "--by", "signal", "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    rows = {(r["signal"], r["value"]): r for r in result["rows"]}
    assert result["high_effort_tickets"] == 1
    assert rows[("transfers", "2+")]["responses"] == 1 and rows[("transfers", "2+")]["ces"] == 0.0
    assert rows[("channel_switch", "yes")]["high_effort_share"] == 1.0
    assert rows[("reopened", "no")]["surveys_sent"] == 1
    with pytest.raises(SystemExit):
        main(["report", "--by", "signal"])
    assert "high_effort_share" in capsys.readouterr().out


def ticket_reads(api) -> int:
    return sum(1 for c in api.calls if c.request.url.split("?")[0] == f"{ZENDESK}/api/v2/tickets/5158.json")


def test_the_send_collects_the_signals_with_the_ticket_it_has_read(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)  # the event's task sends the survey, then collects: no sweep of the scheduler
    assert surveys(rt)[0].state == "sent" and signals_row(rt).group_transfers == 1
    assert ticket_reads(zendesk_api) == 1  # one read of the ticket serves the survey and the signals
    with rt.transaction() as s:
        assert s.scalars(select(Job.kind)).all() == ["recheck"]


def test_a_signals_job_another_worker_holds_is_left_to_it(rt, queue, sink, zendesk_api, clock):
    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.events_only(rt)  # the event: the survey is queued, the signals job due
    with rt.transaction() as s:  # a worker the scheduler gave the job to has claimed it
        s.execute(update(Job).where(Job.kind == "collect").values(state="running", attempts=1,
                                                                  lease_until=clock.now + timedelta(seconds=60)))
    queue.drain(rt)
    assert surveys(rt)[0].state == "sent" and signals_row(rt) is None and ticket_reads(zendesk_api) == 1
    clock.advance(61)  # that worker died: the job is taken over once its lease is over, and run once
    run_due(rt, queue)
    assert signals_row(rt).group_transfers == 1 and ticket_reads(zendesk_api) == 2


def test_the_survey_stays_sent_whatever_happens_to_its_signals_job(rt, queue, sink, zendesk_api, monkeypatch, capsys):
    from ces.worker import tasks

    def database_gone(*args, **kw):
        raise OperationalError("UPDATE jobs", {}, Exception("server closed the connection unexpectedly"))

    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    run_job_of_solve = tasks.run_job_of_solve
    monkeypatch.setattr(tasks, "run_job_of_solve", database_gone)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    assert surveys(rt)[0].state == "sent" and len(sink.messages) == 1 and signals_row(rt) is None
    assert "after_send_failed" in capsys.readouterr().err
    monkeypatch.setattr(tasks, "run_job_of_solve", run_job_of_solve)
    run_due(rt, queue)  # the scheduler's sweep finds the job due as usual
    assert signals_row(rt).group_transfers == 1 and len(sink.messages) == 1


def test_an_event_message_delivered_twice_sends_once_and_reads_the_ticket_once(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    message = queue.items[0]
    queue.drain(rt)
    queue.items.append(message)  # the broker gives it again (a worker lost before its ack)
    queue.drain(rt)
    assert len(sink.messages) == 1 and ticket_reads(zendesk_api) == 1 and signals_row(rt).group_transfers == 1


def test_a_ticket_changed_after_the_sends_read_is_read_again_for_its_signals(rt, queue, sink, zendesk_api, clock,
                                                                            monkeypatch):
    from ces.worker import tasks

    run_job_of_solve = tasks.run_job_of_solve

    def reopened_meanwhile(*args, **kw):  # between the send's read of the ticket and its collect
        clock.advance(1)
        receive(rt, "status_changed_reopened.json", "inv-2")
        queue.events_only(rt)
        return run_job_of_solve(*args, **kw)

    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    monkeypatch.setattr(tasks, "run_job_of_solve", reopened_meanwhile)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    assert surveys(rt)[0].state == "sent" and signals_row(rt) is not None
    assert ticket_reads(zendesk_api) == 2  # the reopen's collect reads the ticket as it is now
