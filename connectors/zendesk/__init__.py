"""Zendesk: webhooks (event subscription or trigger), signature, Support API."""

from ces.connectors.zendesk.connector import ZendeskConnector, ZendeskSettings

__all__ = ["ZendeskConnector", "ZendeskSettings"]
