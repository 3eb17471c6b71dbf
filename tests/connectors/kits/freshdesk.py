"""Freshdesk's contract kit: Freshdesk signs nothing; the rule's webhook sends basic credentials."""

import base64

from tests.connectors.kit import Kit
from tests.support import fixture_json


def basic(body: bytes, secret: str, at) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"ces-worker:{secret}".encode()).decode()}


KIT = Kit(
    settings={"domain": "acme", "api_key_env": "FD_KEY", "webhook_secret_env": "FD_SECRET",
              "api_user_id": "43000000042"},
    env={"FD_KEY": "fd-api-key-abc123", "FD_SECRET": "fd-webhook-secret-0123456789"},
    secret="webhook_secret", sign=basic, fixture_kind="freshdesk", timestamped=False, signs_body=False,
    event="status_resolved.json", irrelevant="simple_priority_changed.json", not_json="form_encoded_body.txt",
    required_headers=("Authorization",),
    bounded={"ticket": ("ticket_id",), "actor": ("performer_id",), "times": [("updated_at",)]},
    api_root="https://acme.freshdesk.com/api/v2", ticket_id="4711", ticket_path="tickets/4711",
    assignee=("43009876543", "priya.patel@acme.test"),
    reads={"tickets/4711": "api_ticket_show.json", "groups/43000283280": "api_group.json",
           "agents/43009876543": "api_agent.json", "contacts/43012345678": "api_contact.json",
           "tickets/4711/conversations": "api_conversations.json", "tickets": "api_tickets_list.json"},
    writes=fixture_json("freshdesk", "api_ticket_show.json"),
)
