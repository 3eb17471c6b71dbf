"""Generic: any system that sends Standard Webhooks (signed, no helpdesk API)."""

from ces.connectors.generic.connector import GenericConnector, GenericSettings

__all__ = ["GenericConnector", "GenericSettings"]
