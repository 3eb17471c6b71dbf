"""The interface every helpdesk connector implements.

A connector is the only place that knows a helpdesk's wire format. Intake calls verify() and
parse() on the exact bytes received; tasks call the API methods. Capabilities a helpdesk lacks
raise Unsupported, and the caller records that instead of failing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import ClassVar

from ces.config.models import ConnectorSettings
from ces.connectors.errors import Unsupported
from ces.connectors.http import HttpClient
from ces.connectors.models import CheckResult, InboundRequest, Ticket, TicketEvent


class Connector(ABC):
    kind: ClassVar[str]
    title: ClassVar[str]  # the helpdesk's name, for people
    Settings: ClassVar[type[ConnectorSettings]]
    default_rate_limit_per_minute: ClassVar[int] = 100

    def __init__(self, settings: ConnectorSettings, *, http: HttpClient, public_url: str):
        self.settings = settings
        self.http = http
        self.public_url = public_url.rstrip("/")

    @property
    def id(self) -> str:
        return self.settings.id

    @property
    def webhook_url(self) -> str:
        return f"{self.public_url}/webhooks/{self.id}"

    # --- intake -------------------------------------------------------------------------------
    @abstractmethod
    def verify(self, request: InboundRequest) -> None:
        """Raise BadSignature or StaleTimestamp unless the request is authentic and fresh."""

    @abstractmethod
    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        """Turn a verified request into events; raise Unparseable if it carries no ticket."""

    # --- helpdesk API -------------------------------------------------------------------------
    def fetch_ticket(self, ticket_id: str) -> Ticket:
        raise Unsupported(f"{self.title} connector cannot fetch tickets")

    def recent_tickets(self, requester_email: str, since: datetime) -> list[Ticket]:
        raise Unsupported(f"{self.title} connector cannot list a requester's tickets")

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        raise Unsupported(f"{self.title} connector cannot post internal notes")

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        raise Unsupported(f"{self.title} connector cannot post public replies")

    # --- admin --------------------------------------------------------------------------------
    @abstractmethod
    def setup_instructions(self) -> str:
        """Step-by-step text an admin follows in the helpdesk, with the webhook URL filled in."""

    def check(self) -> list[CheckResult]:
        """Call the helpdesk with the configured credentials; say plainly what works."""
        return [CheckResult("api", False, "this connector has no API check")]
