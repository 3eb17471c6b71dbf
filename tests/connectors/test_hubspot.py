"""HubSpot: signature v3, event arrays (one test per fixture), CRM API, setup text."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import responses
from hubspot.utils.signature import Signature
from responses import matchers

from ces.connectors import base
from ces.connectors.errors import (
    BadSignature,
    Unparseable,
    Unsupported,
)
from ces.connectors.hubspot import HubspotConnector, HubspotSettings
from ces.connectors.hubspot.connector import sign
from ces.connectors.models import Channel, EventKind, InboundRequest, Person, Status
from tests.connectors.kits.hubspot import KIT
from tests.support import fixture_bytes, fixture_json

API = "https://api.hubapi.com"
SECRET = "hubspot-client-secret-5d1f"
TOKEN = "pat-eu1-2b9c1e44-0000-4f3a-9d7e-8a1b2c3d4e5f"
PUBLIC = "https://surveys.acme.test"
NOW = datetime(2025, 11, 23, 10, 16, tzinfo=timezone.utc)
TICKET = f"{API}/crm/v3/objects/tickets/5158001234"


@pytest.fixture
def hubspot(monkeypatch) -> HubspotConnector:
    return KIT.connector("hubspot", monkeypatch)


def ms(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def inbound(body: bytes, headers: dict[str, str], *, path: str = "/webhooks/hubspot-main", query: str = "",
            public_url: str = PUBLIC) -> InboundRequest:
    return InboundRequest(method="POST", path=path, query=query, headers={k.lower(): v for k, v in headers.items()},
                          body=body, received_at=NOW, public_url=public_url)


def headers_for(body: bytes, *, secret: str = SECRET, at: datetime = NOW, uri: str | None = None) -> dict[str, str]:
    timestamp = ms(at)
    uri = uri or f"{PUBLIC}/webhooks/hubspot-main"
    return {"Content-Type": "application/json", "X-HubSpot-Signature-Version": "v3",
            "X-HubSpot-Request-Timestamp": timestamp,
            "X-HubSpot-Signature-v3": sign(secret, "POST", uri, body, timestamp)}


def signed(name: str, **kw) -> InboundRequest:
    body = fixture_bytes("hubspot", name)
    return inbound(body, headers_for(body, **kw))


# --- signature ----------------------------------------------------------------------------------
def test_hubspots_own_sdk_and_we_agree_on_signature_v3(hubspot):
    """hubspot-api-client's verifier (hubspot/utils/signature.py), called as HubSpot wrote it."""
    body, uri, ts = fixture_bytes("hubspot", "stage_closed.json"), f"{PUBLIC}/webhooks/hubspot-main", ms(NOW)
    theirs = Signature.get_signature(SECRET, body.decode(), "v3", uri, "POST", ts)
    assert theirs == sign(SECRET, "POST", uri, body, ts)
    hubspot.verify(inbound(body, {"X-HubSpot-Signature-v3": theirs, "X-HubSpot-Request-Timestamp": ts}))
    now = str(int(time.time() * 1000))  # its is_valid checks the time against the clock
    assert Signature.is_valid(sign(SECRET, "POST", uri, body, now), SECRET, body.decode(), uri, "POST", "v3", now)


def test_signature_matches_the_documented_scheme():
    # Computed independently: printf '%s' 'POSThttps://example.com/webhook?q=1[{"eventId":1}]1708986599647'
    #   | openssl dgst -sha256 -hmac client-secret -binary | base64
    assert sign("client-secret", "POST", "https://example.com/webhook?q=1", b'[{"eventId":1}]',
                "1708986599647") == "gXJrcPQI39C5Y7ojHtuO7o8qFCcSz82AN0HfB928XZM="


def test_verify_signs_the_public_url_not_the_internal_one(hubspot):
    body = fixture_bytes("hubspot", "stage_closed.json")
    # HubSpot signed the address it called; a server that thinks it lives elsewhere cannot match it.
    signed_elsewhere = headers_for(body, uri="http://10.0.0.5:8000/webhooks/hubspot-main")
    with pytest.raises(BadSignature, match="public_url"):
        hubspot.verify(inbound(body, signed_elsewhere))


def test_verify_includes_the_query_and_its_decoded_form(hubspot):
    body = fixture_bytes("hubspot", "stage_closed.json")
    decoded = f"{PUBLIC}/webhooks/hubspot-main?source=hub:spot"
    hubspot.verify(inbound(body, headers_for(body, uri=decoded), query="source=hub%3Aspot"))
    with pytest.raises(BadSignature):
        hubspot.verify(inbound(body, headers_for(body, uri=f"{PUBLIC}/webhooks/hubspot-main"),
                               query="source=hub%3Aspot"))


