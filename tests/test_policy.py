"""Survey policy: every rule, and every skip with its reason."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ces.config.models import SurveySettings
from ces.connectors.models import Channel, Person, Status, Ticket
from ces.worker.privacy import normalize_email
from ces.worker.scheduler import tick
from ces.worker.surveys.policy import exclusion, quiet_until
from tests.conftest import ZENDESK_EU
from tests.pipeline import ZENDESK, mock_ticket, receive, status_body, surveys


def ticket(**kw) -> Ticket:
    base = dict(id="1", status=Status.SOLVED, requester=Person(email="ana@example.com", time_zone="Europe/Madrid"),
                channel=Channel.EMAIL, group="Billing", brand="360000001", organization="Globex", tags=["vip"])
    return Ticket(**{**base, **kw})


# --- pure rules -----------------------------------------------------------------------------------
@pytest.mark.parametrize("exclude,kw,reason", [
    ({"tags": ["VIP"]}, {}, "excluded tag 'vip'"),
    ({"channels": ["chat"]}, {"channel": Channel.CHAT}, "excluded channel 'chat'"),
    ({"groups": ["billing"]}, {}, "excluded group 'Billing'"),
    ({"brands": ["360000001"]}, {}, "excluded brand '360000001'"),
    ({"organizations": ["globex"]}, {}, "excluded organization 'Globex'"),
    ({"email_domains": ["@Example.com"]}, {}, "excluded e-mail domain 'example.com'"),
    ({"emails": [" ANA@example.com"]}, {}, "excluded e-mail address"),
    ({}, {"merged": True}, "ticket was closed by merging it into another"),
    ({}, {"requester": Person(email=None)}, "requester has no e-mail address"),
    ({}, {"status": Status.OPEN}, "ticket is open again at send time (reopened)"),
])
def test_exclusions_say_why(exclude, kw, reason):
    assert exclusion(SurveySettings(exclude=exclude), ticket(**kw)) == reason


def test_nothing_excluded_by_default_and_merge_exclusion_can_be_switched_off():
    assert exclusion(SurveySettings(), ticket()) is None
    assert exclusion(SurveySettings(exclude={"merged": False}), ticket(merged=True)) is None


def test_no_email_is_fine_when_the_survey_goes_through_the_helpdesk():
    assert exclusion(SurveySettings(delivery="helpdesk"), ticket(requester=Person(email=None))) is None


def test_email_normalization_keeps_plus_and_dots():
    assert normalize_email("  Ｍaria.Garcia+billing@EXAMPLE.com ") == "maria.garcia+billing@example.com"


@pytest.mark.parametrize("local,expect", [
    ("2026-11-23T22:30", "2026-11-24T08:00"),  # evening, Madrid
    ("2026-11-24T03:00", "2026-11-24T08:00"),  # night
    ("2026-11-24T08:00", None),
    ("2026-11-24T20:59", None),
])
def test_quiet_hours_in_the_requesters_time_zone(local, expect):
    from zoneinfo import ZoneInfo

    policy = SurveySettings(quiet_hours={"start": "21:00", "end": "08:00"})
    madrid = ZoneInfo("Europe/Madrid")
    now = datetime.fromisoformat(local).replace(tzinfo=madrid).astimezone(timezone.utc)
    until = quiet_until(policy, "Europe/Madrid", now)
    assert (until.astimezone(madrid).strftime("%Y-%m-%dT%H:%M") if until else None) == expect


def test_quiet_hours_fall_back_to_the_configured_zone():
    policy = SurveySettings(quiet_hours={"start": "00:00", "end": "06:00"}, timezone="Asia/Tokyo")
    now = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # 01:00 in Tokyo
    assert quiet_until(policy, None, now) == datetime(2026, 11, 23, 21, 0, tzinfo=timezone.utc)
    assert quiet_until(policy, "Not/AZone", now) == datetime(2026, 11, 23, 21, 0, tzinfo=timezone.utc)


def test_wording_labels_must_fit_the_scale():
    with pytest.raises(ValueError, match="needs 5"):
        SurveySettings(scale="effort5", wording={"es": {"labels": ["uno"] * 7}})


# --- through the pipeline -------------------------------------------------------------------------
def test_quiet_hours_delay_the_send(config, make_rt, queue, sink, zendesk_api):
    config.write(survey='quiet_hours = { start = "00:00", end = "23:59" }\ntimezone = "UTC"')
    rt = make_rt()
    mock_ticket(zendesk_api)  # requester in Europe/Madrid
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    [survey] = surveys(rt)
    assert survey.state == "pending" and survey.reason.startswith("quiet hours") and sink.messages == []
    assert survey.send_after > rt.now()


def test_fatigue_across_connectors_on_the_normalized_address(config, make_rt, clock, queue, sink, zendesk_api):
    config.write(extra=ZENDESK_EU)
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    zendesk_api.get("https://acme-eu.zendesk.com/api/v2/tickets/777.json",
                    json=json.loads(json.dumps(_ticket_json("777", " MARIA.garcia@example.com"))))
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    receive(rt, "x", "inv-2", body=status_body("solved", "open", ticket_id="777"), connector="zendesk-eu")
    queue.drain(rt)
    first, second = surveys(rt)
    assert first.state == "sent" and second.state == "skipped" and "fatigue_days" in second.reason
    assert len(sink.messages) == 1


def test_after_the_fatigue_window_the_customer_is_surveyed_again(config, make_rt, clock, queue, sink, zendesk_api):
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    mock_ticket(zendesk_api, ticket_id="5200")
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    clock.advance(7 * 86400 + 1)
    receive(rt, "x", "inv-2", body=status_body("solved", "open", ticket_id="5200"))
    queue.drain(rt)
    assert [s.state for s in surveys(rt)] == ["sent", "sent"] and len(sink.messages) == 2


def _ticket_json(ticket_id: str, email: str) -> dict:
    from tests.pipeline import ticket_json

    return ticket_json(ticket_id, email=email)


def test_solved_again_after_a_reopen_is_not_surveyed_by_default(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    receive(rt, "x", "inv-1", body=status_body("solved", "open", time="2026-11-23T10:00:00Z"))
    receive(rt, "x", "inv-2", body=status_body("open", "solved", time="2026-11-23T11:00:00Z"))
    receive(rt, "x", "inv-3", body=status_body("solved", "open", time="2026-11-23T12:00:00Z"))
    queue.drain(rt)
    first, second = surveys(rt)
    assert second.state == "skipped" and "resurvey_after_reopen" in second.reason


def test_resurvey_after_reopen_when_asked(config, make_rt, queue, sink, zendesk_api):
    config.write(survey="resurvey_after_reopen = true\nfatigue_days = 0")
    rt = make_rt()
    mock_ticket(zendesk_api)
    receive(rt, "x", "inv-1", body=status_body("solved", "open", time="2026-11-23T10:00:00Z"))
    queue.drain(rt)
    receive(rt, "x", "inv-2", body=status_body("open", "solved", time="2026-11-23T11:00:00Z"))
    receive(rt, "x", "inv-3", body=status_body("solved", "open", time="2026-11-23T12:00:00Z"))
    queue.drain(rt)
    assert [s.state for s in surveys(rt)] == ["sent", "sent"]


def test_one_reminder_when_unanswered(config, make_rt, clock, queue, sink, zendesk_api):
    config.write(survey="reminder_after_days = 3")
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api, locale="en")
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    clock.advance(2 * 86400)
    assert tick(rt)["reminders"] == 0
    clock.advance(86400 + 1)
    assert tick(rt)["reminders"] == 1
    queue.drain(rt)
    clock.advance(86400)
    tick(rt)
    queue.drain(rt)
    assert len(sink.messages) == 2
    assert sink.messages[1]["Subject"].startswith("Reminder: ")
    assert surveys(rt)[0].reminder_state == "sent"


def test_no_reminder_after_an_answer(config, make_rt, clock, queue, sink, zendesk_api):
    from ces.worker.surveys.answers import record_answer

    config.write(survey="reminder_after_days = 1")
    rt = make_rt(clock=clock)
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    record_answer(rt, surveys(rt)[0].token, 6, how="form")
    clock.advance(2 * 86400)
    assert tick(rt)["reminders"] == 0 and len(sink.messages) == 1


def test_wording_per_language_and_connector_override(config, make_rt, queue, sink, zendesk_api):
    config.write(survey='[survey.wording.es]\nsubject = "¿Qué tal con {company}? (#{ticket})"\n'
                        'question = "{company} me lo puso fácil."',
                 extra='[connectors.survey]\ncompany = "Acme Iberia"\n')
    rt = make_rt()
    mock_ticket(zendesk_api, locale="es-ES")
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    [mail] = sink.messages
    assert mail["Subject"] == "¿Qué tal con Acme Iberia? (#5158)"
    assert "Acme Iberia me lo puso fácil." in mail.get_body(("plain",)).get_content()


def test_a_connector_can_use_the_effort_scale(config, make_rt, queue, sink, zendesk_api):
    config.write(extra='[connectors.survey]\nscale = "effort5"\n')
    rt = make_rt()
    mock_ticket(zendesk_api, locale="en")
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    [survey] = surveys(rt)
    text = sink.messages[0].get_body(("plain",)).get_content()
    assert survey.scale == "effort5"
    assert "How much effort did you personally have to put forth to handle your request?" in text
    assert "5 - Very high effort" in text and f"/s/{survey.token}/6" not in text


def test_delivery_through_the_helpdesk_posts_a_public_reply(config, make_rt, queue, sink, zendesk_api):
    config.write(survey='delivery = "helpdesk"')
    rt = make_rt()
    mock_ticket(zendesk_api, email=None, channel="native_messaging")
    zendesk_api.put(f"{ZENDESK}/api/v2/tickets/5158.json", json={"ticket": {"id": 5158}})
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    [survey] = surveys(rt)
    [put] = [c for c in zendesk_api.calls if c.request.method == "PUT"]
    comment = json.loads(put.request.body)["ticket"]["comment"]
    assert survey.state == "sent" and survey.delivery == "helpdesk" and sink.messages == []
    assert comment["public"] is True and f"/s/{survey.token}/7" in comment["body"]


def test_a_disabled_connector_records_solves_and_sends_nothing(config, make_rt, queue, sink, zendesk_api):
    config.write(extra="enabled = false\n")
    rt = make_rt()
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    [survey] = surveys(rt)
    assert survey.state == "skipped" and "disabled" in survey.reason and sink.messages == []


def test_the_snapshot_keeps_the_agent_after_a_reassignment(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    # Later the ticket is unassigned in Zendesk; the survey keeps who handled it when it was sent.
    zendesk_api.replace("GET", f"{ZENDESK}/api/v2/tickets/5158.json", json={"ticket": {"id": 5158, "status": "closed"}})
    [survey] = surveys(rt)
    assert (survey.assignee, survey.group_name, survey.channel) == ("Priya Patel", "Billing", "email")
    assert survey.sent_at <= datetime.now(timezone.utc) + timedelta(seconds=1)
