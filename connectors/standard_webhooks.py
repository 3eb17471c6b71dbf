"""Standard Webhooks (standardwebhooks.com): the generic connector verifies with it, and the
outgoing webhook alert route signs with it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"

def secret_key(secret: str) -> bytes:
    """The HMAC key of a "whsec_<base64>" secret (the prefix is optional, as in the reference
    library); ValueError when it is not base64 of 24 to 64 bytes."""
    text = secret.strip()
    text = text[len(SECRET_PREFIX):] if text.startswith(SECRET_PREFIX) else text
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64 after the whsec_ prefix") from None
    if not 24 <= len(key) <= 64:
        raise ValueError(f"decodes to {len(key)} bytes; Standard Webhooks secrets are 24 to 64 random bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """One "v1,<base64>" entry of the webhook-signature header."""
    digest = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a signed delivery."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, str(timestamp), body)}
