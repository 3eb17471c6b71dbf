"""Chatwoot's contract kit: an account webhook, X-Chatwoot-Signature (hex HMAC-SHA256 of "ts.body")."""

from ces.connectors.chatwoot.connector import sign
from ces.connectors.models import Person
from tests.connectors.kit import Kit


def signed(body: bytes, secret: str, at) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    return {"X-Chatwoot-Delivery": "0f6f3f4e-9a51-4d0b-8d8e-3c2a1b7e5d90", "X-Chatwoot-Timestamp": timestamp,
            "X-Chatwoot-Signature": sign(secret, timestamp, body)}


KIT = Kit(
    settings={"base_url": "https://chat.acme.test", "account_id": "3", "api_token_env": "CW_TOKEN",
              "webhook_secret_env": "CW_SECRET", "api_user_id": "12"},
    env={"CW_TOKEN": "chatwoot-access-token-123", "CW_SECRET": "chatwoot-webhook-secret-7c2e"},
    secret="webhook_secret", sign=signed, fixture_kind="chatwoot",
    event="webhook_conversation_resolved.json", irrelevant="webhook_message_created.json",
    required_headers=("X-Chatwoot-Signature", "X-Chatwoot-Timestamp"),
    bounded={"ticket": ("id",), "times": [("updated_at",)]},
    api_root="https://chat.acme.test/api/v1/accounts/3", ticket_id="1342", ticket_path="conversations/1342",
    assignee=("5", "emma@chrispresso.com"),
    reads={"conversations/1342": "api_conversation.json", "teams": "api_teams.json",
           "conversations/1342/messages": "api_messages.json", "conversations/1342/labels": "api_labels.json",
           "contacts/31/conversations": "api_contact_conversations.json"},
    writes={"id": 9020}, requester=Person(id="31", email="maria.garcia@example.com"),
    auth_header="api_access_token",
)
