"""Jira Service Management (Cloud) connector: a request is a Jira issue of a service project.

Facts (developer.atlassian.com/cloud/jira/platform/webhooks/, …/rate-limiting/, the REST references):
- An admin webhook on `jira:issue_updated` sends `timestamp` (ms), `webhookEvent`, `user`, `issue`
  (`fields`: status with its `statusCategory`, resolution, …) and `changelog.items` (field, fieldId,
  from/fromString, to/toString). With a secret, `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret,
  raw body)>`; no timestamp is signed. `X-Atlassian-Webhook-Identifier` is the same on every retry
  (up to 5, 5–15 minutes apart): the delivery id.
- Solved: the status category becomes "done" or the issue gets a resolution; leaving Done reopens.
  The customer is the reporter. Comments of the servicedesk API: `public: false` is internal.
- Basic auth (e-mail + API token). API-token traffic has per-endpoint burst limits only (429 with
  Retry-After), no published per-minute number.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base
from ces.connectors.api import optional_str
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import ApiError, BadSignature, PermanentApiError, Unparseable
from ces.connectors.models import Actor, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import parse_time

_FIELDS = "summary,status,resolution,reporter,assignee,labels,created,updated,project"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class JsmSettings(ConnectorSettings):
    secret_names = {"webhook_secret": True, "api_token": True}
    kind: str = "jsm"
    site: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")  # "acme": https://acme.atlassian.net
    email: str  # the Atlassian account the API token belongs to
    api_user_id: str | None = None  # that account's accountId: its changes are never agent activity
    team_field: str | None = None  # the request's team or queue field, e.g. "customfield_10001"
    pending_statuses: list[str] = ["Waiting for customer"]  # in progress, but the customer's turn

    @model_validator(mode="after")
    def _where(self):
        if not self.base_url and not self.site:
            raise ValueError('set site (e.g. site = "acme" for https://acme.atlassian.net) or base_url')
        return self

    @property
    def root(self) -> str:
        return (self.base_url or f"https://{self.site}.atlassian.net").rstrip("/")

    def status_of(self, status: object, resolution: object = None) -> Status:
        """Done category or a resolution: solved; the customer's turn: pending; else by category."""
        if _category(status) == "done" or resolution:
            return Status.SOLVED
        if (_name(status) or "").lower() in {s.lower() for s in self.pending_statuses}:
            return Status.PENDING
        return Status.NEW if _category(status) == "new" else Status.OPEN  # "indeterminate" or unknown


