"""Zammad: signature, payload parsing (one test per fixture), API calls, setup text, simulator."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import responses
from responses import matchers

from ces.config.models import HttpSettings
from ces.connectors.errors import (
    BadSignature,
    PermanentApiError,
    TicketLocked,
    Unparseable,
)
from ces.connectors.http import HttpClient
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, InboundRequest, Person, Status
from ces.connectors.simulator import StubResponse, StubServer
from ces.connectors.zammad import ZammadConnector, ZammadSettings
from ces.connectors.zammad.connector import sign
from tests.connectors.kit import changes_of, talk_of
from tests.connectors.kits.zammad import KIT
from tests.simulators.zammad import ZammadSimulator
from tests.support import SQLITE_ONLY, fixture_bytes, fixture_json

BASE = "https://support.acme.test"
API = f"{BASE}/api/v1"
SECRET = "zammad-hmac-token-4f9a"
TOKEN = "zammad-access-token-123"
NOW = datetime(2026, 11, 23, 10, 16, tzinfo=timezone.utc)
TICKET_URL = f"{API}/tickets/1342"


def make(settings: ZammadSettings) -> ZammadConnector:
    http = HttpClient(HttpSettings(connect_timeout_seconds=1, read_timeout_seconds=1, retries=2,
                                   backoff_base_seconds=0, backoff_max_seconds=0))
    return ZammadConnector(settings, http=http, public_url="https://surveys.acme.test")


@pytest.fixture
def zammad(monkeypatch) -> ZammadConnector:
    monkeypatch.setenv("ZM_SECRET", SECRET)
    monkeypatch.setenv("ZM_TOKEN", TOKEN)
    return make(ZammadSettings(id="zammad-main", kind="zammad", base_url=BASE, api_token_env="ZM_TOKEN",
                               webhook_secret_env="ZM_SECRET", api_user_id="9"))


def inbound(body: bytes, headers: dict[str, str], at: datetime = NOW) -> InboundRequest:
    return KIT.inbound("zammad", body, headers, at)


def zammad_headers(body: bytes, *, secret: str = SECRET, delivery: str = "5b8e2c3a-0d2f-4c4e-9a57-1f0b7d3e9c11"):
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Zammad User Agent",
            "X-Zammad-Trigger": "CES: ticket state changed", "X-Zammad-Delivery": delivery,
            "X-Hub-Signature": sign(secret, body)}


def signed(name: str, **kwargs) -> InboundRequest:
    body = fixture_bytes("zammad", name)
    return inbound(body, zammad_headers(body, **kwargs))


# --- signature ----------------------------------------------------------------------------------
def test_signature_is_hex_hmac_sha1_with_prefix():
    # RFC 2202 test case 2 for HMAC-SHA1.
    assert sign("Jefe", b"what do ya want for nothing?") == "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"


def test_verify_rejects_a_missing_signature(zammad):
    body = fixture_bytes("zammad", "webhook_state_closed.json")
    headers = zammad_headers(body)
    del headers["X-Hub-Signature"]
    with pytest.raises(BadSignature, match="Signature Token"):
        zammad.verify(inbound(body, headers))


def test_verify_rejects_a_signature_without_the_sha1_prefix(zammad):
    body = fixture_bytes("zammad", "webhook_state_closed.json")
    headers = zammad_headers(body)
    headers["X-Hub-Signature"] = headers["X-Hub-Signature"].removeprefix("sha1=")
    with pytest.raises(BadSignature):
        zammad.verify(inbound(body, headers))


# --- parsing: one test per fixture ---------------------------------------------------------------
def test_a_replay_under_another_delivery_id_is_known_by_its_signed_body(zammad):
    """X-Zammad-Delivery is not signed; the body is, and intake keeps its hash unique."""
    first = signed("webhook_state_closed.json", delivery="job-77")
    replay = signed("webhook_state_closed.json", delivery="job-forged")
    assert zammad.signed_key(first) == zammad.signed_key(replay) is not None
    assert zammad.signed_key(signed("webhook_state_open_reopened.json")) != zammad.signed_key(first)


def test_closed_is_solved(zammad):
    [event] = zammad.parse(signed("webhook_state_closed.json", delivery="job-77"))
    assert (event.kind, event.ticket_id, event.status, event.previous_status) == (
        EventKind.STATUS, "1342", Status.SOLVED, None)
    assert event.delivery_id == "job-77"
    assert event.occurred_at == datetime(2026, 11, 23, 10, 15, 45, 333000, tzinfo=timezone.utc)
    assert event.actor_id == "5"
    assert "CES: ticket state changed" in event.summary
    # Only ids and the state are kept: no customer data or message text.
    assert event.payload["ticket"]["state"] == "closed"
    assert "emily@example.com" not in json.dumps(event.payload)


def test_reopened_by_a_customer_reply_is_open(zammad):
    [event] = zammad.parse(signed("webhook_state_open_reopened.json"))
    assert (event.status, event.actor_id) == (Status.OPEN, "8")
    assert "corrected invoice" not in json.dumps(event.payload)


def test_pending_close_is_still_open(zammad):
    [event] = zammad.parse(signed("webhook_state_pending_close.json"))
    assert event.status == Status.PENDING


def test_merged_is_ignored(zammad):
    [event] = zammad.parse(signed("webhook_state_merged.json"))
    assert (event.kind, event.ticket_id, event.status) == (EventKind.IGNORED, "1342", None)
    assert "merged" in event.summary


def test_a_custom_closed_state_counts_when_listed(zammad):
    [unlisted] = zammad.parse(signed("webhook_state_custom_resolved.json"))
    assert unlisted.status == Status.OPEN  # unknown states are open-like
    zammad.settings = zammad.settings.model_copy(update={"solved_states": ["closed", "Resolved"]})
    [listed] = zammad.parse(signed("webhook_state_custom_resolved.json"))
    assert (listed.status, listed.actor_id) == (Status.SOLVED, "1")


def test_a_ticket_without_state_is_ignored(zammad):
    [event] = zammad.parse(signed("webhook_ticket_without_state.json"))
    assert event.kind == EventKind.IGNORED and event.ticket_id == "1342"


def test_a_custom_payload_without_ticket_is_unparseable(zammad):
    with pytest.raises(Unparseable, match="custom payload"):
        zammad.parse(signed("webhook_custom_payload_without_ticket.json"))


def test_without_delivery_header_the_key_is_derived_and_stable(zammad):
    body = fixture_bytes("zammad", "webhook_state_closed.json")
    headers = zammad_headers(body)
    del headers["X-Zammad-Delivery"]
    [first] = zammad.parse(inbound(body, headers))
    [again] = zammad.parse(inbound(body, headers, at=NOW + timedelta(seconds=30)))
    [other] = zammad.parse(inbound(fixture_bytes("zammad", "webhook_state_open_reopened.json"), {}))
    assert first.delivery_id == again.delivery_id and first.delivery_id.startswith("derived:")
    assert other.delivery_id != first.delivery_id


# --- API ----------------------------------------------------------------------------------------
def mock_ticket(*, customer=True, owner=True, tags=True):
    responses.get(TICKET_URL, json=fixture_json("zammad", "api_ticket_expanded.json"),
                  match=[matchers.query_param_matcher({"expand": "true"})])
    if customer:
        responses.get(f"{API}/users/8", json=fixture_json("zammad", "api_user_customer.json"))
    if owner:
        responses.get(f"{API}/users/5", json=fixture_json("zammad", "api_user_owner.json"))
    if tags:
        responses.get(f"{API}/tags", json=fixture_json("zammad", "api_tags.json"),
                      match=[matchers.query_param_matcher({"object": "Ticket", "o_id": "1342"})])


@responses.activate
def test_fetch_ticket_reads_customer_owner_group_channel_and_tags(zammad):
    mock_ticket()
    ticket = zammad.fetch_ticket("1342")
    assert (ticket.id, ticket.status, ticket.subject) == ("1342", Status.SOLVED, "Invoice shows the wrong VAT rate")
    assert ticket.requester == Person(id="8", email="emily@example.com", name="Emily Adams", locale="de-DE")
    assert (ticket.assignee, ticket.group, ticket.organization) == ("Emma Taylor", "Service Desk", "Awesome Customer Inc.")
    assert (ticket.channel, ticket.raw_channel) == (Channel.EMAIL, "email")
    assert ticket.tags == ["billing", "vat"] and not ticket.merged
    assert ticket.url == f"{BASE}/#ticket/zoom/1342"
    assert all(c.request.headers["Authorization"] == f"Token token={TOKEN}" for c in responses.calls)


@responses.activate
def test_fetch_ticket_uses_oauth_when_configured(monkeypatch, zammad):
    monkeypatch.setenv("ZM_OAUTH", "oauth-access-token")
    zammad.settings = ZammadSettings(id="zammad-main", kind="zammad", base_url=BASE, oauth_token_env="ZM_OAUTH",
                                     webhook_secret_env="ZM_SECRET")
    mock_ticket()
    zammad.fetch_ticket("1342")
    assert responses.calls[0].request.headers["Authorization"] == "Bearer oauth-access-token"


@responses.activate
def test_fetch_ticket_survives_unreadable_users_and_tags(zammad):
    mock_ticket(customer=False, owner=False, tags=False)
    responses.get(f"{API}/users/8", status=403, json={"error": "Not authorized"})
    responses.get(f"{API}/users/5", status=403, json={"error": "Not authorized"})
    responses.get(f"{API}/tags", status=403, json={"error": "Not authorized"})
    ticket = zammad.fetch_ticket("1342")
    # The expanded login stands in for the e-mail when it is one.
    assert ticket.requester.email == "emily@example.com" and ticket.requester.name is None
    assert ticket.assignee == "emma@chrispresso.com" and ticket.tags == []


@responses.activate
def test_a_merged_ticket_is_closed_and_flagged(zammad):
    data = {**fixture_json("zammad", "api_ticket_expanded.json"), "state": "merged", "state_id": 5, "owner_id": 1,
            "owner": "-"}
    responses.get(TICKET_URL, json=data)
    responses.get(f"{API}/users/8", json=fixture_json("zammad", "api_user_customer.json"))
    responses.get(f"{API}/tags", json={"tags": []})
    ticket = zammad.fetch_ticket("1342")
    assert (ticket.status, ticket.merged, ticket.assignee) == (Status.CLOSED, True, None)
    assert len(responses.calls) == 3  # no lookup of the system user for an unassigned ticket


@responses.activate
def test_history_in_order_with_who_did_what(zammad):
    mock_ticket()
    responses.get(f"{API}/ticket_history/1342", json=fixture_json("zammad", "api_ticket_history.json"))
    responses.get(f"{API}/ticket_articles/by_ticket/1342", json=fixture_json("zammad", "api_articles_by_ticket.json"))
    history = zammad.fetch_history("1342")
    changes = changes_of(history)
    assert changes == [
        ("status", "customer", "new", None), ("group", "customer", "Sales", None),
        ("assignee", "system", "Tom Becker", None),
        ("status", "agent", "open", "new"),
        ("group", "agent", "Service Desk", "Sales"), ("assignee", "agent", "Emma Taylor", "Tom Becker"),
        ("status", "agent", "pending", "open"), ("status", "customer", "open", "pending"),
        ("status", "agent", "solved", "open"),
    ]
    messages = talk_of(history)
    assert messages == [("message", "customer", "email"), ("message", "agent", "email"), ("note", "agent", "other"),
                        ("message", "customer", "phone"), ("message", "agent", "email"), ("note", "us", "other")]
    assert [e.at for e in history.entries] == sorted(e.at for e in history.entries)
    assert history.missing == [] and history.counters == {}


@responses.activate
def test_history_without_access_says_what_is_missing(zammad):
    mock_ticket()
    responses.get(f"{API}/ticket_history/1342", status=403, json={"error": "Not authorized"})
    responses.get(f"{API}/ticket_articles/by_ticket/1342", json=fixture_json("zammad", "api_articles_by_ticket.json"))
    history = zammad.fetch_history("1342")
    assert [m.split(":")[0] for m in history.missing] == ["history"]
    assert {e.kind for e in history.entries} == {EntryKind.MESSAGE, EntryKind.NOTE}


@responses.activate
def test_recent_tickets_search_by_customer_and_stop_at_the_window(zammad):
    responses.get(f"{API}/tickets/search", json=fixture_json("zammad", "api_tickets_search_expanded.json"),
                  match=[matchers.query_param_matcher({
                      "query": "customer_id:8", "sort_by": "created_at", "order_by": "desc", "expand": "true",
                      "page": "1", "per_page": "50", "limit": "50"})])
    tickets = zammad.recent_tickets(Person(id="8"), datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert [(t.id, t.channel.value, t.status.value) for t in tickets] == [("1342", "email", "solved"),
                                                                         ("1301", "web", "solved")]


def test_recent_tickets_need_the_customer_id(zammad):
    assert zammad.recent_tickets(Person(email="emily@example.com"), NOW) == []


@responses.activate
def test_internal_note_is_an_internal_note_article(zammad):
    responses.post(f"{API}/ticket_articles", status=201, json=fixture_json("zammad", "api_article_created.json"))
    zammad.post_internal_note("1342", "Customer reported high effort")
    assert json.loads(responses.calls[0].request.body) == {
        "ticket_id": 1342, "body": "Customer reported high effort", "content_type": "text/plain",
        "type": "note", "internal": True}


@responses.activate
def test_public_reply_is_an_email_to_the_customer(zammad):
    mock_ticket()
    responses.post(f"{API}/ticket_articles", status=201, json={"id": 5128})
    zammad.post_public_reply("1342", "How easy was it?")
    body = json.loads(responses.calls[-1].request.body)
    assert body == {"ticket_id": 1342, "to": "emily@example.com", "body": "How easy was it?",
                    "content_type": "text/plain", "type": "email", "internal": False}


@responses.activate
def test_a_refused_follow_up_on_a_closed_ticket_is_locked(zammad):
    responses.post(f"{API}/ticket_articles", status=422, json=fixture_json("zammad", "api_error_follow_up_closed.json"))
    with pytest.raises(TicketLocked):
        zammad.post_internal_note("1342", "note")


@responses.activate
def test_another_422_is_permanent_but_not_locked(zammad):
    responses.post(f"{API}/ticket_articles", status=422, json={"error": "Need at least article: type"})
    with pytest.raises(PermanentApiError) as err:
        zammad.post_internal_note("1342", "note")
    assert not isinstance(err.value, TicketLocked)


@responses.activate
def test_tags_one_call_each(zammad):
    responses.post(f"{API}/tags/add", status=201, json=True)
    zammad.add_tags("1342", ["ces_low", "ces_followup"])
    assert [json.loads(c.request.body) for c in responses.calls] == [
        {"object": "Ticket", "o_id": 1342, "item": "ces_low"},
        {"object": "Ticket", "o_id": 1342, "item": "ces_followup"}]


@responses.activate
def test_remove_tags_one_call_each(zammad):
    responses.delete(f"{API}/tags/remove", json=True)
    zammad.remove_tags("1342", ["ces_2", "ces_6"])
    assert [json.loads(c.request.body) for c in responses.calls] == [
        {"object": "Ticket", "o_id": 1342, "item": "ces_2"}, {"object": "Ticket", "o_id": 1342, "item": "ces_6"}]


@responses.activate
def test_reopen_sets_open_and_hands_over_by_id_or_name(zammad):
    responses.put(TICKET_URL, json={"id": 1342})
    zammad.reopen("1342")
    zammad.reopen("1342", group="4")
    zammad.reopen("1342", group="2nd Level")
    assert [json.loads(c.request.body) for c in responses.calls] == [
        {"state": "open"}, {"state": "open", "group_id": 4}, {"state": "open", "group": "2nd Level"}]


@responses.activate
def test_followup_ticket_for_the_same_customer_linked_to_the_old_one(zammad):
    responses.get(TICKET_URL, json=fixture_json("zammad", "api_tickets_index.json")[0])
    responses.post(f"{API}/tickets", status=201, json={"id": 1400, "number": "31400"})
    assert zammad.create_followup("1342", "Follow-up: high effort", "Customer answered 2 of 7") == "1400"
    body = json.loads(responses.calls[1].request.body)
    assert body == {"title": "Follow-up: high effort", "group_id": 3, "customer_id": 8,
                    "article": {"body": "Customer answered 2 of 7", "content_type": "text/plain", "type": "note",
                                "internal": True},
                    "links": {"Ticket": {"normal": [1342]}}}


@responses.activate
def test_check_reports_authentication_notes_and_history(zammad):
    responses.get(f"{API}/users/me", json=fixture_json("zammad", "api_users_me.json"))
    responses.get(f"{API}/tickets", json=fixture_json("zammad", "api_tickets_index.json"))
    responses.get(f"{API}/ticket_history/1342", json=fixture_json("zammad", "api_ticket_history.json"))
    results = zammad.check()
    assert [(r.name, r.ok) for r in results] == [("authentication", True), ("internal notes", True), ("history", True)]
    assert results[0].extra["user_id"] == "9"


@responses.activate
def test_check_says_when_the_token_is_wrong(zammad):
    responses.get(f"{API}/users/me", status=401, json=fixture_json("zammad", "api_error_invalid_token.json"))
    [result] = zammad.check()
    assert not result.ok and "401" in result.detail and TOKEN not in result.detail


@responses.activate
def test_check_flags_a_customer_token_and_a_wrong_api_user_id(zammad):
    me = {**fixture_json("zammad", "api_users_me.json"), "roles": ["Customer"], "id": 12}
    responses.get(f"{API}/users/me", json=me)
    responses.get(f"{API}/tickets", json=[])
    results = {r.name: r for r in zammad.check()}
    assert not results["internal notes"].ok and not results["history"].ok and not results["api_user_id"].ok


# --- settings and setup -------------------------------------------------------------------------
def test_settings_need_base_url_and_credentials():
    with pytest.raises(ValueError, match="base_url is required"):
        ZammadSettings(id="z", kind="zammad", api_token_env="T", webhook_secret_env="S")
    with pytest.raises(ValueError, match="credentials"):
        ZammadSettings(id="z", kind="zammad", base_url=BASE, webhook_secret_env="S")
    with pytest.raises(ValueError, match="not both"):
        ZammadSettings(id="z", kind="zammad", base_url=BASE, api_token_env="T", oauth_token_env="O",
                       webhook_secret_env="S")
    with pytest.raises(ValueError, match="webhook_secret"):
        ZammadSettings(id="z", kind="zammad", base_url=BASE, api_token_env="T")
    with pytest.raises(ValueError, match="solved_states"):
        ZammadSettings(id="z", kind="zammad", base_url=BASE, api_token_env="T", webhook_secret_env="S",
                       solved_states=[])


def test_setup_instructions(zammad):
    text = zammad.setup_instructions()
    assert "https://surveys.acme.test/webhooks/zammad-main" in text
    assert "HMAC SHA1 Signature Token" in text and "Ticket | State | has changed" in text
    assert "Selective" in text and "Webhook | CES worker" in text
    assert "export ZM_SECRET=" in text and "export ZM_TOKEN=" in text and "ticket.agent" in text
    assert "no satisfaction survey of its own" in text and "solved_states" in text


def test_the_registry_finds_the_connector():
    from ces.connectors.registry import connector_class

    assert connector_class("zammad") is ZammadConnector


# --- against the simulator ----------------------------------------------------------------------
@pytest.fixture
def sim():
    s = ZammadSimulator(token=TOKEN, secret=SECRET).start()
    yield s
    s.stop()


@pytest.fixture
def receiver():
    """Stands in for ces-worker's intake: keeps what the simulated Zammad POSTs."""
    server = StubServer()
    server.server.RequestHandlerClass.disable_nagle_algorithm = True
    server.route("POST", r"/webhooks/zammad-main")(lambda req: StubResponse(202, {"status": "accepted", "events": 1}))
    threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.stop()


