"""Zendesk: signature, payload parsing (one test per captured-shape fixture), API, setup text."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import responses

from ces.connectors.errors import (
    BadSignature,
    Unparseable,
)
from ces.connectors.models import Channel, EventKind, InboundRequest, Status
from ces.connectors.zendesk import ZendeskConnector, ZendeskSettings
from ces.connectors.zendesk.connector import sign, sign_body_first
from tests.connectors.kit import changes_of, talk_of
from tests.connectors.kits.zendesk import KIT
from tests.support import ZENDESK_SECRET, fixture_bytes, fixture_json, zendesk_headers

BASE = "https://acme.zendesk.com"
NOW = datetime(2026, 11, 23, 10, 16, tzinfo=timezone.utc)


@pytest.fixture
def zendesk(monkeypatch) -> ZendeskConnector:
    return KIT.connector("zendesk", monkeypatch)


def inbound(body: bytes, headers: dict[str, str], at: datetime = NOW) -> InboundRequest:
    return KIT.inbound("zendesk", body, headers, at)


def signed(name: str, *, invocation: str = "01JINVOCATION", at: datetime = NOW) -> InboundRequest:
    body = fixture_bytes("zendesk", name)
    return inbound(body, zendesk_headers(body, invocation=invocation, timestamp=at.strftime("%Y-%m-%dT%H:%M:%SZ")), at)


# --- signature ----------------------------------------------------------------------------------
# The static secret of Zendesk's verification page (test deliveries of an unsaved webhook are signed with it).
DOCUMENTED_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


def test_sign_is_base64_hmac_sha256_of_timestamp_then_body_with_the_secret_verbatim():
    # Not a signature Zendesk published: the value computed from the documented secret (Python's
    # hmac, and a public repository's test agree), the timestamp string then the raw body.
    assert sign(DOCUMENTED_SECRET, "2021-03-25T05:09:27Z",
                b'{"event":"ticket.updated","id":123}') == "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM="


def with_secret(monkeypatch, zendesk, secret: str):
    monkeypatch.setenv("ZD_SECRET", secret)
    return zendesk


def test_verify_accepts_timestamp_then_body_as_the_current_page_says(monkeypatch, zendesk):
    # developer.zendesk.com/documentation/webhooks/verifying/: base64(HMACSHA256(TIMESTAMP + BODY)).
    body, ts = b'{"event":"ticket.updated","id":123}', "2021-03-25T05:09:27Z"
    headers = {"X-Zendesk-Webhook-Signature": "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM=",
               "X-Zendesk-Webhook-Signature-Timestamp": ts}
    at = datetime(2021, 3, 25, 5, 10, tzinfo=timezone.utc)
    with_secret(monkeypatch, zendesk, DOCUMENTED_SECRET).verify(inbound(body, headers, at=at))


def test_verify_accepts_body_then_timestamp_as_the_earlier_page_and_its_worked_example(monkeypatch, zendesk):
    # developer.zendesk.com/documentation/event-connectors/webhooks/verifying/ (the earlier version):
    # base64(HMACSHA256((BODY)(TIMESTAMP))), and its example, quoted: secret, body, timestamp, signature.
    secret = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
    headers = {"X-Zendesk-Webhook-Signature": "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=",
               "X-Zendesk-Webhook-Signature-Timestamp": "2021-07-25T10:00:00Z"}
    at = datetime(2021, 7, 25, 10, 1, tzinfo=timezone.utc)
    with_secret(monkeypatch, zendesk, secret).verify(inbound(b'{"say": "hello"}', headers, at=at))
    signature = headers["X-Zendesk-Webhook-Signature"]
    assert sign_body_first(secret, "2021-07-25T10:00:00Z", b'{"say": "hello"}') == signature
    with pytest.raises(BadSignature):  # either order needs the secret
        with_secret(monkeypatch, zendesk, DOCUMENTED_SECRET).verify(inbound(b'{"say": "hello"}', headers, at=at))
    body_first = {**headers, "X-Zendesk-Webhook-Signature": sign_body_first(DOCUMENTED_SECRET, "2021-07-25T10:00:00Z",
                                                                            b'{"say": "hello"}')}
    zendesk.verify(inbound(b'{"say": "hello"}', body_first, at=at))  # the current page's secret, the earlier order


@pytest.mark.parametrize("timestamp", ["2021-07-25T10:00:00+00:00", "2021-07-25T10:00:00.5Z", "2021-07-25 10:00:00Z",
                                       " 2021-07-25T10:00:00Z", "1627207200", "٢٠٢١-07-25T10:00:00Z"])
def test_verify_takes_only_zendesks_exact_timestamp_form(zendesk, timestamp):
    body = b'{"ces_event": "ticket.solved", "ticket_id": "5158"}'
    headers = {"X-Zendesk-Webhook-Signature": sign(ZENDESK_SECRET, timestamp, body),
               "X-Zendesk-Webhook-Signature-Timestamp": timestamp}
    with pytest.raises(BadSignature, match="form"):
        zendesk.verify(inbound(body, headers, at=datetime(2021, 7, 25, 10, 0, tzinfo=timezone.utc)))


def test_bytes_cannot_move_between_the_timestamp_and_the_body(zendesk):
    """Timestamp + body and body' + timestamp' can be the same bytes, hence the same signature in
    the other order: the timestamp's exact form refuses every such cut of a JSON body."""
    body, ts = fixture_bytes("zendesk", "trigger_solved.json"), "2026-11-23T10:16:00Z"
    signature = sign(ZENDESK_SECRET, ts, body)
    zendesk.verify(inbound(body, {"X-Zendesk-Webhook-Signature": signature,
                                  "X-Zendesk-Webhook-Signature-Timestamp": ts}))
    signed_bytes = ts.encode() + body
    moved_body, moved_ts = signed_bytes[:-len(ts)], signed_bytes[-len(ts):].decode()
    assert sign_body_first(ZENDESK_SECRET, moved_ts, moved_body) == signature  # what the form check stops
    with pytest.raises(BadSignature, match="form"):
        zendesk.verify(inbound(moved_body, {"X-Zendesk-Webhook-Signature": signature,
                                            "X-Zendesk-Webhook-Signature-Timestamp": moved_ts}))


