"""Zammad's contract kit: a trigger's webhook, X-Hub-Signature (HMAC-SHA1 of the body, no time)."""

from ces.connectors.models import Person
from ces.connectors.zammad.connector import sign
from tests.connectors.kit import Kit


def signed(body: bytes, secret: str, at) -> dict[str, str]:
    return {"X-Zammad-Trigger": "CES: ticket state changed", "X-Zammad-Delivery": "5b8e2c3a-0d2f-4c4e",
            "X-Hub-Signature": sign(secret, body)}


KIT = Kit(
    settings={"base_url": "https://support.acme.test", "api_token_env": "ZM_TOKEN", "webhook_secret_env": "ZM_SECRET",
              "api_user_id": "9"},
    env={"ZM_TOKEN": "zammad-access-token-123", "ZM_SECRET": "zammad-hmac-token-4f9a"},
    secret="webhook_secret", sign=signed, fixture_kind="zammad", timestamped=False,
    event="webhook_state_closed.json", irrelevant="webhook_state_merged.json", not_json="webhook_not_json.txt",
    required_headers=("X-Hub-Signature",),
    bounded={"ticket": ("ticket", "id"), "actor": ("ticket", "updated_by_id"), "times": [("ticket", "updated_at")]},
    api_root="https://support.acme.test/api/v1", ticket_id="1342", ticket_path="tickets/1342",
    assignee=("5", "emma@chrispresso.com"),
    reads={"tickets/1342": "api_ticket_expanded.json", "users/8": "api_user_customer.json",
           "users/5": "api_user_owner.json", "tags": "api_tags.json", "ticket_history/1342": "api_ticket_history.json",
           "ticket_articles/by_ticket/1342": "api_articles_by_ticket.json",
           "tickets/search": "api_tickets_search_expanded.json"},
    writes={"id": 1343}, requester=Person(id="8"),
)
