"""Front: application and rule webhook signatures, events (one test per fixture), Core API, setup."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests
import responses
from responses import matchers

from ces.connectors import base
from ces.connectors.errors import (
    BadSignature,
    Unparseable,
    Unsupported,
)
from ces.connectors.front import FrontConnector, FrontSettings
from ces.connectors.front.connector import sign_application, sign_rule
from ces.connectors.models import Channel, EventKind, InboundRequest, Person, Status
from tests.connectors.kits.front import KIT
from tests.support import assert_bounded, fixture_bytes, fixture_json

API = "https://api2.frontapp.com"
SECRET = "front-signing-key-77aa"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.front-api-token"
NOW = datetime(2025, 11, 23, 10, 16, tzinfo=timezone.utc)
CONV = f"{API}/conversations/cnv_keo696"


def make(monkeypatch, **over) -> FrontConnector:
    return KIT.connector("front", monkeypatch, **{"webhook_kind": "rule", **over})


@pytest.fixture
def front(monkeypatch) -> FrontConnector:
    return make(monkeypatch, webhook_kind="application")


@pytest.fixture
def front_rules(monkeypatch) -> FrontConnector:
    return make(monkeypatch)  # rule webhooks are the default


def inbound(body: bytes, headers: dict[str, str], at: datetime = NOW) -> InboundRequest:
    return KIT.inbound("front", body, headers, at)


def app_signed(name: str, *, secret: str = SECRET, at: datetime = NOW, challenge: str | None = None) -> InboundRequest:
    body = fixture_bytes("front", name)
    ts = str(int(at.timestamp() * 1000))
    headers = {"Content-Type": "application/json", "X-Front-Request-Timestamp": ts,
               "X-Front-Signature": sign_application(secret, ts, body)}
    if challenge:
        headers["X-Front-Challenge"] = challenge
    return inbound(body, headers)


def rule_signed(name: str, *, secret: str = SECRET) -> InboundRequest:
    body = fixture_bytes("front", name)
    return inbound(body, {"Content-Type": "application/json", "X-Front-Signature": sign_rule(secret, body)})


# --- signatures ---------------------------------------------------------------------------------
def test_application_signature_matches_the_documented_scheme():
    # Computed independently: printf '%s' '1708986599647:{"type":"sync"}'
    #   | openssl dgst -sha256 -hmac signing-key -binary | base64
    assert sign_application("signing-key", "1708986599647", b'{"type":"sync"}') == \
        "h4hKE43r7MRM+E3VtzkAtnrdR/azRg0qfUt/9mg/taI="


def test_rule_signature_matches_the_documented_scheme():
    # printf '%s' '{"type":"archive"}' | openssl dgst -sha1 -hmac api-secret -binary | base64
    assert sign_rule("api-secret", b'{"type":"archive"}') == "Nx9Cu+BBqJ36U+LlMYkgz0lW07o="


def test_rule_webhook_verifies(front_rules):
    front_rules.verify(rule_signed("rule_archive.json"))


def test_rule_webhook_with_a_wrong_secret_is_rejected(front_rules):
    with pytest.raises(BadSignature):
        front_rules.verify(rule_signed("rule_archive.json", secret="another-secret"))


def test_rule_webhook_changed_after_signing_is_rejected(front_rules):
    req = rule_signed("rule_archive.json")
    with pytest.raises(BadSignature):
        front_rules.verify(inbound(req.body.replace(b'"archive"', b'"reopen"'), dict(req.headers)))


def test_rule_webhook_without_signature_is_rejected(front_rules):
    with pytest.raises(BadSignature):
        front_rules.verify(inbound(fixture_bytes("front", "rule_archive.json"), {}))


def test_rule_webhook_rotation(monkeypatch, front_rules):
    monkeypatch.setenv("FR_SECRET_NEW", "new-secret")
    front_rules.settings = front_rules.settings.model_copy(update={"webhook_secret_env": ["FR_SECRET_NEW",
                                                                                         "FR_SECRET"]})
    front_rules.verify(rule_signed("rule_archive.json"))
    front_rules.verify(rule_signed("rule_archive.json", secret="new-secret"))


def test_an_application_signature_does_not_pass_as_a_rule_one(front_rules):
    with pytest.raises(BadSignature):
        front_rules.verify(app_signed("app_conversation_archived.json"))


def test_ids_nesting_and_times_are_bounded(front_rules):
    assert_bounded(front_rules, lambda raw: inbound(raw, {"X-Front-Signature": sign_rule(SECRET, raw)}),
                   fixture_json("front", "rule_archive.json"), ticket=("conversation", "id"), delivery=("id",),
                   actor=("source", "data", "id"), times=[("emitted_at",)])


# --- parsing: one test per fixture ---------------------------------------------------------------
def test_rule_archive_is_solved(front_rules):
    [event] = front_rules.parse(rule_signed("rule_archive.json"))
    assert (event.kind, event.ticket_id, event.status, event.previous_status) == (
        EventKind.STATUS, "cnv_keo696", Status.SOLVED, Status.OPEN)
    assert event.delivery_id == "evt_28du7y2" and event.actor_id == "tea_40yq"
    assert event.occurred_at == datetime.fromtimestamp(1763892945.678, timezone.utc)


def test_rule_reopen(front_rules):
    [event] = front_rules.parse(rule_signed("rule_reopen.json"))
    assert (event.status, event.previous_status) == (Status.OPEN, Status.SOLVED)


def test_rule_assign_is_ignored(front_rules):
    [event] = front_rules.parse(rule_signed("rule_assign.json"))
    assert (event.kind, event.ticket_id, event.actor_id) == (EventKind.IGNORED, "cnv_keo696", "rul_55c8c149")


def test_rule_trash_is_deleted(front_rules):
    [event] = front_rules.parse(rule_signed("rule_trash.json"))
    assert (event.kind, event.status) == (EventKind.STATUS, Status.DELETED)


def test_application_archive_unwraps_the_payload(front):
    [event] = front.parse(app_signed("app_conversation_archived.json"))
    assert (event.ticket_id, event.status, event.delivery_id) == ("cnv_keo696", Status.SOLVED, "evt_5a1b2c3")


def test_application_reopen(front):
    [event] = front.parse(app_signed("app_conversation_reopened.json"))
    assert (event.status, event.previous_status, event.delivery_id) == (Status.OPEN, Status.SOLVED, "evt_5a1b2d9")


def test_application_inbound_message_is_ignored(front):
    [event] = front.parse(app_signed("app_inbound_received.json"))
    assert event.kind == EventKind.IGNORED and event.ticket_id == "cnv_keo696" and event.actor_id is None


def test_application_sync_echoes_the_challenge(front):
    req = app_signed("app_sync.json", challenge="aGVsbG8")
    front.verify(req)
    assert front.handshake(req) == {"challenge": "aGVsbG8"}
    assert front.handshake(app_signed("app_conversation_archived.json")) is None


def test_application_sync_stores_nothing(front):
    req = app_signed("app_sync.json", challenge="aGVsbG8")
    front.verify(req)
    assert front.parse(req) == []


def test_an_archive_without_conversation_is_unparseable(front_rules):
    with pytest.raises(Unparseable):
        front_rules.parse(rule_signed("event_without_conversation.json"))


def test_an_event_without_id_is_unparseable(front_rules):
    with pytest.raises(Unparseable):
        front_rules.parse(rule_signed("event_without_id.json"))


# --- API ----------------------------------------------------------------------------------------
def _conversation():
    responses.get(CONV, json=fixture_json("front", "api_conversation.json"),
                  match=[matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})])
    responses.get(f"{CONV}/inboxes", json=fixture_json("front", "api_conversation_inboxes.json"))


@responses.activate
def test_fetch_ticket_reads_requester_assignee_inbox_and_channel(front):
    _conversation()
    responses.get(f"{CONV}/messages", json=fixture_json("front", "api_conversation_messages_newest.json"),
                  match=[matchers.query_param_matcher({"limit": "1"})])
    ticket = front.fetch_ticket("cnv_keo696")
    assert ticket.status == Status.SOLVED
    assert (ticket.requester.id, ticket.requester.email, ticket.requester.name) == (
        "crd_62euuy", "calculon@momsbot.com", "Calculon")
    assert (ticket.assignee, ticket.group, ticket.tags) == ("Leela Turanga", "Tier 2", ["delivery"])
    assert (ticket.channel, ticket.raw_channel) == (Channel.EMAIL, "email")
    assert ticket.url == "https://app.frontapp.com/open/cnv_keo696"
    assert ticket.created_at == datetime.fromtimestamp(1763800000.673, timezone.utc)


@responses.activate
def test_history_from_the_events_timeline(front):
    _conversation()
    responses.get(f"{CONV}/events", json=fixture_json("front", "api_conversation_events.json"),
                  match=[matchers.query_param_matcher({"limit": "100"})])
    responses.get(f"{CONV}/events", json=fixture_json("front", "api_conversation_events_page2.json"),
                  match=[matchers.query_param_matcher({"page_token": "p2"})])
    history = front.fetch_history("cnv_keo696")
    assert [(e.kind.value, e.actor.value, e.value, e.previous, e.channel and e.channel.value)
            for e in history.entries] == [
        ("message", "customer", None, None, "email"),
        ("assignee", "system", "Bender Rodriguez", None, None),
        ("message", "agent", None, None, "email"),
        ("note", "agent", None, None, None),
        ("group", "agent", "Tier 2", None, None),
        ("assignee", "agent", "Leela Turanga", "Bender Rodriguez", None),
        ("message", "customer", None, None, "chat"),
        ("message", "agent", None, None, "email"),
        ("status", "agent", "solved", None, None),
        ("message", "customer", None, None, "email"),
        ("status", "system", "open", "solved", None),
        ("status", "agent", "solved", "open", None),
        ("note", "us", None, None, None),
    ]
    assert (history.ticket.channel, history.ticket.raw_channel) == (Channel.EMAIL, "email")
    assert history.missing == []


@responses.activate
def test_history_without_the_events_scope_falls_back_to_messages(front):
    _conversation()
    responses.get(f"{CONV}/events", status=403, json=fixture_json("front", "api_error_forbidden.json"))
    responses.get(f"{CONV}/messages", json=fixture_json("front", "api_conversation_messages.json"))
    history = front.fetch_history("cnv_keo696")
    assert [(e.actor.value, e.channel.value) for e in history.entries] == [
        ("customer", "email"), ("agent", "email"), ("customer", "chat"), ("agent", "email"), ("customer", "email")]
    assert history.missing and history.missing[0].startswith("events:")


@responses.activate
def test_recent_tickets_by_email_filtered_on_creation(front):
    responses.get(f"{API}/contacts/alt:email:calculon@momsbot.com/conversations",
                  json=fixture_json("front", "api_contact_conversations.json"),
                  match=[matchers.query_param_matcher({"limit": "100"})])
    responses.get(f"{API}/contacts/alt:email:calculon@momsbot.com/conversations",
                  json=fixture_json("front", "api_contact_conversations_page2.json"),
                  match=[matchers.query_param_matcher({"page_token": "p2"})])
    since = datetime.fromtimestamp(1763500000, timezone.utc)
    tickets = front.recent_tickets(Person(email="calculon@momsbot.com"), since)
    assert [(t.id, t.status) for t in tickets] == [("cnv_kf0001", Status.OPEN), ("cnv_kf0002", Status.SOLVED),
                                                  ("cnv_keo696", Status.SOLVED)]


@responses.activate
def test_internal_comment_is_written_by_our_teammate(front):
    responses.post(f"{CONV}/comments", status=201, json={"id": "com_1"})
    front.post_internal_note("cnv_keo696", "Customer reported high effort")
    assert json.loads(responses.calls[0].request.body) == {"body": "Customer reported high effort",
                                                           "author_id": "tea_4h2k"}


@responses.activate
def test_public_reply_needs_and_uses_the_teammate(monkeypatch, front):
    responses.post(f"{CONV}/messages", status=202, json={"status": "accepted", "message_uid": "3b1e7f0"})
    front.settings = front.settings.model_copy(update={"reply_channel_id": "cha_2k7b"})
    front.post_public_reply("cnv_keo696", "How easy was it?")
    assert json.loads(responses.calls[0].request.body) == {"author_id": "tea_4h2k", "body": "How easy was it?",
                                                           "channel_id": "cha_2k7b"}
    anonymous = make(monkeypatch, api_user_id=None)
    with pytest.raises(Unsupported, match="api_user_id"):
        anonymous.post_public_reply("cnv_keo696", "x")


@responses.activate
def test_tags_are_found_by_name_or_created(front):
    responses.get(f"{API}/tags", json=fixture_json("front", "api_tags.json"))
    responses.post(f"{API}/tags", status=201, json=fixture_json("front", "api_tag_created.json"),
                   match=[matchers.json_params_matcher({"name": "ces_high_effort"})])
    responses.post(f"{CONV}/tags", status=204)
    front.add_tags("cnv_keo696", ["ces_low", "ces_high_effort"])
    assert json.loads(responses.calls[-1].request.body) == {"tag_ids": ["tag_3e70", "tag_3e9a"]}
    assert len(responses.calls) == 3


@responses.activate
def test_remove_tags_by_id_and_never_creates_a_tag(front):
    responses.get(f"{API}/tags", json=fixture_json("front", "api_tags.json"))
    responses.delete(f"{CONV}/tags", status=204)
    front.remove_tags("cnv_keo696", ["ces_low", "ces_never_made"])
    assert json.loads(responses.calls[-1].request.body) == {"tag_ids": ["tag_3e70"]}
    assert [c.request.method for c in responses.calls] == ["GET", "DELETE"]


@responses.activate
def test_reopen_sets_open_and_moves_to_the_inbox(front):
    responses.patch(CONV, status=204)
    front.reopen("cnv_keo696", group="inb_55c8c150")
    assert json.loads(responses.calls[0].request.body) == {"status": "open", "inbox_id": "inb_55c8c150"}


def test_followups_are_not_supported(front):
    assert base.FOLLOWUP not in front.capabilities
    with pytest.raises(Unsupported):
        front.create_followup("cnv_keo696", "s", "t")


@responses.activate
def test_a_comment_that_timed_out_is_not_sent_twice(front):
    from ces.connectors.errors import UncertainApiError

    responses.post(f"{CONV}/comments", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(UncertainApiError):
        front.post_internal_note("cnv_keo696", "note")
    assert len(responses.calls) == 1


@responses.activate
def test_check_reports_company_teammate_and_events(front):
    responses.get(f"{API}/me", json=fixture_json("front", "api_me.json"))
    responses.get(f"{API}/teammates/tea_4h2k", json=fixture_json("front", "api_teammate.json"))
    responses.get(f"{API}/events", json=fixture_json("front", "api_events_one.json"))
    results = front.check()
    assert [(r.name, r.ok) for r in results] == [("authentication", True), ("internal notes", True),
                                                 ("history", True)]
    assert "CES Worker" in results[1].detail


@responses.activate
def test_check_says_what_is_missing(monkeypatch):
    front = make(monkeypatch, api_user_id=None)
    responses.get(f"{API}/me", json=fixture_json("front", "api_me.json"))
    responses.get(f"{API}/events", status=403, json=fixture_json("front", "api_error_forbidden.json"))
    results = {r.name: r for r in front.check()}
    assert not results["internal notes"].ok and "api_user_id" in results["internal notes"].detail
    assert not results["history"].ok and "events scope" in results["history"].detail


# --- setup and settings --------------------------------------------------------------------------
def test_setup_for_rule_webhooks(front_rules):
    text = front_rules.setup_instructions()
    assert "https://surveys.acme.test/webhooks/front-main" in text
    assert "Send to a webhook" in text and "API secret" in text and "HMAC-SHA1" in text
    assert "export FR_SECRET=" in text and "export FR_TOKEN=" in text
    assert "no satisfaction survey" in text


def test_setup_for_application_webhooks(front):
    text = front.setup_instructions()
    assert "Server URL: https://surveys.acme.test/webhooks/front-main" in text
    assert "x-front-challenge" in text and "Send to a webhook" not in text


def test_settings_explain_the_reply_teammate():
    with pytest.raises(ValueError, match="api_user_id"):
        FrontSettings(id="f", kind="front", api_token_env="T", webhook_secret_env="S", reply_channel_id="cha_1")
    with pytest.raises(ValueError, match="webhook_secret"):
        FrontSettings(id="f", kind="front", api_token_env="T")
