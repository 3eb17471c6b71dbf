"""Jira Service Management (Cloud): admin webhooks signed with X-Hub-Signature, REST API with changelog."""

from ces.connectors.jsm.connector import JsmConnector, JsmSettings

__all__ = ["JsmConnector", "JsmSettings"]