@pytest.fixture
def on_sim(monkeypatch, sim) -> ZammadConnector:
    monkeypatch.setenv("ZM_SECRET", SECRET)
    monkeypatch.setenv("ZM_TOKEN", TOKEN)
    return make(ZammadSettings(id="zammad-main", kind="zammad", base_url=sim.url, api_token_env="ZM_TOKEN",
                               webhook_secret_env="ZM_SECRET", api_user_id=str(sim.api_user_id)))


def test_connector_reads_ticket_and_history_from_the_simulator(sim, on_sim):
    agent = sim.add_user("Priya", "Patel", "priya@acme.test", role="Agent")
    other = sim.add_user("Lina", "Chen", "lina@acme.test", role="Agent")
    billing, tier2 = sim.add_group("Billing"), sim.add_group("Tier 2")
    customer = sim.add_user("María", "García", "maria@example.com", locale="es-es")
    t = sim.create_ticket(customer, "Refund not received", group_id=billing, owner_id=agent)
    sim.set_status(t.id, "open", send=False)
    sim.assign(t.id, group_id=tier2, owner_id=other)
    sim.add_article(t.id, other, "We are on it.", type="email")
    sim.set_status(t.id, "closed", send=False)

    ticket = on_sim.fetch_ticket(str(t.id))
    assert (ticket.status, ticket.group, ticket.assignee) == (Status.SOLVED, "Tier 2", "Lina Chen")
    assert ticket.requester == Person(id=str(customer), email="maria@example.com", name="María García", locale="es-ES")
    history = on_sim.fetch_history(str(t.id))
    assert [(e.kind.value, e.value) for e in history.entries if e.kind == EntryKind.GROUP] == [
        ("group", "Billing"), ("group", "Tier 2")]
    assert [e.value for e in history.entries if e.kind == EntryKind.STATUS] == ["new", "open", "solved"]
    assert [(e.kind.value, e.actor) for e in history.entries if e.kind in (EntryKind.MESSAGE, EntryKind.NOTE)] == [
        ("message", Actor.CUSTOMER), ("message", Actor.AGENT)]
    assert [r.id for r in on_sim.recent_tickets(ticket.requester, NOW - timedelta(days=400))] == [str(t.id)]

    on_sim.post_internal_note(str(t.id), "High effort reported")
    on_sim.add_tags(str(t.id), ["ces_low"])
    notes = [e for e in on_sim.fetch_history(str(t.id)).entries if e.kind == EntryKind.NOTE]
    assert [n.actor for n in notes] == [Actor.US] and sim.tickets[t.id].tags == ["ces_low"]
    assert all(c.ok for c in on_sim.check())


