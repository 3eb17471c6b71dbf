"""The contract every connector kind keeps, run for each kind the entry points register.

A kind's kit (tests/connectors/kits/<kind>.py) says how it signs, its settings and its fixtures;
its own test file keeps only what is particular to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
import responses

from ces.connectors import base
from ces.connectors.errors import (
    BadSignature,
    PermanentApiError,
    RateLimited,
    StaleTimestamp,
    TransientApiError,
    Unparseable,
    Unsupported,
)
from ces.connectors.models import EventKind, Ticket, TicketHistory
from ces.connectors.registry import known_kinds
from tests.connectors.kit import PUBLIC, kit_of
from tests.support import assert_bounded, fixture_bytes, fixture_json

KINDS = known_kinds()


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def kit(kind):
    return kit_of(kind)


@pytest.fixture
def connector(kit, kind, monkeypatch):
    return kit.connector(kind, monkeypatch)


def delivery(kit, kind, name: str, *, secret: str | None = None, at: datetime | None = None, received=None):
    body = fixture_bytes(kit.fixture_kind, name)
    secret = secret or kit.env[kit.settings[f"{kit.secret}_env"]]
    return kit.inbound(kind, body, {**kit.headers.get(name, {}), **kit.sign(body, secret, at or kit.now)}, at=received)


# --- authenticity -------------------------------------------------------------------------------
def test_every_registered_kind_has_a_kit():
    assert KINDS and all(kit_of(kind) for kind in KINDS)


def test_a_signed_delivery_is_accepted(kit, kind, connector):
    connector.verify(delivery(kit, kind, kit.event))


def test_a_body_changed_after_signing_is_refused(kit, kind, connector):
    if not kit.signs_body:
        pytest.skip(f"{kind} authenticates with a shared secret, not a signature of the body")
    req = delivery(kit, kind, kit.event)
    with pytest.raises(BadSignature):
        connector.verify(kit.inbound(kind, req.body + b" ", dict(req.headers)))


def test_a_wrong_secret_is_refused(kit, kind, connector):
    with pytest.raises(BadSignature):
        connector.verify(delivery(kit, kind, kit.event, secret=kit.other_secret))


@pytest.mark.parametrize("skew", [-1, 1])
def test_a_stale_or_future_timestamp_is_refused(kit, kind, connector, skew):
    if not kit.timestamped:  # nothing to check: a late retry is still authentic (its id dedupes it)
        connector.verify(delivery(kit, kind, kit.event, received=kit.now + skew * timedelta(days=3)))
        return
    tolerance = timedelta(seconds=connector.settings.timestamp_tolerance_seconds)
    with pytest.raises(StaleTimestamp):
        connector.verify(delivery(kit, kind, kit.event, at=kit.now + skew * (tolerance + timedelta(minutes=1))))
    connector.verify(delivery(kit, kind, kit.event, at=kit.now + skew * (tolerance - timedelta(minutes=1))))


def test_every_secret_of_a_rotation_is_accepted(kit, kind, monkeypatch):
    old = kit.settings[f"{kit.secret}_env"]
    monkeypatch.setenv("CES_CONTRACT_NEW_SECRET", kit.new_secret)
    rotating = kit.connector(kind, monkeypatch, **{f"{kit.secret}_env": ["CES_CONTRACT_NEW_SECRET", old]})
    rotating.verify(delivery(kit, kind, kit.event))
    rotating.verify(delivery(kit, kind, kit.event, secret=kit.new_secret))
    with pytest.raises(BadSignature):
        rotating.verify(delivery(kit, kind, kit.event, secret=kit.other_secret))


def test_a_missing_header_is_refused(kit, kind, connector):
    req = delivery(kit, kind, kit.event)
    for name in kit.required_headers:
        headers = {k: v for k, v in req.headers.items() if k != name.lower()}
        assert len(headers) < len(req.headers), f"{name} is not among the signed headers"
        with pytest.raises(BadSignature):
            connector.verify(kit.inbound(kind, req.body, headers))


def test_ids_nesting_and_times_are_bounded(kit, kind, connector):
    if kit.bounded is None:
        pytest.skip(f"{kind} has no ids or times of its own in a delivery")
    secret = kit.env[kit.settings[f"{kit.secret}_env"]]
    headers = kit.headers.get(kit.event, {})
    assert_bounded(connector, lambda raw: kit.inbound(kind, raw, {**headers, **kit.sign(raw, secret, kit.now)}),
                   fixture_json(kit.fixture_kind, kit.event), **kit.bounded)


# --- parsing ------------------------------------------------------------------------------------
def test_a_delivery_we_act_on_names_its_ticket(kit, kind, connector):
    events = connector.parse(delivery(kit, kind, kit.event))
    assert any(e.kind != EventKind.IGNORED and e.ticket_id for e in events)


def test_an_irrelevant_event_is_ignored(kit, kind, connector):
    req = delivery(kit, kind, kit.irrelevant)
    connector.verify(req)
    events = connector.parse(req)
    assert events and all(e.kind == EventKind.IGNORED for e in events)


def test_a_signed_body_that_is_not_json_is_unparseable(kit, kind, connector):
    body = fixture_bytes(kit.fixture_kind, kit.not_json) if kit.not_json else b"ticket_id=1&status=solved"
    secret = kit.env[kit.settings[f"{kit.secret}_env"]]
    req = kit.inbound(kind, body, {**kit.headers.get(kit.event, {}), **kit.sign(body, secret, kit.now)})
    connector.verify(req)
    with pytest.raises(Unparseable):
        connector.parse(req)


# --- setup --------------------------------------------------------------------------------------
def test_setup_text_has_the_webhook_url_and_the_secrets_variable(kit, kind, connector):
    text = connector.setup_instructions()
    assert f"{PUBLIC}/webhooks/{kind}-main" in text
    assert kit.settings[f"{kit.secret}_env"] in text


# --- provisioning -------------------------------------------------------------------------------
@responses.activate
def test_provisioning_is_declared_and_idempotent_or_unsupported(kit, kind, connector):
    if base.PROVISION not in connector.capabilities:
        with pytest.raises(Unsupported):
            connector.provision()
        with pytest.raises(Unsupported):
            connector.test_delivery()
        return
    assert kit.provisioning, f"{kind} declares provision: its kit registers the helpdesk's answers"
    kit.provisioning()
    first = connector.provision()
    assert first.ok and first.steps[0].detail.startswith("created") and first.secrets["webhook_secret"]
    assert all(c.request.url == kit.token_url or c.request.headers.get(kit.auth_header) for c in responses.calls)
    responses.reset()
    kit.provisioning(ours=True)
    again = connector.provision()
    assert again.ok and not any(s.detail.startswith("created") for s in again.steps)
    assert [c.request.url for c in responses.calls if c.request.method != "GET" and c.request.url != kit.token_url] == []


# --- the API ------------------------------------------------------------------------------------
def call(connector, capability: str, kit):
    since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ticket = kit.ticket_id
    return {
        base.TICKET: lambda: connector.fetch_ticket(ticket),
        base.HISTORY: lambda: connector.fetch_history(ticket),
        base.RECENT: lambda: connector.recent_tickets(kit.requester, since),
        base.NOTE: lambda: connector.post_internal_note(ticket, "Score 2: <b>slow</b>"),
        base.REPLY: lambda: connector.post_public_reply(ticket, "Thank you"),
        base.TAGS: lambda: (connector.add_tags(ticket, ["ces_2"]), connector.remove_tags(ticket, ["ces_2"])),
        base.REOPEN: lambda: connector.reopen(ticket),
        base.FOLLOWUP: lambda: connector.create_followup(ticket, "Following up", "We are on it"),
    }[capability]()


ALL = sorted([base.TICKET, base.HISTORY, base.RECENT, base.NOTE, base.REPLY, base.TAGS, base.REOPEN, base.FOLLOWUP])
EXPECTED = {base.TICKET: Ticket, base.HISTORY: TicketHistory, base.RECENT: list, base.FOLLOWUP: str, base.TAGS: tuple}


@pytest.mark.parametrize("capability", ALL)
@responses.activate
def test_each_declared_capability_works_and_the_others_say_unsupported(kit, kind, connector, capability):
    if capability not in connector.capabilities:
        with pytest.raises(Unsupported):
            call(connector, capability, kit)
        return
    kit.api()
    result = call(connector, capability, kit)
    assert isinstance(result, EXPECTED.get(capability, type(None)))
    if capability in (base.TICKET, base.HISTORY):
        ticket = result if isinstance(result, Ticket) else result.ticket
        assert ticket.id == kit.ticket_id
    assert responses.calls, "no call reached the helpdesk"
    for c in responses.calls:  # every call is authenticated
        assert c.request.url == kit.token_url or c.request.headers.get(kit.auth_header), c.request.url


# The kinds whose history begins with the read fetch_ticket makes: given the ticket (the survey's
# send has just read it), they do not read it again. The others read it with more in the same call.
USE_THE_TICKET_GIVEN = {"chatwoot", "gorgias", "jsm", "zammad", "zendesk"}


@responses.activate
def test_a_history_given_the_ticket_just_read_is_the_same_with_no_more_calls(kit, kind, connector):
    if not {base.TICKET, base.HISTORY} <= connector.capabilities:
        pytest.skip("reads no tickets or no history")
    kit.api()
    api_calls = lambda: sum(1 for c in responses.calls if c.request.url != kit.token_url)  # noqa: E731
    connector.fetch_history(kit.ticket_id)  # warm: what a connector reads once and keeps (names of teams…)
    before = api_calls()
    alone = connector.fetch_history(kit.ticket_id)
    history_calls = api_calls() - before
    before = api_calls()
    ticket = connector.fetch_ticket(kit.ticket_id)
    ticket_calls = api_calls() - before
    before = api_calls()
    given = connector.fetch_history(kit.ticket_id, ticket)
    assert given.entries == alone.entries and given.counters == alone.counters and given.missing == alone.missing
    assert given.ticket.id == kit.ticket_id
    if kind in USE_THE_TICKET_GIVEN:
        assert given.ticket is ticket and api_calls() - before == history_calls - ticket_calls
    else:
        assert api_calls() - before == history_calls


@responses.activate
def test_a_ticket_tells_its_agents_helpdesk_id_and_email(kit, connector):
    needs_tickets(connector)
    kit.api()
    ticket = connector.fetch_ticket(kit.ticket_id)
    assert (ticket.assignee_id, ticket.assignee_email) == kit.assignee


def ticket_calls(kit) -> list:
    return [c for c in responses.calls if c.request.url.split("?")[0] == kit.ticket_url]


def needs_tickets(connector):
    if base.TICKET not in connector.capabilities:
        pytest.skip("reads no tickets")


@pytest.mark.parametrize("status", [401, 403, 404])
@responses.activate
def test_a_refusal_is_permanent_and_names_no_secret(kit, connector, status):
    needs_tickets(connector)
    responses.get(kit.ticket_url, status=status, json={"error": "no"})
    kit.api()
    with pytest.raises(PermanentApiError) as err:
        connector.fetch_ticket(kit.ticket_id)
    assert err.value.status == status and len(ticket_calls(kit)) == 1  # not retried
    assert not any(secret in str(err.value) for secret in kit.env.values())


@responses.activate
def test_429_tells_when_to_try_again(kit, connector):
    needs_tickets(connector)
    responses.get(kit.ticket_url, status=429, headers={"Retry-After": "31"})
    kit.api()
    with pytest.raises(RateLimited) as err:
        connector.fetch_ticket(kit.ticket_id)
    assert err.value.retry_after == 31 and len(ticket_calls(kit)) == 1  # never slept on


@responses.activate
def test_5xx_is_retried_then_succeeds(kit, connector):
    needs_tickets(connector)
    responses.get(kit.ticket_url, status=502)
    responses.get(kit.ticket_url, status=500)
    kit.api()
    assert connector.fetch_ticket(kit.ticket_id).id == kit.ticket_id
    assert [c.response.status_code for c in ticket_calls(kit)][:3] == [502, 500, 200]


@responses.activate
def test_timeouts_end_as_a_transient_error(kit, connector):
    needs_tickets(connector)
    for _ in range(3):
        responses.get(kit.ticket_url, body=requests.ReadTimeout("read timed out"))
    kit.api()
    with pytest.raises(TransientApiError):
        connector.fetch_ticket(kit.ticket_id)
    assert len(ticket_calls(kit)) == 3  # bounded retries