# --- parsing: one test per fixture ---------------------------------------------------------------
def test_stage_closed_is_solved(hubspot):
    [event] = hubspot.parse(signed("stage_closed.json"))
    assert (event.kind, event.ticket_id, event.status, event.previous_status) == (
        EventKind.STATUS, "5158001234", Status.SOLVED, None)
    assert event.delivery_id == "1723409021:2301884:5158001234:1763892945123"
    assert event.occurred_at == datetime(2025, 11, 23, 10, 15, 45, 123000, tzinfo=timezone.utc)
    assert event.actor_id == "userId:51230045"


@pytest.mark.parametrize("fixture,expected", [
    ("stage_reopened.json", {"status": Status.OPEN, "ticket_id": "5158001234"}),  # out of a closed stage
    ("ticket_deleted.json", {"kind": EventKind.STATUS, "status": Status.DELETED}),
    # the generic object subscription, for tickets
    ("generic_object_stage.json", {"kind": EventKind.STATUS, "ticket_id": "5158001234", "status": Status.SOLVED}),
    ("contact_property_change.json", {"kind": EventKind.IGNORED, "ticket_id": None}),  # another object: no ticket
])
def test_an_event_parses_to_its_event(hubspot, fixture, expected):
    [event] = hubspot.parse(signed(fixture))
    assert {name: getattr(event, name) for name in expected} == expected


def test_a_batch_gives_one_event_each(hubspot):
    events = hubspot.parse(signed("batch_mixed.json"))
    assert [(e.kind, e.ticket_id, e.status) for e in events] == [
        (EventKind.STATUS, "5158001234", Status.SOLVED),
        (EventKind.IGNORED, "5158009999", None),
        (EventKind.STATUS, "5158007777", Status.PENDING),
        (EventKind.IGNORED, "5158008888", None)]
    assert len({e.delivery_id for e in events}) == 4


def test_a_retried_event_keeps_its_delivery_id(hubspot):
    data = fixture_json("hubspot", "stage_closed.json")
    data[0]["attemptNumber"] = 3
    [again] = hubspot.parse(inbound(json.dumps(data).encode(), {}))
    [first] = hubspot.parse(signed("stage_closed.json"))
    assert again.delivery_id == first.delivery_id


def test_custom_closed_stages(hubspot):
    hubspot.settings = hubspot.settings.model_copy(update={"closed_stage_ids": ["4", "81234569"]})
    data = fixture_json("hubspot", "stage_closed.json")
    data[0]["propertyValue"] = "81234569"
    [event] = hubspot.parse(inbound(json.dumps(data).encode(), {}))
    assert event.status == Status.SOLVED


def test_an_event_without_object_id_is_unparseable(hubspot):
    with pytest.raises(Unparseable):
        hubspot.parse(signed("event_without_object_id.json"))


def test_a_bad_event_does_not_cost_the_good_ones_of_its_batch(hubspot):
    good = fixture_json("hubspot", "stage_closed.json")
    bad = fixture_json("hubspot", "event_without_object_id.json")
    events = hubspot.parse(inbound(json.dumps(good + bad).encode(), {}))
    assert [(e.kind, e.status) for e in events] == [(EventKind.STATUS, Status.SOLVED), (EventKind.IGNORED, None)]
    assert events[1].summary.startswith("unparseable:") and events[1].delivery_id.startswith("unparseable:")
    again = hubspot.parse(inbound(json.dumps(good + bad).encode(), {}))
    assert again[1].delivery_id == events[1].delivery_id  # a retried batch stays a duplicate


def test_a_body_that_is_not_an_array_is_unparseable(hubspot):
    with pytest.raises(Unparseable, match="array"):
        hubspot.parse(signed("not_an_array.json"))


# --- API ----------------------------------------------------------------------------------------
def _requester_and_names():
    responses.get(f"{API}/crm/v3/objects/contacts/201", json=fixture_json("hubspot", "api_contact.json"),
                  match=[matchers.query_param_matcher({"properties": "email,firstname,lastname,hs_language"})])
    for owner in ("51230045", "51230077"):
        responses.get(f"{API}/crm/v3/owners/{owner}", json=fixture_json("hubspot", f"api_owner_{owner}.json"))
    responses.get(f"{API}/settings/v3/users/teams", json=fixture_json("hubspot", "api_teams.json"))