def test_a_webhook_from_the_simulator_verifies_and_parses(sim, on_sim, receiver):
    sim.webhook_url = f"{receiver.url}/webhooks/zammad-main"
    customer = sim.add_user("Emily", "Adams", "emily@example.com")
    t = sim.create_ticket(customer, "Invoice", group_id=sim.add_group("Service Desk"))
    responses_ = sim.set_status(t.id, "closed", deliveries=2)
    assert [r.status_code for r in responses_] == [202, 202]
    first, retry = receiver.requests
    events = []
    for got in (first, retry):
        request = inbound(got.body, got.headers, at=datetime.now(timezone.utc))
        on_sim.verify(request)
        events += on_sim.parse(request)
    assert first.headers["user-agent"] == "Zammad User Agent"
    assert [(e.kind, e.ticket_id, e.status) for e in events] == [(EventKind.STATUS, str(t.id), Status.SOLVED)] * 2
    assert events[0].delivery_id == events[1].delivery_id  # a retry is a duplicate
    assert events[0].actor_id == str(sim.agent_id)


def test_our_own_reopen_on_the_simulator_is_told_as_ours(sim, on_sim, receiver):
    sim.webhook_url = f"{receiver.url}/webhooks/zammad-main"
    customer = sim.add_user("Emily", "Adams", "emily@example.com")
    t = sim.create_ticket(customer, "Invoice", group_id=sim.add_group("Service Desk"))
    sim.set_status(t.id, "closed")
    on_sim.reopen(str(t.id))
    last = receiver.requests[-1]
    [event] = on_sim.parse(inbound(last.body, last.headers))
    assert (event.status, event.actor_id) == (Status.OPEN, str(sim.api_user_id))
    assert sim.server.count("PUT", f"/api/v1/tickets/{t.id}") == 1


