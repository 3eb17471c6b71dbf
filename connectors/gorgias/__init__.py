"""Gorgias (e-commerce helpdesk): an HTTP integration with a secret header, REST API with messages."""

from ces.connectors.gorgias.connector import GorgiasConnector, GorgiasSettings

__all__ = ["GorgiasConnector", "GorgiasSettings"]
