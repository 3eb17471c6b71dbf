"""Help Scout: signature, payload parsing (one test per fixture), OAuth token, API calls, setup text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest
import responses
from responses import matchers

from ces.connectors.errors import (
    PermanentApiError,
    RateLimited,
    Unparseable,
)
from ces.connectors.helpscout import HelpScoutConnector, HelpScoutSettings
from ces.connectors.helpscout.connector import sign
from ces.connectors.models import Channel, EventKind, InboundRequest, Person, Status
from tests.connectors.kit import changes_of, talk_of
from tests.connectors.kits.helpscout import KIT
from tests.support import SQLITE_ONLY, fixture_bytes, fixture_json

API = "https://api.helpscout.net/v2"
TOKEN_URL = f"{API}/oauth2/token"
CONV_URL = f"{API}/conversations/2104876318"
SECRET = "hs-webhook-secret-7c1d"  # Help Scout allows 40 characters at most
APP_ID = "hs-app-id-0001"
APP_SECRET = "hs-app-secret-0002"
ACCESS = "hs-access-token-e8f1"
NOW = datetime(2026, 11, 23, 10, 16, tzinfo=timezone.utc)


@pytest.fixture
def helpscout(monkeypatch) -> HelpScoutConnector:
    return KIT.connector("helpscout", monkeypatch)


def inbound(body: bytes, headers: dict[str, str], at: datetime = NOW) -> InboundRequest:
    return KIT.inbound("helpscout", body, headers, at)


def hs_headers(body: bytes, event: str, *, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-HelpScout-Event": event, "X-HelpScout-Signature": sign(secret, body)}


def signed(name: str, event: str = "convo.status", **kwargs) -> InboundRequest:
    body = fixture_bytes("helpscout", name)
    return inbound(body, hs_headers(body, event, **kwargs))


def token_ok(times: int = 1, token: str = ACCESS):
    for _ in range(times):
        responses.post(TOKEN_URL, json={**fixture_json("helpscout", "api_oauth_token.json"), "access_token": token})


def conversation_readable() -> None:
    """A token, then the conversation as Help Scout shows it."""
    token_ok()
    responses.get(CONV_URL, json=fixture_json("helpscout", "api_conversation.json"))


# --- signature ----------------------------------------------------------------------------------
def test_signature_is_base64_hmac_sha1_of_the_raw_body():
    # Help Scout's PHP sample: base64_encode(hash_hmac('sha1', $data, KEY, true)); RFC 2202 case 2.
    expected = base64.b64encode(bytes.fromhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")).decode()
    assert sign("Jefe", b"what do ya want for nothing?") == expected
    body = fixture_bytes("helpscout", "webhook_convo_status_closed.json")
    assert sign(SECRET, body) == base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha1).digest()).decode()


# --- parsing: one test per fixture ---------------------------------------------------------------
def test_closed_is_solved(helpscout):
    [event] = helpscout.parse(signed("webhook_convo_status_closed.json"))
    assert (event.kind, event.ticket_id, event.status, event.previous_status) == (
        EventKind.STATUS, "2104876318", Status.SOLVED, None)
    assert event.occurred_at == datetime(2026, 11, 23, 10, 15, 45, tzinfo=timezone.utc)
    assert event.actor_id == "481905"
    assert event.delivery_id.startswith("convo.status:2104876318:closed:")
    assert "maria.garcia@example.com" not in json.dumps(event.payload)


def test_a_retry_is_the_same_delivery_even_when_relative_text_changed(helpscout):
    body = fixture_bytes("helpscout", "webhook_convo_status_closed.json")
    retried = body.replace(b'"friendly": "Nov 22"', b'"friendly": "1 day ago"')
    assert retried != body
    [first] = helpscout.parse(inbound(body, hs_headers(body, "convo.status")))
    [again] = helpscout.parse(inbound(retried, hs_headers(retried, "convo.status"), at=NOW + timedelta(minutes=5)))
    assert first.delivery_id == again.delivery_id


def test_a_replay_under_another_event_name_is_known_by_its_signed_body(helpscout):
    body = fixture_bytes("helpscout", "webhook_convo_status_closed.json")
    first = inbound(body, hs_headers(body, "convo.status"))
    replay = inbound(body, hs_headers(body, "convo.customer.reply.created"))
    assert helpscout.parse(first)[0].delivery_id != helpscout.parse(replay)[0].delivery_id  # the header is in the key
    assert helpscout.signed_key(first) == helpscout.signed_key(replay) is not None  # the signed body decides


def test_reopened_by_a_customer_reply_is_open_and_a_new_delivery(helpscout):
    [closed] = helpscout.parse(signed("webhook_convo_status_closed.json"))
    [event] = helpscout.parse(signed("webhook_convo_status_active_reopened.json"))
    assert (event.status, event.actor_id) == (Status.OPEN, None)
    # The customer's reply moved customerWaitingSince past the close: that is when it reopened.
    assert event.occurred_at == datetime(2026, 11, 24, 8, 2, 19, tzinfo=timezone.utc)
    assert event.delivery_id != closed.delivery_id


def test_a_customer_reply_states_the_status_it_left(helpscout):
    [event] = helpscout.parse(signed("webhook_convo_customer_reply.json", event="convo.customer.reply.created"))
    assert (event.kind, event.status, event.actor_id) == (EventKind.STATUS, Status.OPEN, None)
    assert event.delivery_id.startswith("convo.customer.reply.created:2104876318:active:")
    assert "customer reply" in event.summary and "refund still" not in json.dumps(event.payload)


def test_pending_is_pending(helpscout):
    [event] = helpscout.parse(signed("webhook_convo_status_pending.json"))
    assert event.status == Status.PENDING


def test_spam_counts_as_removed(helpscout):
    [event] = helpscout.parse(signed("webhook_convo_status_spam.json"))
    assert event.status == Status.DELETED


def test_deleted_conversation(helpscout):
    [event] = helpscout.parse(signed("webhook_convo_deleted.json", event="convo.deleted"))
    assert (event.kind, event.ticket_id, event.status, event.delivery_id) == (
        EventKind.STATUS, "2104876318", Status.DELETED, "convo.deleted:2104876318")


def test_other_conversation_events_are_ignored(helpscout):
    [event] = helpscout.parse(signed("webhook_convo_assigned.json", event="convo.assigned"))
    assert (event.kind, event.ticket_id, event.summary) == (EventKind.IGNORED, "2104876318", "convo.assigned")


def test_a_rating_is_ignored_but_names_its_conversation(helpscout):
    [event] = helpscout.parse(signed("webhook_satisfaction_rating.json", event="satisfaction.ratings"))
    assert (event.kind, event.ticket_id) == (EventKind.IGNORED, "2104876318")


def test_customer_events_are_ignored(helpscout):
    [event] = helpscout.parse(signed("webhook_customer_created.json", event="customer.created"))
    assert (event.kind, event.ticket_id) == (EventKind.IGNORED, None)


def test_a_status_event_without_id_is_unparseable(helpscout):
    with pytest.raises(Unparseable):
        helpscout.parse(signed("webhook_convo_status_without_id.json"))


def test_the_event_header_is_needed(helpscout):
    req = signed("webhook_convo_status_closed.json")
    headers = dict(req.headers)
    del headers["x-helpscout-event"]
    with pytest.raises(Unparseable, match="X-HelpScout-Event"):
        helpscout.parse(inbound(req.body, headers))


# --- OAuth token --------------------------------------------------------------------------------
@responses.activate
def test_the_token_comes_from_client_credentials_and_is_reused(helpscout):
    conversation_readable()
    responses.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"))
    helpscout.fetch_ticket("2104876318")
    helpscout.fetch_ticket("2104876318")
    token_calls = [c for c in responses.calls if c.request.url == TOKEN_URL]
    assert len(token_calls) == 1
    assert parse_qs(token_calls[0].request.body) == {"grant_type": ["client_credentials"], "client_id": [APP_ID],
                                                      "client_secret": [APP_SECRET]}
    api_calls = [c for c in responses.calls if c.request.url != TOKEN_URL]
    assert {c.request.headers["Authorization"] for c in api_calls} == {f"Bearer {ACCESS}"}


@responses.activate
def test_an_expired_token_is_renewed(helpscout, monkeypatch):
    token_ok()
    token_ok(token="second-token")
    responses.get(CONV_URL, json=fixture_json("helpscout", "api_conversation.json"))
    responses.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"))
    helpscout.fetch_ticket("2104876318")
    clock = time.monotonic() + 172800
    monkeypatch.setattr("ces.connectors.helpscout.connector.time.monotonic", lambda: clock)
    helpscout.fetch_ticket("2104876318")
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer second-token"


@responses.activate
def test_a_revoked_token_is_replaced_once(helpscout):
    token_ok()
    token_ok(token="second-token")
    responses.get(CONV_URL, json=fixture_json("helpscout", "api_conversation.json"))
    responses.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"))
    helpscout.fetch_ticket("2104876318")
    responses.replace(responses.GET, CONV_URL, status=401, json=fixture_json("helpscout", "api_error_invalid_token.json"))
    responses.add(responses.GET, CONV_URL, json=fixture_json("helpscout", "api_conversation.json"))
    assert helpscout.fetch_ticket("2104876318").id == "2104876318"
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer second-token"


@responses.activate
def test_wrong_app_credentials_are_permanent_and_secret_free(helpscout):
    responses.post(TOKEN_URL, status=401, json=fixture_json("helpscout", "api_oauth_invalid_client.json"))
    with pytest.raises(PermanentApiError) as err:
        helpscout.fetch_ticket("2104876318")
    assert err.value.status == 401 and len(responses.calls) == 1
    assert APP_SECRET not in str(err.value) and APP_ID not in str(err.value)


# --- API ----------------------------------------------------------------------------------------
def mock_conversation():
    conversation_readable()
    responses.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"),
                  match=[matchers.query_param_matcher({"page": "1"})])


@responses.activate
def test_fetch_ticket_maps_the_conversation(helpscout):
    mock_conversation()
    ticket = helpscout.fetch_ticket("2104876318")
    assert (ticket.id, ticket.status, ticket.subject) == ("2104876318", Status.SOLVED, "Refund for order 88412 not received")
    assert ticket.requester == Person(id="700123401", email="maria.garcia@example.com", name="María García")
    assert (ticket.assignee, ticket.group) == ("Lina Chen", "Billing")
    assert (ticket.channel, ticket.raw_channel) == (Channel.EMAIL, "email/email")
    assert ticket.tags == ["refund", "vip"]
    assert ticket.url == "https://secure.helpscout.net/conversation/2104876318/48213"
    assert ticket.updated_at == datetime(2026, 11, 23, 10, 15, 45, tzinfo=timezone.utc)


@responses.activate
def test_fetch_ticket_without_mailbox_access_keeps_the_id(helpscout):
    conversation_readable()
    responses.get(f"{API}/mailboxes", status=403, json={"message": "Forbidden"})
    assert helpscout.fetch_ticket("2104876318").group == "221145"


@responses.activate
def test_429_honours_help_scouts_own_retry_after_header(helpscout):
    token_ok()
    responses.get(CONV_URL, status=429, headers={"X-RateLimit-Retry-After": "23", "X-RateLimit-Limit-Minute": "200",
                                                 "X-RateLimit-Remaining-Minute": "0"})
    with pytest.raises(RateLimited) as err:
        helpscout.fetch_ticket("2104876318")
    assert err.value.retry_after == 23


@responses.activate
def test_history_from_threads_in_order_with_who_did_what(helpscout):
    mock_conversation()
    threads = f"{CONV_URL}/threads"
    responses.get(threads, json=fixture_json("helpscout", "api_threads_page1.json"),
                  match=[matchers.query_param_matcher({"page": "1"})])
    responses.get(threads, json=fixture_json("helpscout", "api_threads_page2.json"),
                  match=[matchers.query_param_matcher({"page": "2"})])
    history = helpscout.fetch_history("2104876318")
    changes = changes_of(history)
    assert changes == [
        ("group", "system", "Sales", None),
        ("status", "customer", "open", None),
        ("assignee", "agent", "Tom Becker", None),
        ("status", "agent", "pending", "open"),
        ("group", "agent", "Billing", "Sales"),
        ("assignee", "agent", "Lina Chen", "Tom Becker"),
        ("status", "customer", "open", "pending"),
        ("status", "agent", "solved", "open"),
    ]
    messages = talk_of(history)
    assert messages == [("message", "customer", "email"), ("message", "agent", "email"), ("note", "agent", "email"),
                        ("message", "customer", "email"), ("message", "agent", "email"), ("note", "us", "email")]
    assert history.missing == [] and history.counters == {}


@responses.activate
def test_history_without_threads_says_so(helpscout):
    mock_conversation()
    responses.get(f"{CONV_URL}/threads", status=403, json={"message": "Forbidden"})
    history = helpscout.fetch_history("2104876318")
    assert history.ticket.id == "2104876318" and history.entries == []
    assert history.missing[0].startswith("threads:")


@responses.activate
def test_recent_tickets_by_email_newest_first_until_the_window(helpscout):
    token_ok()
    responses.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"))
    responses.get(f"{API}/conversations", json=fixture_json("helpscout", "api_conversations_list.json"),
                  match=[matchers.query_param_matcher({
                      "status": "all", "query": '(email:"maria.garcia@example.com")', "sortField": "createdAt",
                      "sortOrder": "desc", "page": "1"})])
    tickets = helpscout.recent_tickets(Person(id="700123401", email="maria.garcia@example.com"),
                                       datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert [(t.id, t.channel.value, t.group) for t in tickets] == [("2104876318", "email", "Billing"),
                                                                  ("2101550042", "chat", "Sales")]


@responses.activate
def test_recent_tickets_by_customer_id_without_email(helpscout):
    token_ok()
    responses.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"))
    responses.get(f"{API}/conversations", json={"page": {"size": 25, "totalElements": 0, "totalPages": 0, "number": 1}},
                  match=[matchers.query_param_matcher({
                      "status": "all", "query": "(customerIds:700123401)", "sortField": "createdAt",
                      "sortOrder": "desc", "page": "1"})])
    assert helpscout.recent_tickets(Person(id="700123401"), NOW) == []


@responses.activate
def test_internal_note(helpscout):
    token_ok()
    responses.post(f"{CONV_URL}/notes", status=201, headers={"Resource-ID": "6610011"})
    helpscout.post_internal_note("2104876318", "Customer reported high effort")
    call = responses.calls[-1]
    assert json.loads(call.request.body) == {"text": "Customer reported high effort"}
    assert call.request.headers["Authorization"] == f"Bearer {ACCESS}"


@responses.activate
def test_public_reply_to_the_primary_customer_keeps_the_status(helpscout):
    conversation_readable()
    responses.post(f"{CONV_URL}/reply", status=201, headers={"Resource-ID": "6610012"})
    helpscout.post_public_reply("2104876318", "How easy was it?")
    assert json.loads(responses.calls[-1].request.body) == {
        "customer": {"id": 700123401}, "text": "How easy was it?", "status": "closed"}


@responses.activate
def test_tags_are_merged_with_the_current_set(helpscout):
    conversation_readable()
    responses.put(f"{CONV_URL}/tags", status=204)
    helpscout.add_tags("2104876318", ["ces_low", "vip"])
    assert json.loads(responses.calls[-1].request.body) == {"tags": ["refund", "vip", "ces_low"]}


@responses.activate
def test_tags_already_there_are_not_written_again(helpscout):
    conversation_readable()
    helpscout.add_tags("2104876318", ["vip"])
    assert [c.request.method for c in responses.calls] == ["POST", "GET"]  # the token, the read


@responses.activate
def test_remove_tags_writes_the_rest_back(helpscout):
    conversation_readable()
    responses.put(f"{CONV_URL}/tags", status=204)
    helpscout.remove_tags("2104876318", ["refund", "ces_2"])
    assert json.loads(responses.calls[-1].request.body) == {"tags": ["vip"]}


@responses.activate
def test_reopen_and_move_to_a_mailbox_by_name(helpscout):
    token_ok()
    responses.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"))
    responses.patch(CONV_URL, status=204)
    helpscout.reopen("2104876318", group="Sales")
    patches = [json.loads(c.request.body) for c in responses.calls if c.request.method == "PATCH"]
    assert patches == [{"op": "move", "path": "/mailboxId", "value": 221140},
                       {"op": "replace", "path": "/status", "value": "active"}]


@responses.activate
def test_reopen_to_an_unknown_mailbox_changes_nothing(helpscout):
    token_ok()
    responses.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"))
    with pytest.raises(PermanentApiError, match="no mailbox named"):
        helpscout.reopen("2104876318", group="Nowhere")
    assert not [c for c in responses.calls if c.request.method == "PATCH"]


@responses.activate
def test_followup_conversation_with_the_same_customer_as_a_note(helpscout):
    conversation_readable()
    responses.post(f"{API}/conversations", status=201, headers={"Resource-ID": "2104999001",
                                                                 "Location": f"{API}/conversations/2104999001"})
    assert helpscout.create_followup("2104876318", "Follow-up: high effort", "Customer answered 2 of 7") == "2104999001"
    body = json.loads(responses.calls[-1].request.body)
    assert body["customer"] == {"id": 700123401} and body["mailboxId"] == 221145 and body["status"] == "active"
    assert body["threads"][0]["type"] == "note" and "conversation/2104876318/48213" in body["threads"][0]["text"]


@responses.activate
def test_check_reports_the_user_and_mailboxes(helpscout):
    token_ok()
    responses.get(f"{API}/users/me", json=fixture_json("helpscout", "api_users_me.json"))
    responses.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"))
    results = helpscout.check()
    assert [(r.name, r.ok) for r in results] == [("authentication", True), ("internal notes", True), ("history", True)]
    assert results[0].extra["user_id"] == "481999" and "CES worker" in results[0].detail


@responses.activate
def test_check_says_when_the_app_credentials_are_wrong(helpscout):
    responses.post(TOKEN_URL, status=401, json=fixture_json("helpscout", "api_oauth_invalid_client.json"))
    [result] = helpscout.check()
    assert not result.ok and "401" in result.detail and APP_SECRET not in result.detail


# --- settings and setup -------------------------------------------------------------------------
@pytest.mark.parametrize("given,refused", [
    ({"app_secret_env": "S", "webhook_secret_env": "W"}, "app_id"),
    ({"app_id_env": "I", "webhook_secret_env": "W"}, "app_secret"),
    ({"app_id_env": "I", "app_secret_env": "S"}, "webhook_secret"),
    ({"app_id_env": ["I", "J"], "app_secret_env": "S", "webhook_secret_env": "W"}, "only webhook_secret_env takes a list"),
])
def test_settings_need_the_app_credentials_and_the_secret(given, refused):
    with pytest.raises(ValueError, match=refused):
        HelpScoutSettings(id="h", kind="helpscout", **given)


def test_base_url_overrides_the_api_host(monkeypatch):
    settings = HelpScoutSettings(id="h", kind="helpscout", app_id_env="I", app_secret_env="S", webhook_secret_env="W",
                                 base_url="http://127.0.0.1:9999")
    assert settings.api_base == "http://127.0.0.1:9999"


def test_connectors_on_the_same_app_share_one_rate_budget(helpscout):
    other = HelpScoutConnector(helpscout.settings.model_copy(update={"id": "helpscout-eu"}), http=helpscout.http,
                               public_url="https://surveys.acme.test")
    assert other.rate_key == helpscout.rate_key and APP_ID not in helpscout.rate_key


def test_setup_instructions(helpscout):
    text = helpscout.setup_instructions()
    assert "https://surveys.acme.test/webhooks/helpscout-main" in text
    assert "convo.status" in text and "convo.deleted" in text and "convo.customer.reply.created" in text
    assert "40 characters" in text
    assert "export HS_SECRET=" in text and "export HS_APP_ID=" in text and "export HS_APP_SECRET=" in text
    assert "Satisfaction Ratings" in text and "My Apps" in text


def test_the_registry_finds_the_connector():
    from ces.connectors.registry import connector_class

    assert connector_class("helpscout") is HelpScoutConnector


# --- through the real intake and worker functions -----------------------------------------------
HS_TOML = """
[[connectors]]
id = "helpscout-main"
kind = "helpscout"
app_id_env = "TEST_HS_APP_ID"
app_secret_env = "TEST_HS_APP_SECRET"
webhook_secret_env = "TEST_HS_SECRET"
api_user_id = "481999"
"""


def receive(rt, body: bytes, event: str = "convo.status") -> list[int | None]:
    """What intake does with one webhook, without HTTP: verify, parse, store, enqueue."""
    from ces.worker.intake import event_row, store_batch

    now = rt.now()
    headers = {k.lower(): v for k, v in hs_headers(body, event).items()}
    req = InboundRequest("POST", "/webhooks/helpscout-main", "", headers, body, now, rt.settings.public_url)
    conn = rt.connector("helpscout-main")
    conn.verify(req)
    rows = [event_row("helpscout-main", e, now, rt.settings.worker.requeue_after_seconds) for e in conn.parse(req)]
    [ids] = store_batch(rt, [rows])
    for row, event_id in zip(rows, ids):
        if event_id and row["state"] == "received":
            rt.enqueue("ces.process_event", event_id)
    return ids


@SQLITE_ONLY
def test_a_closed_conversation_becomes_one_survey_mail_and_a_reply_reopens_it(
        monkeypatch, config, make_rt, queue, sink):
    from sqlalchemy import select

    from ces.worker.db.models import Survey, Ticket, WebhookEvent

    monkeypatch.setenv("TEST_HS_APP_ID", APP_ID)
    monkeypatch.setenv("TEST_HS_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("TEST_HS_SECRET", SECRET)
    config.write(extra=HS_TOML, smtp_port=sink.port)
    rt = make_rt()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        mock.post(TOKEN_URL, json=fixture_json("helpscout", "api_oauth_token.json"))
        mock.get(CONV_URL, json=fixture_json("helpscout", "api_conversation.json"))
        mock.get(f"{API}/mailboxes", json=fixture_json("helpscout", "api_mailboxes.json"))
        body = fixture_bytes("helpscout", "webhook_convo_status_closed.json")
        assert receive(rt, body)[0] is not None
        # Help Scout retries with the relative "friendly" text moved on: still the same delivery.
        assert receive(rt, body.replace(b'"Nov 22"', b'"1 day ago"')) == [None]
        queue.drain(rt)
        [mail] = sink.messages
        assert mail["To"] == "María García <maria.garcia@example.com>"
        assert receive(rt, fixture_bytes("helpscout", "webhook_convo_status_active_reopened.json"))[0] is not None
        queue.drain(rt)
    with rt.transaction() as s:
        [survey] = s.scalars(select(Survey)).all()
        [ticket] = s.scalars(select(Ticket)).all()
        assert (survey.state, survey.group_name, survey.assignee) == ("sent", "Billing", "Lina Chen")
        assert (ticket.external_id, ticket.reopen_count) == ("2104876318", 1)
        outcomes = [e.outcome for e in s.scalars(select(WebhookEvent).order_by(WebhookEvent.id))]
        assert outcomes == ["solve #1 recorded; survey due now", "reopen after solve #1"]
