"""Freshdesk: shared-secret checks, payload parsing (one test per fixture), API, setup text, and the
connector against the simulator."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
import responses
from responses import matchers

from ces.config.models import HttpSettings
from ces.connectors.errors import (
    BadSignature,
    PermanentApiError,
    Unparseable,
)
from ces.connectors.freshdesk import FreshdeskConnector, FreshdeskSettings
from ces.connectors.freshdesk.connector import STATUS_BODY, triggered_changes, webhook_time
from ces.connectors.http import HttpClient
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, InboundRequest, Person, Status
from tests.connectors.conftest import received
from tests.simulators.freshdesk import FreshdeskSimulator
from tests.support import fixture_bytes, fixture_json

BASE = "https://acme.freshdesk.com"
API_KEY = "fd-api-key-abc123"
SECRET = "fd-webhook-secret-0123456789"
NOW = datetime(2026, 11, 23, 10, 16, tzinfo=timezone.utc)
TICKET_URL = f"{BASE}/api/v2/tickets/4711"


def http_client() -> HttpClient:
    return HttpClient(HttpSettings(connect_timeout_seconds=1, read_timeout_seconds=1, retries=2,
                                   backoff_base_seconds=0, backoff_max_seconds=0))


@pytest.fixture
def freshdesk(monkeypatch) -> FreshdeskConnector:
    monkeypatch.setenv("FD_SECRET", SECRET)
    monkeypatch.setenv("FD_KEY", API_KEY)
    settings = FreshdeskSettings(id="freshdesk-main", kind="freshdesk", domain="acme", api_key_env="FD_KEY",
                                 webhook_secret_env="FD_SECRET", api_user_id="43000000042")
    return FreshdeskConnector(settings, http=http_client(), public_url="https://surveys.acme.test")


@pytest.fixture
def by_header(freshdesk) -> FreshdeskConnector:
    freshdesk.settings = freshdesk.settings.model_copy(update={"webhook_auth": "header",
                                                               "webhook_header": "X-Acme-Secret"})
    return freshdesk


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def inbound(body: bytes, headers: dict[str, str], at: datetime = NOW) -> InboundRequest:
    return InboundRequest(method="POST", path="/webhooks/freshdesk-main", query="",
                          headers={k.lower(): v for k, v in {"Content-Type": "application/json", **headers}.items()},
                          body=body, received_at=at, public_url="https://surveys.acme.test")


def delivered(name: str, headers: dict[str, str] | None = None) -> InboundRequest:
    return inbound(fixture_bytes("freshdesk", name), headers if headers is not None else basic("ces-worker", SECRET))


# --- authenticity -------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [basic("ces-worker", "another-secret"), basic("someone", SECRET),
                                     basic("ces-worker", SECRET[:-1]), {}, {"Authorization": f"Bearer {SECRET}"},
                                     {"Authorization": "Basic %%%not-base64"}],
                         ids=["wrong password", "wrong user", "prefix of the secret", "missing", "bearer", "garbage"])
def test_verify_rejects_wrong_or_missing_basic_credentials(freshdesk, headers):
    with pytest.raises(BadSignature):
        freshdesk.verify(delivered("status_resolved.json", headers))


def test_verify_by_custom_header(by_header):
    by_header.verify(delivered("status_resolved.json", {"X-Acme-Secret": SECRET}))
    for headers in ({"X-Acme-Secret": "nope"}, {}, basic("ces-worker", SECRET)):
        with pytest.raises(BadSignature):
            by_header.verify(delivered("status_resolved.json", headers))


def test_delivery_id_is_the_body_hash_so_a_retry_is_a_duplicate(freshdesk):
    first = freshdesk.parse(delivered("status_resolved.json"))[0]
    retry = freshdesk.parse(inbound(fixture_bytes("freshdesk", "status_resolved.json"), {}, at=NOW + timedelta(minutes=5)))[0]
    other = freshdesk.parse(delivered("status_closed.json"))[0]
    body = fixture_bytes("freshdesk", "status_resolved.json")
    assert first.delivery_id == retry.delivery_id == f"sha256:{hashlib.sha256(body).hexdigest()}"
    assert other.delivery_id != first.delivery_id


# --- parsing: one test per fixture ---------------------------------------------------------------
def test_status_resolved(freshdesk):
    [event] = freshdesk.parse(delivered("status_resolved.json"))
    assert (event.kind, event.ticket_id, event.status, event.previous_status) == (
        EventKind.STATUS, "4711", Status.SOLVED, Status.OPEN)
    assert event.occurred_at == datetime(2026, 11, 23, 10, 15, 45, tzinfo=timezone.utc)
    assert event.actor_id == "43009876543" and event.payload["ces_event"] == "ticket.status"


def test_status_resolved_from_the_body_setup_prints_now(freshdesk):
    """The status from documented placeholders alone ({{triggered_event}}); status_resolved.json is a
    body pasted before status_id was dropped, and still parses (above)."""
    [event] = freshdesk.parse(delivered("status_resolved_setup_body.json"))
    assert (event.ticket_id, event.status, event.previous_status, event.actor_id) == (
        "4711", Status.SOLVED, Status.OPEN, "43009876543")
    assert set(json.loads(fixture_bytes("freshdesk", "status_resolved_setup_body.json"))) == set(STATUS_BODY)


def test_status_from_documented_placeholders_when_the_others_render_empty(freshdesk):
    body = {**fixture_json("freshdesk", "status_resolved_setup_body.json"), "updated_at": "", "performer_id": ""}
    [event] = freshdesk.parse(inbound(json.dumps(body).encode(), basic("ces-worker", SECRET)))
    assert (event.status, event.previous_status, event.occurred_at, event.actor_id) == (
        Status.SOLVED, Status.OPEN, NOW, None)


def test_the_delivery_rule_is_the_body_within_a_window_longer_than_freshdesks_retries(freshdesk):
    # Retries 5, 30 and 60 minutes apart (supportsandbox.freshdesk.com … articles/11000000028141).
    assert freshdesk.delivery.window > timedelta(minutes=5 + 30 + 60)
    assert not freshdesk.delivery.signed and freshdesk.signed_key(delivered("status_resolved.json")) is None


def test_status_closed_by_the_system(freshdesk):
    [event] = freshdesk.parse(delivered("status_closed.json"))
    assert (event.status, event.previous_status, event.actor_id) == (Status.CLOSED, Status.SOLVED, None)


def test_status_reopened_with_a_local_time_offset(freshdesk):
    [event] = freshdesk.parse(delivered("status_reopened.json"))
    assert (event.status, event.previous_status) == (Status.OPEN, Status.SOLVED)
    assert event.occurred_at == datetime(2026, 11, 24, 2, 32, 11, tzinfo=timezone.utc)  # 08:02:11 +0530


def test_custom_status_is_open_like(freshdesk):
    [event] = freshdesk.parse(delivered("status_custom.json"))
    assert (event.status, event.previous_status) == (Status.OPEN, Status.OPEN)


def test_status_from_an_escaped_triggered_event(freshdesk):
    [event] = freshdesk.parse(delivered("status_escaped_event.json"))
    assert (event.status, event.previous_status) == (Status.SOLVED, Status.PENDING)


def test_status_from_the_english_default_label_only(freshdesk):
    [event] = freshdesk.parse(delivered("status_label_only.json"))
    assert (event.status, event.previous_status) == (Status.SOLVED, None)


def test_status_with_only_a_translated_label_is_unparseable(freshdesk):
    with pytest.raises(Unparseable, match="status"):
        freshdesk.parse(delivered("status_unreadable.json"))


def test_group_change_gives_group_and_agent_entries(freshdesk):
    [event] = freshdesk.parse(delivered("assignment_group_changed.json"))
    assert event.kind == EventKind.UPDATED and event.ticket_id == "4711"
    assert [(e.kind, e.value, e.actor) for e in event.entries] == [
        (EntryKind.GROUP, "Tier 2", Actor.AGENT), (EntryKind.ASSIGNEE, "Priya Patel", Actor.AGENT)]
    assert event.entries[0].at == datetime(2026, 11, 21, 14, 2, 9, tzinfo=timezone.utc)


def test_unassigned_agent_by_an_automation(freshdesk):
    [event] = freshdesk.parse(delivered("assignment_unassigned.json"))
    assert [(e.kind, e.value, e.actor) for e in event.entries] == [
        (EntryKind.GROUP, "Tier 2", Actor.SYSTEM), (EntryKind.ASSIGNEE, None, Actor.SYSTEM)]


def test_our_own_change_is_marked_as_ours(freshdesk):
    body = json.dumps({**fixture_json("freshdesk", "assignment_group_changed.json"), "performer_id": "43000000042"})
    [event] = freshdesk.parse(inbound(body.encode(), {}))
    assert event.actor_id == "43000000042" and {e.actor for e in event.entries} == {Actor.US}


def test_simple_mode_status_change_is_read_from_triggered_event(freshdesk):
    # Zulip's captured body: resolved (4) → a custom status (6), i.e. a reopen.
    [event] = freshdesk.parse(delivered("simple_status_changed.json"))
    assert (event.kind, event.ticket_id, event.status, event.previous_status) == (
        EventKind.STATUS, "11", Status.OPEN, Status.SOLVED)


@pytest.mark.parametrize("name", ["simple_priority_changed.json", "simple_ticket_created.json",
                                  "simple_missing_triggered_event.json"])
def test_other_simple_mode_bodies_are_ignored(freshdesk, name):
    [event] = freshdesk.parse(delivered(name))
    assert event.kind == EventKind.IGNORED and event.ticket_id == "11"


def test_body_without_ticket_id_is_unparseable(freshdesk):
    with pytest.raises(Unparseable, match="ticket_id"):
        freshdesk.parse(delivered("without_ticket_id.json"))


def test_url_encoded_body_is_unparseable(freshdesk):
    with pytest.raises(Unparseable, match="JSON"):
        freshdesk.parse(delivered("form_encoded_body.txt"))


def test_triggered_event_forms():
    assert triggered_changes("{status:{from:4,to:6}}") == {"status": ("4", "6")}
    assert triggered_changes('{"responder_id":{"from":null,"to":43}}') == {"responder_id": ("null", "43")}
    assert triggered_changes("{ticket_action:created}") == {}
    assert triggered_changes(None) == {}


def test_webhook_times():
    assert webhook_time("2026-11-23 10:15:45 UTC") == datetime(2026, 11, 23, 10, 15, 45, tzinfo=timezone.utc)
    assert webhook_time("2026-11-23 10:15:45 -05:00") == datetime(2026, 11, 23, 15, 15, 45, tzinfo=timezone.utc)
    assert webhook_time("2026-11-23T10:15:45Z") == datetime(2026, 11, 23, 10, 15, 45, tzinfo=timezone.utc)
    assert webhook_time("") is None and webhook_time("Monday") is None


# --- API ----------------------------------------------------------------------------------------
def ticket_mocks(contact: dict | None = None):
    responses.get(TICKET_URL, json=fixture_json("freshdesk", "api_ticket_show.json"))
    responses.get(f"{BASE}/api/v2/groups/43000283280", json=fixture_json("freshdesk", "api_group.json"))
    responses.get(f"{BASE}/api/v2/agents/43009876543", json=fixture_json("freshdesk", "api_agent.json"))
    responses.get(f"{BASE}/api/v2/contacts/43012345678", json=contact or fixture_json("freshdesk", "api_contact.json"))


@responses.activate
def test_fetch_ticket_reads_requester_group_agent_and_channel(freshdesk):
    ticket_mocks()
    ticket = freshdesk.fetch_ticket("4711")
    assert (ticket.id, ticket.status, ticket.subject) == ("4711", Status.SOLVED, "Charged twice for my subscription")
    r = ticket.requester
    assert (r.id, r.email, r.name, r.locale, r.time_zone) == (
        "43012345678", "maria.garcia@example.com", "María García", "es", None)  # "Madrid" is a Rails zone name
    assert (ticket.group, ticket.assignee) == ("Tier 2", "Priya Patel")
    assert (ticket.channel, ticket.raw_channel, ticket.tags) == (Channel.EMAIL, "email", ["billing", "refund"])
    assert ticket.url == f"{BASE}/a/tickets/4711"
    assert ticket.created_at == datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
    first = responses.calls[0].request
    assert first.url == f"{TICKET_URL}?include=requester%2Cstats"
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()


@responses.activate
def test_fetch_ticket_keeps_an_iana_time_zone_and_caches_names(freshdesk):
    ticket_mocks({**fixture_json("freshdesk", "api_contact.json"), "time_zone": "Europe/Madrid"})
    assert freshdesk.fetch_ticket("4711").requester.time_zone == "Europe/Madrid"
    freshdesk.fetch_ticket("4711")
    assert [c.request.url.split("/api/v2/")[1].split("?")[0] for c in responses.calls] == [
        "tickets/4711", "groups/43000283280", "agents/43009876543", "contacts/43012345678",
        "tickets/4711", "contacts/43012345678"]  # group and agent names are asked once


@responses.activate
def test_fetch_ticket_without_access_to_names_still_reads_the_ticket(freshdesk):
    responses.get(TICKET_URL, json=fixture_json("freshdesk", "api_ticket_show.json"))
    responses.get(f"{BASE}/api/v2/groups/43000283280", status=403, json={"code": "access_denied",
                                                                          "message": "You are not authorized"})
    responses.get(f"{BASE}/api/v2/agents/43009876543", status=404)
    responses.get(f"{BASE}/api/v2/contacts/43012345678", status=404)
    ticket = freshdesk.fetch_ticket("4711")
    assert (ticket.group, ticket.assignee, ticket.requester.email, ticket.requester.locale) == (
        None, None, "maria.garcia@example.com", None)


@responses.activate
def test_history_from_conversations_in_order_with_who_did_what(freshdesk):
    ticket_mocks()
    responses.get(f"{TICKET_URL}/conversations", json=fixture_json("freshdesk", "api_conversations.json"),
                  match=[matchers.query_param_matcher({"per_page": "100"})])
    history = freshdesk.fetch_history("4711")
    assert [(e.kind.value, e.actor.value, e.channel.value) for e in history.entries] == [
        ("message", "customer", "email"),  # the description
        ("message", "agent", "email"), ("note", "agent", "email"), ("message", "customer", "email"),
        ("message", "customer", "phone"), ("message", "agent", "email"), ("note", "us", "email")]
    assert history.entries[0].source_id == "description" and history.entries[1].source_id == "43100000001"
    assert history.counters == {"first_reply_minutes": 45.0, "full_resolution_minutes": 4395.8}
    assert history.missing == [] and history.ticket.group == "Tier 2"


@responses.activate
def test_history_follows_the_link_header(freshdesk):
    convs = fixture_json("freshdesk", "api_conversations.json")
    ticket_mocks()
    next_url = f"{TICKET_URL}/conversations?page=2&per_page=100"
    responses.get(f"{TICKET_URL}/conversations", json=convs[:4], headers={"Link": f'<{next_url}>; rel="next"'},
                  match=[matchers.query_param_matcher({"per_page": "100"})])
    responses.get(f"{TICKET_URL}/conversations", json=convs[4:],
                  match=[matchers.query_param_matcher({"page": "2", "per_page": "100"})])
    assert len(freshdesk.fetch_history("4711").entries) == 7


@responses.activate
def test_history_without_conversation_access_says_what_is_missing(freshdesk):
    ticket_mocks()
    responses.get(f"{TICKET_URL}/conversations", status=403, json={"code": "access_denied", "message": "no"})
    history = freshdesk.fetch_history("4711")
    assert [e.source_id for e in history.entries] == ["description"]
    assert history.missing and history.missing[0].startswith("conversations:")


@responses.activate
def test_recent_tickets_by_requester_newest_first_within_the_window(freshdesk):
    responses.get(f"{BASE}/api/v2/tickets", json=fixture_json("freshdesk", "api_tickets_list.json"))
    tickets = freshdesk.recent_tickets(Person(id="43012345678"), datetime(2026, 11, 13, tzinfo=timezone.utc))
    assert [(t.id, t.channel, t.status) for t in tickets] == [("4711", Channel.EMAIL, Status.SOLVED),
                                                              ("4690", Channel.CHAT, Status.CLOSED)]
    query = responses.calls[0].request.params
    assert query == {"requester_id": "43012345678", "updated_since": "2026-11-13T00:00:00Z",
                     "order_by": "created_at", "order_type": "desc", "per_page": "100"}


@responses.activate
def test_recent_tickets_by_email_or_not_at_all(freshdesk):
    responses.get(f"{BASE}/api/v2/tickets", json=[])
    assert freshdesk.recent_tickets(Person(email="maria.garcia@example.com"), NOW) == []
    assert responses.calls[0].request.params["email"] == "maria.garcia@example.com"
    assert freshdesk.recent_tickets(Person(name="No address"), NOW) == [] and len(responses.calls) == 1


@responses.activate
def test_internal_note_is_private_html(freshdesk):
    responses.post(f"{TICKET_URL}/notes", status=201, json=fixture_json("freshdesk", "api_note_created.json"))
    freshdesk.post_internal_note("4711", "Customer answered 2 of 7\n<high effort> & transfers")
    assert json.loads(responses.calls[0].request.body) == {
        "body": "Customer answered 2 of 7<br>&lt;high effort&gt; &amp; transfers", "private": True}


@responses.activate
def test_public_reply(freshdesk):
    responses.post(f"{TICKET_URL}/reply", status=201, json={"id": 43100000008, "body": "<div>Thanks</div>"})
    freshdesk.post_public_reply("4711", "How easy was it?")
    assert responses.calls[0].request.method == "POST"
    assert json.loads(responses.calls[0].request.body) == {"body": "How easy was it?"}


@responses.activate
def test_add_tags_keeps_the_existing_ones(freshdesk):
    responses.get(TICKET_URL, json=fixture_json("freshdesk", "api_ticket_show.json"))
    responses.put(TICKET_URL, json=fixture_json("freshdesk", "api_ticket_show.json"))
    freshdesk.add_tags("4711", ["ces_low", "refund"])
    assert json.loads(responses.calls[1].request.body) == {"tags": ["billing", "refund", "ces_low"]}
    freshdesk.add_tags("4711", ["billing"])  # nothing new: no write
    assert [c.request.method for c in responses.calls] == ["GET", "PUT", "GET"]


@responses.activate
def test_remove_tags_keeps_the_others(freshdesk):
    responses.get(TICKET_URL, json=fixture_json("freshdesk", "api_ticket_show.json"))
    responses.put(TICKET_URL, json=fixture_json("freshdesk", "api_ticket_show.json"))
    freshdesk.remove_tags("4711", ["refund", "ces_2"])
    assert json.loads(responses.calls[1].request.body) == {"tags": ["billing"]}
    freshdesk.remove_tags("4711", ["ces_2"])  # not there: no write
    assert [c.request.method for c in responses.calls] == ["GET", "PUT", "GET"]


@responses.activate
def test_reopen_with_a_group_id_or_name(freshdesk):
    responses.put(TICKET_URL, json=fixture_json("freshdesk", "api_ticket_show.json"))
    responses.get(f"{BASE}/api/v2/groups", json=fixture_json("freshdesk", "api_groups.json"))
    freshdesk.reopen("4711")
    freshdesk.reopen("4711", group="43000283280")
    freshdesk.reopen("4711", group="billing")
    bodies = [json.loads(c.request.body) for c in responses.calls if c.request.method == "PUT"]
    assert bodies == [{"status": 2}, {"status": 2, "group_id": 43000283280}, {"status": 2, "group_id": 43000283279}]
    with pytest.raises(PermanentApiError, match="no group named"):
        freshdesk.reopen("4711", group="Nobody")


@responses.activate
def test_a_refused_write_is_permanent(freshdesk):
    responses.put(TICKET_URL, status=400, json=fixture_json("freshdesk", "api_error_validation.json"))
    with pytest.raises(PermanentApiError) as err:
        freshdesk.reopen("4711", group="1")
    assert err.value.status == 400 and len(responses.calls) == 1


@responses.activate
def test_check_reports_authentication_notes_and_history(freshdesk):
    responses.get(f"{BASE}/api/v2/agents/me", json=fixture_json("freshdesk", "api_agents_me.json"))
    responses.get(f"{BASE}/api/v2/tickets", json=[])
    results = freshdesk.check()
    assert [(r.name, r.ok) for r in results] == [("authentication", True), ("internal notes", True), ("history", True)]
    assert results[0].extra["user_id"] == "43000000042"


@responses.activate
def test_check_warns_about_an_occasional_restricted_agent_and_a_wrong_user_id(freshdesk):
    freshdesk.settings = freshdesk.settings.model_copy(update={"api_user_id": "1"})
    responses.get(f"{BASE}/api/v2/agents/me", json=fixture_json("freshdesk", "api_agents_me_occasional.json"))
    responses.get(f"{BASE}/api/v2/tickets", json=[])
    failed = {r.name: r.detail for r in freshdesk.check() if not r.ok}
    assert set(failed) == {"internal notes", "ticket access", "api_user_id"}
    assert "day pass" in failed["internal notes"] and "restricted" in failed["ticket access"]


@responses.activate
def test_check_says_when_the_key_is_wrong(freshdesk):
    responses.get(f"{BASE}/api/v2/agents/me", status=401, json=fixture_json("freshdesk", "api_error_invalid_credentials.json"))
    [result] = freshdesk.check()
    assert not result.ok and "401" in result.detail


# --- setup and settings -------------------------------------------------------------------------
def test_setup_instructions(freshdesk):
    text = freshdesk.setup_instructions()
    assert "https://surveys.acme.test/webhooks/freshdesk-main" in text
    assert "Status is changed > From: Any status > To: Any status" in text
    assert "Group is updated" in text and "Agent is updated" in text
    assert '"ticket_id": "{{ticket.id}}"' in text and '"triggered_event": "{{triggered_event}}"' in text
    assert '"updated_at": "{{ticket.modified_on}}"' in text and '"ces_event": "ticket.assignment"' in text
    assert "status_id" not in text and "within 2 hours" in text  # the status from documented placeholders
    assert "Username: ces-worker" in text and "export FD_SECRET=" in text and "export FD_KEY=" in text
    assert "{{ticket.satisfaction_survey}}" in text and "satisfaction" in text.lower()


def test_setup_instructions_for_a_secret_header(by_header):
    text = by_header.setup_instructions()
    assert '{"X-Acme-Secret": "<the webhook secret, step 3>"}' in text and "Username:" not in text


def test_settings_say_how_to_fix_them():
    with pytest.raises(ValueError, match="domain"):
        FreshdeskSettings(id="f", kind="freshdesk", api_key_env="K", webhook_secret_env="S")
    with pytest.raises(ValueError, match="not both"):
        FreshdeskSettings(id="f", kind="freshdesk", domain="acme", base_url="https://acme.freshdesk.com",
                          api_key_env="K", webhook_secret_env="S")
    with pytest.raises(ValueError, match="api_key_env"):
        FreshdeskSettings(id="f", kind="freshdesk", domain="acme", webhook_secret_env="S")
    with pytest.raises(ValueError, match="X-CES-Webhook-Secret"):
        FreshdeskSettings(id="f", kind="freshdesk", domain="acme", api_key_env="K", webhook_secret_env="S",
                          webhook_auth="header", webhook_header="Authorization")
    s = FreshdeskSettings(id="f", kind="freshdesk", base_url="https://support.acme.com/", api_key_env="K",
                          webhook_secret_env="S")
    assert s.api_base == "https://support.acme.com"


# --- against the simulator ----------------------------------------------------------------------
# One simulator for the module: stopping a server takes half a second.
@pytest.fixture(scope="module")
def sim_server():
    s = FreshdeskSimulator(api_key=API_KEY, secret=SECRET).start()
    yield s
    s.stop()


@pytest.fixture
def sim(sim_server):
    sim_server.webhook_auth = "basic"
    return sim_server


def against(sim: FreshdeskSimulator, freshdesk: FreshdeskConnector) -> FreshdeskConnector:
    freshdesk.settings = FreshdeskSettings(id="freshdesk-main", kind="freshdesk", base_url=sim.url,
                                           api_key_env="FD_KEY", webhook_secret_env="FD_SECRET",
                                           api_user_id=str(sim.api_agent_id))
    return freshdesk


def test_simulator_serves_ticket_history_and_notes(sim, freshdesk):
    conn = against(sim, freshdesk)
    maria = sim.add_contact("María García", "maria.garcia@example.com", language="es", time_zone="Europe/Madrid")
    agent = sim.add_agent("Priya Patel", "priya.patel@acme.test")
    tier2 = sim.add_group("Tier 2")
    ticket = sim.create_ticket(maria, "Charged twice", source=7, group_id=tier2, responder_id=agent)
    sim.add_conversation(ticket.id, agent, "Checking", source=0)
    sim.add_conversation(ticket.id, maria, "Thanks", incoming=True)
    fetched = conn.fetch_ticket(str(ticket.id))
    assert (fetched.status, fetched.channel, fetched.group, fetched.assignee) == (Status.OPEN, Channel.CHAT, "Tier 2",
                                                                                  "Priya Patel")
    assert (fetched.requester.email, fetched.requester.locale, fetched.requester.time_zone) == (
        "maria.garcia@example.com", "es", "Europe/Madrid")
    conn.post_internal_note(str(ticket.id), "CES: low score")
    history = conn.fetch_history(str(ticket.id))
    assert [(e.kind.value, e.actor.value) for e in history.entries] == [
        ("message", "customer"), ("message", "agent"), ("message", "customer"), ("note", "us")]
    assert "first_reply_minutes" in history.counters
    month_ago = datetime.now(timezone.utc) - timedelta(days=30)
    assert [t.id for t in conn.recent_tickets(Person(id=str(maria)), month_ago)] == [str(ticket.id)]
    conn.add_tags(str(ticket.id), ["ces_low"])
    sim.set_status(ticket.id, "resolved", send=False)
    conn.reopen(str(ticket.id), group="Tier 2")
    assert (ticket.status, ticket.tags, ticket.group_id) == (2, ["ces_low"], tier2)
    assert [r.ok for r in conn.check()] == [True, True, True]


def test_simulator_rejects_a_wrong_api_key(sim, freshdesk, monkeypatch):
    conn = against(sim, freshdesk)
    monkeypatch.setenv("FD_KEY", "wrong")
    with pytest.raises(PermanentApiError) as err:
        conn.fetch_ticket(str(next(iter(sim.tickets), 101)))
    assert err.value.status == 401


@pytest.mark.parametrize("mode", ["basic", "header"])
def test_simulator_webhooks_verify_and_parse(sim, freshdesk, receiver, mode):
    conn = against(sim, freshdesk)
    conn.settings = conn.settings.model_copy(update={"webhook_auth": mode})
    sim.webhook_auth = mode
    sim.webhook_url = f"{receiver.url}/webhooks/freshdesk-main"
    maria = sim.add_contact("María García", "maria.garcia@example.com")
    billing, tier2 = sim.add_group("Billing"), sim.add_group("Tier 2")
    priya = sim.add_agent("Priya Patel", "priya.patel@acme.test")
    ticket = sim.create_ticket(maria, "Charged twice", group_id=billing)
    sim.assign(ticket.id, group_id=tier2, responder_id=priya)
    sim.set_status(ticket.id, "resolved", deliveries=2)  # a retry: the same body
    sim.set_status(ticket.id, "open")
    sim.set_status(ticket.id, "resolved")
    events = []
    for req in received(receiver):
        conn.verify(req)
        events.extend(conn.parse(req))
    assert [(e.kind, e.status) for e in events] == [(EventKind.UPDATED, None), (EventKind.UPDATED, None),
                                                    (EventKind.STATUS, Status.SOLVED), (EventKind.STATUS, Status.SOLVED),
                                                    (EventKind.STATUS, Status.OPEN), (EventKind.STATUS, Status.SOLVED)]
    # The "ticket created" rule tells the first group; the group/agent rule the transfer.
    assert [(e.kind, e.value) for e in events[0].entries] == [(EntryKind.GROUP, "Billing"), (EntryKind.ASSIGNEE, None)]
    assert [(e.kind, e.value) for e in events[1].entries] == [(EntryKind.GROUP, "Tier 2"),
                                                              (EntryKind.ASSIGNEE, "Priya Patel")]
    ids = [e.delivery_id for e in events]
    assert ids[2] == ids[3] and len(set(ids)) == 5  # the retry is a duplicate; the second solve is not
    assert events[4].previous_status == Status.SOLVED and all(e.ticket_id == str(ticket.id) for e in events)
