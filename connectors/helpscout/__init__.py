"""Help Scout: convo.status webhooks signed with X-HelpScout-Signature, Mailbox API 2.0 (OAuth2)."""

from ces.connectors.helpscout.connector import HelpScoutConnector, HelpScoutSettings

__all__ = ["HelpScoutConnector", "HelpScoutSettings"]
