"""Zendesk's contract kit: a trigger or event-subscription delivery, signed as Zendesk signs it."""

from ces.connectors.models import Person
from ces.connectors.zendesk.connector import sign
from tests.connectors.kit import Kit


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
    writes={"ticket": {"id": 6001}}, requester=Person(id="8447388090494"),
)
