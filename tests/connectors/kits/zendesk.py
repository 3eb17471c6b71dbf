"""Zendesk's contract kit: a trigger or event-subscription delivery, signed as Zendesk signs it."""

import responses

from ces.connectors.models import Person
from ces.connectors.zendesk.connector import sign
from tests.connectors.kit import PUBLIC, Kit

API = "https://acme.zendesk.com/api/v2"
NAME = "ces-worker (zendesk-main)"


def webhook(**changes) -> dict:
    """The webhook provisioning makes, as Zendesk's Webhooks API shows it."""
    return {"id": "01HWEBHOOK", "name": NAME, "endpoint": f"{PUBLIC}/webhooks/zendesk-main",
            "http_method": "POST", "request_format": "json", "status": "active",
            "subscriptions": ["zen:event-type:ticket.status_changed"], **changes}


def account(*webhooks: dict) -> None:
    """The Webhooks API of an account holding `webhooks`."""
    responses.get(f"{API}/webhooks", json={"webhooks": list(webhooks), "meta": {"has_more": False},
                                           "links": {"next": None}})
    responses.post(f"{API}/webhooks", status=201, json={"webhook": webhook()})
    responses.put(f"{API}/webhooks/01HWEBHOOK", status=204)
    responses.get(f"{API}/webhooks/01HWEBHOOK/signing_secret",
                  json={"signing_secret": {"algorithm": "SHA256", "secret": "zd-generated-secret"}})


def provisioning(ours: bool = False) -> None:
    account(*([webhook()] if ours else []))


def signed(body: bytes, secret: str, at) -> dict[str, str]:
    ts = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"X-Zendesk-Webhook-Invocation-Id": "inv-1", "X-Zendesk-Webhook-Signature-Timestamp": ts,
            "X-Zendesk-Webhook-Signature": sign(secret, ts, body)}


KIT = Kit(
    settings={"subdomain": "acme", "email": "admin@acme.test", "api_token_env": "ZD_TOKEN",
              "webhook_secret_env": "ZD_SECRET"},
    env={"ZD_TOKEN": "zd-api-token-123", "ZD_SECRET": "s3cr3t-zendesk-signing-key"},
    secret="webhook_secret", sign=signed, fixture_kind="zendesk",
    event="status_changed_solved.json", irrelevant="user_created.json", not_json="form_encoded_body.txt",
    required_headers=("X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"),
    bounded={"ticket": ("detail", "id"), "actor": ("detail", "actor_id"),
             "times": [("time",), ("detail", "updated_at")]},
    api_root="https://acme.zendesk.com/api/v2", ticket_id="5158", ticket_path="tickets/5158.json",
    assignee=("8447388090495", "priya@acme.test"),
    reads={"tickets/5158.json": "api_ticket_show.json", "tickets/5158/metrics.json": "api_ticket_metrics.json",
           "tickets/5158/audits.json": "api_ticket_audits.json",
           "users/8447388090494/tickets/requested.json": "api_user_tickets_requested.json"},
    writes={"ticket": {"id": 6001}}, requester=Person(id="8447388090494"), provisioning=provisioning,
)
