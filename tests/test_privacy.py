"""Privacy and observability: erasing a customer, retention, metrics without personal data, and
logs that never carry a secret, a survey or alert token, or anything the customer wrote or is
called. (tests/test_erase.py searches the whole database after an erase and after retention.)"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import psycopg
import pytest
import requests
from sqlalchemy import select

from ces.worker.db.models import Answer, OptOut, Recipient, Survey, TicketHistoryRecord, WebhookEvent
from ces.worker.privacy import apply_retention
from ces.worker.queries.reports import ces_report
from ces.worker.queries.scope import Scope
from ces.worker.scheduler import tick
from ces.worker.surveys.answers import record_answer, unsubscribe
from ces.worker.web.app import create_app
from tests.alerts_data import LEAD_MAIL, NOTE, SLACK_ROUTE, alerts_section
from tests.pipeline import mock_history, mock_ticket, receive, status_body, surveys
from tests.support import BROWSER, POSTGRESQL_ONLY, ZENDESK_SECRET, ZENDESK_TOKEN, ServedApp, Service, wait_until

pytestmark = POSTGRESQL_ONLY


@pytest.fixture
def rt(make_rt, clock):
    return make_rt(clock=clock)


def run(rt, queue):
    for _ in range(3):
        tick(rt)
        queue.drain(rt)


def test_erase_removes_the_person_and_keeps_the_counts(rt, queue, sink, zendesk_api, capsys):
    from ces.worker.cli import main

    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    run(rt, queue)
    record_answer(rt, surveys(rt)[0].token, 2, "Maria here: call me on +34 600 000 000", how="form")
    run(rt, queue)
    unsubscribe(rt, surveys(rt)[0].token)
    with pytest.raises(SystemExit) as done:
        main(["erase", "--email", " MARIA.GARCIA@example.com"])
    assert done.value.code == 0 and "surveys 1" in capsys.readouterr().out
    with rt.transaction() as s:
        survey = s.scalars(select(Survey)).one()
        answer = s.scalars(select(Answer)).one()
        assert (survey.email, survey.name, survey.email_hash, answer.comment, answer.score) == (None, None, None, None, 2)
        assert s.scalars(select(TicketHistoryRecord)).all() == []
        assert all(e.payload is None and e.ticket is None for e in s.scalars(select(WebhookEvent)))
        assert s.scalars(select(Recipient)).all() == []
        assert len(s.scalars(select(OptOut)).all()) == 1  # the opt-out outlives the address, as a keyed hash
    today = rt.now().date()
    row = ces_report(Scope.everything(), rt, today - timedelta(days=1), today + timedelta(days=1))["rows"][0]
    assert (row["surveys_sent"], row["responses"], row["mean"]) == (1, 1, 2.0)
    # The erased customer who opted out is still never surveyed.
    mock_ticket(zendesk_api, ticket_id="7000")
    receive(rt, "x", "inv-2", body=status_body("solved", "open", ticket_id="7000"))
    run(rt, queue)
    assert surveys(rt)[1].state == "skipped" and "unsubscribed" in surveys(rt)[1].reason


def test_retention_drops_raw_payloads_and_then_the_person_of_old_answers(config, make_rt, clock, queue, sink,
                                                                         zendesk_api):
    config.write(extra="\n[retention]\npayload_days = 30\nanswer_days = 365\n")
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    run(rt, queue)
    record_answer(rt, surveys(rt)[0].token, 6, "great", how="form")
    assert apply_retention(rt) == {"payloads": 0, "descriptions": 0, "answers": 0, "histories": 0, "notes": 0}
    clock.advance(31 * 86400)
    assert apply_retention(rt) == {"payloads": 1, "descriptions": 0, "answers": 0, "histories": 0, "notes": 0}
    with rt.transaction() as s:
        event = s.scalars(select(WebhookEvent)).one()
        assert event.payload is None and event.ticket_id == "5158" and event.status == "solved"
    clock.advance(365 * 86400)
    assert apply_retention(rt)["answers"] == 1
    with rt.transaction() as s:
        assert s.scalars(select(Answer.comment)).one() is None and s.scalars(select(Answer.score)).one() == 6


def test_metrics_show_states_lag_and_api_calls_without_personal_data(rt, queue, sink, zendesk_api, app_port):
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt, limit=2)
    with ServedApp(create_app(rt), app_port) as app:
        text = app.get("/metrics").text
    assert 'ces_surveys{state="sent"} 1.0' in text
    assert 'ces_helpdesk_api_calls_total{outcome="ok",service="zendesk"}' in text
    assert "ces_queue_lag_seconds" in text and "ces_events_pending 0.0" in text and "ces_broker_queue_length" in text
    assert "@" not in text.replace("'@'", "")  # no e-mail address anywhere


def test_errors_are_logged_by_type_and_place_never_by_what_they_quote(rt, capsys):
    """An error's text may quote its input: SQLAlchemy the statement's parameters, PostgreSQL the
    value it refused, Celery the exception's repr and traceback text. Logs say the type and where."""
    import logging

    import structlog
    from celery.app.trace import LOG_FAILURE
    from sqlalchemy import text

    from ces.worker import logs

    errors, comment = [], "".join(["okapi", "murmur"])  # not in this source: tracebacks show source lines
    for sql in ("SELECT x FROM no_such_table WHERE y = :v", "SELECT CAST(:v AS integer)"):
        with pytest.raises(Exception) as caught, rt.engine.connect() as conn:
            conn.execute(text(sql), {"v": comment})
        errors.append(caught.value)
    assert comment not in str(errors[0])  # the parameters are hidden (hide_parameters)
    assert comment in str(errors[1])  # the database itself quotes the value it refused
    logs.configure("DEBUG")
    try:
        capsys.readouterr()
        for error in errors:
            structlog.get_logger("ces.test").error("failed", exc_info=error)
            logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=error)
            context = {"hostname": "w", "id": "1", "name": "ces.send_survey", "exc": repr(error),
                       "traceback": f"Traceback … {error}", "args": "[1]", "kwargs": "{}",
                       "description": "raised unexpected", "internal": False}
            logging.getLogger("celery.app.trace").error(LOG_FAILURE, context, extra={"data": context},
                                                        exc_info=(type(error), error, error.__traceback__))
        err = capsys.readouterr().err
    finally:
        logs.configure("INFO")
    assert err.count("ProgrammingError") >= 3 and err.count("DataError") >= 3 and "test_privacy.py" in err
    assert comment not in err


