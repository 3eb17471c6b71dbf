"""Generic (Standard Webhooks): signatures, payload parsing (one test per fixture), no API, setup
text, and the connector receiving what the simulated sender posts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook

from ces.config.models import HttpSettings
from ces.connectors.errors import BadSignature, InvalidField, StaleTimestamp, Unparseable, Unsupported
from ces.connectors.generic import GenericConnector, GenericSettings
from ces.connectors.generic.connector import channel_of, secret_key, sign
from ces.connectors.http import HttpClient
from ces.connectors.models import Channel, EntryKind, EventKind, InboundRequest, Person, Status
from ces.worker.intake import request_rows
from tests.connectors.conftest import received
from tests.simulators.generic import GenericSender
from tests.support import fixture_bytes

# The Standard Webhooks specification's own test vector.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330"
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtc2VjcmV0ISE="  # base64 of 32 bytes
OTHER_SECRET = "whsec_YW5vdGhlci1zZWNyZXQtb2YtdGhpcnR5LXR3by1iIQ=="
NOW = datetime(2026, 11, 23, 10, 16, tzinfo=timezone.utc)


@pytest.fixture
def generic(monkeypatch) -> GenericConnector:
    monkeypatch.setenv("GEN_SECRET", SECRET)
    http = HttpClient(HttpSettings(connect_timeout_seconds=1, read_timeout_seconds=1, retries=0))
    return GenericConnector(GenericSettings(id="crm", kind="generic", webhook_secret_env="GEN_SECRET"),
                            http=http, public_url="https://surveys.acme.test")


def headers(body: bytes, *, secret: str | list[str] = SECRET, msg_id: str = "msg_2Kx9", at: datetime = NOW,
            timestamp: str | None = None) -> dict[str, str]:
    ts = timestamp or str(int(at.timestamp()))
    secrets = [secret] if isinstance(secret, str) else secret
    return {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
            "webhook-signature": " ".join(sign(s, msg_id, ts, body) for s in secrets)}


def inbound(body: bytes, hdrs: dict[str, str], at: datetime = NOW) -> InboundRequest:
    return InboundRequest(method="POST", path="/webhooks/crm", query="", headers={k.lower(): v for k, v in hdrs.items()},
                          body=body, received_at=at, public_url="https://surveys.acme.test")


def signed(name: str, **kwargs) -> InboundRequest:
    body = fixture_bytes("generic", name)
    return inbound(body, headers(body, **kwargs))


# --- signature ----------------------------------------------------------------------------------
def test_the_standard_webhooks_library_and_we_agree(generic):
    """The specification's reference library (standardwebhooks), called as its authors wrote it."""
    body, now = fixture_bytes("generic", "ticket_solved.json"), datetime.now(timezone.utc).replace(microsecond=0)
    library = Webhook(SECRET)
    library.verify(body, headers(body, at=now))  # what our senders sign; raises unless it verifies
    theirs = {"webhook-id": "msg_lib", "webhook-timestamp": str(int(now.timestamp())),
              "webhook-signature": library.sign("msg_lib", now, body)}
    generic.verify(inbound(body, theirs, at=now))


def test_signature_matches_the_specification_vector():
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, fixture_bytes("generic", "spec_vector_body.json")) == SPEC_SIGNATURE


def test_verify_accepts_the_specification_vector(monkeypatch, generic):
    monkeypatch.setenv("GEN_SECRET", SPEC_SECRET)
    body = fixture_bytes("generic", "spec_vector_body.json")
    at = datetime.fromtimestamp(int(SPEC_TS), timezone.utc) + timedelta(seconds=30)
    generic.verify(inbound(body, {"webhook-id": SPEC_ID, "webhook-timestamp": SPEC_TS,
                                  "webhook-signature": SPEC_SIGNATURE}, at))