@responses.activate
def test_fetch_ticket_reads_requester_owner_team_and_channel(hubspot):
    responses.get(TICKET, json=fixture_json("hubspot", "api_ticket.json"), match=[
        matchers.query_param_matcher({"properties": "subject,hs_pipeline,hs_pipeline_stage,hubspot_owner_id,"
                                                    "hubspot_team_id,source_type,createdate,hs_lastmodifieddate",
                                      "associations": "contacts"}),
        matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})])
    _requester_and_names()
    ticket = hubspot.fetch_ticket("5158001234")
    assert ticket.status == Status.SOLVED and ticket.subject == "Refund for order #4471"
    assert (ticket.requester.id, ticket.requester.email, ticket.requester.name, ticket.requester.locale) == (
        "201", "maria.garcia@example.com", "María García", "es")
    assert (ticket.assignee, ticket.group) == ("Lina Chen", "Tier 2")
    assert (ticket.channel, ticket.raw_channel) == (Channel.EMAIL, "EMAIL")
    assert ticket.url == "https://app.hubspot.com/contacts/24601234/record/0-5/5158001234"
    assert ticket.created_at == datetime(2025, 11, 22, 8, 26, 40, tzinfo=timezone.utc)


@responses.activate
def test_history_from_properties_with_history(hubspot):
    responses.get(TICKET, json=fixture_json("hubspot", "api_ticket_with_history.json"),
                  match=[matchers.query_param_matcher({
                      "properties": "subject,hs_pipeline,hs_pipeline_stage,hubspot_owner_id,hubspot_team_id,"
                                    "source_type,createdate,hs_lastmodifieddate",
                      "associations": "contacts",
                      "propertiesWithHistory": "hs_pipeline_stage,hubspot_owner_id,hubspot_team_id"})])
    _requester_and_names()
    history = hubspot.fetch_history("5158001234")
    assert [(e.kind.value, e.actor.value, e.value, e.previous) for e in history.entries] == [
        ("status", "system", "new", None),
        ("assignee", "system", None, None),
        ("assignee", "system", "Priya Patel", None),
        ("group", "system", "Billing", None),
        ("status", "agent", "pending", "new"),
        ("assignee", "agent", "Lina Chen", "Priya Patel"),
        ("group", "agent", "Tier 2", "Billing"),
        ("status", "agent", "solved", "pending"),
        ("status", "system", "open", "solved"),
        ("status", "agent", "solved", "open"),
    ]
    assert any(m.startswith("messages:") for m in history.missing)


@responses.activate
def test_history_marks_our_own_stage_changes(hubspot):
    data = fixture_json("hubspot", "api_ticket_with_history.json")
    data["propertiesWithHistory"] = {"hs_pipeline_stage": [
        {"value": "3", "timestamp": "2025-11-24T09:00:00.000Z", "sourceType": "INTEGRATION", "sourceId": "3301122"},
        {"value": "4", "timestamp": "2025-11-23T10:15:45.123Z", "sourceType": "CRM_UI", "updatedByUserId": 1}]}
    responses.get(TICKET, json=data)
    _requester_and_names()
    entries = hubspot.fetch_history("5158001234").entries
    assert [(e.value, e.actor.value) for e in entries] == [("solved", "agent"), ("open", "us")]


@responses.activate
def test_history_without_the_contact_keeps_the_rest(hubspot):
    responses.get(TICKET, json=fixture_json("hubspot", "api_ticket_with_history.json"))
    responses.get(f"{API}/crm/v3/objects/contacts/201", status=403,
                  json={"status": "error", "message": "This app hasn't been granted all required scopes",
                        "category": "MISSING_SCOPES"})
    for owner in ("51230045", "51230077"):
        responses.get(f"{API}/crm/v3/owners/{owner}", json=fixture_json("hubspot", f"api_owner_{owner}.json"))
    responses.get(f"{API}/settings/v3/users/teams", status=403, json={"status": "error", "category": "MISSING_SCOPES"})
    history = hubspot.fetch_history("5158001234")
    assert history.ticket.requester is None and history.ticket.group == "6712346"  # the team id stands in
    assert history.missing[0].startswith("requester:") and len(history.entries) == 10


@responses.activate
def test_recent_tickets_search_the_associated_contact(hubspot):
    since = datetime(2025, 11, 22, tzinfo=timezone.utc)
    filters = [{"propertyName": "associations.contact", "operator": "EQ", "value": "201"},
               {"propertyName": "createdate", "operator": "GTE", "value": str(int(since.timestamp() * 1000))}]
    first = {"filterGroups": [{"filters": filters}], "sorts": [{"propertyName": "createdate",
                                                                "direction": "DESCENDING"}],
             "properties": ["subject", "hs_pipeline", "hs_pipeline_stage", "hubspot_owner_id", "hubspot_team_id",
                            "source_type", "createdate", "hs_lastmodifieddate"], "limit": 100}
    responses.post(f"{API}/crm/v3/objects/tickets/search", json=fixture_json("hubspot", "api_search_page1.json"),
                   match=[matchers.json_params_matcher(first)])
    responses.post(f"{API}/crm/v3/objects/tickets/search", json=fixture_json("hubspot", "api_search_page2.json"),
                   match=[matchers.json_params_matcher({**first, "after": "2"})])
    tickets = hubspot.recent_tickets(Person(id="201", email="maria.garcia@example.com"), since)
    assert [(t.id, t.channel.value) for t in tickets] == [("5158012000", "chat"), ("5158001234", "email"),
                                                        ("5157990000", "phone")]
    assert tickets[0].requester.email == "maria.garcia@example.com"


