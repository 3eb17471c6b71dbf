"""Intercom's contract kit: a webhook notification, X-Hub-Signature (HMAC-SHA1 of the body, no time)."""

from ces.connectors.intercom.connector import sign
from tests.connectors.kit import Kit
from tests.support import fixture_json


def signed(body: bytes, secret: str, at) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature": sign(secret, body)}


KIT = Kit(
    settings={"access_token_env": "IC_TOKEN", "client_secret_env": "IC_SECRET", "admin_id": "5017999",
              "workspace_id": "tx2p130c"},
    env={"IC_TOKEN": "dG9rOmludGVyY29tLWFjY2Vzcy10b2tlbg==", "IC_SECRET": "intercom-client-secret-0f9e"},
    secret="client_secret", sign=signed, fixture_kind="intercom", timestamped=False,
    event="conversation_admin_closed.json", irrelevant="contact_created.json", not_json="not_json.txt",
    required_headers=("X-Hub-Signature",),
    bounded={"ticket": ("data", "item", "id"), "delivery": ("id",),
             "actor": ("data", "item", "conversation_parts", "conversation_parts", -1, "author", "id"),
             "times": [("created_at",), ("data", "item", "updated_at"),
                       ("data", "item", "conversation_parts", "conversation_parts", -1, "created_at")]},
    api_root="https://api.intercom.io", ticket_id="215468772411024", ticket_path="conversations/215468772411024",
    assignee=("5017702", "lina@acme.test"),
    reads={"conversations/215468772411024": "api_conversation.json",
           "tickets/215468772411024": 404,  # a conversation is not a ticket
           "contacts/6643b7b1f0a1c25f1c2f7a10": "api_contact.json", "admins": "api_admins.json",
           "teams": "api_teams.json", "tags": "api_tags.json", "POST conversations/search": "api_search_page2.json"},
    writes=fixture_json("intercom", "api_tag_created.json"),
)
