"""The interface every helpdesk connector implements.

A connector is the only place that knows a helpdesk's wire format. Intake calls verify() and
parse() on the exact bytes received; tasks call the API methods. Capabilities a helpdesk lacks
raise Unsupported, and the caller records that instead of failing. `capabilities` says up front
what works, for `ces connectors list`, the README table and the alert routes. The types its
methods take and return (InboundRequest, TicketEvent, Ticket, …) are imported from here too.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import requests

from ces.config.models import ConnectorSettings
from ces.connectors.api import ApiClient
from ces.connectors.errors import ApiError, Unsupported
from ces.connectors.http import HttpClient
from ces.connectors.models import CheckResult, EntryKind, InboundRequest, Person, Ticket, TicketEvent, TicketHistory

# What a connector may be able to do (its `capabilities`):
TICKET = "ticket"  # fetch_ticket
HISTORY = "history"  # fetch_history
RECENT = "recent_tickets"  # recent_tickets
NOTE = "note"  # post_internal_note
REPLY = "public_reply"  # post_public_reply
TAGS = "tags"  # add_tags
REOPEN = "reopen"  # reopen
FOLLOWUP = "followup"  # create_followup
PROVISION = "provision"  # provision, test_delivery: sets up its own webhook in the helpdesk
EVERYTHING = frozenset({TICKET, HISTORY, RECENT, NOTE, REPLY, TAGS, REOPEN, FOLLOWUP})


@dataclass(frozen=True)
class DeliveryRule:
    """What makes two deliveries to one connector the same delivery, and for how long: each kind
    declares one, and README's helpdesk table says the same in words (a test holds them together).

    An event's `delivery_id` is its key. An equal key is the same delivery for ever, or, with a
    `window`, only within it: for a key that a later change can send again (Freshdesk's body hash).
    `signed` says whether the key is covered by the helpdesk's signature; where it is not (an id in
    an unsigned header), the connector's signed_key() makes a replay of the signed parts under a
    new id the same delivery too."""

    key: str  # what the key is made of, in words
    signed: bool
    window: timedelta | None = None  # None: for ever


@dataclass(frozen=True)
class Provisioned:
    """What provision() did, step by step in words, and the secrets it obtained (the webhook
    signing secret where the helpdesk generates it, or one we chose), by secret name
    ("webhook_secret"), for the caller to store: never logged or printed."""

    steps: list[CheckResult]
    secrets: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)


class Connector(ABC):
    kind: ClassVar[str]
    title: ClassVar[str]  # the helpdesk's name, for people
    Settings: ClassVar[type[ConnectorSettings]]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    # History the API cannot tell, taken from the webhooks we stored instead.
    history_from_webhooks: ClassVar[frozenset[EntryKind]] = frozenset()
    default_rate_limit_per_minute: ClassVar[int] = 100
    delivery: ClassVar[DeliveryRule] = DeliveryRule("the event's delivery id", signed=False)  # each kind says its own
    # Statuses that mean more at this helpdesk: status → (error type, what it means); see ApiClient.
    api_errors: ClassVar[dict[int, tuple[type[ApiError], str]]] = {}
    api_class: ClassVar[type[ApiClient]] = ApiClient  # a subclass for a helpdesk's own habits
    # Why provision() cannot work for this kind, where the helpdesk's API is the reason (README says it too).
    no_provisioning: ClassVar[str] = ""

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

    @property
    def rate_limit(self) -> int:
        return self.settings.rate_limit_per_minute or self.default_rate_limit_per_minute

    @property
    def rate_key(self) -> str:
        """One budget per helpdesk account, whichever connector or worker spends it."""
        return f"{self.kind}:{self.settings.base_url or self.id}"

    def ticket_url(self, ticket_id: str) -> str | None:
        """Where an agent opens a ticket, from the settings alone (None where the kind needs more,
        e.g. an account id only the API tells). Snapshots record the URL the API gives."""
        return None

    def auth(self) -> dict[str, Any]:
        """requests keyword arguments that authenticate an API call (headers=… or auth=…)."""
        return {}

    def api_root(self) -> str:
        """The URL API paths are below (e.g. https://acme.zendesk.com/api/v2)."""
        return self.settings.api_base

    @cached_property
    def api(self) -> ApiClient:
        """The helpdesk's API: timeouts, retries, the shared rate limit, auth, error mapping."""
        return self.api_class(self.http, self.api_root(), title=self.title, rate_key=self.rate_key,
                         per_minute=self.rate_limit, auth=self.auth, errors=self.api_errors)

    def request(self, method: str, path: str, *, label: str, **kwargs: Any) -> requests.Response:
        return self.api.request(method, path, label=label, **kwargs)

    def setup_text(self, **fields: Any) -> str:
        """The kind's setup.txt (beside its module), with the id, webhook URL and `fields` filled in."""
        folder = Path(sys.modules[type(self).__module__].__file__).parent
        template = (folder / "setup.txt").read_text(encoding="utf-8")
        return template.format(id=self.id, webhook_url=self.webhook_url, **fields)

    def env_var(self, secret: str, default: str) -> str:
        """The variable an admin exports for `secret` (the first one while rotating), for setup text."""
        return self.settings.secret_ref(secret).variable(default)

    def is_ours(self, actor_id: str | None) -> bool:
        """Whether a change was made by ces-worker's own API user (never customer or agent activity)."""
        own = getattr(self.settings, "api_user_id", None)
        return bool(own) and actor_id is not None and str(actor_id) == str(own)

    # --- intake -------------------------------------------------------------------------------
    @abstractmethod
    def verify(self, request: InboundRequest) -> None:
        """Raise BadSignature or StaleTimestamp unless the request is authentic and fresh."""

    @abstractmethod
    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        """Turn a verified request into events; raise Unparseable if it carries no ticket."""

    def signed_key(self, request: InboundRequest) -> str | None:
        """For kinds whose delivery id travels outside the signature: a hash of what the signature
        covers. Intake stores it under a unique key, so that a captured request replayed with
        another id (within the timestamp tolerance, where one is signed) is still a duplicate."""
        return None

    def handshake(self, request: InboundRequest) -> dict[str, Any] | None:
        """A verified request that only checks the endpoint (e.g. Front's challenge when an admin
        saves a webhook): the JSON to answer with, 200 and nothing stored; None for real events."""
        return None

    # --- helpdesk API -------------------------------------------------------------------------
    def _unsupported(self, what: str):
        return Unsupported(f"{self.title} connector cannot {what}")

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        raise self._unsupported("read tickets")

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """The ticket and what happened to it. `ticket`, when the caller has just read it with
        fetch_ticket (the survey's send did), is used by a kind whose history would begin by reading
        it again; a kind whose history reads the ticket with more in the same call ignores it."""
        raise self._unsupported("read a ticket's history")

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        """The requester's tickets created since `since` (any status), newest first."""
        raise self._unsupported("list a requester's tickets")

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        """`text` is plain text holding customer words: a helpdesk whose notes are HTML or Markdown
        gets it through connectors/markup.py, so that it shows as written and never as markup."""
        raise self._unsupported("post internal notes")

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        raise self._unsupported("post public replies")

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        raise self._unsupported("tag tickets")

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        """Take tags off the ticket (an earlier answer's score tag); one it does not carry is fine."""
        raise self._unsupported("untag tickets")

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        """Set the ticket open again (and hand it to `group`, if given) for a follow-up."""
        raise self._unsupported("reopen tickets")

    def create_followup(self, ticket_id: str, subject: str, text: str) -> str:
        """A new ticket linked to a closed one; returns its id."""
        raise self._unsupported("create follow-up tickets")

    # --- admin --------------------------------------------------------------------------------
    @abstractmethod
    def setup_instructions(self) -> str:
        """Step-by-step text an admin follows in the helpdesk, with the webhook URL filled in."""

    def provision(self) -> Provisioned:
        """Create (or find and update) the webhook and triggers this connector needs in the
        helpdesk, named with the connector's id: running it again changes only what differs."""
        reason = f" ({self.no_provisioning})" if self.no_provisioning else ""
        raise self._unsupported(f"set up its webhook through the helpdesk's API{reason}")

    def test_delivery(self) -> CheckResult:
        """Ask the helpdesk to send a signed test webhook to our intake; say what intake answered."""
        raise self._unsupported("ask the helpdesk for a test webhook")

    def check(self) -> list[CheckResult]:
        """Call the helpdesk with the configured credentials; say plainly what works."""
        return [CheckResult("api", False, f"{self.title} connector has no API check")]

    def own_user_check(self, actual: object, whose: str) -> list[CheckResult]:
        """`check`'s line for an api_user_id that is not the credentials' own user (our own changes
        would be taken for an agent's); none when it is, or is not set. `whose`: the credentials, in words."""
        own = getattr(self.settings, "api_user_id", None)
        if own and own != str(actual):
            return [CheckResult("api_user_id", False, f"api_user_id is {own} but {whose} {actual}")]
        return []

    def probe(self, name: str, call: Callable[[], object], ok: str, failed: str = "") -> CheckResult:
        """One line of `check`: `ok` when the call answers, else `failed` and the helpdesk's error."""
        try:
            call()
        except ApiError as exc:
            return CheckResult(name, False, f"{failed}{exc.detail}")
        return CheckResult(name, True, ok)
