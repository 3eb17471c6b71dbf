"""Intercom: X-Hub-Signature, notification parsing (one test per fixture), REST API, setup text."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import responses
from responses import matchers

from ces.connectors import base
from ces.connectors.errors import (
    PermanentApiError,
    Unparseable,
    Unsupported,
)
from ces.connectors.intercom import IntercomConnector, IntercomSettings
from ces.connectors.intercom.connector import sign
from ces.connectors.models import Channel, EntryKind, EventKind, InboundRequest, Person, Status
from tests.connectors.kit import changes_of, talk_of
from tests.connectors.kits.intercom import KIT
from tests.support import fixture_bytes, fixture_json

API = "https://api.intercom.io"
SECRET = "intercom-client-secret-0f9e"
TOKEN = "dG9rOmludGVyY29tLWFjY2Vzcy10b2tlbg=="
NOW = datetime(2026, 11, 23, 10, 16, tzinfo=timezone.utc)
CONVERSATION = f"{API}/conversations/215468772411024"


@pytest.fixture
def intercom(monkeypatch) -> IntercomConnector:
    return KIT.connector("intercom", monkeypatch)


def inbound(body: bytes, headers: dict[str, str], at: datetime = NOW) -> InboundRequest:
    return KIT.inbound("intercom", body, headers, at)


def signed(name: str, secret: str = SECRET) -> InboundRequest:
    body = fixture_bytes("intercom", name)
    return inbound(body, {"Content-Type": "application/json", "X-Hub-Signature": sign(secret, body),
                          "User-Agent": "Intercom-Webhooks-Dispatcher"})


# --- signature ----------------------------------------------------------------------------------
def test_signature_is_hex_hmac_sha1_with_the_sha1_prefix():
    # Computed independently: printf '%s' '{"a":1}' | openssl dgst -sha1 -hmac secret
    assert sign("secret", b'{"a":1}') == "sha1=f8446672f033e4b2beafc5ca3a71eafcd2cafb6e"


# --- parsing: one test per fixture ---------------------------------------------------------------
def test_conversation_closed_is_solved(intercom):
    [event] = intercom.parse(signed("conversation_admin_closed.json"))
    assert (event.kind, event.ticket_id, event.status, event.previous_status) == (
        EventKind.STATUS, "215468772411024", Status.SOLVED, Status.OPEN)
    assert event.delivery_id == "notif_7c1a3e8e-4a4f-4f0b-9e55-8f1b0c6d2a11"
    assert event.occurred_at == datetime.fromtimestamp(1763892945, timezone.utc)  # the close part
    assert event.actor_id == "5017691"


def test_customer_reply_after_a_close_reopens(intercom):
    [event] = intercom.parse(signed("conversation_user_replied_after_close.json"))
    assert (event.kind, event.status, event.previous_status) == (EventKind.STATUS, Status.OPEN, None)
    assert event.actor_id == "6643b7b1f0a1c25f1c2f7a10"


def test_ticket_resolved_is_solved_with_the_previous_state(intercom):
    [event] = intercom.parse(signed("ticket_state_updated_resolved.json"))  # API 2.10 and 2.11: a string
    assert fixture_json("intercom", "ticket_state_updated_resolved.json")["data"]["item"]["ticket_state"] == "resolved"
    assert (event.ticket_id, event.status, event.previous_status) == ("215472629311235", Status.SOLVED, Status.OPEN)
    assert event.occurred_at == datetime.fromtimestamp(1768117266, timezone.utc)


def test_ticket_resolved_in_the_api_2_12_shape(intercom):
    """From 2.12 the ticket's ticket_state is an object with `category` (2.10 and 2.11: a string, as
    in the fixture above); its parts' states stay strings."""
    item = fixture_json("intercom", "ticket_state_updated_resolved_2_12.json")["data"]["item"]
    assert item["ticket_state"]["category"] == "resolved"
    [event] = intercom.parse(signed("ticket_state_updated_resolved_2_12.json"))
    assert (event.ticket_id, event.status, event.previous_status) == ("215472629311235", Status.SOLVED, Status.OPEN)
    assert event.occurred_at == datetime.fromtimestamp(1768117266, timezone.utc)


@pytest.mark.parametrize("fixture,expected", [
    ("conversation_admin_opened.json", {"status": Status.OPEN, "previous_status": Status.SOLVED,  # a reopen
                                        "occurred_at": datetime.fromtimestamp(1763900000, timezone.utc)}),
    # a customer's reply to a conversation never closed
    ("conversation_user_replied.json", {"kind": EventKind.IGNORED, "ticket_id": "215468772411024"}),
    ("conversation_admin_assigned.json", {"kind": EventKind.IGNORED, "summary": "conversation.admin.assigned"}),
    # a ticket back in progress after resolved: a reopen
    ("ticket_state_updated_reopened.json", {"status": Status.OPEN, "previous_status": Status.SOLVED}),
    ("contact_created.json", {"kind": EventKind.IGNORED, "ticket_id": None}),  # another object: no ticket
])
def test_a_notification_parses_to_its_event(intercom, fixture, expected):
    [event] = intercom.parse(signed(fixture))
    assert {name: getattr(event, name) for name in expected} == expected


