"""Help Scout's contract kit: X-HelpScout-Signature (base64 HMAC-SHA1 of the body, no time)."""

import responses

from ces.connectors.helpscout.connector import sign
from tests.connectors.kit import PUBLIC, Kit
from tests.support import fixture_json

API = "https://api.helpscout.net/v2"
NAME = "ces-worker (helpscout-main)"


def webhook(**changes) -> dict:
    """The webhook provisioning makes, as Help Scout's API lists it (no secret shown)."""
    return {"id": 10, "url": f"{PUBLIC}/webhooks/helpscout-main", "state": "enabled",
            "events": ["convo.status", "convo.deleted", "convo.customer.reply.created"], "notification": False,
            "payloadVersion": "V2", "label": NAME, "mailboxIds": [], "_links": {"self": {"href": f"{API}/webhooks/10"}},
            **changes}


def account(*webhooks: dict) -> None:
    responses.post(f"{API}/oauth2/token", json=fixture_json("helpscout", "api_oauth_token.json"))
    responses.get(f"{API}/webhooks", json={"_embedded": {"webhooks": list(webhooks)},
                                           "page": {"size": 50, "totalElements": len(webhooks), "totalPages": 1,
                                                    "number": 1}})
    responses.post(f"{API}/webhooks", status=201, headers={"Resource-ID": "10"})
    responses.put(f"{API}/webhooks/10", status=204)
    responses.delete(f"{API}/webhooks/10", status=204)


def provisioning(ours: bool = False) -> None:
    account(*([webhook()] if ours else []))


def signed(body: bytes, secret: str, at) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-HelpScout-Signature": sign(secret, body)}


KIT = Kit(
    settings={"app_id_env": "HS_APP_ID", "app_secret_env": "HS_APP_SECRET", "webhook_secret_env": "HS_SECRET",
              "api_user_id": "481999"},
    env={"HS_APP_ID": "hs-app-id-0001", "HS_APP_SECRET": "hs-app-secret-0002", "HS_SECRET": "hs-webhook-secret-7c1d"},
    secret="webhook_secret", sign=signed, fixture_kind="helpscout", timestamped=False,
    other_secret="another-secret", new_secret="the-new-secret",  # Help Scout allows 40 characters at most
    event="webhook_convo_status_closed.json", irrelevant="webhook_customer_created.json",
    not_json="webhook_not_json.txt",
    headers={"webhook_convo_status_closed.json": {"X-HelpScout-Event": "convo.status"},
             "webhook_customer_created.json": {"X-HelpScout-Event": "customer.created"}},
    required_headers=("X-HelpScout-Signature",),
    bounded={"ticket": ("id",), "actor": ("closedBy",), "times": [("closedAt",), ("userUpdatedAt",)]},
    api_root="https://api.helpscout.net/v2", ticket_id="2104876318", ticket_path="conversations/2104876318",
    token_path="oauth2/token",
    assignee=("481905", "lina@acme.test"),
    reads={"POST oauth2/token": "api_oauth_token.json", "conversations/2104876318": "api_conversation.json",
           "mailboxes": "api_mailboxes.json", "conversations/2104876318/threads": "api_threads_page2.json",
           "conversations": "api_conversations_list.json"},
    write_headers={"Resource-ID": "2104876400"}, provisioning=provisioning,
)
