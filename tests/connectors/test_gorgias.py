"""Gorgias: what is particular to it (each fixture's parse, messages → history, exact requests)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
import responses

from ces.connectors.errors import BadSignature, PermanentApiError, Unparseable
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, Person, Status
from tests.connectors.kits.gorgias import KIT
from tests.support import fixture_bytes

API = KIT.api_root
SECRET = KIT.env["GG_SECRET"]


@pytest.fixture
def gorgias(monkeypatch):
    return KIT.connector("gorgias", monkeypatch)


def delivery(name: str, secret: str = SECRET):
    body = fixture_bytes("gorgias", name)
    return KIT.inbound("gorgias", body, KIT.sign(body, secret, KIT.now))


def parsed(gorgias, name: str):
    request = delivery(name)
    gorgias.verify(request)
    return gorgias.parse(request)


def test_closed_is_a_solve_with_the_team_and_agent_it_has_now(gorgias):
    [event] = parsed(gorgias, "webhook_ticket_closed.json")
    assert (event.kind, event.status, event.ticket_id) == (EventKind.STATUS, Status.SOLVED, "5520")
    assert event.occurred_at == datetime(2026, 11, 23, 10, 15, 45, 123456, tzinfo=timezone.utc)
    assert [(e.kind, e.value) for e in event.entries] == [
        (EntryKind.STATUS, "solved"), (EntryKind.GROUP, "Returns"), (EntryKind.ASSIGNEE, "priya.patel@acme.test")]


def test_open_is_open_so_after_a_solve_a_reopen_and_an_empty_agent_is_unassigned(gorgias):
    [event] = parsed(gorgias, "webhook_ticket_reopened.json")
    assert (event.kind, event.status) == (EventKind.STATUS, Status.OPEN)
    assert [(e.kind, e.value) for e in event.entries] == [
        (EntryKind.STATUS, "open"), (EntryKind.GROUP, "Billing"), (EntryKind.ASSIGNEE, None)]


def test_spam_gets_no_survey(gorgias):
    [event] = parsed(gorgias, "webhook_ticket_spam.json")
    assert event.kind == EventKind.IGNORED and event.summary == "marked as spam"


def test_a_body_without_ticket_id_is_unparseable(gorgias):
    with pytest.raises(Unparseable, match="ticket_id"):
        parsed(gorgias, "webhook_without_ticket_id.json")


def test_a_retry_is_the_same_delivery_and_another_change_is_not(gorgias):
    first, again = parsed(gorgias, "webhook_ticket_closed.json"), parsed(gorgias, "webhook_ticket_closed.json")
    other = parsed(gorgias, "webhook_ticket_reopened.json")
    assert first[0].delivery_id == again[0].delivery_id != other[0].delivery_id


def test_the_secret_is_a_header_of_the_admins_choosing(monkeypatch):
    connector = KIT.connector("gorgias", monkeypatch, webhook_header="X-Acme-Token")
    body = fixture_bytes("gorgias", "webhook_ticket_closed.json")
    connector.verify(KIT.inbound("gorgias", body, {"X-Acme-Token": SECRET}))
    with pytest.raises(BadSignature, match="X-Acme-Token"):
        connector.verify(delivery("webhook_ticket_closed.json"))


def test_settings_need_one_place_and_a_header_http_does_not_use(monkeypatch):
    for wrong in ({"domain": None}, {"base_url": "https://acme.gorgias.com"}, {"webhook_header": "Authorization"}):
        with pytest.raises(ValueError):
            KIT.connector("gorgias", monkeypatch, **wrong)


@responses.activate
def test_fetch_ticket_with_basic_auth(gorgias):
    KIT.api()
    ticket = gorgias.fetch_ticket("5520")
    assert responses.calls[0].request.headers["Authorization"] == "Basic " + base64.b64encode(
        f"ces@acme.test:{KIT.env['GG_KEY']}".encode()).decode()
    assert (ticket.requester.email, ticket.requester.name, ticket.requester.locale) == (
        "maria.garcia@example.com", "María García", "es")
    assert (ticket.assignee_id, ticket.assignee_email, ticket.group) == ("43", "priya.patel@acme.test", "Returns")
    assert (ticket.status, ticket.channel, ticket.tags) == (Status.SOLVED, Channel.EMAIL, ["refund"])
    assert ticket.url == "https://acme.gorgias.com/app/ticket/5520"


@responses.activate
def test_history_has_each_message_with_its_channel_and_notes_apart(gorgias):
    KIT.api()
    history = gorgias.fetch_history("5520")
    assert [(e.kind, e.actor, e.channel) for e in history.entries] == [
        (EntryKind.MESSAGE, Actor.CUSTOMER, Channel.EMAIL), (EntryKind.MESSAGE, Actor.AGENT, Channel.EMAIL),
        (EntryKind.MESSAGE, Actor.CUSTOMER, Channel.CHAT), (EntryKind.NOTE, Actor.AGENT, None),
        (EntryKind.MESSAGE, Actor.AGENT, Channel.CHAT)]
    assert "limit=100" in responses.calls[1].request.url


@responses.activate
def test_history_follows_the_cursor(gorgias):
    page = json.loads(fixture_bytes("gorgias", "api_messages.json"))
    responses.get(f"{API}/tickets/5520", body=fixture_bytes("gorgias", "api_ticket.json"))
    responses.get(f"{API}/tickets/5520/messages",
                  json={"data": page["data"][:2], "meta": {"next_cursor": "abc"}},
                  match=[responses.matchers.query_param_matcher({"limit": "100"})])
    responses.get(f"{API}/tickets/5520/messages", json={"data": page["data"][2:], "meta": {"next_cursor": None}},
                  match=[responses.matchers.query_param_matcher({"limit": "100", "cursor": "abc"})])
    assert len(gorgias.fetch_history("5520").entries) == 5


@responses.activate
def test_recent_tickets_by_customer_newest_first_down_to_since(gorgias):
    KIT.api()
    found = gorgias.recent_tickets(Person(id="120"), datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert [t.id for t in found] == ["5520", "5391"]
    assert "customer_id=120" in responses.calls[0].request.url
    assert "order_by=created_datetime%3Adesc" in responses.calls[0].request.url


@responses.activate
def test_note_tags_and_reopen_requests(gorgias):
    KIT.api()
    gorgias.post_internal_note("5520", "Score 2 <b>slow</b>")
    gorgias.add_tags("5520", ["ces-2"])
    gorgias.remove_tags("5520", ["ces-6"])
    gorgias.reopen("5520", group="7")
    bodies = [(c.request.method, c.request.url.removeprefix(API), json.loads(c.request.body)) for c in responses.calls]
    note = bodies[0][2]
    assert bodies[0][:2] == ("POST", "/tickets/5520/messages")
    assert (note["channel"], note["from_agent"], note["sender"], note["body_text"]) == (
        "internal-note", True, {"id": 44}, "Score 2 <b>slow</b>")
    assert "&lt;b&gt;" in note["body_html"]
    assert bodies[1:] == [("POST", "/tickets/5520/tags", {"names": ["ces-2"]}),
                          ("DELETE", "/tickets/5520/tags", {"names": ["ces-6"]}),
                          ("PUT", "/tickets/5520", {"status": "open", "assignee_team": {"id": 7}})]


@responses.activate
def test_public_reply_answers_the_customers_last_email_from_the_address_it_reached(gorgias):
    KIT.api()
    gorgias.post_public_reply("5520", "Thanks, María")
    reply = json.loads(responses.calls[-1].request.body)
    assert (reply["channel"], reply["integration_id"], reply["receiver"], reply["subject"]) == (
        "email", 31, {"id": 120}, "Re: My order arrived broken")
    assert reply["source"]["from"]["address"] == "support@acme.test"
    assert [to["address"] for to in reply["source"]["to"]] == ["maria.garcia@example.com"]
    assert "sent_datetime" not in reply  # Gorgias sends a message created without it


@responses.activate
def test_no_public_reply_where_the_customer_never_wrote_an_email(gorgias):
    responses.get(f"{API}/tickets/5521/messages", json={"data": [], "meta": {"next_cursor": None}})
    with pytest.raises(PermanentApiError, match="no e-mail"):
        gorgias.post_public_reply("5521", "Hello")


@responses.activate
def test_check_says_what_works_and_why_not(gorgias):
    responses.get(f"{API}/account", status=401, json={"error": "Unauthorized"})
    responses.get(f"{API}/tickets", json={"data": [], "meta": {"next_cursor": None}})
    auth, history = gorgias.check()
    assert (auth.name, auth.ok, history.ok) == ("authentication", False, True)


def test_setup_names_the_header_the_form_and_the_survey_to_switch_off(gorgias):
    text = gorgias.setup_instructions()
    assert gorgias.webhook_url in text and "X-CES-Webhook-Secret" in text and "GG_SECRET" in text
    assert '"status": "{{ticket.status}}"' in text and "Satisfaction survey" in text
