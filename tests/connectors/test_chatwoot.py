"""Chatwoot: what is particular to it (the contract suite covers the rest through its kit)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest
import responses

from ces.config.models import SignalSettings
from ces.connectors.chatwoot import ChatwootSettings
from ces.connectors.errors import Unparseable
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, Person, Status
from ces.worker.signals.definitions import compute_signals
from tests.connectors.kits.chatwoot import KIT, signed
from tests.support import fixture_bytes

API = KIT.api_root
SECRET = KIT.env["CW_SECRET"]


@pytest.fixture
def chatwoot(monkeypatch):
    return KIT.connector("chatwoot", monkeypatch)


def parse(connector, name: str, body: bytes | None = None, **headers):
    body = fixture_bytes("chatwoot", name) if body is None else body
    req = KIT.inbound("chatwoot", body, {**signed(body, SECRET, KIT.now), **headers})
    connector.verify(req)
    return connector.parse(req)


def test_the_signature_is_sha256_hex_of_timestamp_dot_body_as_chatwoot_documents(chatwoot):
    """chatwoot/chatwoot#13573: "sha256=" + hex HMAC-SHA256(secret, "{timestamp}.{body}")."""
    body, timestamp = b'{"event":"conversation_status_changed","id":1}', str(int(KIT.now.timestamp()))
    digest = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    req = KIT.inbound("chatwoot", body, {"X-Chatwoot-Signature": f"sha256={digest}", "X-Chatwoot-Timestamp": timestamp})
    chatwoot.verify(req)


def test_resolved_is_solved_with_the_previous_status_and_the_delivery_id(chatwoot):
    [event] = parse(chatwoot, "webhook_conversation_resolved.json")
    assert (event.kind, event.ticket_id, event.status, event.previous_status) == (
        EventKind.STATUS, "1342", Status.SOLVED, Status.OPEN)
    assert event.delivery_id == "0f6f3f4e-9a51-4d0b-8d8e-3c2a1b7e5d90"
    assert event.occurred_at == datetime(2026, 11, 23, 10, 15, 0, 482000, tzinfo=timezone.utc)
    assert "maria" not in json.dumps(event.payload).lower()  # no customer data kept


def test_open_after_resolved_is_a_reopen_and_snoozed_is_on_hold(chatwoot):
    [reopen] = parse(chatwoot, "webhook_conversation_reopened.json")
    assert (reopen.status, reopen.previous_status) == (Status.OPEN, Status.SOLVED)
    [snooze] = parse(chatwoot, "webhook_conversation_snoozed.json")
    assert snooze.status == Status.HOLD


def test_a_message_event_is_ignored_but_names_its_conversation(chatwoot):
    [event] = parse(chatwoot, "webhook_message_created.json")
    assert (event.kind, event.ticket_id) == (EventKind.IGNORED, "1342")


def test_an_unknown_status_is_ignored_and_a_body_without_conversation_is_unparseable(chatwoot):
    for status in ("archived", {"name": "resolved"}, None):
        body = json.dumps({"event": "conversation_status_changed", "id": 7, "status": status,
                           "changed_attributes": [{"status": {"previous_value": ["open"]}}]}).encode()
        assert parse(chatwoot, "", body)[0].kind == EventKind.IGNORED
    with pytest.raises(Unparseable):
        parse(chatwoot, "", json.dumps({"event": "conversation_status_changed", "status": "resolved"}).encode())


def test_without_a_delivery_header_the_key_is_derived_and_stable(chatwoot):
    body = fixture_bytes("chatwoot", "webhook_conversation_resolved.json")
    keys = set()
    for _ in range(2):
        headers = {k: v for k, v in signed(body, SECRET, KIT.now).items() if k != "X-Chatwoot-Delivery"}
        keys.add(chatwoot.parse(KIT.inbound("chatwoot", body, headers))[0].delivery_id)
    assert len(keys) == 1 and keys.pop().startswith("derived:")


@responses.activate
def test_the_ticket_has_requester_agent_team_channel_labels_and_url(chatwoot):
    KIT.api()
    t = chatwoot.fetch_ticket("1342")
    assert (t.requester.email, t.requester.name, t.requester.id) == ("maria.garcia@example.com", "Maria Garcia", "31")
    assert (t.assignee, t.assignee_id, t.assignee_email, t.group) == ("Emma", "5", "emma@chrispresso.com", "Billing")
    assert (t.channel, t.status, t.tags) == (Channel.EMAIL, Status.SOLVED, ["refund"])
    assert t.subject == "Refund for order 1042"
    assert t.url == "https://chat.acme.test/app/accounts/3/conversations/1342"
    assert responses.calls[0].request.headers["api_access_token"] == KIT.env["CW_TOKEN"]


@responses.activate
def test_history_reads_messages_notes_and_the_activity_messages(chatwoot):
    KIT.api()
    history = chatwoot.fetch_history("1342")
    changes = [(e.kind, e.actor, e.value) for e in history.entries if e.kind in (EntryKind.GROUP, EntryKind.ASSIGNEE)]
    assert changes == [(EntryKind.GROUP, Actor.AGENT, "Support"), (EntryKind.ASSIGNEE, Actor.AGENT, "Liam Chen"),
                       (EntryKind.ASSIGNEE, Actor.AGENT, "Emma"), (EntryKind.GROUP, Actor.AGENT, "Billing")]
    statuses = [(e.actor, e.value, e.previous) for e in history.entries if e.kind == EntryKind.STATUS]
    assert statuses == [(Actor.CUSTOMER, "open", None), (Actor.AGENT, "solved", "open"),
                        (Actor.SYSTEM, "open", "solved"), (Actor.AGENT, "solved", "open")]
    kinds = [(e.kind, e.actor) for e in history.entries if e.kind in (EntryKind.MESSAGE, EntryKind.NOTE)]
    assert kinds.count((EntryKind.MESSAGE, Actor.CUSTOMER)) == 2 and (EntryKind.NOTE, Actor.AGENT) in kinds
    assert (EntryKind.MESSAGE, Actor.SYSTEM) in kinds  # the CSAT template is no agent reply
    signals = compute_signals(history, [], connector_id="chatwoot-main", solved_at=KIT.now,
                              settings=SignalSettings())
    assert (signals.reopens, signals.group_transfers) == (1, 1)


