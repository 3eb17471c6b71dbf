"""The generic connector's contract kit: Standard Webhooks (webhook-id, -timestamp, -signature)."""

from ces.connectors.standard_webhooks import headers
from tests.connectors.kit import Kit


def signed(body: bytes, secret: str, at) -> dict[str, str]:
    return {"Content-Type": "application/json", **headers(secret, "msg_2Kx9", int(at.timestamp()), body)}


KIT = Kit(
    settings={"webhook_secret_env": "GEN_SECRET"},
    env={"GEN_SECRET": "whsec_Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtc2VjcmV0ISE="},  # base64 of 32 bytes
    secret="webhook_secret", sign=signed, fixture_kind="generic",
    other_secret="whsec_YW5vdGhlci1zZWNyZXQtb2YtdGhpcnR5LXR3by1iIQ==",
    new_secret="whsec_bmV3LXNlY3JldC1mb3Itcm90YXRpb24tMzItYnl0ZXM=",
    event="ticket_solved.json", irrelevant="unknown_type.json", not_json="form_encoded_body.txt",
    required_headers=("webhook-id", "webhook-timestamp", "webhook-signature"),
    bounded={"ticket": ("data", "ticket_id"), "times": [("timestamp",), ("data", "updated_at")]},
)