EMAIL, FIRST, LAST = "Quilla_Marker.7@Example.ORG", "Quíllon", "Markerly"
SUBJECT, COMMENT = "Parrotsubject: my order", "okapimurmur\x00 was hard"
# Searched case-insensitively in the logs read as text (JSON escapes undone).
CUSTOMER = [EMAIL, EMAIL.split("@")[0], FIRST, LAST, "Parrotsubject", "okapimurmur"]


def readable(logs: str) -> str:
    """The logs with JSON's escapes undone (a name with an accent is logged as \\u00ed)."""
    lines = []
    for line in logs.splitlines():
        try:
            lines.append(json.dumps(json.loads(line), ensure_ascii=False))
        except ValueError:
            lines.append(line)
    return "\n".join(lines).casefold()


@pytest.mark.slow
def test_a_full_run_logs_no_secret_no_token_and_nothing_of_the_customer(config, sink, app_port, tmp_path,
                                                                        monkeypatch, zendesk):
    """At DEBUG, the whole pipeline with a mail server that first refuses quoting the address, a
    comment with a NUL (PostgreSQL refuses it in text: it was a 500 with the SQL parameters logged)."""
    slack_secret = "xoxbSeCrEtSlackPath0123456789"
    monkeypatch.setenv("TEST_SLACK_URL", f"{zendesk.url}/slack/{slack_secret}")
    config.write(smtp_port=sink.port, zendesk_url=zendesk.url,
                 extra=alerts_section(0, {"note": NOTE, "slack": SLACK_ROUTE, "mail": LEAD_MAIL}))
    text = config.path.read_text().replace('log_level = "WARNING"', 'log_level = "DEBUG"')
    config.path.write_text(text)
    zendesk.webhook_url = f"http://127.0.0.1:{app_port}/webhooks/zendesk-main"
    service = Service(config.env(), app_port, tmp_path).start(["serve", "--port", str(app_port)], ["worker"],
                                                            ["scheduler"])
    try:
        service.wait_ready()
        customer = zendesk.add_user(f"{FIRST} {LAST}", EMAIL, locale="en-US")
        ticket = zendesk.create_ticket(customer, SUBJECT)
        sink.refuse_next(1, f"451 4.2.2 <{EMAIL}>: mailbox busy, try again")
        zendesk.set_status(ticket.id, "solved")
        wait_until(lambda: len(sink.messages) == 1, 15, message="the survey")
        link = re.search(r"(http://\S+/s/([\w-]+))/2\b", sink.messages[0].get_body(("plain",)).get_content())
        survey_token = link.group(2)
        requests.get(f"{link.group(1)}/2", headers=BROWSER, timeout=10)
        answered = requests.post(link.group(1), data={"score": "2", "comment": COMMENT}, headers=BROWSER, timeout=10)
        assert answered.status_code == 200
        requests.get(f"{service.url}/u/{survey_token}", headers=BROWSER, timeout=10)
        wait_until(lambda: any(c.get("public") is False for c in zendesk.tickets[ticket.id].comments), 20,
                   message="the alert's note")
        note = next(c for c in zendesk.tickets[ticket.id].comments if c.get("public") is False)
        alert_tokens = re.findall(r"/a/([\w-]{40,})", note["body"])
        assert alert_tokens
        requests.get(f"{service.url}/a/{alert_tokens[0]}", timeout=10)
        requests.post(f"{service.url}/a/{alert_tokens[0]}", timeout=10)
    finally:
        service.stop()
    logs = "\n".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert '"path": "/s/<token>' in logs and '"path": "/a/<token>"' in logs  # the access log, redacted
    for secret in [ZENDESK_SECRET, ZENDESK_TOKEN, slack_secret, survey_token, *alert_tokens]:
        assert secret not in logs, f"{secret[:6]}… leaked into the logs"
    assert '"event": "survey_retry"' in logs and "<address>" in logs  # the refusal, its address masked
    text = readable(logs)
    assert [m for m in CUSTOMER if m.casefold() in text] == []
    json.loads(logs.splitlines()[-1])  # structured: one JSON object a line
    with psycopg.connect(config.values["db_url"]) as conn:
        assert conn.execute("SELECT comment FROM answers").fetchone() == ("okapimurmur was hard",)
