"""Jira Service Management's contract kit: an admin webhook, X-Hub-Signature (sha256 hex HMAC of the body, no time)."""

from ces.connectors.jsm.connector import sign
from ces.connectors.models import Person
from tests.connectors.kit import Kit

ISSUE = "rest/api/3/issue/10042"


def signed(body: bytes, secret: str, at) -> dict[str, str]:
    return {"X-Atlassian-Webhook-Identifier": "7d3f2b1a-5c4e-4f60-9a8b-0c1d2e3f4a5b",
            "X-Atlassian-Webhook-Flow": "Primary", "X-Hub-Signature": sign(secret, body)}


KIT = Kit(
    settings={"site": "acme", "email": "ces@acme.example", "api_token_env": "JSM_TOKEN",
              "webhook_secret_env": "JSM_SECRET", "api_user_id": "712020:0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
              "team_field": "customfield_10001"},
    env={"JSM_TOKEN": "ATATT3xFfGF0-jsm-api-token", "JSM_SECRET": "jsm-webhook-secret-8c2e"},
    secret="webhook_secret", sign=signed, fixture_kind="jsm", timestamped=False,
    event="webhook_issue_resolved.json", irrelevant="webhook_assignee_changed.json",
    required_headers=("X-Hub-Signature",),
    bounded={"ticket": ("issue", "id"), "actor": ("user", "accountId"), "times": [("timestamp",)]},
    api_root="https://acme.atlassian.net", ticket_id="10042", ticket_path=ISSUE,
    assignee=("5b10ac8d82e05b22cc7d4ef5", "emma@chrispresso.com"),
    reads={ISSUE: "api_issue.json", f"{ISSUE}/changelog": "api_changelog.json",
           "rest/api/3/status": "api_statuses.json",
           "rest/servicedeskapi/request/10042/comment": "api_request_comments.json",
           "rest/api/3/search/jql": "api_search_jql.json", f"{ISSUE}/transitions": "api_transitions.json"},
    requester=Person(id="qm:5c1e8f3a-2b7d-4e10-9a44-6f0d3c2b1a90:8d7c6b5a-4f3e-4d2c-b1a0-9f8e7d6c5b4a"),
)
