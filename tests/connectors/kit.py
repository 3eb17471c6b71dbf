"""What a connector kind supplies to the contract suite (tests/connectors/test_contract.py).

Each kind has a module tests/connectors/kits/<kind>.py holding `KIT = Kit(...)`: its settings,
how a delivery is signed, which fixtures are a delivery we act on and one we ignore, and the
`responses` its declared capabilities need. The suite finds the kinds from the entry points, so a
kind without a kit fails it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import responses

from ces.config.models import HttpSettings
from ces.connectors.base import Connector
from ces.connectors.http import HttpClient
from ces.connectors.models import EntryKind, InboundRequest, Person
from ces.connectors.registry import connector_class
from tests.support import fixture_json

PUBLIC = "https://surveys.acme.test"
NOW = datetime(2026, 11, 23, 10, 16, tzinfo=timezone.utc)
WRITES = (responses.POST, responses.PUT, responses.PATCH, responses.DELETE)


@dataclass
class Kit:
    settings: dict[str, Any]  # the kind's own keys (id and kind are added); secrets by variable name
    env: dict[str, str]  # the variables those names read
    secret: str  # the name of the webhook secret ("webhook_secret" for webhook_secret_env)
    sign: Callable[[bytes, str, datetime], dict[str, str]]  # the headers of `body` signed with a secret, at a time
    fixture_kind: str  # tests/fixtures/<fixture_kind>/
    event: str  # a delivery the connector acts on
    irrelevant: str  # a delivery it ignores
    required_headers: tuple[str, ...]  # each one missing is refused
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # a fixture's unsigned headers, by name
    not_json: str = ""  # a fixture whose body is not JSON (a trigger set to form encoding…); none: our own
    timestamped: bool = True  # the signature covers a time: stale and future deliveries are refused
    signs_body: bool = True  # False: a shared secret, not a signature (a changed body passes)
    other_secret: str = "another-secret-0123456789"
    new_secret: str = "the-new-secret-0123456789"
    now: datetime = NOW
    # The API below `api_root`: the ticket the capabilities are called on and the path fetch_ticket
    # reads first; `reads` answers a GET (or "POST path") with a fixture (or a bare status), and
    # every other change answers 200 with `writes`.
    api_root: str = ""
    ticket_id: str = ""
    assignee: tuple[str, str] | None = None  # the id and e-mail fetch_ticket tells of the ticket's agent
    ticket_path: str = ""
    reads: dict[str, str | int] = field(default_factory=dict)
    writes: Any = None
    write_headers: dict[str, str] = field(default_factory=dict)
    token_path: str = ""  # where an access token is fetched (the one call without an Authorization)
    auth_header: str = "Authorization"  # the header that carries the API credentials (Chatwoot: api_access_token)
    requester: Person = field(default_factory=lambda: Person(id="1", email="maria.garcia@example.com"))
    bounded: dict[str, Any] | None = None  # assert_bounded keywords: where the ids and times are
    # Kinds that declare "provision": register the `responses` of an account where nothing of
    # ours exists yet (provision creates everything) or, with `ours`, where it all exists already.
    provisioning: Callable[..., None] | None = None

    @property
    def ticket_url(self) -> str:
        return f"{self.api_root}/{self.ticket_path}"

    @property
    def token_url(self) -> str:
        return f"{self.api_root}/{self.token_path}" if self.token_path else ""

    def api(self) -> None:
        """Register the `responses` of every declared capability."""
        for where, answer in self.reads.items():
            method, _, path = where.rpartition(" ")
            kwargs = ({"status": answer} if isinstance(answer, int)
                      else {"json": fixture_json(self.fixture_kind, answer)})
            responses.add(method or responses.GET, f"{self.api_root}/{path}", **kwargs)
        for method in WRITES:
            responses.add(method, re.compile(re.escape(self.api_root) + r"/.*"), json=self.writes or {},
                          headers=self.write_headers or None)

    def connector(self, kind: str, monkeypatch, **overrides: Any) -> Connector:
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        cls = connector_class(kind)
        settings = cls.Settings(**{"id": f"{kind}-main", "kind": kind, **self.settings, **overrides})
        http = HttpClient(HttpSettings(connect_timeout_seconds=1, read_timeout_seconds=1, retries=2,
                                       backoff_base_seconds=0, backoff_max_seconds=0))
        return cls(settings, http=http, public_url=PUBLIC)

    def inbound(self, kind: str, body: bytes, headers: dict[str, str], at: datetime | None = None) -> InboundRequest:
        return InboundRequest(method="POST", path=f"/webhooks/{kind}-main", query="",
                              headers={k.lower(): v for k, v in headers.items()}, body=body,
                              received_at=at or self.now, public_url=PUBLIC)


def changes_of(history) -> list[tuple]:
    """(kind, actor, value, previous) of each status, group and assignee change of a TicketHistory."""
    return [(e.kind.value, e.actor.value, e.value, e.previous) for e in history.entries
            if e.kind in (EntryKind.STATUS, EntryKind.GROUP, EntryKind.ASSIGNEE)]


def talk_of(history) -> list[tuple]:
    """(kind, actor, channel) of each message and note of a TicketHistory."""
    return [(e.kind.value, e.actor.value, e.channel.value) for e in history.entries
            if e.kind in (EntryKind.MESSAGE, EntryKind.NOTE)]


def kit_of(kind: str) -> Kit:
    return importlib.import_module(f"tests.connectors.kits.{kind}").KIT