def test_ping_stores_nothing(intercom):
    assert intercom.parse(signed("ping.json")) == []


def test_a_conversation_without_id_is_unparseable(intercom):
    with pytest.raises(Unparseable):
        intercom.parse(signed("conversation_without_id.json"))


def test_a_redelivery_keeps_its_delivery_id(intercom):
    data = fixture_json("intercom", "conversation_admin_closed.json")
    data["delivery_attempts"] = 2
    [again] = intercom.parse(inbound(json.dumps(data).encode(), {}))
    [first] = intercom.parse(signed("conversation_admin_closed.json"))
    assert again.delivery_id == first.delivery_id


# --- API ----------------------------------------------------------------------------------------
def _names():
    responses.get(f"{API}/admins", json=fixture_json("intercom", "api_admins.json"))
    responses.get(f"{API}/teams", json=fixture_json("intercom", "api_teams.json"))


@responses.activate
def test_fetch_ticket_reads_requester_assignee_team_and_channel(intercom):
    responses.get(CONVERSATION, json=fixture_json("intercom", "api_conversation.json"),
                  match=[matchers.query_param_matcher({"display_as": "plaintext"}),
                         matchers.header_matcher({"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.11"})])
    responses.get(f"{API}/contacts/6643b7b1f0a1c25f1c2f7a10", json=fixture_json("intercom", "api_contact.json"))
    _names()
    ticket = intercom.fetch_ticket("215468772411024")
    assert ticket.status == Status.SOLVED
    assert (ticket.requester.id, ticket.requester.email, ticket.requester.name, ticket.requester.locale) == (
        "6643b7b1f0a1c25f1c2f7a10", "maria.garcia@example.com", "María García", "es")
    assert (ticket.assignee, ticket.group, ticket.tags) == ("Lina Chen", "Tier 2", ["billing"])
    assert (ticket.channel, ticket.raw_channel) == (Channel.EMAIL, "email")
    assert ticket.url == "https://app.intercom.com/a/apps/tx2p130c/conversations/215468772411024"
    assert ticket.created_at == datetime.fromtimestamp(1763800000, timezone.utc)


@responses.activate
def test_history_from_parts_and_statistics(intercom):
    responses.get(CONVERSATION, json=fixture_json("intercom", "api_conversation.json"))
    responses.get(f"{API}/contacts/6643b7b1f0a1c25f1c2f7a10", json=fixture_json("intercom", "api_contact.json"))
    _names()
    history = intercom.fetch_history("215468772411024")
    changes = changes_of(history)
    assert changes == [
        ("group", "system", "Billing", None),
        ("group", "agent", "Tier 2", "Billing"),
        ("assignee", "agent", "Lina Chen", None),
        ("status", "agent", "pending", None),
        ("status", "system", "open", "pending"),
        ("status", "agent", "solved", "open"),
    ]
    talk = talk_of(history)
    assert talk == [("message", "customer", "email"), ("message", "agent", "email"), ("note", "agent", "email"),
                    ("message", "customer", "email"), ("message", "agent", "email"), ("note", "us", "email")]
    assert history.counters == {"assignee_stations": 2.0, "reopens": 0.0, "first_reply_minutes": 28.0,
                                "full_resolution_minutes": (1763892945 - 1763800000) / 60}
    assert history.missing == []


@responses.activate
def test_an_id_that_is_no_conversation_is_read_as_a_ticket(intercom):
    responses.get(f"{API}/conversations/215472629311235", status=404,
                  json=fixture_json("intercom", "api_error_not_found.json"))
    ticket = fixture_json("intercom", "ticket_state_updated_resolved.json")["data"]["item"]
    responses.get(f"{API}/tickets/215472629311235", json=ticket)
    responses.get(f"{API}/contacts/6643b7b1f0a1c25f1c2f7a10", json=fixture_json("intercom", "api_contact.json"))
    _names()
    history = intercom.fetch_history("215472629311235")
    assert (history.ticket.status, history.ticket.subject, history.ticket.assignee) == (
        Status.SOLVED, "Card charged twice", "Priya Patel")
    assert [(e.value, e.previous) for e in history.entries if e.kind == EntryKind.STATUS] == [
        ("open", None), ("solved", "open")]