def test_verify_rejects_a_changed_id_or_timestamp(generic):
    body = fixture_bytes("generic", "ticket_solved.json")
    for change in ({"webhook-id": "msg_other"}, {"webhook-timestamp": str(int(NOW.timestamp()) + 1)}):
        with pytest.raises(BadSignature):
            generic.verify(inbound(body, {**headers(body), **change}))


def test_verify_rejects_an_unreadable_timestamp(generic):
    with pytest.raises(StaleTimestamp):
        generic.verify(signed("ticket_solved.json", timestamp="2026-11-23T10:16:00Z"))


def test_verify_accepts_any_matching_entry_of_the_header(generic):
    # The sender signs with its old and new secret while rotating; we know only one of them.
    generic.verify(signed("ticket_solved.json", secret=[OTHER_SECRET, SECRET]))
    body = fixture_bytes("generic", "ticket_solved.json")
    hdrs = headers(body)
    hdrs["webhook-signature"] = "v1a,bm90LWVkMjU1MTk= v2,abc " + hdrs["webhook-signature"]
    generic.verify(inbound(body, hdrs))


def test_verify_takes_only_v1_entries_as_hmac(generic):
    body = fixture_bytes("generic", "ticket_solved.json")
    hdrs = headers(body)
    hdrs["webhook-signature"] = hdrs["webhook-signature"].replace("v1,", "v1a,")
    with pytest.raises(BadSignature):
        generic.verify(inbound(body, hdrs))


def test_verify_ignores_the_whsec_prefix_being_absent(monkeypatch, generic):
    monkeypatch.setenv("GEN_SECRET", SECRET.removeprefix("whsec_"))
    generic.verify(signed("ticket_solved.json"))


def test_verify_with_a_malformed_secret_rejects_everything(monkeypatch, generic):
    monkeypatch.setenv("GEN_SECRET", "not base64 at all!")
    with pytest.raises(BadSignature, match="whsec_"):
        generic.verify(signed("ticket_solved.json"))


def test_secret_key_rules():
    assert len(secret_key(SPEC_SECRET)) == 24
    for bad in ("whsec_c2hvcnQ=", "whsec_***", ""):
        with pytest.raises(ValueError):
            secret_key(bad)


def test_a_delivery_id_longer_than_its_column_is_refused(generic):
    with pytest.raises(InvalidField, match="delivery_id"):  # the id travels in the (signed) webhook-id header
        body = fixture_bytes("generic", "ticket_solved.json")
        request = inbound(body, headers(body, msg_id="m" * 256))
        request_rows(generic, request, generic.parse(request), 1.0)


# --- parsing: one test per fixture ---------------------------------------------------------------
def test_ticket_solved(generic):
    [event] = generic.parse(signed("ticket_solved.json", msg_id="msg_solve_1"))
    assert (event.kind, event.ticket_id, event.status, event.previous_status) == (
        EventKind.STATUS, "48213", Status.SOLVED, None)
    assert event.delivery_id == "msg_solve_1" and event.occurred_at == datetime(2026, 11, 23, 10, 15, 45, tzinfo=timezone.utc)
    t = event.ticket
    assert (t.id, t.status, t.group, t.assignee, t.channel, t.raw_channel) == (
        "48213", Status.SOLVED, "Billing", "Priya Patel", Channel.EMAIL, "email")
    assert (t.assignee_id, t.assignee_email) == (None, "priya.patel@acme.test")  # both optional
    assert t.requester == Person(email="maria.garcia@example.com", name="María García", locale="es")
    assert event.payload["type"] == "ticket.solved"


def test_ticket_solved_and_closed(generic):
    [event] = generic.parse(signed("ticket_solved_closed.json"))
    assert (event.status, event.ticket.status) == (Status.CLOSED, Status.CLOSED)


def test_ticket_reopened(generic):
    [event] = generic.parse(signed("ticket_reopened.json"))
    assert (event.kind, event.status, event.previous_status) == (EventKind.STATUS, Status.OPEN, Status.SOLVED)


