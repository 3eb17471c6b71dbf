"""Zammad's contract kit: a trigger's webhook, X-Hub-Signature (HMAC-SHA1 of the body, no time)."""

import responses

from ces.connectors.models import Person
from ces.connectors.zammad.connector import sign
from tests.connectors.kit import PUBLIC, Kit

API = "https://support.acme.test/api/v1"
NAME = "ces-worker (zammad-main)"


def webhook(**changes) -> dict:
    """The webhook provisioning makes, as Zammad's API shows it (the token masked)."""
    return {"id": 7, "name": NAME, "endpoint": f"{PUBLIC}/webhooks/zammad-main", "http_method": "post",
            "signature_token": "**********", "ssl_verify": True, "customized_payload": False, "custom_payload": None,
            "note": None, "active": True, **changes}


def trigger(**changes) -> dict:
    return {"id": 12, "name": NAME, "condition": {"ticket.state_id": {"operator": "has changed"}},
            "perform": {"notification.webhook": {"webhook_id": 7}}, "activator": "action",
            "execution_condition_mode": "selective", "active": True, "note": None, **changes}


def account(webhooks: list[dict], triggers: list[dict]) -> None:
    responses.get(f"{API}/webhooks", json=webhooks)
    responses.get(f"{API}/triggers", json=triggers)
    responses.post(f"{API}/webhooks", status=201, json=webhook())
    responses.put(f"{API}/webhooks/7", json=webhook())
    responses.post(f"{API}/triggers", status=201, json=trigger())
    responses.put(f"{API}/triggers/12", json=trigger())


def provisioning(ours: bool = False) -> None:
    account([webhook()] if ours else [], [trigger()] if ours else [])


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
    writes={"id": 1343}, requester=Person(id="8"), provisioning=provisioning,
)