@responses.activate
def test_internal_note_is_a_note_associated_with_the_ticket(hubspot):
    responses.post(f"{API}/crm/v3/objects/notes", status=201, json=fixture_json("hubspot", "api_note_created.json"))
    hubspot.post_internal_note("5158001234", "Customer reported high effort")
    body = json.loads(responses.calls[0].request.body)
    assert body["properties"]["hs_note_body"] == "Customer reported high effort"
    assert body["properties"]["hs_timestamp"].endswith("Z")
    assert body["associations"] == [{"to": {"id": "5158001234"}, "types": [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 228}]}]
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


@responses.activate
def test_reopen_moves_to_the_reopen_stage_and_team(hubspot):
    responses.patch(TICKET, json=fixture_json("hubspot", "api_ticket.json"))
    hubspot.reopen("5158001234", group="6712346")
    assert json.loads(responses.calls[0].request.body) == {
        "properties": {"hs_pipeline_stage": "3", "hubspot_team_id": "6712346"}}


def test_public_replies_tags_and_followups_are_not_supported(hubspot):
    assert hubspot.capabilities == {base.TICKET, base.HISTORY, base.RECENT, base.NOTE, base.REOPEN}
    for call in (lambda: hubspot.post_public_reply("1", "x"), lambda: hubspot.add_tags("1", ["a"]),
                 lambda: hubspot.create_followup("1", "s", "t")):
        with pytest.raises(Unsupported):
            call()


@responses.activate
def test_check_reports_account_stages_and_scopes(hubspot):
    responses.get(f"{API}/account-info/v3/details", json=fixture_json("hubspot", "api_account.json"))
    responses.get(f"{API}/crm/v3/pipelines/tickets", json=fixture_json("hubspot", "api_pipelines.json"))
    responses.post(f"{API}/oauth/v2/private-apps/get/access-token-info",
                   json=fixture_json("hubspot", "api_token_info.json"),
                   match=[matchers.json_params_matcher({"tokenKey": TOKEN})])
    results = {r.name: r for r in hubspot.check()}
    assert results["authentication"].ok and results["history"].ok and results["internal notes"].ok
    assert not results["app_host"].ok and "app-eu1.hubspot.com" in results["app_host"].detail
    stages = results["closed stages"]
    assert not stages.ok and "81234569 (Escalations / Fixed)" in stages.detail
    assert "app_id" not in results and "portal_id" not in results


@responses.activate
def test_check_says_when_the_token_is_wrong(hubspot):
    responses.get(f"{API}/account-info/v3/details", status=401, json=fixture_json("hubspot",
                                                                                "api_error_unauthorized.json"))
    [result] = hubspot.check()
    assert not result.ok and result.name == "authentication"


@responses.activate
def test_check_names_missing_scopes(hubspot):
    responses.get(f"{API}/account-info/v3/details", json=fixture_json("hubspot", "api_account.json"))
    responses.get(f"{API}/crm/v3/pipelines/tickets", json=fixture_json("hubspot", "api_pipelines.json"))
    info = fixture_json("hubspot", "api_token_info.json")
    info["scopes"] = ["tickets"]
    responses.post(f"{API}/oauth/v2/private-apps/get/access-token-info", json=info)
    notes = {r.name: r for r in hubspot.check()}["internal notes"]
    assert not notes.ok and "crm.objects.contacts.read" in notes.detail


# --- setup and settings --------------------------------------------------------------------------
def test_setup_instructions(hubspot):
    text = hubspot.setup_instructions()
    assert "https://surveys.acme.test/webhooks/hubspot-main" in text
    assert "hs_pipeline_stage" in text and "1 New, 2 Waiting on contact, 3 Waiting on us" in text
    assert "export HS_SECRET=" in text and "export HS_TOKEN=" in text
    assert "Customer Effort Score" in text and "CES_PUBLIC_URL" in text


def test_settings_explain_stage_mistakes():
    common = dict(id="h", kind="hubspot", access_token_env="T", client_secret_env="S")
    with pytest.raises(ValueError, match="closed_stage_ids is empty"):
        HubspotSettings(**common, closed_stage_ids=[])
    with pytest.raises(ValueError, match="both closed_stage_ids and waiting_stage_ids"):
        HubspotSettings(**common, closed_stage_ids=["4", "2"])
    with pytest.raises(ValueError, match="reopen_stage_id"):
        HubspotSettings(**common, reopen_stage_id="4")
    with pytest.raises(ValueError, match="client_secret"):
        HubspotSettings(id="h", kind="hubspot", access_token_env="T")
