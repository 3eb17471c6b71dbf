"""HubSpot (Service Hub tickets) connector.

Facts (HubSpot's "Validating requests" and Webhooks API
pages; HubSpot/hubspot-api-python utils/signature.py): the Webhooks API POSTs a JSON ARRAY of
events, each {eventId, subscriptionId, portalId, appId, occurredAt (ms), subscriptionType,
attemptNumber, objectId, propertyName, propertyValue, changeSource, sourceId}; the app's
subscription on `ticket.propertyChange` for `hs_pipeline_stage` tells when a ticket moves stage.
`X-HubSpot-Signature-v3` = base64 HMAC-SHA256(client secret, method + URI + body + timestamp), the
timestamp being `X-HubSpot-Request-Timestamp` in ms; requests older than 5 minutes are rejected.
The URI is the full URL HubSpot called, with a few URL-encoded characters decoded (HubSpot's table:
%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B); both that and the raw form are accepted.

Delivery id: HubSpot documents eventId as "not guaranteed to be unique", so the key is eventId with
the subscription, object and occurredAt (everything but attemptNumber, which a retry changes). One
body carries a batch; an event in it that cannot be read is kept as IGNORED rather than refusing the
batch, since HubSpot does not retry a 4xx.

Status mapping: pipeline stages are ids. closed_stage_ids (default "4", Closed in the default
pipeline: 1 New, 2 Waiting on contact, 3 Waiting on us, 4 Closed) → SOLVED; waiting_stage_ids
(default "2") → PENDING; new_stage_ids (default "1") → NEW; any other stage → OPEN, so a ticket moved
out of a closed stage is a reopen. HubSpot has no state it reaches by itself after Closed, so
nothing maps to CLOSED. ticket.deletion → DELETED. Everything else → IGNORED.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

from pydantic import Field, model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base, markup
from ces.connectors.api import bearer, optional_str
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import ApiError, BadSignature, PermanentApiError, StaleTimestamp, Unparseable
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import is_digits, parse_time

TICKET_OBJECT_TYPE = "0-5"
STAGE = "hs_pipeline_stage"
OWNER = "hubspot_owner_id"
TEAM = "hubspot_team_id"
TICKET_PROPERTIES = ["subject", "hs_pipeline", STAGE, OWNER, TEAM, "source_type", "createdate",
                     "hs_lastmodifieddate"]
NOTE_TO_TICKET = 228  # HUBSPOT_DEFINED association type id, note → ticket
URI_DECODE = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
              "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
# source_type → channel. HubSpot's ticket sources: EMAIL, CHAT, PHONE, FORM and the social inboxes.
CHANNELS = {
    "EMAIL": Channel.EMAIL,
    "CHAT": Channel.CHAT,
    "PHONE": Channel.PHONE,
    "CALL": Channel.PHONE,
    "FORM": Channel.WEB,
    "FACEBOOK_MESSENGER": Channel.MESSAGING,
    "WHATSAPP": Channel.MESSAGING,
    "SMS": Channel.MESSAGING,
    "API": Channel.API,
}
AGENT_SOURCES = frozenset({"CRM_UI", "MOBILE_IOS", "MOBILE_ANDROID", "CRM_UI_BULK_ACTION"})
SEARCH_PAGES = 5
REQUIRED_SCOPES = frozenset({"tickets", "crm.objects.contacts.read", "crm.objects.owners.read"})


def sign(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def decode_uri(uri: str) -> str:
    for encoded, char in URI_DECODE.items():
        uri = uri.replace(encoded, char).replace(encoded.lower(), char)
    return uri


def channel_of(source_type: object) -> Channel:
    return CHANNELS.get(str(source_type or "").upper(), Channel.OTHER)


class HubspotSettings(ConnectorSettings):
    default_base_url = "https://api.hubapi.com"
    # The private app's access token; the app's client secret, which signs the webhooks.
    secret_names = {"access_token": True, "client_secret": True}
    kind: str = "hubspot"
    portal_id: str | None = Field(None, pattern=r"^\d+$")  # the account (Hub) id, for ticket links
    app_host: str = Field("app.hubspot.com", pattern=r"^app(-[a-z0-9]+)?\.hubspot\.com$")  # app-eu1… in the EU
    app_id: str | None = Field(None, pattern=r"^\d+$")  # ces-worker's own app: its changes are ours
    closed_stage_ids: list[str] = ["4"]
    waiting_stage_ids: list[str] = ["2"]
    new_stage_ids: list[str] = ["1"]
    reopen_stage_id: str = "3"  # "Waiting on us" in the default pipeline

    @model_validator(mode="after")
    def _stages(self):
        if not self.closed_stage_ids:
            raise ValueError("closed_stage_ids is empty: list the pipeline stage ids that mean the ticket is "
                             "closed (\"4\" in the default pipeline; `ces connectors test` lists them)")
        groups = {"closed_stage_ids": self.closed_stage_ids, "waiting_stage_ids": self.waiting_stage_ids,
                  "new_stage_ids": self.new_stage_ids}
        seen: dict[str, str] = {}
        for name, ids in groups.items():
            for stage in ids:
                if stage in seen:
                    raise ValueError(f"stage {stage!r} is in both {seen[stage]} and {name}: give it one meaning")
                seen[stage] = name
        if self.reopen_stage_id in self.closed_stage_ids:
            raise ValueError("reopen_stage_id is a closed stage: pick an open one (\"3\", Waiting on us, "
                             "in the default pipeline)")
        return self

    @property
    def api_user_id(self) -> str | None:
        """Stage changes made by this app id (changeSource INTEGRATION) are ours."""
        return self.app_id

    def status_of(self, stage: object) -> Status | None:
        if stage in (None, ""):
            return None
        stage = str(stage)
        if stage in self.closed_stage_ids:
            return Status.SOLVED
        if stage in self.waiting_stage_ids:
            return Status.PENDING
        if stage in self.new_stage_ids:
            return Status.NEW
        return Status.OPEN


class HubspotConnector(Connector):
    kind = "hubspot"
    title = "HubSpot"
    Settings = HubspotSettings
    # No public reply: customer-visible messages go through HubSpot's Conversations API (inbox
    # threads), a different object from the ticket. No tags: tickets have none. No follow-up:
    # HubSpot never locks a closed ticket, moving it back to an open stage is the follow-up.
    capabilities = frozenset({base.TICKET, base.HISTORY, base.RECENT, base.NOTE, base.REOPEN})
    no_provisioning = ("HubSpot manages a private app's webhook subscriptions only in the app's settings; its "
                       "Webhooks API is for public apps")
    # Private apps: 100 requests per 10 s (Free/Starter; 190 on Professional/Enterprise). The shared
    # limiter counts a sliding 60 s, so only the 10-second figure can never overrun a window.
    default_rate_limit_per_minute = 100
    delivery = base.DeliveryRule("eventId, subscription, object and occurredAt in the signed body", signed=True)
    settings: HubspotSettings

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._owners: dict[str, dict] = {}
        self._teams: dict[str, str] | None = None

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        signature = request.header("x-hubspot-signature-v3")
        timestamp = request.header("x-hubspot-request-timestamp")
        if not signature or not timestamp:
            raise BadSignature("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
        uri = request.public_url.rstrip("/") + request.path + (f"?{request.query}" if request.query else "")
        uris = {uri, decode_uri(uri)}
        if not any(hmac.compare_digest(sign(secret, request.method.upper(), u, request.body, timestamp).encode(),
                                       signature.strip().encode())
                   for secret in self.settings.secret_values("client_secret") for u in uris):
            raise BadSignature("signature does not match the app's client secret (check that public_url is the "
                               "address HubSpot calls)")
        sent = parse_time(timestamp) if is_digits(timestamp.strip()) else None
        if sent is None:
            raise StaleTimestamp(f"unreadable X-HubSpot-Request-Timestamp {timestamp[:40]!r}")
        tolerance = self.settings.timestamp_tolerance_seconds
        if abs((request.received_at - sent).total_seconds()) > tolerance:
            raise StaleTimestamp(f"request timestamp is more than {tolerance} s away from now")

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        data = request.json()
        if not isinstance(data, list) or not data:
            raise Unparseable("body is not a JSON array of HubSpot events")
        # HubSpot does not retry a 4xx: one bad event must not cost the good ones in its batch, so it
        # is kept as IGNORED (with its problem); only a batch with nothing usable is refused.
        events, problems = [], []
        for e in data:
            try:
                events.append(self._event(e, request.received_at))
            except Unparseable as exc:
                problems.append((e, exc.detail))
        if not events:
            raise Unparseable(problems[0][1])
        for e, problem in problems:
            digest = hashlib.sha256(json.dumps(e, sort_keys=True).encode()).hexdigest()[:32]
            events.append(TicketEvent(delivery_id=f"unparseable:{digest}", kind=EventKind.IGNORED,
                                      occurred_at=request.received_at, summary=f"unparseable: {problem}"[:200],
                                      payload=e if isinstance(e, dict) else {"event": e}))
        return events

    def _event(self, e: object, received_at: datetime) -> TicketEvent:
        if not isinstance(e, dict) or e.get("eventId") in (None, ""):
            raise Unparseable("an event without eventId")
        kind = str(e.get("subscriptionType") or "")
        object_id = optional_str(e.get("objectId"))
        delivery = f"{e['eventId']}:{e.get('subscriptionId')}:{object_id}:{e.get('occurredAt')}"
        occurred = parse_time(e.get("occurredAt")) or received_at
        is_ticket = kind.startswith("ticket.") or (kind.startswith("object.")
                                                   and str(e.get("objectTypeId")) == TICKET_OBJECT_TYPE)
        action = kind.partition(".")[2]
        base_kw = dict(delivery_id=delivery, occurred_at=occurred, actor_id=optional_str(e.get("sourceId")), payload=e)
        if not is_ticket:
            return TicketEvent(kind=EventKind.IGNORED, summary=kind or "event", **base_kw)
        if not object_id:
            raise Unparseable(f"{kind} event {e['eventId']} without objectId")
        if action == "propertyChange" and e.get("propertyName") == STAGE:
            status = self.settings.status_of(e.get("propertyValue"))
            if status is None:
                raise Unparseable(f"stage change of ticket {object_id} without a stage")
            return TicketEvent(kind=EventKind.STATUS, ticket_id=object_id, status=status,
                               summary=f"stage {e.get('propertyValue')} → {status}", **base_kw)
        if action == "deletion":
            return TicketEvent(kind=EventKind.STATUS, ticket_id=object_id, status=Status.DELETED,
                               summary="ticket deleted", **base_kw)
        what = f"{action} {e.get('propertyName')}" if action == "propertyChange" else action
        return TicketEvent(kind=EventKind.IGNORED, ticket_id=object_id, summary=f"ticket {what}", **base_kw)

    # --- API ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        return bearer(self.settings.secret("access_token"))

    def _raw_ticket(self, ticket_id: str, *, history: bool) -> dict:
        params: dict[str, Any] = {"properties": ",".join(TICKET_PROPERTIES), "associations": "contacts"}
        if history:
            params["propertiesWithHistory"] = ",".join([STAGE, OWNER, TEAM])
        return self.api.get_json(f"crm/v3/objects/tickets/{ticket_id}", "ticket", **params)

    def _requester(self, raw: dict) -> Person | None:
        contacts = ((raw.get("associations") or {}).get("contacts") or {}).get("results") or []
        if not contacts:
            return None
        contact_id = str(contacts[0]["id"])
        props = self.api.get_json(f"crm/v3/objects/contacts/{contact_id}", "contact",
                                  properties="email,firstname,lastname,hs_language").get("properties") or {}
        name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p) or None
        return Person(id=contact_id, email=props.get("email"), name=name, locale=props.get("hs_language"))

    def _owner_record(self, owner_id: str | None) -> dict:
        """An owner (name, e-mail); {} for none, or one that no longer exists."""
        if owner_id is None:
            return {}
        if owner_id not in self._owners:
            try:
                self._owners[owner_id] = self.api.get_json(f"crm/v3/owners/{owner_id}", "owner")
            except PermanentApiError as exc:
                if exc.status != 404:
                    raise
                self._owners[owner_id] = {}
        return self._owners[owner_id]

    def _owner(self, owner_id: str | None) -> str | None:
        """An owner's name; an owner that no longer exists keeps its id."""
        o = self._owner_record(owner_id)
        return " ".join(p for p in (o.get("firstName"), o.get("lastName")) if p) or o.get("email") or owner_id

    def _team(self, team_id: str | None) -> str | None:
        if team_id is None:
            return None
        if self._teams is None:
            try:
                self._teams = {str(t.get("id")): t.get("name")
                               for t in self.api.get_json("settings/v3/users/teams", "teams").get("results") or []}
            except PermanentApiError:
                self._teams = {}  # no settings.users.teams.read scope: ids stand in for names
        return self._teams.get(team_id) or team_id

    def _ticket(self, raw: dict, requester: Person | None, *, names: bool = True) -> Ticket:
        p = raw.get("properties") or {}
        ticket_id = str(raw.get("id"))
        portal = self.settings.portal_id
        owner, team = optional_str(p.get(OWNER)), optional_str(p.get(TEAM))
        return Ticket(
            id=ticket_id,
            status=self.settings.status_of(p.get(STAGE)) or Status.OPEN,
            subject=p.get("subject"),
            requester=requester,
            assignee=self._owner(owner) if names else owner,
            assignee_id=owner,
            assignee_email=self._owner_record(owner).get("email") if names else None,
            group=self._team(team) if names else team,
            channel=channel_of(p.get("source_type")),
            raw_channel=optional_str(p.get("source_type")),
            created_at=parse_time(p.get("createdate")) or parse_time(raw.get("createdAt")),
            updated_at=parse_time(p.get("hs_lastmodifieddate")) or parse_time(raw.get("updatedAt")),
            url=f"https://{self.settings.app_host}/contacts/{portal}/record/{TICKET_OBJECT_TYPE}/{ticket_id}" if portal
            else None,
        )

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        raw = self._raw_ticket(ticket_id, history=False)
        return self._ticket(raw, self._requester(raw))

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """Stage, owner and team changes come from propertiesWithHistory. HubSpot keeps a ticket's
        e-mails and chats as separate engagements and inbox threads, which this connector does
        not read: messages are listed in `missing`."""
        raw = self._raw_ticket(ticket_id, history=True)
        missing: list[str] = []
        requester = None
        try:
            requester = self._requester(raw)
        except PermanentApiError as exc:
            missing.append(f"requester: {exc.detail}")
        ticket = self._ticket(raw, requester)
        history = TicketHistory(ticket=ticket, missing=missing)
        changes = raw.get("propertiesWithHistory") or {}
        entries = (self._stage_entries(changes.get(STAGE) or [])
                   + self._named_entries(changes.get(OWNER) or [], EntryKind.ASSIGNEE, self._owner)
                   + self._named_entries(changes.get(TEAM) or [], EntryKind.GROUP, self._team))
        history.entries = sorted(entries, key=lambda e: e.at)
        history.missing.append("messages: HubSpot keeps e-mails and chats outside the ticket (engagements, "
                               "Conversations inbox); they are not read")
        return history

    def _actor(self, change: dict) -> Actor:
        source, source_id = change.get("sourceType"), optional_str(change.get("sourceId"))
        if source == "INTEGRATION" and self.settings.app_id and source_id == self.settings.app_id:
            return Actor.US
        if source in AGENT_SOURCES or change.get("updatedByUserId"):
            return Actor.AGENT
        return Actor.SYSTEM

    def _stage_entries(self, changes: list[dict]) -> list[HistoryEntry]:
        out: list[HistoryEntry] = []
        previous: Status | None = None
        for change in sorted(changes, key=lambda c: parse_time(c.get("timestamp")) or datetime.min.replace(
                tzinfo=timezone.utc)):
            at, status = parse_time(change.get("timestamp")), self.settings.status_of(change.get("value"))
            if at is None or status is None or status == previous:
                continue
            out.append(HistoryEntry(at=at, kind=EntryKind.STATUS, actor=self._actor(change), value=status.value,
                                    previous=previous.value if previous else None))
            previous = status
        return out

    def _named_entries(self, changes: list[dict], kind: EntryKind, name) -> list[HistoryEntry]:
        out: list[HistoryEntry] = []
        previous: str | None = None
        first = True
        for change in sorted(changes, key=lambda c: parse_time(c.get("timestamp")) or datetime.min.replace(
                tzinfo=timezone.utc)):
            at = parse_time(change.get("timestamp"))
            if at is None:
                continue
            value = name(optional_str(change.get("value")))
            if not first and value == previous:
                continue
            out.append(HistoryEntry(at=at, kind=kind, actor=self._actor(change), value=value, previous=previous))
            previous, first = value, False
        return out

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        """Search on the associated contact (HubSpot's `associations.contact` pseudo-property)."""
        if not requester.id:
            return []
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [
                {"propertyName": "associations.contact", "operator": "EQ", "value": requester.id},
                {"propertyName": "createdate", "operator": "GTE", "value": str(int(since.timestamp() * 1000))}]}],
            "sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}],
            "properties": TICKET_PROPERTIES,
            "limit": 100,
        }
        out: list[Ticket] = []
        for _ in range(SEARCH_PAGES):
            data = self.api.write("POST", "crm/v3/objects/tickets/search", "requester's tickets", body,
                                  idempotent=True)
            out.extend(self._ticket(raw, requester, names=False) for raw in data.get("results") or [])
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
            body["after"] = after
        return sorted(out, key=lambda t: t.created_at or since, reverse=True)

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.api.write("POST", "crm/v3/objects/notes", "internal note", {
            "properties": {"hs_timestamp": now, "hs_note_body": markup.html(text)},  # the note body is HTML
            "associations": [{"to": {"id": str(ticket_id)}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_TICKET}]}]})

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        props: dict[str, str] = {STAGE: self.settings.reopen_stage_id}
        if group:
            props[TEAM] = str(group)
        self.api.write("PATCH", f"crm/v3/objects/tickets/{ticket_id}", "reopen", {"properties": props})

    def _check_token(self) -> list[CheckResult]:
        """A private app token tells its app id and scopes; notes need the tickets (write) scope."""
        try:
            info = self.api.write("POST", "oauth/v2/private-apps/get/access-token-info", "token info",
                                  {"tokenKey": self.settings.secret("access_token")}, idempotent=True)
        except ApiError as exc:
            return [CheckResult("internal notes", False, f"cannot read the token's scopes: {exc.detail}")]
        scopes = set(info.get("scopes") or [])
        app_id = optional_str(info.get("appId"))
        lacking = sorted(REQUIRED_SCOPES - scopes)
        out = [CheckResult("internal notes", not lacking,
                           "the token has the tickets, contacts and owners scopes" if not lacking
                           else f"the private app lacks the scopes {', '.join(lacking)}", {"app_id": app_id})]
        if self.settings.app_id != app_id:
            out.append(CheckResult("app_id", False, f"set app_id = \"{app_id}\" so that ces-worker's own reopens "
                                                    "are never counted as agent activity"))
        return out

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        return self.setup_text(secret_var=self.env_var("client_secret", "HUBSPOT_CLIENT_SECRET"),
                               token_var=self.env_var("access_token", "HUBSPOT_ACCESS_TOKEN"),
                               closed=", ".join(self.settings.closed_stage_ids),
                               reopen=self.settings.reopen_stage_id)

    def check(self) -> list[CheckResult]:
        try:
            account = self.api.get_json("account-info/v3/details", "account details")
        except ApiError as exc:
            return [CheckResult("authentication", False, exc.detail)]
        portal = optional_str(account.get("portalId"))
        results = [CheckResult("authentication", True, f"connected to HubSpot account {portal}",
                               {"portal_id": portal})]
        if self.settings.portal_id != portal:
            results.append(CheckResult("portal_id", False, f"set portal_id = \"{portal}\" (now "
                                                           f"{self.settings.portal_id or 'unset'}) for ticket links"))
        host = account.get("uiDomain")
        if host and host != self.settings.app_host:
            results.append(CheckResult("app_host", False, f"set app_host = \"{host}\": the account is hosted there"))
        try:
            pipelines = self.api.get_json("crm/v3/pipelines/tickets", "ticket pipelines").get("results") or []
        except ApiError as exc:
            return results + [CheckResult("history", False, f"cannot read tickets (scope `tickets`): {exc.detail}")]
        results.append(CheckResult("history", True, "tickets and their stage and owner history can be read"))
        closed = {str(s.get("id")): f"{p.get('label')} / {s.get('label')}" for p in pipelines
                  for s in p.get("stages") or [] if (s.get("metadata") or {}).get("ticketState") == "CLOSED"}
        unlisted = sorted(set(closed) - set(self.settings.closed_stage_ids))
        listed_open = sorted(set(self.settings.closed_stage_ids) - set(closed))
        ok = not unlisted and not listed_open
        detail = "closed_stage_ids match the pipelines' closed stages" if ok else "; ".join(
            [f"closed stages missing from closed_stage_ids: {', '.join(f'{i} ({closed[i]})' for i in unlisted)}"]
            * bool(unlisted) + [f"closed_stage_ids that are not closed stages: {', '.join(listed_open)}"]
            * bool(listed_open))
        results.append(CheckResult("closed stages", ok, detail, {"closed_stage_ids": sorted(closed)}))
        results.extend(self._check_token())
        return results