def test_the_simulator_refuses_a_wrong_token(sim, monkeypatch):
    monkeypatch.setenv("ZM_SECRET", SECRET)
    monkeypatch.setenv("ZM_TOKEN", "wrong")
    conn = make(ZammadSettings(id="zammad-main", kind="zammad", base_url=sim.url, api_token_env="ZM_TOKEN",
                               webhook_secret_env="ZM_SECRET"))
    with pytest.raises(PermanentApiError) as err:
        conn.fetch_ticket("1")
    assert err.value.status == 401


# --- through the real intake and worker functions -----------------------------------------------
ZAMMAD_TOML = """
[[connectors]]
id = "zammad-main"
kind = "zammad"
base_url = "{url}"
api_token_env = "TEST_ZAMMAD_TOKEN"
webhook_secret_env = "TEST_ZAMMAD_SECRET"
api_user_id = "{api_user_id}"
"""


@SQLITE_ONLY
def test_a_close_in_zammad_becomes_one_survey_mail_and_a_reopen_is_counted(
        monkeypatch, config, make_rt, queue, sink, sim, app_port):
    from sqlalchemy import select

    from ces.worker.db.models import Survey, Ticket, WebhookEvent
    from ces.worker.web.app import create_app
    from tests.support import ServedApp, wait_until

    monkeypatch.setenv("TEST_ZAMMAD_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_ZAMMAD_SECRET", SECRET)
    config.write(extra=ZAMMAD_TOML.format(url=sim.url, api_user_id=sim.api_user_id), smtp_port=sink.port)
    rt = make_rt()
    customer = sim.add_user("Emily", "Adams", "emily@example.com", locale="de-de")
    t = sim.create_ticket(customer, "Invoice shows the wrong VAT rate", group_id=sim.add_group("Service Desk"))
    with ServedApp(create_app(rt), app_port) as app:
        sim.webhook_url = f"{app.url}/webhooks/zammad-main"
        closed = sim.set_status(t.id, "closed", deliveries=2)  # Zammad's retry of the same job
        assert [(r.status_code, r.json()["status"]) for r in closed] == [(202, "accepted"), (200, "duplicate")]
        wait_until(lambda: queue.items, 5, 0.01, "the enqueue that follows the answer")
        queue.drain(rt)
        [mail] = sink.messages
        assert mail["To"] == "Emily Adams <emily@example.com>"
        [reopened] = sim.set_status(t.id, "open", by=customer)
        assert reopened.status_code == 202
        wait_until(lambda: queue.items, 5, 0.01, "the enqueue that follows the answer")
        queue.drain(rt)
    with rt.transaction() as s:
        [survey] = s.scalars(select(Survey)).all()
        [ticket] = s.scalars(select(Ticket)).all()
        assert (survey.state, survey.group_name, survey.channel) == ("sent", "Service Desk", "email")
        assert (ticket.external_id, ticket.reopen_count) == (str(t.id), 1)
        outcomes = [e.outcome for e in s.scalars(select(WebhookEvent).order_by(WebhookEvent.id))]
        assert outcomes == ["solve #1 recorded; survey due now", "reopen after solve #1"]