@responses.activate
def test_a_deleted_teammate_keeps_its_id_and_is_looked_up_once(intercom):
    data = fixture_json("intercom", "api_conversation.json")
    for part in data["conversation_parts"]["conversation_parts"]:
        if (part.get("assigned_to") or {}).get("type") == "admin":
            part["assigned_to"]["id"] = "4000001"
    data["admin_assignee_id"] = 4000001
    data["contacts"]["contacts"] = []
    responses.get(CONVERSATION, json=data)
    _names()
    history = intercom.fetch_history("215468772411024")
    assert history.ticket.assignee == "4000001"
    assert [e.value for e in history.entries if e.kind == EntryKind.ASSIGNEE] == ["4000001"]
    assert sum(1 for c in responses.calls if c.request.url == f"{API}/admins") == 1


@responses.activate
def test_history_says_when_intercom_cut_the_parts(intercom):
    data = fixture_json("intercom", "api_conversation.json")
    data["conversation_parts"]["total_count"] = 612
    responses.get(CONVERSATION, json=data)
    responses.get(f"{API}/contacts/6643b7b1f0a1c25f1c2f7a10", status=404,
                  json=fixture_json("intercom", "api_error_not_found.json"))
    _names()
    history = intercom.fetch_history("215468772411024")
    assert history.ticket.requester is None
    assert any(m.startswith("requester:") for m in history.missing)
    assert any("of 612" in m for m in history.missing)


@responses.activate
def test_recent_tickets_search_by_contact_and_follow_the_cursor(intercom):
    since = datetime(2025, 11, 20, tzinfo=timezone.utc)
    query = {"operator": "AND", "value": [
        {"field": "contact_ids", "operator": "=", "value": "6643b7b1f0a1c25f1c2f7a10"},
        {"field": "created_at", "operator": ">", "value": int(since.timestamp())}]}
    responses.post(f"{API}/conversations/search", json=fixture_json("intercom", "api_search_page1.json"),
                   match=[matchers.json_params_matcher({"query": query, "pagination": {"per_page": 150}})])
    responses.post(f"{API}/conversations/search", json=fixture_json("intercom", "api_search_page2.json"),
                   match=[matchers.json_params_matcher({"query": query, "pagination": {
                       "per_page": 150, "starting_after": "WzE3NjM4MDAwMDAwMDAsMjE1NDY4NzcyNDExMDI0LDJd"}})])
    tickets = intercom.recent_tickets(Person(id="6643b7b1f0a1c25f1c2f7a10"), since)
    # newest first; the one created before the window (1763500000 = 2025-11-18) is dropped
    assert [(t.id, t.channel.value) for t in tickets] == [("215468772412555", "chat"), ("215468772411024", "email")]


def test_recent_tickets_without_a_contact_id_asks_nothing(intercom):
    assert intercom.recent_tickets(Person(email="a@b.c"), NOW) == []


@responses.activate
def test_internal_note_and_public_reply_are_written_as_the_admin(intercom):
    responses.post(f"{CONVERSATION}/reply", json={"type": "conversation", "id": "215468772411024"})
    responses.post(f"{CONVERSATION}/reply", json={"type": "conversation", "id": "215468772411024"})
    intercom.post_internal_note("215468772411024", "Customer reported high effort")
    intercom.post_public_reply("215468772411024", "How easy was it?")
    assert json.loads(responses.calls[0].request.body) == {
        "message_type": "note", "type": "admin", "admin_id": "5017999", "body": "Customer reported high effort"}
    assert json.loads(responses.calls[1].request.body)["message_type"] == "comment"
    assert responses.calls[0].request.headers["Intercom-Version"] == "2.11"


@responses.activate
def test_tags_are_found_by_name_or_created(intercom):
    responses.get(f"{API}/tags", json=fixture_json("intercom", "api_tags.json"))
    responses.post(f"{API}/tags", json=fixture_json("intercom", "api_tag_created.json"),
                   match=[matchers.json_params_matcher({"name": "ces_high_effort"})])
    responses.post(f"{CONVERSATION}/tags", json={"type": "tag", "id": "7522911", "name": "ces_low"})
    responses.post(f"{CONVERSATION}/tags", json={"type": "tag", "id": "7523001", "name": "ces_high_effort"})
    intercom.add_tags("215468772411024", ["ces_low", "ces_high_effort"])
    bodies = [json.loads(c.request.body) for c in responses.calls if c.request.url == f"{CONVERSATION}/tags"]
    assert bodies == [{"id": "7522911", "admin_id": "5017999"}, {"id": "7523001", "admin_id": "5017999"}]
    intercom.add_tags("215468772411024", ["ces_low"])  # cached: no new tag lookup
    assert sum(1 for c in responses.calls if c.request.url.startswith(f"{API}/tags")) == 2