def test_ticket_reopened_to_pending_with_a_numeric_id_and_few_fields(generic):
    [event] = generic.parse(signed("ticket_reopened_pending.json"))
    assert (event.ticket_id, event.status, event.previous_status) == ("48213", Status.PENDING, Status.SOLVED)
    assert (event.ticket.channel, event.ticket.requester) == (Channel.MESSAGING, None)


def test_ticket_updated_is_history_for_transfers(generic):
    [event] = generic.parse(signed("ticket_updated_transfer.json"))
    assert event.kind == EventKind.UPDATED and event.status is None
    assert [(e.kind, e.value) for e in event.entries] == [
        (EntryKind.GROUP, "Tier 2"), (EntryKind.ASSIGNEE, None), (EntryKind.STATUS, "open")]
    assert event.entries[0].at == datetime(2026, 11, 21, 14, 2, 9, 123000, tzinfo=timezone.utc)
    assert (event.ticket.group, event.ticket.channel, event.ticket.raw_channel) == ("Tier 2", Channel.CHAT, "live-chat")


def test_ticket_updated_to_solved_never_starts_a_solve(generic):
    [event] = generic.parse(signed("ticket_updated_status_solved.json"))
    assert event.kind == EventKind.UPDATED and event.status is None
    assert [(e.kind, e.value) for e in event.entries] == [(EntryKind.STATUS, "solved")]


def test_unknown_type_is_ignored(generic):
    [event] = generic.parse(signed("unknown_type.json"))
    assert (event.kind, event.ticket_id, event.ticket) == (EventKind.IGNORED, None, None)


def test_solved_without_ticket_id_is_unparseable(generic):
    with pytest.raises(Unparseable, match="ticket_id"):
        generic.parse(signed("without_ticket_id.json"))


def test_without_timestamp_the_receipt_time_is_used(generic):
    [event] = generic.parse(signed("without_timestamp.json"))
    assert event.occurred_at == NOW and event.status == Status.SOLVED


def test_parse_needs_the_webhook_id(generic):
    req = signed("ticket_solved.json")
    hdrs = dict(req.headers)
    del hdrs["webhook-id"]
    with pytest.raises(Unparseable):
        generic.parse(inbound(req.body, hdrs))


@pytest.mark.parametrize("raw,channel", [("Email", Channel.EMAIL), ("e-mail", Channel.EMAIL), ("Live Chat", Channel.CHAT),
                                         ("whatsapp", Channel.MESSAGING), ("SMS", Channel.MESSAGING),
                                         ("voice", Channel.PHONE), ("web_form", Channel.WEB), ("portal", Channel.WEB),
                                         ("facebook", Channel.SOCIAL), ("api", Channel.API), ("fax", Channel.OTHER),
                                         (None, Channel.OTHER)])
def test_channel_names(raw, channel):
    assert channel_of(raw) == channel


# --- no API -------------------------------------------------------------------------------------
def test_nothing_to_call(generic):
    assert generic.capabilities == frozenset()
    assert generic.history_from_webhooks == {EntryKind.STATUS, EntryKind.GROUP, EntryKind.ASSIGNEE}
    for call in (lambda: generic.post_internal_note("48213", "x"), lambda: generic.post_public_reply("48213", "x"),
                 lambda: generic.fetch_ticket("48213"), lambda: generic.fetch_history("48213")):
        with pytest.raises(Unsupported):
            call()


def test_check_says_there_is_nothing_to_call_and_checks_the_secret(monkeypatch, generic):
    results = generic.check()
    assert [(r.name, r.ok) for r in results] == [("api", True), ("webhook secret", True)]
    assert "nothing to call" in results[0].detail and "32 random bytes" in results[1].detail
    monkeypatch.setenv("GEN_SECRET", "whsec_c2hvcnQ=")
    assert not generic.check()[1].ok and "24 to 64" in generic.check()[1].detail
    monkeypatch.delenv("GEN_SECRET")
    [api, secret] = generic.check()
    assert not secret.ok and "GEN_SECRET is not set" in secret.detail
    assert SECRET not in " ".join(r.detail for r in results)


