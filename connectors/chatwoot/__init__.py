"""Chatwoot (self-hosted): account webhooks signed with X-Chatwoot-Signature, REST API with messages."""

from ces.connectors.chatwoot.connector import ChatwootConnector, ChatwootSettings

__all__ = ["ChatwootConnector", "ChatwootSettings"]
