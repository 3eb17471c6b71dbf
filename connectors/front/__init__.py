"""Front: application or rule webhooks (archive, reopen), their signatures, Core API."""

from ces.connectors.front.connector import FrontConnector, FrontSettings

__all__ = ["FrontConnector", "FrontSettings"]