@responses.activate
def test_remove_tags_untags_by_id_and_never_creates_a_tag(intercom):
    responses.get(f"{API}/tags", json=fixture_json("intercom", "api_tags.json"))
    responses.delete(f"{CONVERSATION}/tags/7522911", status=404,
                     json={"type": "error.list", "errors": [{"code": "not_found", "message": "Resource Not Found"}]})
    intercom.remove_tags("215468772411024", ["ces_low", "ces_never_made"])  # 404: already off; fine
    [untag] = [c for c in responses.calls if c.request.method == "DELETE"]
    assert json.loads(untag.request.body) == {"admin_id": "5017999"}
    assert not any(c.request.method == "POST" for c in responses.calls)


@responses.activate
def test_reopen_opens_then_assigns_the_team(intercom):
    responses.post(f"{CONVERSATION}/parts", json={"type": "conversation", "id": "215468772411024"})
    responses.post(f"{CONVERSATION}/parts", json={"type": "conversation", "id": "215468772411024"})
    intercom.reopen("215468772411024", group="6112741")
    assert [json.loads(c.request.body) for c in responses.calls] == [
        {"message_type": "open", "admin_id": "5017999"},
        {"message_type": "assignment", "type": "team", "admin_id": "5017999", "assignee_id": "6112741"}]


def test_followups_are_not_supported(intercom):
    assert base.FOLLOWUP not in intercom.capabilities
    with pytest.raises(Unsupported):
        intercom.create_followup("1", "s", "t")


@responses.activate
def test_404_is_permanent(intercom):
    responses.get(CONVERSATION, status=404, json=fixture_json("intercom", "api_error_not_found.json"))
    responses.get(f"{API}/tickets/215468772411024", status=404, json=fixture_json("intercom",
                                                                                  "api_error_not_found.json"))
    with pytest.raises(PermanentApiError) as err:
        intercom.fetch_ticket("215468772411024")
    assert err.value.status == 404 and len(responses.calls) == 2  # as a conversation, then as a ticket


@responses.activate
def test_regional_host(monkeypatch, intercom):
    intercom.settings = intercom.settings.model_copy(update={"region": "eu"})
    responses.post("https://api.eu.intercom.io/conversations/1/reply", json={})
    intercom.post_internal_note("1", "x")
    assert responses.calls[0].request.url.startswith("https://api.eu.intercom.io/")


@responses.activate
def test_check_reports_token_owner_admin_and_history(intercom):
    responses.get(f"{API}/me", json=fixture_json("intercom", "api_me.json"))
    responses.get(f"{API}/admins/5017999", json=fixture_json("intercom", "api_admin.json"))
    responses.post(f"{API}/conversations/search", json=fixture_json("intercom", "api_search_page2.json"))
    results = intercom.check()
    assert [(r.name, r.ok) for r in results] == [("authentication", True), ("internal notes", True),
                                                 ("history", True)]
    assert results[0].extra == {"admin_id": "5017999", "workspace_id": "tx2p130c"}


@responses.activate
def test_check_says_when_the_token_is_wrong(intercom):
    responses.get(f"{API}/me", status=401, json=fixture_json("intercom", "api_error_unauthorized.json"))
    [result] = intercom.check()
    assert not result.ok and "401" in result.detail


@responses.activate
def test_check_says_when_admin_id_is_not_a_teammate(intercom):
    responses.get(f"{API}/me", json=fixture_json("intercom", "api_me.json"))
    responses.get(f"{API}/admins/5017999", status=404, json=fixture_json("intercom", "api_error_not_found.json"))
    responses.post(f"{API}/conversations/search", json=fixture_json("intercom", "api_search_page2.json"))
    results = intercom.check()
    assert [(r.name, r.ok) for r in results][1] == ("internal notes", False)


# --- setup and settings --------------------------------------------------------------------------
def test_setup_instructions(intercom):
    text = intercom.setup_instructions()
    assert "https://surveys.acme.test/webhooks/intercom-main" in text
    for topic in ("conversation.admin.closed", "conversation.admin.opened", "conversation.user.replied",
                  "ticket.state.updated"):
        assert topic in text
    assert "export IC_SECRET=" in text and "export IC_TOKEN=" in text
    assert "conversation rating" in text.lower() and "timestamp" in text


@pytest.mark.parametrize("given,refused", [
    ({"access_token_env": "T", "client_secret_env": "S"}, "admin_id"),
    ({"access_token_env": "T", "admin_id": "1"}, "client_secret"),
    ({"client_secret_env": "S", "admin_id": "1"}, "access_token"),
])
def test_settings_need_credentials_and_an_admin(given, refused):
    with pytest.raises(ValueError, match=refused):
        IntercomSettings(id="i", kind="intercom", **given)


def test_own_admin_is_the_api_user(intercom):
    assert intercom.settings.api_user_id == "5017999"
    assert intercom.is_ours("5017999") and not intercom.is_ours("5017691")
