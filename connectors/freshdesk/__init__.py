"""Freshdesk: automation-rule webhooks (shared secret, no signature), API v2."""

from ces.connectors.freshdesk.connector import FreshdeskConnector, FreshdeskSettings

__all__ = ["FreshdeskConnector", "FreshdeskSettings"]