def test_check_names_each_secret_of_a_rotation(monkeypatch, generic):
    monkeypatch.setenv("GEN_SECRET_NEW", "garbage")
    generic.settings = generic.settings.model_copy(update={"webhook_secret_env": ["GEN_SECRET_NEW", "GEN_SECRET"]})
    assert [(r.name, r.ok) for r in generic.check()[1:]] == [("webhook secret 1 of 2", False),
                                                             ("webhook secret 2 of 2", True)]


def test_setup_instructions(generic):
    text = generic.setup_instructions()
    assert "https://surveys.acme.test/webhooks/crm" in text
    for needle in ("webhook-id", "webhook-timestamp", "webhook-signature", "whsec_", "HMAC-SHA256", SPEC_SIGNATURE,
                   '"type": "ticket.solved"', "ticket.reopened", "ticket.updated", "export GEN_SECRET=", "300 s",
                   "same webhook-id"):
        assert needle in text, needle


def test_settings_need_a_secret():
    with pytest.raises(ValueError, match="webhook_secret_env"):
        GenericSettings(id="crm", kind="generic")


# --- the simulated sender ----------------------------------------------------------------------
def test_sender_webhooks_verify_and_parse(generic, receiver):
    sender = GenericSender(SECRET, webhook_url=f"{receiver.url}/webhooks/crm")
    tid = sender.create_ticket("maria.garcia@example.com", requester_name="María García", locale="es",
                               channel="chat", group="Billing", send=False)
    sender.update(tid, group="Tier 2", assignee="Priya Patel")
    sender.set_status(tid, "solved", repeat=2)  # a retry: same webhook-id, fresh signature
    sender.set_status(tid, "open")
    sender.set_status(tid, "closed")
    events = []
    for req in received(receiver):
        generic.verify(req)
        events.extend(generic.parse(req))
    assert [(e.kind, e.status, e.previous_status) for e in events] == [
        (EventKind.UPDATED, None, None), (EventKind.STATUS, Status.SOLVED, None),
        (EventKind.STATUS, Status.SOLVED, None), (EventKind.STATUS, Status.OPEN, Status.SOLVED),
        (EventKind.STATUS, Status.CLOSED, None)]
    assert [(e.kind, e.value) for e in events[0].entries] == [(EntryKind.GROUP, "Tier 2"),
                                                              (EntryKind.ASSIGNEE, "Priya Patel"),
                                                              (EntryKind.STATUS, "open")]
    ids = [e.delivery_id for e in events]
    assert ids[1] == ids[2] and len(set(ids)) == 4
    assert events[1].ticket.requester.email == "maria.garcia@example.com" and events[1].ticket.channel == Channel.CHAT


def test_the_sender_tells_a_new_tickets_first_group(generic, receiver):
    sender = GenericSender(SECRET, webhook_url=f"{receiver.url}/webhooks/crm")
    sender.create_ticket("a@example.com", group="Billing", assignee="Priya")
    [req] = received(receiver)
    [event] = generic.parse(req)
    assert event.kind == EventKind.UPDATED
    assert [(e.kind, e.value) for e in event.entries][:2] == [(EntryKind.GROUP, "Billing"), (EntryKind.ASSIGNEE, "Priya")]


def test_sender_signing_with_two_secrets_while_rotating(generic, receiver):
    sender = GenericSender([OTHER_SECRET, SECRET], webhook_url=f"{receiver.url}/webhooks/crm")
    sender.set_status(sender.create_ticket("a@example.com", send=False), "solved")
    [req] = received(receiver)
    assert len(req.header("webhook-signature").split()) == 2
    generic.verify(req)
