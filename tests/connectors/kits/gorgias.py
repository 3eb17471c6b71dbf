"""Gorgias's contract kit: Gorgias signs nothing; the HTTP integration sends a secret header."""

from ces.connectors.models import Person
from tests.connectors.kit import Kit
from tests.support import fixture_json


def secret_header(body: bytes, secret: str, at) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-CES-Webhook-Secret": secret}


KIT = Kit(
    settings={"domain": "acme", "email": "ces@acme.test", "api_key_env": "GG_KEY",
              "webhook_secret_env": "GG_SECRET", "api_user_id": "44"},
    env={"GG_KEY": "gorgias-api-key-abc123", "GG_SECRET": "gorgias-webhook-secret-0123456789"},
    secret="webhook_secret", sign=secret_header, fixture_kind="gorgias", timestamped=False, signs_body=False,
    event="webhook_ticket_closed.json", irrelevant="webhook_ticket_spam.json",
    required_headers=("X-CES-Webhook-Secret",),
    bounded={"ticket": ("ticket_id",), "times": [("updated_datetime",)]},
    api_root="https://acme.gorgias.com/api", ticket_id="5520", ticket_path="tickets/5520",
    assignee=("43", "priya.patel@acme.test"),
    reads={"tickets/5520": "api_ticket.json", "tickets/5520/messages": "api_messages.json",
           "tickets": "api_customer_tickets.json", "account": "api_account.json"},
    writes=fixture_json("gorgias", "api_message_created.json"), requester=Person(id="120"),
)