# --- parsing: one test per fixture ---------------------------------------------------------------
def test_event_subscription_solved(zendesk):
    [event] = zendesk.parse(signed("status_changed_solved.json", invocation="inv-77"))
    assert event.kind == EventKind.STATUS
    assert (event.ticket_id, event.status, event.previous_status) == ("5158", Status.SOLVED, Status.OPEN)
    assert event.delivery_id == "inv-77"
    assert event.occurred_at == datetime(2026, 11, 23, 10, 15, 45, 789012, tzinfo=timezone.utc)
    assert event.actor_id == "8447388090495"


@pytest.mark.parametrize("fixture,expected", [
    ("status_changed_reopened.json", {"status": Status.OPEN, "previous_status": Status.SOLVED}),
    ("status_changed_closed.json", {"status": Status.CLOSED}),
    ("status_changed_pending.json", {"status": Status.PENDING, "previous_status": Status.OPEN}),
    ("comment_added.json", {"kind": EventKind.IGNORED, "ticket_id": "5158"}),  # another ticket event
    ("user_created.json", {"kind": EventKind.IGNORED, "ticket_id": None}),  # not a ticket's event
    # "Abierto" is the Spanish label: only the ticket id is trusted, the status defaults to open.
    ("trigger_unsolved.json", {"status": Status.OPEN, "previous_status": Status.SOLVED}),
    ("trigger_admin_written.json", {"kind": EventKind.IGNORED, "ticket_id": "7"}),  # a body an admin wrote
])
def test_a_delivery_parses_to_its_event(zendesk, fixture, expected):
    [event] = zendesk.parse(signed(fixture))
    assert {name: getattr(event, name) for name in expected} == expected


def test_the_signed_key_is_the_signed_timestamp_and_body_whatever_the_invocation_id(zendesk):
    first = signed("trigger_solved.json", invocation="inv-1")
    assert zendesk.signed_key(signed("trigger_solved.json", invocation="inv-forged")) == zendesk.signed_key(first)
    assert zendesk.signed_key(signed("trigger_solved.json", invocation="inv-1", at=NOW + timedelta(seconds=1))) != \
        zendesk.signed_key(first)  # a retry signed again: its invocation id tells it
    assert zendesk.signed_key(signed("trigger_unsolved.json", invocation="inv-1")) != zendesk.signed_key(first)


def test_trigger_solved(zendesk):
    [event] = zendesk.parse(signed("trigger_solved.json", invocation="inv-9"))
    assert (event.kind, event.ticket_id, event.status, event.delivery_id) == (EventKind.STATUS, "5158", Status.SOLVED, "inv-9")
    assert event.occurred_at == NOW


def test_trigger_without_ticket_id_is_unparseable(zendesk):
    with pytest.raises(Unparseable):
        zendesk.parse(signed("trigger_without_ticket_id.json"))


def test_trigger_needs_the_invocation_id(zendesk):
    req = signed("trigger_solved.json")
    headers = dict(req.headers)
    del headers["x-zendesk-webhook-invocation-id"]
    with pytest.raises(Unparseable):
        zendesk.parse(inbound(req.body, headers))


# --- API ----------------------------------------------------------------------------------------
TICKET_URL = f"{BASE}/api/v2/tickets/5158.json"


