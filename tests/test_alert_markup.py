"""What each alert route actually sends when the customer (comment, name) and the helpdesk (team,
agent) hold markup: Slack mentions and disguised links, Markdown links, emphasis, a script tag,
and a comment of three lines. Captured at the HTTP boundary (`responses`) and in the SMTP sink."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import select

from ces.worker.alerts.routes import deliver
from ces.worker.db.models import Alert
from ces.worker.surveys.answers import record_answer
from tests.alerts_data import EVERY_ROUTE, HOOK, SLACK, TEAMS, mock_routes, set_route_secrets
from tests.conftest import OTHER_SECRETS, ZENDESK_CONNECTOR, other_helpdesks
from tests.pipeline import ZENDESK, mock_history, receive, surveys, ticket_json
from tests.test_alerts import calls, run
from tests.test_markup import BOLD, COMMENT, DISGUISED, LINK, PING

NAME = f"Eve {BOLD} {LINK} <!here>"
TEAM = f"Billing {PING}"
AGENT = f"Priya {DISGUISED}"
LINES = COMMENT.splitlines()
ANGLED = [PING, DISGUISED, "<!here>", "<script>"]  # Slack reads <…> as mentions and links


@pytest.fixture
def rt(config, make_rt, clock, monkeypatch, sink):
    set_route_secrets(monkeypatch, **OTHER_SECRETS)
    helpdesks = other_helpdesks("intercom", "front", "freshdesk", "hubspot", "zammad")
    config.write(connectors=ZENDESK_CONNECTOR + helpdesks, extra=EVERY_ROUTE, smtp_port=sink.port)
    return make_rt(clock=clock)


@pytest.fixture
def alerted(rt, queue, sink, zendesk_api):
    """A low answer with the planted comment, from a customer and to a team and agent named with markup."""
    ticket = ticket_json(locale="en", name=NAME)
    ticket["groups"][0]["name"] = TEAM
    ticket["users"][1]["name"] = AGENT
    zendesk_api.get(f"{ZENDESK}/api/v2/tickets/5158.json", json=ticket)
    mock_history(zendesk_api)
    mock_routes(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    run(rt, queue)
    record_answer(rt, surveys(rt)[0].token, 2, COMMENT, how="form")
    run(rt, queue)
    return zendesk_api


def sent_json(api, url, method="POST") -> dict:
    [call] = calls(api, url, method)
    return json.loads(call.request.body)


def test_slack_gets_entities_for_every_angle_bracket_and_the_whole_comment_quoted(alerted):
    body = sent_json(alerted, SLACK)
    raw = json.dumps(body, ensure_ascii=False)
    assert not [a for a in ANGLED if a in raw]
    quoted = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section" and "text" in b
              and b["text"]["text"].startswith("> ")]
    assert quoted == ["> &lt;!channel&gt; look: &lt;https://evil.example|Open ticket&gt;\n"
                      "> [click](https://evil) and *bold*\n"
                      "> &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"]
    fields = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in body["blocks"][1]["fields"]}
    assert fields["*Customer*"] == "Eve *bold* [click](https://evil) &lt;!here&gt; &lt;maria.garcia@example.com&gt;"
    assert fields["*Team*"] == "Billing &lt;!channel&gt;"
    assert fields["*Agent*"] == "Priya &lt;https://evil.example|Open ticket&gt;"


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_teams_shows_outside_text_only_in_textruns_which_have_no_markdown(alerted):
    card = sent_json(alerted, TEAMS)["attachments"][0]["content"]
    elements = list(_walk(card["body"]))
    assert not [e for e in elements if e.get("type") in ("TextBlock", "FactSet")]  # Markdown in Teams
    runs = [e["text"] for e in elements if e.get("type") == "TextRun"]
    assert [line for line in LINES if line in runs] == LINES  # each line of the comment, as written
    assert "María" not in json.dumps(card) and f"{NAME} <maria.garcia@example.com>" in runs
    assert TEAM in runs and AGENT in runs


def test_email_is_plain_text_holding_the_comment_as_written(alerted, sink):
    [mail] = [m for m in sink.messages if m["To"] == "lead@acme.test"]
    assert not mail.is_multipart() and mail.get_content_type() == "text/plain"
    body = mail.get_content()
    assert "Comment:\n" + "\n".join(f"> {line}" for line in LINES) in body.replace("\r\n", "\n")
    assert f"customer {NAME} <maria.garcia@example.com>" in body and f"team: {TEAM}" in body


def test_the_webhook_carries_the_words_as_json_data(alerted):
    data = sent_json(alerted, HOOK)["data"]
    assert (data["comment"], data["customer"]["name"], data["team"], data["agent"]) == (COMMENT, NAME, TEAM, AGENT)


def test_a_zendesk_note_is_plain_text_with_every_line(alerted):
    note = sent_json(alerted, f"{ZENDESK}/api/v2/tickets/5158.json", "PUT")["ticket"]["comment"]
    assert note["public"] is False
    assert "Comment:\n" + "\n".join(f"> {line}" for line in LINES) in note["body"]


HTML_LINES = ["&gt; &lt;!channel&gt; look: &lt;https://evil.example|Open ticket&gt;",
              "&gt; [click](https://evil) and *bold*", "&gt; &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"]
NOTES = {  # connector: (ticket id, where its note goes, how the note's body is read from the request, what it holds)
    "intercom-main": ("215468772411024", "https://api.intercom.io/conversations/215468772411024/reply",
                      lambda b: b["body"], "<br>".join(HTML_LINES)),
    "freshdesk-main": ("4711", "https://acme.freshdesk.com/api/v2/tickets/4711/notes",
                       lambda b: b["body"], "<br>".join(HTML_LINES)),
    "hubspot-main": ("5158001234", "https://api.hubapi.com/crm/v3/objects/notes",
                     lambda b: b["properties"]["hs_note_body"], "<br>".join(HTML_LINES)),
    "front-main": ("cnv_keo696", "https://api2.frontapp.com/conversations/cnv_keo696/comments",
                   lambda b: b["body"], "  \n".join([
                       r"\> \<\!channel\> look\: \<https\:\/\/evil\.example\|Open ticket\>",
                       r"\> \[click\]\(https\:\/\/evil\) and \*bold\*",
                       r"\> \<script\>alert\(1\)\<\/script\> \& more"])),
    "zammad-main": ("1342", "https://support.acme.test/api/v1/ticket_articles",
                    lambda b: b["body"], "\n".join(f"> {line}" for line in LINES)),
}


@pytest.mark.parametrize("connector", sorted(NOTES))
def test_a_note_in_each_helpdesks_own_markup(rt, alerted, connector):
    ticket_id, url, read, expected = NOTES[connector]
    alerted.post(url, status=201, json={"id": "1"})
    with rt.transaction() as s:
        zendesk_note = s.scalars(select(Alert).where(Alert.route == "note")).one()
    alert = copy.copy(zendesk_note)  # the same alert, about a ticket of that helpdesk
    alert.content = {**zendesk_note.content, "connector": connector, "ticket_id": ticket_id}
    route = next(r for r in rt.settings.alerts.routes if r.name == "note").model_copy(update={"tag": None})
    deliver(rt, alert, route, None)
    body = read(sent_json(alerted, url))
    assert expected in body
    markup = {"zammad-main": [], "front-main": ANGLED + [LINK, BOLD]}.get(connector, ANGLED)  # else HTML
    assert not [a for a in markup if a in body]
