"""HubSpot: Webhooks API (ticket stage changes), signature v3, CRM API (tickets, notes)."""

from ces.connectors.hubspot.connector import HubspotConnector, HubspotSettings

__all__ = ["HubspotConnector", "HubspotSettings"]