class JsmConnector(Connector):
    kind = "jsm"
    title = "Jira Service Management"
    Settings = JsmSettings
    capabilities = base.EVERYTHING - {base.FOLLOWUP}
    default_rate_limit_per_minute = 100  # Atlassian publishes none for API tokens (see above)
    delivery = base.DeliveryRule("X-Atlassian-Webhook-Identifier (unsigned), or the signed body", signed=False)
    settings: JsmSettings

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        """X-Hub-Signature over the raw body; Jira signs no timestamp, so there is no stale check."""
        signature = (request.header("x-hub-signature") or "").strip().lower().encode()
        if not signature:
            raise BadSignature("missing X-Hub-Signature: give the Jira webhook a secret")
        if not any(hmac.compare_digest(sign(secret, request.body).encode(), signature)
                   for secret in self.settings.secret_values("webhook_secret")):
            raise BadSignature("signature does not match the webhook's secret")

    def signed_key(self, request: InboundRequest) -> str | None:
        return request.digest()  # the signed body (with the event's own timestamp): the identifier is unsigned

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        """A STATUS event when the status or the resolution changed; anything else is IGNORED."""
        data = request.json()
        issue = data.get("issue") if isinstance(data, dict) else None
        ticket_id = optional_str(issue.get("id")) if isinstance(issue, dict) else None
        if not ticket_id:
            raise Unparseable("no issue.id in the body (send jira:issue_updated events)")
        fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
        items = (data.get("changelog") or {}).get("items") if isinstance(data.get("changelog"), dict) else None
        changed = {str(i.get("fieldId") or i.get("field")) for i in items or [] if isinstance(i, dict)}
        kept = {"webhookEvent": data.get("webhookEvent"), "issue": {"id": ticket_id, "key": issue.get("key")}}
        event = dict(delivery_id=request.header("x-atlassian-webhook-identifier") or f"body:{request.digest()[:32]}",
                     ticket_id=ticket_id, actor_id=optional_str((data.get("user") or {}).get("accountId")),
                     occurred_at=parse_time(data.get("timestamp")) or parse_time(fields.get("updated"))
                     or request.received_at, payload={**kept, "changed": sorted(changed)[:20]})
        if data.get("webhookEvent") != "jira:issue_updated" or not changed & {"status", "resolution"}:
            return [TicketEvent(kind=EventKind.IGNORED, summary="no status change", **event)]
        status = self.settings.status_of(fields.get("status"), fields.get("resolution"))
        name = str((fields.get("status") or {}).get("name") or status.value)[:40]
        return [TicketEvent(kind=EventKind.STATUS, status=status, summary=f"status {name}", **event)]

    # --- API ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        return {"auth": (self.settings.email, self.settings.secret("api_token"))}

    def api_root(self) -> str:
        return self.settings.root

    @property
    def _fields(self) -> str:
        return ",".join(filter(None, [_FIELDS, self.settings.team_field]))

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        ticket = self._ticket(self.api.get_json(f"rest/api/3/issue/{ticket_id}", "issue", fields=self._fields))
        if ticket.requester and not ticket.requester.email:  # hidden by profile visibility: agents see the request's
            with contextlib.suppress(PermanentApiError):
                request = self.api.get_json(f"rest/servicedeskapi/request/{ticket_id}", "request") or {}
                ticket.requester.email = (request.get("reporter") or {}).get("emailAddress") or None
        return ticket

    def _ticket(self, issue: dict) -> Ticket:
        f = issue.get("fields") or {}
        reporter, assignee = f.get("reporter") or {}, f.get("assignee") or {}
        return Ticket(
            id=str(issue["id"]), status=self.settings.status_of(f.get("status"), f.get("resolution")),
            subject=f.get("summary"),
            requester=Person(id=reporter.get("accountId"), email=reporter.get("emailAddress") or None,
                             name=reporter.get("displayName"), time_zone=reporter.get("timeZone")),
            assignee=assignee.get("displayName"), assignee_id=assignee.get("accountId"),
            assignee_email=assignee.get("emailAddress") or None,
            group=_name(f.get(self.settings.team_field)) if self.settings.team_field else None,
            brand=(f.get("project") or {}).get("name"), tags=list(f.get("labels") or []),
            created_at=parse_time(f.get("created")), updated_at=parse_time(f.get("updated")),
            url=f"{self.settings.root}/browse/{issue.get('key')}" if issue.get("key") else None)

    def _pages(self, path: str, label: str, start: str, size: str, last: str):
        """Offset pages' values (changelog: startAt/maxResults/isLast; servicedesk: start/limit/isLastPage)."""
        def next_page(resp, page):
            done = page.get(last, True) or not page.get("values")
            return None if done else (path, {start: int(page.get(start) or 0) + len(page["values"]), size: 100})
        for page in self.api.paginate(path, label, next_page, params={start: 0}):
            yield from page.get("values") or []

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """Status, assignee and team changes from the changelog (a status's category from
        /rest/api/3/status, as the changelog names statuses only); replies and notes from the comments."""
        ticket = ticket or self.fetch_ticket(ticket_id)
        history = TicketHistory(ticket=ticket)
        customer = ticket.requester.id if ticket.requester else None
        try:
            categories = {str(s.get("id")): s for s in self.api.get_json("rest/api/3/status", "statuses") or []}
            changes = [e for change in self._pages(f"rest/api/3/issue/{ticket_id}/changelog", "changelog",
                                                   "startAt", "maxResults", "isLast")
                       for e in self._changes(change, categories, customer)]
            history.entries += self._start(ticket, changes) + changes
        except PermanentApiError as exc:
            history.missing.append(f"changelog: {exc.detail}")
        try:
            for comment in self._pages(f"rest/servicedeskapi/request/{ticket_id}/comment", "comments",
                                       "start", "limit", "isLastPage"):
                if at := parse_time((comment.get("created") or {}).get("iso8601")):
                    history.entries.append(HistoryEntry(
                        at=at, kind=EntryKind.MESSAGE if comment.get("public") else EntryKind.NOTE,
                        actor=self._actor((comment.get("author") or {}).get("accountId"), customer),
                        source_id=optional_str(comment.get("id"))))
        except PermanentApiError as exc:
            history.missing.append(f"comments: {exc.detail}")
        history.entries.sort(key=lambda e: e.at)
        return history

    def _start(self, ticket: Ticket, changes: list[HistoryEntry]) -> list[HistoryEntry]:
        """What the request was opened with (the changelog has changes only): each field's value
        before its first change, or its value now; the customer opened it."""
        now = {EntryKind.STATUS: ticket.status.value, EntryKind.GROUP: ticket.group,
               EntryKind.ASSIGNEE: ticket.assignee}
        firsts = {kind: next((e.previous for e in changes if e.kind == kind), now[kind]) for kind in now}
        return [HistoryEntry(at=ticket.created_at, kind=kind, actor=Actor.CUSTOMER, value=value, source_id="created")
                for kind, value in firsts.items() if value and ticket.created_at]

    def _changes(self, change: dict, statuses: dict, customer: str | None) -> list[HistoryEntry]:
        at, items = parse_time(change.get("created")), change.get("items") or []
        if at is None:
            return []
        actor = self._actor((change.get("author") or {}).get("accountId"), customer)
        resolved = any(i.get("field") == "resolution" and i.get("to") for i in items)
        kinds = {"status": EntryKind.STATUS, "assignee": EntryKind.ASSIGNEE, self.settings.team_field: EntryKind.GROUP}
        out = []
        for item in items:
            if (kind := kinds.get(item.get("fieldId") or item.get("field") or "")) is None:
                continue
            value, previous = item.get("toString"), item.get("fromString")
            if kind == EntryKind.STATUS:
                value = self.settings.status_of(statuses.get(str(item.get("to"))) or {"name": value}, resolved).value
                previous = self.settings.status_of(statuses.get(str(item.get("from"))) or {"name": previous}).value
            out.append(HistoryEntry(at=at, kind=kind, actor=actor, value=value, previous=previous,
                                    source_id=optional_str(change.get("id"))))
        return out

    def _actor(self, account_id: object, customer: str | None) -> Actor:
        account = optional_str(account_id)
        if account is None or self.is_ours(account):
            return Actor.SYSTEM if account is None else Actor.US
        return Actor.CUSTOMER if account == customer else Actor.AGENT

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        """Newest first, at most 10 pages of 50. JQL reads dates in the API user's time zone: ask from a
        day early, keep those since `since`. An accountId holds no quote; one is dropped, never run."""
        who, day = (requester.id or "").replace('"', ""), since - timedelta(days=1)
        if not who:
            return []
        jql = f'reporter = "{who}" AND created >= "{day:%Y-%m-%d}" ORDER BY created DESC'
        query, path = {"jql": jql, "fields": self._fields, "maxResults": 50}, "rest/api/3/search/jql"
        def next_page(resp, page):
            done = page.get("isLast", True) or not page.get("nextPageToken")
            return None if done else (path, {**query, "nextPageToken": page["nextPageToken"]})
        pages = self.api.paginate(path, "requester's requests", next_page, params=query, pages=10)
        found = [self._ticket(issue) for page in pages for issue in page.get("issues") or []]
        return [t for t in found if t.created_at is None or t.created_at >= since]

    def _comment(self, ticket_id: str, body: str, public: bool) -> None:
        self.api.write("POST", f"rest/servicedeskapi/request/{ticket_id}/comment", "reply" if public else "note",
                       {"body": body, "public": public})

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        # Comment bodies are wiki markup: a {noformat} block shows the customer's words as written.
        self._comment(ticket_id, "{noformat}\n" + text.replace("{noformat}", "{ noformat}") + "\n{noformat}", False)

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        self._comment(ticket_id, text, True)

    def _labels(self, ticket_id: str, op: str, tags: list[str]) -> None:
        self.api.write("PUT", f"rest/api/3/issue/{ticket_id}", "labels",
                       {"update": {"labels": [{op: t.replace(" ", "_")} for t in tags]}})

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._labels(ticket_id, "add", tags)

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._labels(ticket_id, "remove", tags)

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        """The workflow's first transition out of Done (to an in-progress status if there is one),
        with the team field set to `group` where team_field is configured."""
        path = f"rest/api/3/issue/{ticket_id}/transitions"
        moves = (self.api.get_json(path, "transitions") or {}).get("transitions") or []
        open_moves = sorted((t for t in moves if _category(t.get("to")) != "done"),
                            key=lambda t: _category(t.get("to")) != "indeterminate")
        if not open_moves:
            raise PermanentApiError(f"Jira issue {ticket_id}: the workflow offers no transition out of Done")
        body: dict[str, Any] = {"transition": {"id": str(open_moves[0]["id"])}}
        if group and self.settings.team_field:
            body["fields"] = {self.settings.team_field: group}
        self.api.write("POST", path, "reopen", body)

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        return self.setup_text(root=self.settings.root, email=self.settings.email,
                               secret_var=self.env_var("webhook_secret", "JSM_WEBHOOK_SECRET"),
                               token_var=self.env_var("api_token", "JSM_API_TOKEN"))

    def check(self) -> list[CheckResult]:
        try:
            me = self.api.get_json("rest/api/3/myself", "current user") or {}
        except ApiError as exc:
            return [CheckResult("authentication", False, exc.detail)]
        account = str(me.get("accountId") or "")
        results = [CheckResult("authentication", bool(account), f"signed in as {me.get('displayName') or account}",
                               {"user_id": account}),
                   self.probe("service desks", lambda: self.api.get_json("rest/servicedeskapi/servicedesk", "desks"),
                              "reads the service projects (agent access: notes, history)",
                              "cannot list service projects, so notes will be refused: ")]
        if self.settings.api_user_id and self.settings.api_user_id != account:
            results.append(CheckResult("api_user_id", False, f"api_user_id is not the token's account, {account}"))
        return results


def _category(status: object) -> str:
    category = status.get("statusCategory") if isinstance(status, dict) else None
    return str((category or {}).get("key") or "").lower()


def _name(value: object) -> str | None:
    """A team or queue field's value: Atlassian's Team ({"name"}), a select ({"value"}) or text."""
    if isinstance(value, dict):
        return optional_str(value.get("name") or value.get("value") or value.get("title"))
    return optional_str(value)