@responses.activate
def test_fetch_ticket_reads_requester_group_and_channel(zendesk):
    responses.get(TICKET_URL, json=fixture_json("zendesk", "api_ticket_show.json"))
    ticket = zendesk.fetch_ticket("5158")
    assert ticket.status == Status.SOLVED
    assert ticket.requester.email == "maria.garcia@example.com"
    assert (ticket.requester.name, ticket.requester.locale, ticket.requester.time_zone) == ("María García", "es", "Europe/Madrid")
    assert (ticket.assignee, ticket.group, ticket.organization) == ("Priya Patel", "Billing", "Globex Iberia")
    assert ticket.channel == Channel.EMAIL and ticket.url == f"{BASE}/agent/tickets/5158"
    request = responses.calls[0].request
    assert "include=users%2Cgroups%2Corganizations" in request.url
    assert request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_fetch_ticket_uses_oauth_when_configured(monkeypatch, zendesk):
    monkeypatch.setenv("ZD_OAUTH", "oauth-access-token")
    zendesk.settings = ZendeskSettings(id="zendesk-main", kind="zendesk", subdomain="acme",
                                       oauth_token_env="ZD_OAUTH", webhook_secret_env="ZD_SECRET")
    responses.get(TICKET_URL, json=fixture_json("zendesk", "api_ticket_show.json"))
    zendesk.fetch_ticket("5158")
    assert responses.calls[0].request.headers["Authorization"] == "Bearer oauth-access-token"


@responses.activate
def test_internal_note_is_private(zendesk):
    responses.put(TICKET_URL, json={"ticket": {"id": 5158}})
    zendesk.post_internal_note("5158", "Customer reported high effort")
    assert json.loads(responses.calls[0].request.body) == {
        "ticket": {"comment": {"body": "Customer reported high effort", "public": False}}}


@responses.activate
def test_check_reports_authentication(zendesk):
    responses.get(f"{BASE}/api/v2/users/me.json", json=fixture_json("zendesk", "api_users_me.json"))
    results = zendesk.check()
    assert all(r.ok for r in results)
    assert results[0].extra["user_id"] == "8447388090400"


@responses.activate
def test_check_says_when_credentials_are_wrong(zendesk):
    responses.get(f"{BASE}/api/v2/users/me.json", json=fixture_json("zendesk", "api_users_me_anonymous.json"))
    [result] = zendesk.check()
    assert not result.ok and "credentials" in result.detail


# --- setup --------------------------------------------------------------------------------------
def test_setup_instructions(zendesk):
    text = zendesk.setup_instructions()
    assert "https://surveys.acme.test/webhooks/zendesk-main" in text
    assert "zen:event-type:ticket.status_changed" in text
    assert '"ces_event": "ticket.solved", "ticket_id": "{{ticket.id}}"' in text
    assert '"ces_event": "ticket.unsolved"' in text
    assert "Changed to | Solved" in text and "Changed from | Solved" in text
    assert "satisfaction" in text.lower() and "export ZD_SECRET=" in text


def test_settings_need_a_place_and_credentials():
    with pytest.raises(ValueError, match="subdomain"):
        ZendeskSettings(id="z", kind="zendesk", api_token_env="T", email="a@b.c", webhook_secret_env="S")
    with pytest.raises(ValueError, match="credentials"):
        ZendeskSettings(id="z", kind="zendesk", subdomain="acme", webhook_secret_env="S")
    with pytest.raises(ValueError, match="email"):
        ZendeskSettings(id="z", kind="zendesk", subdomain="acme", api_token_env="T", webhook_secret_env="S")


# --- history ------------------------------------------------------------------------------------
@responses.activate
def test_history_from_audits_in_order_with_who_did_what(zendesk):

    zendesk.settings = zendesk.settings.model_copy(update={"api_user_id": "8447388090400"})
    responses.get(TICKET_URL, json=fixture_json("zendesk", "api_ticket_show.json"))
    responses.get(f"{BASE}/api/v2/tickets/5158/metrics.json", json=fixture_json("zendesk", "api_ticket_metrics.json"))
    responses.get(f"{BASE}/api/v2/tickets/5158/audits.json", json=fixture_json("zendesk", "api_ticket_audits.json"))
    history = zendesk.fetch_history("5158")
    seq = changes_of(history)
    assert seq == [
        ("status", "customer", "new", None), ("group", "customer", "Billing", None),
        ("assignee", "customer", None, None),
        ("assignee", "agent", "Tom Becker", None), ("status", "agent", "open", "new"),
        ("group", "agent", "Tier 2", "Billing"), ("assignee", "agent", "Lina Chen", "Tom Becker"),
        ("status", "agent", "solved", "open"),
    ]
    messages = talk_of(history)
    assert messages == [("message", "customer", "email"), ("message", "agent", "web"), ("note", "agent", "web"),
                        ("message", "customer", "chat"), ("message", "agent", "web"), ("note", "us", "api")]
    assert history.counters["group_stations"] == 2 and history.counters["first_reply_minutes"] == 28
    assert history.missing == []
    assert "page%5Bsize%5D=100" in responses.calls[2].request.url


