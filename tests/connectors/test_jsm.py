"""Jira Service Management: what is particular to it (the contract suite covers the rest)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest
import responses
from responses import matchers

from ces.config.models import SignalSettings
from ces.connectors.errors import PermanentApiError, Unparseable
from ces.connectors.models import Actor, EntryKind, EventKind, Person, Status
from ces.worker.signals.definitions import compute_signals
from tests.connectors.kits.jsm import KIT
from tests.support import fixture_bytes, fixture_json

ROOT = "https://acme.atlassian.net"
ISSUE = f"{ROOT}/rest/api/3/issue/10042"
SECRET = KIT.env["JSM_SECRET"]


@pytest.fixture
def jsm(monkeypatch):
    return KIT.connector("jsm", monkeypatch)


def delivery(body: bytes, **headers: str):
    return KIT.inbound("jsm", body, {**KIT.sign(body, SECRET, KIT.now), **headers})


def parsed(jsm, name: str, change=None):
    data = fixture_json("jsm", name)
    if change:
        change(data)
    request = delivery(json.dumps(data).encode())
    jsm.verify(request)
    [event] = jsm.parse(request)
    return event


# --- intake -------------------------------------------------------------------------------------
def test_the_signature_is_the_documented_sha256_hex_of_the_body():
    body = fixture_bytes("jsm", "webhook_issue_resolved.json")
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert KIT.sign(body, SECRET, KIT.now)["X-Hub-Signature"] == expected


def test_a_resolved_request_is_solved(jsm):
    event = parsed(jsm, "webhook_issue_resolved.json")
    assert (event.kind, event.status, event.ticket_id) == (EventKind.STATUS, Status.SOLVED, "10042")
    assert event.delivery_id == "7d3f2b1a-5c4e-4f60-9a8b-0c1d2e3f4a5b"
    assert event.actor_id == "5b10ac8d82e05b22cc7d4ef5"
    assert event.occurred_at == datetime(2026, 11, 23, 10, 15, 45, 118000, tzinfo=timezone.utc)
    assert event.summary == "status Resolved" and "fields" not in json.dumps(event.payload)


def test_leaving_done_is_a_reopen(jsm):
    event = parsed(jsm, "webhook_issue_reopened.json")
    assert (event.kind, event.status) == (EventKind.STATUS, Status.OPEN)


def test_a_resolution_alone_is_solved_whatever_the_status_category(jsm):
    def resolution_only(data):
        data["issue"]["fields"]["status"]["statusCategory"]["key"] = "indeterminate"
        data["changelog"]["items"] = data["changelog"]["items"][:1]
    assert parsed(jsm, "webhook_issue_resolved.json", resolution_only).status == Status.SOLVED


def test_waiting_for_customer_is_pending(jsm):
    assert parsed(jsm, "webhook_waiting_for_customer.json").status == Status.PENDING


@pytest.mark.parametrize("change", [
    lambda d: d.update(webhookEvent="comment_created"),
    lambda d: d["changelog"].update(items=[{"field": "labels", "fieldId": "labels", "toString": "vip"}]),
], ids=["another event", "another field"])
def test_other_events_and_changes_are_ignored(jsm, change):
    assert parsed(jsm, "webhook_issue_resolved.json", change).kind == EventKind.IGNORED


def test_without_the_identifier_the_body_is_the_delivery_id(jsm):
    body = fixture_bytes("jsm", "webhook_issue_resolved.json")
    request = KIT.inbound("jsm", body, {"X-Hub-Signature": KIT.sign(body, SECRET, KIT.now)["X-Hub-Signature"]})
    [event] = jsm.parse(request)
    assert event.delivery_id == f"body:{request.digest()[:32]}" and jsm.signed_key(request) == request.digest()


def test_a_body_without_an_issue_is_unparseable(jsm):
    with pytest.raises(Unparseable):
        jsm.parse(delivery(b'{"webhookEvent": "jira:issue_updated"}'))


# --- the API ------------------------------------------------------------------------------------
@responses.activate
def test_fetch_ticket_reads_reporter_assignee_team_and_url(jsm):
    KIT.api()
    ticket = jsm.fetch_ticket("10042")
    assert ticket.status == Status.SOLVED and ticket.subject == "Refund for order 1042 never arrived"
    assert (ticket.requester.email, ticket.requester.name) == ("maria.garcia@example.com", "Maria Garcia")
    assert (ticket.assignee, ticket.assignee_id) == ("Emma Stone", "5b10ac8d82e05b22cc7d4ef5")
    assert (ticket.group, ticket.brand, ticket.tags) == ("Billing", "Acme Support", ["vip"])
    assert ticket.url == f"{ROOT}/browse/SUP-42" and len(responses.calls) == 1  # the e-mail was there
    assert "customfield_10001" in responses.calls[0].request.params["fields"]
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_a_reporter_email_hidden_by_profile_visibility_is_read_from_the_request(jsm):
    issue = fixture_json("jsm", "api_issue.json")
    del issue["fields"]["reporter"]["emailAddress"]
    responses.get(ISSUE, json=issue)
    responses.get(f"{ROOT}/rest/servicedeskapi/request/10042", json=fixture_json("jsm", "api_request.json"))
    assert jsm.fetch_ticket("10042").requester.email == "maria.garcia@example.com"


@responses.activate
def test_history_gives_transfers_reopens_and_replies(jsm):
    KIT.api()
    history = jsm.fetch_history("10042")
    assert not history.missing
    first = [e for e in history.entries if e.source_id == "created"]
    assert {(e.kind, e.value) for e in first} == {(EntryKind.STATUS, "new"), (EntryKind.GROUP, "Support")}
    notes = [e for e in history.entries if e.kind == EntryKind.NOTE]
    assert [(n.actor, n.source_id) for n in notes] == [(Actor.AGENT, "20015")]
    signals = compute_signals(history, [], connector_id="jsm-main", settings=SignalSettings(),
                              solved_at=datetime(2026, 11, 23, 10, 15, 45, tzinfo=timezone.utc))
    assert (signals.group_transfers, signals.group_path) == (1, ["Support", "Billing"])
    assert (signals.assignee_transfers, signals.reopens, signals.customer_messages) == (1, 1, 1)
    assert signals.first_reply_seconds == (datetime(2026, 11, 20, 9, 31) - datetime(2026, 11, 20, 9, 12, 31)).seconds


@responses.activate
def test_changelog_and_comments_are_read_page_by_page(jsm):
    first = {**fixture_json("jsm", "api_changelog.json"), "isLast": False, "maxResults": 2}
    first["values"] = first["values"][:2]
    responses.get(f"{ISSUE}/changelog", json=first, match=[matchers.query_param_matcher({"startAt": "0"})])
    rest = {**fixture_json("jsm", "api_changelog.json"), "startAt": 2}
    rest["values"] = rest["values"][2:]
    responses.get(f"{ISSUE}/changelog", json=rest,
                  match=[matchers.query_param_matcher({"startAt": "2", "maxResults": "100"})])
    comments = f"{ROOT}/rest/servicedeskapi/request/10042/comment"
    responses.get(comments, json={**fixture_json("jsm", "api_request_comments.json"), "isLastPage": False},
                  match=[matchers.query_param_matcher({"start": "0"})])
    responses.get(comments, json={"size": 0, "start": 4, "isLastPage": True, "values": []},
                  match=[matchers.query_param_matcher({"start": "4", "limit": "100"})])
    KIT.api()
    history = jsm.fetch_history("10042")
    assert len([e for e in history.entries if e.kind == EntryKind.STATUS and e.source_id != "created"]) == 4
    assert len([e for e in history.entries if e.kind in (EntryKind.MESSAGE, EntryKind.NOTE)]) == 4


@responses.activate
def test_recent_tickets_ask_jql_for_the_reporters_requests(jsm):
    KIT.api()
    found = jsm.recent_tickets(KIT.requester, datetime(2026, 11, 1, 8, 30, tzinfo=timezone.utc))
    assert [t.id for t in found] == ["10057", "10042"]
    jql = responses.calls[0].request.params["jql"]  # a day early: JQL reads dates in the user's time zone
    assert jql == f'reporter = "{KIT.requester.id}" AND created >= "2026-10-31" ORDER BY created DESC'
    later = jsm.recent_tickets(KIT.requester, datetime(2026, 11, 21, tzinfo=timezone.utc))
    assert [t.id for t in later] == ["10057"]  # the exact bound, here
    assert jsm.recent_tickets(Person(email="maria.garcia@example.com"), datetime(2026, 1, 1)) == []


def sent(method: str) -> list[dict]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.method == method]


@responses.activate
def test_notes_are_internal_and_show_the_words_as_written(jsm):
    KIT.api()
    jsm.post_internal_note("10042", "Score 2: *slow* {noformat} [link|http://x]")
    jsm.post_public_reply("10042", "Thank you")
    assert responses.calls[0].request.url == f"{ROOT}/rest/servicedeskapi/request/10042/comment"
    assert sent("POST") == [
        {"body": "{noformat}\nScore 2: *slow* { noformat} [link|http://x]\n{noformat}", "public": False},
        {"body": "Thank you", "public": True}]


@responses.activate
def test_tags_are_labels(jsm):
    KIT.api()
    jsm.add_tags("10042", ["ces_2", "low effort"])
    jsm.remove_tags("10042", ["ces_2"])
    assert sent("PUT") == [{"update": {"labels": [{"add": "ces_2"}, {"add": "low_effort"}]}},
                           {"update": {"labels": [{"remove": "ces_2"}]}}]


@responses.activate
def test_reopen_takes_the_transition_back_to_in_progress_and_the_team(jsm):
    KIT.api()
    jsm.reopen("10042", group="36885b3c-1bf0-4f85-a357-c5b858c31de4")
    assert sent("POST") == [{"transition": {"id": "871"},
                             "fields": {"customfield_10001": "36885b3c-1bf0-4f85-a357-c5b858c31de4"}}]


@responses.activate
def test_reopen_without_a_way_out_of_done_says_so(jsm):
    resolve_only = fixture_json("jsm", "api_transitions.json")["transitions"][:1]
    responses.get(f"{ISSUE}/transitions", json={"transitions": resolve_only})
    with pytest.raises(PermanentApiError, match="no transition out of Done"):
        jsm.reopen("10042")


@responses.activate
def test_check_names_the_account_and_its_service_desks(jsm):
    responses.get(f"{ROOT}/rest/api/3/myself", json=fixture_json("jsm", "api_myself.json"))
    responses.get(f"{ROOT}/rest/servicedeskapi/servicedesk", json=fixture_json("jsm", "api_servicedesks.json"))
    results = jsm.check()
    assert [(r.name, r.ok) for r in results] == [("authentication", True), ("service desks", True)]
    assert results[0].extra["user_id"] == "712020:0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


def test_settings_need_a_site(monkeypatch):
    with pytest.raises(ValueError, match="site"):
        KIT.connector("jsm", monkeypatch, site=None)


def test_setup_text_switches_off_the_projects_own_survey(jsm):
    text = jsm.setup_instructions()
    assert "Collect customer satisfaction feedback" in text and "https://acme.atlassian.net" in text
    assert "JSM_TOKEN" in text and "ces@acme.example" in text