@responses.activate
def test_history_pages_back_with_before_the_oldest_id(chatwoot):
    page = [{"id": 100 + i, "message_type": 0, "created_at": 1795165200 + i} for i in range(20)]
    responses.get(f"{API}/conversations/1342/messages", json={"payload": page})
    responses.get(f"{API}/conversations/1342/messages", json={"payload": [page[0] | {"id": 99}]})
    KIT.api()
    history = chatwoot.fetch_history("1342")
    assert "before=100" in responses.calls[3].request.url
    assert sum(e.kind == EntryKind.MESSAGE for e in history.entries) == 21


@responses.activate
def test_recent_tickets_are_the_contacts_conversations_newest_first(chatwoot):
    KIT.api()
    found = chatwoot.recent_tickets(Person(id="31"), datetime(2026, 10, 1, tzinfo=timezone.utc))
    assert [t.id for t in found] == ["1342", "1290"]
    assert [t.id for t in chatwoot.recent_tickets(Person(id="31"), KIT.now)] == []


@responses.activate
def test_note_reply_labels_and_reopen_send_what_chatwoot_takes(chatwoot):
    KIT.api()
    chatwoot.post_internal_note("1342", "Score 2: <b>slow</b>")
    chatwoot.post_public_reply("1342", "Thank you")
    chatwoot.add_tags("1342", ["ces_2"])
    chatwoot.remove_tags("1342", ["ces_5"])
    chatwoot.reopen("1342", group="Support")
    sent = [(c.request.method, c.request.url.removeprefix(API), json.loads(c.request.body or "null"))
            for c in responses.calls if c.request.method == "POST"]
    assert sent == [
        ("POST", "/conversations/1342/messages",
         {"content": r"Score 2\: \<b\>slow\<\/b\>", "message_type": "outgoing", "private": True}),
        ("POST", "/conversations/1342/messages",
         {"content": "Thank you", "message_type": "outgoing", "private": False}),
        ("POST", "/conversations/1342/labels", {"labels": ["refund", "ces_5", "ces_2"]}),
        ("POST", "/conversations/1342/labels", {"labels": ["refund"]}),
        ("POST", "/conversations/1342/toggle_status", {"status": "open"}),
        ("POST", "/conversations/1342/assignments", {"team_id": 1}),
    ]


@responses.activate
def test_check_names_the_agent_and_the_inboxes_that_still_send_chatwoots_csat(chatwoot):
    profile = json.loads(fixture_bytes("chatwoot", "api_profile.json"))
    responses.get("https://chat.acme.test/api/v1/profile", json=profile)
    responses.get(f"{API}/conversations", json={"data": {"meta": {}, "payload": []}})
    responses.get("https://chat.acme.test/api", json=json.loads(fixture_bytes("chatwoot", "api_version.json")))
    responses.get(f"{API}/inboxes", json=json.loads(fixture_bytes("chatwoot", "api_inboxes.json")))
    results = {r.name: r for r in chatwoot.check()}
    assert results["authentication"].ok and results["authentication"].extra == {"user_id": "12"}
    assert results["history"].ok and results["signature"].ok
    assert not results["csat"].ok and "Website chat" in results["csat"].detail
    assert "api_user_id" not in results


@responses.activate
def test_check_says_when_chatwoot_is_too_old_to_sign(chatwoot):
    profile = json.loads(fixture_bytes("chatwoot", "api_profile.json"))
    responses.get("https://chat.acme.test/api/v1/profile", json=profile)
    responses.get(f"{API}/conversations", json={"data": {"meta": {}, "payload": []}})
    responses.get("https://chat.acme.test/api", json={"version": "4.10.1"})
    responses.get(f"{API}/inboxes", json={"payload": []})
    results = {r.name: r for r in chatwoot.check()}
    assert not results["signature"].ok and "v4.11.2" in results["signature"].detail
    assert results["csat"].ok


@responses.activate
def test_check_says_when_the_token_is_wrong(chatwoot):
    responses.get("https://chat.acme.test/api/v1/profile", status=401, json={"error": "Invalid Access Token"})
    [result] = chatwoot.check()
    assert not result.ok and "401" in result.detail


def test_settings_need_base_url_and_a_numeric_account_id():
    common = {"id": "cw", "kind": "chatwoot", "api_token_env": "T", "webhook_secret_env": "S"}
    with pytest.raises(ValueError, match="base_url is required"):
        ChatwootSettings(**common, account_id="3")
    with pytest.raises(ValueError, match="account_id"):
        ChatwootSettings(**common, base_url="https://chat.acme.test", account_id="acme")


def test_setup_text_says_how_to_switch_off_chatwoots_csat(chatwoot):
    text = chatwoot.setup_instructions()
    assert "Enable CSAT" in text and "v4.11.2" in text and "/app/accounts/3/" in text