@responses.activate
def test_history_follows_audit_cursor_pages(zendesk):
    page1 = fixture_json("zendesk", "api_ticket_audits.json")
    page2 = {"audits": page1["audits"][3:], "users": page1["users"], "groups": page1["groups"],
             "meta": {"has_more": False}, "links": {"next": None}}
    page1 = {**page1, "audits": page1["audits"][:3], "meta": {"has_more": True},
             "links": {"next": f"{BASE}/api/v2/tickets/5158/audits.json?page%5Bafter%5D=xyz&page%5Bsize%5D=100"}}
    responses.get(TICKET_URL, json=fixture_json("zendesk", "api_ticket_show.json"))
    responses.get(f"{BASE}/api/v2/tickets/5158/metrics.json", json=fixture_json("zendesk", "api_ticket_metrics.json"))
    responses.get(f"{BASE}/api/v2/tickets/5158/audits.json", json=page1,
                  match=[responses.matchers.query_param_matcher({"page[size]": "100", "include": "users,groups"})])
    responses.get(f"{BASE}/api/v2/tickets/5158/audits.json", json=page2,
                  match=[responses.matchers.query_param_matcher({"page[after]": "xyz", "page[size]": "100"})])
    assert len(zendesk.fetch_history("5158").entries) == 14  # both pages, as on one


@responses.activate
def test_history_without_audit_access_keeps_the_metrics(zendesk):
    responses.get(TICKET_URL, json=fixture_json("zendesk", "api_ticket_show.json"))
    responses.get(f"{BASE}/api/v2/tickets/5158/metrics.json", json=fixture_json("zendesk", "api_ticket_metrics.json"))
    responses.get(f"{BASE}/api/v2/tickets/5158/audits.json", status=403, json={"error": "Forbidden"})
    history = zendesk.fetch_history("5158")
    assert history.entries == [] and history.counters["assignee_stations"] == 2
    assert history.missing and history.missing[0].startswith("audits:")


@responses.activate
def test_recent_tickets_stop_at_the_window(zendesk):
    from ces.connectors.models import Person

    responses.get(f"{BASE}/api/v2/users/8447388090494/tickets/requested.json",
                  json=fixture_json("zendesk", "api_user_tickets_requested.json"))
    tickets = zendesk.recent_tickets(Person(id="8447388090494"), datetime(2026, 11, 13, tzinfo=timezone.utc))
    assert [(t.id, t.channel.value) for t in tickets] == [("5158", "email"), ("5140", "chat")]


@responses.activate
def test_writes_to_a_closed_ticket_are_locked(zendesk):
    from ces.connectors.errors import TicketLocked

    responses.put(TICKET_URL, status=422, json={"error": "RecordInvalid", "description": "Record validation errors",
                                               "details": {"status": [{"description": "Status: closed prevents ticket update"}]}})
    with pytest.raises(TicketLocked):
        zendesk.post_internal_note("5158", "note")


@responses.activate
def test_followup_ticket_for_a_closed_one(zendesk):
    responses.post(f"{BASE}/api/v2/tickets.json", json={"ticket": {"id": 6001}})
    assert zendesk.create_followup("5158", "Follow-up: high effort", "Customer answered 2 of 7") == "6001"
    body = json.loads(responses.calls[0].request.body)
    assert body["ticket"]["via_followup_source_id"] == 5158 and body["ticket"]["comment"]["public"] is False


@responses.activate
def test_tags_and_reopen(zendesk):
    responses.put(f"{BASE}/api/v2/tickets/5158/tags.json", json={"tags": ["ces_low"]})
    responses.put(TICKET_URL, json={"ticket": {"id": 5158}})
    zendesk.add_tags("5158", ["ces_low"])
    zendesk.reopen("5158", group="8447320466431")
    assert json.loads(responses.calls[0].request.body) == {"tags": ["ces_low"]}
    assert json.loads(responses.calls[1].request.body) == {"ticket": {"status": "open", "group_id": 8447320466431}}


@responses.activate
def test_remove_tags_deletes_only_those(zendesk):
    responses.delete(f"{BASE}/api/v2/tickets/5158/tags.json", json={"tags": ["vip"]})
    zendesk.remove_tags("5158", ["ces_2"])
    assert json.loads(responses.calls[0].request.body) == {"tags": ["ces_2"]}
