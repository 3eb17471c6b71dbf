"""Intercom: webhooks (notification events), X-Hub-Signature, REST API (conversations)."""

from ces.connectors.intercom.connector import IntercomConnector, IntercomSettings

__all__ = ["IntercomConnector", "IntercomSettings"]
