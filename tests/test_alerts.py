"""Follow-up alerts: a settled low answer reaches every route once; changes follow up; a broken
route never blocks the others; the loop is closed through each recipient's own links.
Slack, Teams and the outgoing webhook are mocked at their HTTP boundary with `responses`, the
helpdesk note too; e-mail goes to the real SMTP server."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from ces.connectors.standard_webhooks import sign
from ces.worker.db.models import Alert, AssessmentRecord, FollowUp
from ces.worker.scheduler import tick
from ces.worker.surveys.answers import record_answer
from ces.worker.web.app import create_app
from tests.alerts_data import EVERY_ROUTE, HOOK, SLACK, TEAMS, WHSEC, mock_routes, set_route_secrets
from tests.pipeline import ZENDESK, mock_history, mock_ticket, receive, surveys
from tests.support import BROWSER, ServedApp, cli


@pytest.fixture
def rt(config, make_rt, clock, monkeypatch, sink):
    set_route_secrets(monkeypatch)
    config.write(extra=EVERY_ROUTE, smtp_port=sink.port)
    return make_rt(clock=clock)


@pytest.fixture
def remote(zendesk_api):
    """The other side of every route: Zendesk (ticket, history, note, tags), Slack, Teams, a CRM."""
    mock_ticket(zendesk_api, locale="en")
    mock_history(zendesk_api)
    return mock_routes(zendesk_api)


def run(rt, queue, rounds=3):
    for _ in range(rounds):
        tick(rt)
        queue.drain(rt)


def answered(rt, queue, score, comment=None, how="form"):
    token = surveys(rt)[0].token
    record_answer(rt, token, score, comment, how=how)
    run(rt, queue)
    return token


def calls(api, url, method="POST"):
    return [c for c in api.calls if c.request.url.split("?")[0] == url and c.request.method == method]


def alerts(rt):
    with rt.transaction() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


@pytest.fixture
def surveyed(rt, queue, sink, remote):
    receive(rt, "status_changed_solved.json", "inv-1")
    run(rt, queue)
    assert len(sink.messages) == 1
    return rt


def test_a_settled_low_answer_reaches_every_route_once(surveyed, queue, sink, remote, clock):
    rt = surveyed
    answered(rt, queue, 2)
    assert [a for a in alerts(rt) if a.kind != "writeback"] == []  # not settled yet
    clock.advance(121)
    run(rt, queue)
    run(rt, queue)  # again: nothing new
    delivered = {(a.route, a.recipient): a.state for a in alerts(rt)}
    assert delivered == {("writeback", "zendesk-main"): "sent", ("note", "note"): "sent",
                         ("slack-support", "slack-support"): "sent", ("teams-leads", "teams-leads"): "sent",
                         ("mail", "lead@acme.test"): "sent", ("mail", "priya@acme.test"): "sent",
                         ("crm", "crm"): "sent"}
    # The internal note: never public, with score, reasons and the loop's links.
    notes = [json.loads(c.request.body)["ticket"]["comment"] for c in calls(remote, f"{ZENDESK}/api/v2/tickets/5158.json", "PUT")]
    assert len(notes) == 1 and notes[0]["public"] is False
    assert "Answer: 2 of 7 (Disagree)" in notes[0]["body"] and "transferred once: Billing → Tier 2" in notes[0]["body"]
    assert re.search(r"Acknowledge: http://\S+/a/[\w-]{40,}", notes[0]["body"])
    tags = [json.loads(c.request.body)["tags"] for c in calls(remote, f"{ZENDESK}/api/v2/tickets/5158/tags.json", "PUT")]
    assert sorted(tags) == [["ces_2"], ["ces_low"]]
    # Slack Block Kit: score, customer, agent, reasons, buttons.
    [slack] = [json.loads(c.request.body) for c in calls(remote, SLACK)]
    fields = " ".join(f["text"] for f in slack["blocks"][1]["fields"])
    assert "2 of 7 (Disagree)" in fields and "maria.garcia@example.com" in fields and "Priya Patel" in fields
    buttons = [e["text"]["text"] for e in slack["blocks"][-1]["elements"]]
    assert buttons == ["Open ticket", "Acknowledge", "Followed up"]
    # Teams: an Adaptive Card.
    [teams] = [json.loads(c.request.body) for c in calls(remote, TEAMS)]
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive" and card["content"]["type"] == "AdaptiveCard"
    # The outgoing webhook: Standard Webhooks signature over id.timestamp.body.
    [hook] = calls(remote, HOOK)
    h = hook.request.headers
    assert h["webhook-signature"] == sign(WHSEC, h["webhook-id"], h["webhook-timestamp"], hook.request.body)
    assert json.loads(hook.request.body)["type"] == "ces.alert"
    # E-mail: the team lead and the assignee, each with their own links.
    mails = sink.messages[1:]
    assert sorted(m["To"] for m in mails) == ["lead@acme.test", "priya@acme.test"]
    links = [re.search(r"Acknowledge: (\S+)", m.get_content()).group(1) for m in mails]
    assert len(set(links)) == 2


def test_a_mis_click_corrected_before_settling_pings_nobody(surveyed, queue, remote, clock):
    rt = surveyed
    answered(rt, queue, 1)
    clock.advance(30)
    answered(rt, queue, 6)
    clock.advance(121)
    run(rt, queue)
    assert [(a.kind, a.content.get("tags")) for a in alerts(rt)] == [("writeback", ["ces_6"])]
    assert calls(remote, SLACK) == []


def test_a_changed_score_replaces_the_written_back_tag(surveyed, queue, remote, clock):
    rt = surveyed
    tags_url = f"{ZENDESK}/api/v2/tickets/5158/tags.json"
    remote.delete(tags_url, json={"tags": []})
    for score in (6, 5, 6):
        answered(rt, queue, score)
        clock.advance(121)
        run(rt, queue)
    run(rt, queue)  # again: nothing new
    added = [json.loads(c.request.body)["tags"] for c in calls(remote, tags_url, "PUT")]
    removed = [json.loads(c.request.body)["tags"] for c in calls(remote, tags_url, "DELETE")]
    assert (added, removed) == ([["ces_6"], ["ces_5"], ["ces_6"]], [["ces_6"], ["ces_5"]])
    assert [a.state for a in alerts(rt)] == ["sent"] * 3


def assert_6_gave_way_to_7(rt, remote, tags_url: str) -> None:
    """The write-back of 6 stood down for the later answer 7: only `ces_7` was ever put on the ticket."""
    assert [(a.content["tags"], a.state, a.reason) for a in alerts(rt)] == [
        (["ces_6"], "skipped", "superseded by a later answer"), (["ces_7"], "sent", None)]
    ok = [json.loads(c.request.body)["tags"] for c in calls(remote, tags_url, "PUT") if c.response.status_code == 200]
    assert ok == [["ces_7"]]


def test_a_write_back_not_yet_delivered_is_superseded_by_the_next_answer(surveyed, queue, remote, clock):
    rt = surveyed
    tags_url = f"{ZENDESK}/api/v2/tickets/5158/tags.json"
    # Zendesk refuses the first write-back for a while: it waits for a retry when the next answer comes.
    remote.remove("PUT", tags_url)
    remote.add_callback("PUT", tags_url, lambda req: (503, {}, "") if b"ces_6" in req.body else (200, {}, "{}"))
    remote.delete(tags_url, json={"tags": []})
    answered(rt, queue, 6)
    clock.advance(121)
    run(rt, queue, rounds=1)
    assert [(a.content["tags"], a.state) for a in alerts(rt)] == [(["ces_6"], "pending")]
    answered(rt, queue, 7)
    clock.advance(121)
    run(rt, queue)
    assert_6_gave_way_to_7(rt, remote, tags_url)


def test_a_write_back_being_sent_is_waited_for_so_its_tag_never_outlives_the_next_answer(surveyed, queue, remote,
                                                                                         clock):
    """The customer changes 6 to 7 while Zendesk is still taking `ces_6`: `ces_7`'s write-back waits for
    that call to end, then removes `ces_6`. Without the wait, `ces_6` would land after its removal."""
    rt = surveyed
    tags_url = f"{ZENDESK}/api/v2/tickets/5158/tags.json"
    on_ticket: set[str] = set()
    states_meanwhile = []

    def put(req):
        tags = json.loads(req.body)["tags"]
        if tags == ["ces_6"] and not states_meanwhile:  # a slow call: the next answer settles meanwhile
            answered(rt, queue, 7, comment="Changed my mind: it was easy.")  # a comment settles it at once
            states_meanwhile.extend((a.content["tags"], a.state, a.reason) for a in alerts(rt))
        on_ticket.update(tags)
        return 200, {}, json.dumps({"tags": sorted(on_ticket)})

    def delete(req):
        on_ticket.difference_update(json.loads(req.body)["tags"])
        return 200, {}, json.dumps({"tags": sorted(on_ticket)})

    remote.remove("PUT", tags_url)
    remote.add_callback("PUT", tags_url, put)
    remote.add_callback("DELETE", tags_url, delete)
    answered(rt, queue, 6)
    clock.advance(121)
    run(rt, queue)
    assert states_meanwhile == [(["ces_6"], "sending", None),
                                (["ces_7"], "pending", "waiting for the previous write-back to finish")]
    clock.advance(1)
    run(rt, queue)
    assert on_ticket == {"ces_7"}
    assert [(a.content["tags"], a.state, a.attempts) for a in alerts(rt)] == [(["ces_6"], "sent", 1),
                                                                              (["ces_7"], "sent", 1)]


def test_a_write_back_that_fails_while_the_next_answer_waits_gives_way_to_it(surveyed, queue, remote, clock):
    rt = surveyed
    tags_url = f"{ZENDESK}/api/v2/tickets/5158/tags.json"
    remote.delete(tags_url, json={"tags": []})
    states_meanwhile = []

    def put(req):
        if b"ces_6" in req.body:  # the next answer settles while Zendesk fails this call
            if not states_meanwhile:
                answered(rt, queue, 7, comment="Changed my mind: it was easy.")
                states_meanwhile.extend((a.content["tags"], a.state, a.reason) for a in alerts(rt))
            return 503, {}, ""
        return 200, {}, "{}"

    remote.remove("PUT", tags_url)
    remote.add_callback("PUT", tags_url, put)
    answered(rt, queue, 6)
    clock.advance(121)
    run(rt, queue)
    clock.advance(1)
    run(rt, queue)
    assert states_meanwhile == [(["ces_6"], "sending", None),
                                (["ces_7"], "pending", "waiting for the previous write-back to finish")]
    assert_6_gave_way_to_7(rt, remote, tags_url)


def test_a_write_back_due_for_a_retry_when_the_next_answer_came_is_superseded_not_sent(surveyed, queue, remote,
                                                                                        clock):
    """On PostgreSQL a failed write-back can be set to retry just as the next answer's write-back is
    written (each transaction missing the other's): when its retry comes it sees the later one and
    stands down instead of putting its tag back."""
    from ces.worker.alerts.send import send_alert

    rt = surveyed
    tags_url = f"{ZENDESK}/api/v2/tickets/5158/tags.json"
    remote.delete(tags_url, json={"tags": []})
    remote.replace("PUT", tags_url, status=503)
    answered(rt, queue, 6)
    clock.advance(121)
    run(rt, queue, rounds=1)
    remote.replace("PUT", tags_url, json={"tags": ["ces_7"]})
    answered(rt, queue, 7, comment="It was easy after all.")
    [first, _] = alerts(rt)
    with rt.transaction() as s:  # what the race leaves: the first one waiting for its retry
        s.get(Alert, first.id).state, s.get(Alert, first.id).reason = "pending", "retrying: 503"
    assert send_alert(rt, first.id) == "skipped"
    assert [(a.content["tags"], a.state, a.reason) for a in alerts(rt)] == [
        (["ces_6"], "skipped", "superseded by a later answer"), (["ces_7"], "sent", None)]
    assert [json.loads(c.request.body)["tags"] for c in calls(remote, tags_url, "PUT")
            if c.response.status_code == 200] == [["ces_7"]]


def test_a_comment_settles_the_answer_at_once(surveyed, queue, remote):
    rt = surveyed
    answered(rt, queue, 3, comment="I had to call twice.")
    assert len(calls(remote, SLACK)) == 1
    assert "I had to call twice." in json.dumps(json.loads(calls(remote, SLACK)[0].request.body))


def test_a_changed_score_after_the_alert_follows_up_once_per_route(surveyed, queue, remote, clock):
    rt = surveyed
    answered(rt, queue, 2)
    clock.advance(121)
    run(rt, queue)
    answered(rt, queue, 5, comment="Actually they fixed it in the end.")
    run(rt, queue)
    updates = [a for a in alerts(rt) if a.kind == "update"]
    assert sorted(a.route for a in updates) == ["crm", "mail", "mail", "note", "slack-support", "teams-leads"]
    assert all(a.state == "sent" for a in updates)
    last = json.loads(calls(remote, SLACK)[-1].request.body)
    assert "Update on a high-effort report" in last["text"]
    run(rt, queue)
    assert len([a for a in alerts(rt) if a.kind == "update"]) == 6  # nothing twice


def test_a_score_changed_without_a_comment_follows_up_once_it_settles(surveyed, queue, remote, clock):
    rt = surveyed
    remote.delete(f"{ZENDESK}/api/v2/tickets/5158/tags.json", json={"tags": []})
    answered(rt, queue, 2)
    clock.advance(121)
    run(rt, queue)
    answered(rt, queue, 6)  # a changed score is a new fact, comment or not
    assert [a for a in alerts(rt) if a.kind == "update"] == []  # not settled yet
    clock.advance(121)
    run(rt, queue)
    updates = [a for a in alerts(rt) if a.kind == "update"]
    assert sorted(a.route for a in updates) == ["crm", "mail", "mail", "note", "slack-support", "teams-leads"]
    with rt.transaction() as s:  # re-assessed on the new score: no longer a low answer
        assert "low_answer" not in s.get(AssessmentRecord, 1).reason_codes.split(",")
    assert "6 of 7" in json.dumps(json.loads(calls(remote, SLACK)[-1].request.body))


def test_a_comment_for_the_earlier_score_neither_settles_nor_joins_a_changed_one(surveyed, queue, sink, remote,
                                                                                  clock, app_port):
    """7 with a comment, then 2 on the survey page, then the thank-you page's form as the customer
    sees it, then their words for the 2, seconds apart: one alert, quoting the 2's words beside
    "2 of 7". The 7's comment used to stay on the answer and fill the box: sent back, it settled the
    2 at once ("High effort reported" quoting it), and the 2's own words sent an "Update…" seconds
    later."""
    rt = surveyed
    remote.delete(f"{ZENDESK}/api/v2/tickets/5158/tags.json", json={"tags": []})
    token = surveys(rt)[0].token
    with ServedApp(create_app(rt), app_port) as app:
        def send(**form):
            resp = requests.post(f"{app.url}/s/{token}", data=form, headers=BROWSER, timeout=10)
            run(rt, queue)
            return resp

        send(score="7", comment="Quick and friendly")
        clock.advance(600)
        page = send(score="2").text  # the survey page's button: a score, no comment
        shown = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S).group(1)
        clock.advance(3)
        send(score="2", comment=html.unescape(shown))  # the box sent as it was shown
        assert [a for a in alerts(rt) if a.kind != "writeback"] == []  # nothing written for the 2 yet: not settled
        clock.advance(5)
        send(score="2", comment="I had to call three times")
    clock.advance(121)
    run(rt, queue)
    subjects = sorted(m["Subject"] for m in sink.messages[1:])
    assert subjects == ["[CES] High effort reported: ticket #5158, 2 of 7 (Disagree)"] * 2  # lead and assignee
    body = sink.messages[1].get_content()
    assert "Answer: 2 of 7 (Disagree)" in body and "I had to call three times" in body
    assert "Quick and friendly" not in json.dumps([a.content for a in alerts(rt)])
    assert {a.kind for a in alerts(rt)} == {"alert", "writeback"}


def test_every_update_says_what_changed(surveyed, queue, sink, remote, clock):
    rt = surveyed
    remote.delete(f"{ZENDESK}/api/v2/tickets/5158/tags.json", json={"tags": []})
    answered(rt, queue, 2)
    clock.advance(121)
    run(rt, queue)
    answered(rt, queue, 4)
    clock.advance(121)
    run(rt, queue)
    answered(rt, queue, 4, comment="They called me back")
    for score in (2, 4):  # back and forth: each change told, although the same answers were told before
        answered(rt, queue, score)
        clock.advance(121)
        run(rt, queue)
    told = [(a.content.get("changes"), a.content["score"]) for a in alerts(rt) if a.route == "crm"]
    assert told == [(None, 2), (["score changed from 2 to 4"], 4), (["new comment"], 4),
                    (["score changed from 4 to 2"], 2), (["score changed from 2 to 4"], 4)]
    notes = [json.loads(c.request.body)["ticket"]["comment"]["body"]
             for c in calls(remote, f"{ZENDESK}/api/v2/tickets/5158.json", "PUT")]
    assert [n.splitlines()[1] for n in notes[1:]] == [
        "What changed: score changed from 2 to 4", "What changed: new comment",
        "What changed: score changed from 4 to 2", "What changed: score changed from 2 to 4"]
    slack = json.loads(calls(remote, SLACK)[-1].request.body)
    assert slack["blocks"][1]["elements"][0]["text"] == "What changed: score changed from 2 to 4"
    mails = [m for m in sink.messages if m["To"] == "lead@acme.test"]
    assert "What changed: new comment" in mails[2].get_content()


def test_slack_with_a_bot_token_edits_the_message_in_place(config, make_rt, clock, monkeypatch, sink, queue, remote):
    monkeypatch.setenv("TEST_SLACK_BOT", "xoxb-test-token")
    config.write(extra='''
[alerts]
settle_seconds = 0

[[alerts.routes]]
name = "slack-bot"
type = "slack"
bot_token_env = "TEST_SLACK_BOT"
channel = "C0SUPPORT"
''', smtp_port=sink.port)
    rt = make_rt(clock=clock)
    remote.post("https://slack.com/api/chat.postMessage", json={"ok": True, "channel": "C0SUPPORT", "ts": "1700.01"})
    remote.post("https://slack.com/api/chat.update", json={"ok": True, "channel": "C0SUPPORT", "ts": "1700.01"})
    receive(rt, "status_changed_solved.json", "inv-1")
    run(rt, queue)
    answered(rt, queue, 1)
    run(rt, queue)
    answered(rt, queue, 2, comment="Still not working")
    run(rt, queue)
    [post] = calls(remote, "https://slack.com/api/chat.postMessage")
    [edit] = calls(remote, "https://slack.com/api/chat.update")
    assert post.request.headers["Authorization"] == "Bearer xoxb-test-token"
    assert json.loads(edit.request.body)["ts"] == "1700.01" and json.loads(edit.request.body)["channel"] == "C0SUPPORT"


def test_a_broken_route_never_blocks_the_others(surveyed, queue, remote, clock, capsys):
    from ces.worker.cli import main

    rt = surveyed
    remote.replace("POST", SLACK, status=404, body="no_service")
    remote.replace("POST", TEAMS, status=503)
    answered(rt, queue, 2)
    clock.advance(121)
    for _ in range(4):
        run(rt, queue)
        clock.advance(5)
    states = {a.route: a.state for a in alerts(rt) if a.kind == "alert"}
    assert states == {"note": "sent", "slack-support": "failed", "teams-leads": "failed", "mail": "sent", "crm": "sent"}
    assert len(calls(remote, SLACK)) == 1  # a permanent 404: not retried
    assert len(calls(remote, TEAMS)) == 3 * 3  # 3 attempts, each with the client's own 2 retries of a 503
    with pytest.raises(SystemExit):
        main(["alerts", "--failed", "--format", "json"])
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert {r["route"] for r in rows} == {"slack-support", "teams-leads"}
    assert "SeCrEt" not in out.out and "SeCrEt" not in out.err and "404" in rows[-1]["reason"] + rows[0]["reason"]


def test_a_failed_alert_is_delivered_again_once_the_route_is_fixed(surveyed, queue, remote, clock, capsys):
    rt = surveyed
    remote.replace("POST", SLACK, status=404, body="no_service")  # the Slack app was removed
    answered(rt, queue, 2)
    clock.advance(121)
    run(rt, queue)
    [slack] = [a for a in alerts(rt) if a.route == "slack-support"]
    assert slack.state == "failed" and len(calls(remote, SLACK)) == 1
    remote.replace("POST", SLACK, body="ok")  # a new webhook URL behind the same variable
    mails = len(remote.calls)
    assert cli(capsys, "alerts", "resend", str(slack.id)) == (0, f"alert {slack.id} queued again\n", "")
    clock.catch_up()
    run(rt, queue)
    assert [a.state for a in alerts(rt) if a.route == "slack-support"] == ["sent"]
    assert len(calls(remote, SLACK)) == 2 and len(remote.calls) == mails + 1  # no other route again
    code, _, err = cli(capsys, "alerts", "resend", str(slack.id))
    assert (code, err) == (1, f"ces: alert {slack.id} is sent: only failed or uncertain ones are sent again\n")


def test_a_failed_alert_followed_by_a_newer_message_is_not_resent(surveyed, queue, remote, clock, capsys):
    rt = surveyed
    remote.replace("POST", SLACK, status=404, body="no_service")
    answered(rt, queue, 2)
    clock.advance(121)
    run(rt, queue)
    remote.replace("POST", SLACK, body="ok")
    answered(rt, queue, 5, comment="Actually they fixed it in the end.")  # the follow-up reaches Slack
    [original, update] = [a for a in alerts(rt) if a.route == "slack-support"]
    assert (original.kind, original.state, update.kind, update.state) == ("alert", "failed", "update", "sent")
    code, _, err = cli(capsys, "alerts", "resend", str(original.id))
    assert (code, err) == (1, f"ces: alert {original.id} was followed by a newer message on route 'slack-support': "
                              "it would tell an older answer\n")


def test_a_write_back_replaced_by_a_later_answer_is_not_resent(surveyed, queue, remote, clock, capsys):
    rt = surveyed
    tags_url = f"{ZENDESK}/api/v2/tickets/5158/tags.json"
    remote.delete(tags_url, json={"tags": []})
    remote.replace("PUT", tags_url, status=403, json={"error": "Forbidden"})
    answered(rt, queue, 6)
    clock.advance(121)
    run(rt, queue)
    remote.replace("PUT", tags_url, json={"tags": ["ces_7"]})
    answered(rt, queue, 7, comment="It was easy after all.")
    [first, second] = [a for a in alerts(rt) if a.kind == "writeback"]
    assert (first.state, second.state) == ("failed", "sent")
    code, _, err = cli(capsys, "alerts", "resend", str(first.id))
    assert (code, err) == (1, f"ces: alert {first.id} is a write-back that a later answer's write-back replaced\n")


def test_slack_rate_limit_waits_for_retry_after(surveyed, queue, remote, clock):
    rt = surveyed
    remote.replace("POST", SLACK, status=429, headers={"Retry-After": "30"})
    answered(rt, queue, 2)
    clock.advance(121)
    run(rt, queue)
    [slack] = [a for a in alerts(rt) if a.route == "slack-support"]
    assert slack.state == "pending" and slack.next_try_at == clock.now + timedelta(seconds=30)
    remote.replace("POST", SLACK, body="ok")
    clock.advance(31)
    run(rt, queue)
    assert [a.state for a in alerts(rt) if a.route == "slack-support"] == ["sent"]


def test_a_timeout_after_sending_is_uncertain_and_never_resent(surveyed, queue, remote, clock):
    rt = surveyed
    remote.replace("POST", SLACK, body=requests.ReadTimeout("read timed out"))
    answered(rt, queue, 2)
    clock.advance(121)
    for _ in range(3):
        run(rt, queue)
        clock.advance(10)
    [slack] = [a for a in alerts(rt) if a.route == "slack-support"]
    assert slack.state == "uncertain" and len(calls(remote, SLACK)) == 1


def test_a_closed_ticket_gets_a_follow_up_ticket(surveyed, queue, remote, clock):
    rt = surveyed
    remote.replace("PUT", f"{ZENDESK}/api/v2/tickets/5158.json", status=422,
                   json={"error": "RecordInvalid", "details": {"status": [{"description": "Status: closed prevents ticket update"}]}})
    remote.post(f"{ZENDESK}/api/v2/tickets.json", json={"ticket": {"id": 6001}})
    answered(rt, queue, 2, comment="bad")
    [note] = [a for a in alerts(rt) if a.route == "note"]
    assert note.state == "sent" and note.remote_ref == "followup:6001"
    body = json.loads(calls(remote, f"{ZENDESK}/api/v2/tickets.json")[0].request.body)["ticket"]
    assert body["via_followup_source_id"] == 5158 and body["comment"]["public"] is False


def test_acknowledge_and_follow_up_through_each_recipients_own_links(surveyed, queue, remote, app_port, clock):
    rt = surveyed
    answered(rt, queue, 2, comment="bad")
    note = next(a for a in alerts(rt) if a.route == "note")
    ack, done = note.content["links"]["acknowledge"], note.content["links"]["followed_up"]
    with ServedApp(create_app(rt), app_port) as app:
        path = lambda url: url.split("/a/")[1]  # noqa: E731
        page = requests.get(f"{app.url}/a/{path(ack)}", headers=BROWSER, timeout=10)
        assert page.status_code == 200 and 'method="post"' in page.text and "State: <strong>open" in page.text
        with rt.transaction() as s:
            assert s.scalars(select(FollowUp)).one().state == "open"  # GET changed nothing
        resp = requests.post(f"{app.url}/a/{path(ack)}", data={"who": "Priya"}, timeout=10)
        assert resp.status_code == 200 and "acknowledged" in resp.text and "Priya" in resp.text
        assert requests.post(f"{app.url}/a/{path(ack)}", timeout=10).status_code == 404  # reused
        assert requests.post(f"{app.url}/a/forged-{path(ack)[7:]}", timeout=10).status_code == 404
        assert requests.get(f"{app.url}/a/not-a-token", timeout=10).status_code == 404
        requests.post(f"{app.url}/a/{path(done)}", timeout=10)
    with rt.transaction() as s:
        case = s.scalars(select(FollowUp)).one()
    assert (case.state, case.acknowledged_by, case.followed_up_by) == ("followed_up", "Priya", "note")


def test_the_acknowledge_page_shows_the_case_and_keeps_what_was_done(surveyed, queue, remote, app_port, capsys):
    rt = surveyed
    answered(rt, queue, 2, comment="I had to <b>repeat</b> myself\nthree times\n\nand nobody called back")
    note = next(a for a in alerts(rt) if a.route == "note")
    ack, done = (note.content["links"][k].split("/a/")[1] for k in ("acknowledge", "followed_up"))
    with ServedApp(create_app(rt), app_port) as app:
        page = requests.get(f"{app.url}/a/{ack}", headers=BROWSER, timeout=10).text
        assert "<strong>2 of 7</strong> (Disagree)" in page and "CES 2.0: 1 strongly disagree … 7 strongly agree" in page
        assert "María García &lt;maria.garcia@example.com&gt;" in page
        assert ("white-space:pre-wrap" in page and ">I had to &lt;b&gt;repeat&lt;/b&gt; myself\nthree times\n\n"
                "and nobody called back</blockquote>" in page)
        assert 'name="note"' not in page  # acknowledging asks for no note
        page = requests.get(f"{app.url}/a/{done}", headers=BROWSER, timeout=10).text
        assert '<textarea id="note" name="note" dir="auto" maxlength="1000"' in page
        too_long = "x" * 1001
        resp = requests.post(f"{app.url}/a/{done}", data={"who": "Priya", "note": too_long}, timeout=10)
        assert resp.status_code == 422 and "longer than 1000 characters" in resp.text and too_long in resp.text
        with rt.transaction() as s:
            assert s.scalars(select(FollowUp)).one().state == "open"  # nothing changed, the link still works
        said = "Called her back <3\nrefund issued"
        resp = requests.post(f"{app.url}/a/{done}", data={"who": "Priya", "note": said}, timeout=10)
        assert resp.status_code == 200 and "Called her back &lt;3\nrefund issued</blockquote>" in resp.text
    with rt.transaction() as s:
        case = s.scalars(select(FollowUp)).one()
    assert (case.state, case.followed_up_by, case.followed_up_note) == ("followed_up", "Priya", said)
    code, out, _ = cli(capsys, "alerts", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and {r["note"] for r in rows if r["kind"] == "alert"} == {said}


def test_the_follow_up_report(surveyed, queue, remote, clock, capsys):
    from ces.worker.alerts.followup import act
    from ces.worker.cli import main

    rt = surveyed
    answered(rt, queue, 2, comment="bad")
    clock.advance(3600)
    note = next(a for a in alerts(rt) if a.route == "note")
    act(rt, note.content["links"]["acknowledge"].split("/a/")[1], "Priya")
    with pytest.raises(SystemExit):
        main(["report", "--follow-up", "--format", "json"])
    [row] = json.loads(capsys.readouterr().out)["rows"]
    assert (row["team"], row["agent"], row["alerts"], row["acknowledged"], row["followed_up"]) == (
        "Billing", "Priya Patel", 1, 1, 0)


def test_a_daily_digest_of_signal_only_flags_per_team(config, make_rt, clock, monkeypatch, sink, queue, remote):
    monkeypatch.setenv("TEST_SLACK_URL", SLACK)
    config.write(extra='''
[alerts]
digest_time = "09:00"
timezone = "Europe/Madrid"

[[alerts.routes]]
name = "digest"
type = "slack"
on = ["digest"]
url_env = "TEST_SLACK_URL"
''', smtp_port=sink.port)
    from datetime import datetime, timezone

    clock.now = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    rt = make_rt(clock=clock)
    mock_ticket(remote, email=None)  # no survey: signals alone
    receive(rt, "status_changed_solved.json", "inv-1")
    run(rt, queue)
    from ces.worker.db.models import AssessmentRecord

    with rt.transaction() as s:
        assert (s.get(AssessmentRecord, 1).level, s.get(AssessmentRecord, 1).basis) == ("high", "signals")
    assert calls(remote, SLACK) == []  # not one ping per ticket: the digest
    clock.now = datetime(2026, 11, 24, 8, 1, tzinfo=timezone.utc)  # 09:01 in Madrid
    run(rt, queue)
    run(rt, queue)
    [digest] = [json.loads(c.request.body) for c in calls(remote, SLACK)]
    assert digest["blocks"][0]["text"]["text"] == "High-effort tickets flagged by their signals"
    assert "Team: *Billing*" in json.dumps(digest) and "#5158" in json.dumps(digest)
    run(rt, queue)
    assert len(calls(remote, SLACK)) == 1  # once a day


def test_config_check_catches_a_malformed_route_url(config, capsys, monkeypatch, sink):
    from tests.test_cli import call

    monkeypatch.setenv("TEST_SLACK_URL", "hooks.slack.com/no-scheme")
    config.write(extra='[alerts]\n[[alerts.routes]]\nname = "s"\ntype = "slack"\nurl_env = "TEST_SLACK_URL"\n')
    code, _, err = call(capsys, "config", "check")
    assert code == 1 and "alerts.routes[0].url_env: the URL it holds is not an http(s) URL" in err
    assert "no-scheme" not in err


def test_a_helpdesk_without_notes_skips_the_note_route_only(config, make_rt, clock, monkeypatch, sink, queue,
                                                             zendesk_api):
    from ces.connectors.models import InboundRequest
    from ces.worker.intake import event_row, store_batch
    from tests.simulators.generic import GenericSender

    secret = "whsec_c2ltdWxhdGVkLXNlbmRlci1zZWNyZXQtMzJieXRlcw=="
    monkeypatch.setenv("TEST_GENERIC_SECRET", secret)
    monkeypatch.setenv("TEST_SLACK_URL", SLACK)
    config.write(smtp_port=sink.port, connectors='[[connectors]]\nid = "crm"\nkind = "generic"\n'
                 'webhook_secret_env = "TEST_GENERIC_SECRET"\n', extra='''
[alerts]
settle_seconds = 0
[[alerts.routes]]
name = "note"
type = "note"
[[alerts.routes]]
name = "slack"
type = "slack"
url_env = "TEST_SLACK_URL"
''')
    rt = make_rt(clock=clock)
    zendesk_api.post(SLACK, body="ok")
    sender = GenericSender(secret)
    tid = sender.create_ticket("ana@example.com", requester_name="Ana", send=False)
    sender.tickets[tid]["status"] = "solved"
    body = json.dumps({"type": "ticket.solved", "timestamp": clock.now.isoformat(), "data": sender.tickets[tid]}).encode()
    from ces.connectors.standard_webhooks import headers

    h = {k.lower(): v for k, v in headers(secret, "msg_1", int(clock.now.timestamp()), body).items()}
    req = InboundRequest("POST", "/webhooks/crm", "", h, body, clock.now, rt.settings.public_url)
    conn = rt.connector("crm")
    conn.verify(req)
    rows = [event_row("crm", e, clock.now, 0.5) for e in conn.parse(req)]
    [ids] = store_batch(rt, [rows])
    queue("ces.process_event", ids[0])
    run(rt, queue)
    answered(rt, queue, 1, comment="awful")
    states = {a.route: (a.state, a.reason) for a in alerts(rt)}
    assert states["slack"] == ("sent", None)
    assert states["note"][0] == "skipped" and "cannot post internal notes" in states["note"][1]
