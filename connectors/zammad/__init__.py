"""Zammad (self-hosted): trigger webhooks signed with X-Hub-Signature, REST API with history."""

from ces.connectors.zammad.connector import ZammadConnector, ZammadSettings

__all__ = ["ZammadConnector", "ZammadSettings"]
