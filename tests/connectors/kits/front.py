"""Front's contract kit: an application webhook (timestamp + body, HMAC-SHA256). Rule webhooks,
signed over the body alone, are tested in test_front.py."""

from datetime import datetime, timezone

from ces.connectors.front.connector import sign_application
from tests.connectors.kit import Kit
from tests.support import fixture_json


def signed(body: bytes, secret: str, at) -> dict[str, str]:
    ts = str(int(at.timestamp() * 1000))
    return {"Content-Type": "application/json", "X-Front-Request-Timestamp": ts,
            "X-Front-Signature": sign_application(secret, ts, body)}


KIT = Kit(
    settings={"api_token_env": "FR_TOKEN", "webhook_secret_env": "FR_SECRET", "api_user_id": "tea_4h2k",
              "webhook_kind": "application"},
    env={"FR_TOKEN": "eyJhbGciOiJIUzI1NiJ9.front-api-token", "FR_SECRET": "front-signing-key-77aa"},
    secret="webhook_secret", sign=signed, fixture_kind="front", now=datetime(2025, 11, 23, 10, 16, tzinfo=timezone.utc),
    event="app_conversation_archived.json", irrelevant="app_inbound_received.json", not_json="not_json.txt",
    required_headers=("X-Front-Signature", "X-Front-Request-Timestamp"),
    bounded={"ticket": ("payload", "conversation", "id"), "delivery": ("payload", "id"),
             "actor": ("payload", "source", "data", "id"), "times": [("payload", "emitted_at")]},
    api_root="https://api2.frontapp.com", ticket_id="cnv_keo696", ticket_path="conversations/cnv_keo696",
    assignee=("tea_40yq", "leela@planet-express.com"),
    reads={"conversations/cnv_keo696": "api_conversation.json",
           "conversations/cnv_keo696/inboxes": "api_conversation_inboxes.json",
           "conversations/cnv_keo696/messages": "api_conversation_messages_newest.json",
           "conversations/cnv_keo696/events": "api_conversation_events_page2.json",
           "contacts/alt:email:maria.garcia@example.com/conversations": "api_contact_conversations_page2.json",
           "tags": "api_tags.json"},
    writes=fixture_json("front", "api_tag_created.json"),
)
