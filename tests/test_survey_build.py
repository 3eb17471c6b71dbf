"""Whatever a helpdesk says a customer is called, the survey goes to that one mailbox or fails with
a reason of its own; nothing in a name or an address can add a recipient, stop a worker, or keep a
survey retried past `worker.max_attempts` (3 in the tests). Through the real send path: the stored
webhook, the worker's functions, a real SMTP server."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ces.worker.db.models import SurveyAttempt, SurveyState
from ces.worker.scheduler import tick
from ces.worker.surveys import send
from ces.worker.surveys.send import send_survey
from tests.pipeline import ZENDESK, mock_ticket, receive, surveys
from tests.support import cli

MARIA = "maria.garcia@example.com"


@pytest.fixture
def rt(make_rt, clock):
    return make_rt(clock=clock)


def failed_listed(capsys) -> list[dict]:
    code, out, _ = cli(capsys, "surveys", "--failed", "--format", "json")
    assert code == 0
    return json.loads(out)


def attempts(rt) -> list[tuple[int, str]]:
    with rt.transaction() as s:
        return [(a.number, a.outcome) for a in s.scalars(select(SurveyAttempt).order_by(SurveyAttempt.number))]


@pytest.mark.parametrize("name, shown", [("Eve\r\nBcc: x@evil", "Eve Bcc: x@evil"), ("\ud800", "?"),
                                         ("a@x, b@y", "a@x, b@y"), ("Ana " + "n" * 300, "Ana " + "n" * 196)],
                         ids=["line-break", "lone-surrogate", "addresses", "longer-than-the-column"])
def test_a_name_is_only_ever_the_display_name_of_one_mailbox(rt, queue, sink, zendesk_api, name, shown):
    mock_ticket(zendesk_api, name=name, locale="en")
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    [survey] = surveys(rt)
    assert survey.state == SurveyState.SENT, survey.reason
    assert sink.envelopes[0][1] == [MARIA]  # the one recipient the server was given
    [mail] = sink.messages
    [to] = mail["To"].addresses
    assert (to.addr_spec, mail["Cc"], mail["Bcc"]) == (MARIA, None, None)
    assert to.display_name.startswith(shown[:50]) and survey.name == shown[:200]
    assert f"Hello {shown[:50]}" in mail.get_body(("plain",)).get_content()


@pytest.mark.parametrize("email", ["a@x.test, b@y.test", "Maria <maria@x.test>", "a@x.test\r\nBcc: b@y.test",
                                   "josé@x.test"], ids=["two", "name-and-address", "line-break", "non-ascii"])
def test_an_address_that_is_not_one_mailbox_fails_with_its_own_reason(rt, queue, sink, zendesk_api, clock, capsys,
                                                                      email):
    zendesk_api.get(f"{ZENDESK}/api/v2/tickets/5158.json", status=429, headers={"Retry-After": "1"})
    mock_ticket(zendesk_api, email=email)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    assert "429" in surveys(rt)[0].reason  # first a rate limit: the next attempt's reason replaces it
    clock.advance(2)
    tick(rt)
    queue.drain(rt)
    [survey] = surveys(rt)
    assert (survey.state, survey.reason) == (
        SurveyState.FAILED, "the requester's e-mail address is not exactly one valid mailbox")
    assert sink.messages == [] and attempts(rt) == [(1, "retry"), (2, "failed")]
    assert [row["id"] for row in failed_listed(capsys)] == [survey.id]


def test_any_failure_to_build_the_message_is_permanent_and_quotes_nothing(rt, queue, sink, zendesk_api, capsys,
                                                                          monkeypatch):
    def broken(self, **_):  # as a library error would: quoting what it was given
        raise ValueError(f"cannot encode {self.to_name!r} <{self.to_email}>")

    monkeypatch.setattr(send.SurveyMail, "message", broken)
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    [survey] = surveys(rt)
    assert survey.state == SurveyState.FAILED and survey.attempts == 1
    assert survey.reason.startswith("could not build the message: ValueError at ")  # and the line it came from
    assert "maria" not in survey.reason.lower() and "garc" not in survey.reason.lower()
    assert [row["id"] for row in failed_listed(capsys)] == [survey.id]


def test_a_survey_that_stops_every_worker_fails_after_max_attempts(rt, queue, sink, zendesk_api, clock, capsys,
                                                                   monkeypatch):
    def dies(*_args, **_kw):  # escapes send_survey, as a worker killed mid-way or an uncaught error would
        raise SystemExit("killed")

    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.events_only(rt)
    [(_, survey_id)] = list(queue.items)
    queue.items.clear()
    with monkeypatch.context() as patched:
        patched.setattr(send, "_reserve", dies)
        for _ in range(3):
            with pytest.raises(SystemExit):
                send_survey(rt, survey_id)
            clock.advance(6)  # the lease (5 s) expires: the scheduler hands the survey to the next worker
            assert tick(rt)["surveys"] == 1
        assert send_survey(rt, survey_id) == SurveyState.FAILED  # the fourth claim is not an attempt
    [survey] = surveys(rt)
    assert survey.state == SurveyState.FAILED and survey.attempts == 3
    assert survey.reason == ("gave up after 3 attempts: the worker stopped while preparing the survey, before "
                             "recording an outcome")
    assert attempts(rt) == [(1, "abandoned"), (2, "abandoned"), (3, "abandoned")]
    assert [row["id"] for row in failed_listed(capsys)] == [survey.id] and sink.messages == []
    # A resend gets a whole budget again, and goes out once the cause is gone.
    assert cli(capsys, "surveys", "resend", str(survey.id))[0] == 0
    clock.advance(60)
    tick(rt)
    queue.drain(rt)
    assert surveys(rt)[0].state == SurveyState.SENT and len(sink.messages) == 1

